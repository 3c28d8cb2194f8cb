"""The authors' file format, streamed: ``label \\t uid \\t mid \\t cat \\t mid_history \\t cat_history`` (histories
joined by the byte 0x02, oldest first), as the .NET ``AuthorsFormatReader`` reads it.

The training file is never held in memory: one pass (:func:`scan`) records where every line starts and whose
user it is (16 bytes a line), and training reads its rows back by offset. Which rows a process trains on is decided
by a seeded shuffle of the whole sample list, redrawn every epoch (:func:`epoch_order`), never by line numbers: the
authors' files alternate negative and positive lines, so "line k to rank k mod N" gives each process of an even N
one label only.
"""

from __future__ import annotations

import bisect
import os
import random
from array import array
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

import torch

from .batch import Batch
from .vocabulary import read_vocabulary

SEPARATOR = "\x02"


class DataFormatError(ValueError):
    def __init__(self, path: str, line: int, problem: str):
        super().__init__(f"{path}, line {line}: {problem}")


@dataclass
class Sample:
    label: float
    user: str
    item: str
    category: str
    history_items: List[str]
    history_categories: List[str]


def parse_line(path: str, number: int, line: str) -> Sample:
    fields = line.rstrip("\r").split("\t")
    if len(fields) != 6:
        raise DataFormatError(path, number, f"expected 6 tab-separated fields but found {len(fields)}")
    if fields[0] not in ("0", "1", "0.0", "1.0"):
        raise DataFormatError(path, number, f"label '{fields[0]}' is not 0 or 1")
    for i, name in ((1, "uid"), (2, "mid"), (3, "cat")):
        if not fields[i]:
            raise DataFormatError(path, number, f"field {i + 1} ({name}) is empty")
    items = fields[4].split(SEPARATOR) if fields[4] else []
    cats = fields[5].split(SEPARATOR) if fields[5] else []
    if any(not x for x in items) or any(not x for x in cats):
        raise DataFormatError(path, number, "a history has an empty entry (a leading, trailing or doubled 0x02)")
    if len(items) != len(cats):
        raise DataFormatError(path, number, f"the item history has {len(items)} entries but the category history has {len(cats)}")
    return Sample(float(fields[0]), fields[1], fields[2], fields[3], items, cats)


def read_samples(path: str) -> Iterator[Sample]:
    """Streams every sample of the file, in file order (empty lines are skipped)."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line:
                yield parse_line(path, number, line)


def read_rows(path: str, offsets: "array", rows: List[int]) -> List[Sample]:
    """The samples at the given row numbers (0-based over the non-empty lines), read back by their byte offsets."""
    out: List[Optional[Sample]] = [None] * len(rows)
    with open(path, "rb") as f:
        for k in sorted(range(len(rows)), key=lambda k: offsets[rows[k]]):  # in file order, to read forward
            f.seek(offsets[rows[k]])
            out[k] = parse_line(path, rows[k] + 1, f.readline().decode("utf-8").rstrip("\n"))
    return out  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------- vocabularies
def vocabulary_from_counts(counts: Dict[str, int]) -> "OrderedDict[str, int]":
    """Ids 1, 2, ... by descending count, ties in ordinal (UTF-16) order, as the .NET Vocabulary.FromCounts; 0 stays padding."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].encode("utf-16-be")))
    return OrderedDict((k, i + 1) for i, (k, _) in enumerate(ordered))


@dataclass
class Corpus:
    """What one streaming pass over the training file learns: the vocabularies, the item -> category map, and for
    every sample (non-empty line) its byte offset and its user (numbered in order of first appearance)."""

    vocabularies: "OrderedDict[str, Dict[str, int]]"
    item_categories: Dict[int, int]
    lines: int
    offsets: "array" = None  # type: ignore[assignment]
    line_users: "array" = None  # type: ignore[assignment]
    users: int = 0
    # The pool for popularity-weighted negatives, in id space (see negative_pool): each item's category and count.
    pool_categories: Optional[Dict[int, int]] = None
    pool_counts: Optional[Dict[int, int]] = None
    pool_source: str = ""


def scan(path: str, vocabularies: Optional[Dict[str, Dict[str, int]]] = None, folder: Optional[str] = None) -> Corpus:
    """One streaming pass: counts strings (unless the vocabularies are given, or found as the authors' uid_voc /
    mid_voc / cat_voc .pkl or .json in ``folder``), maps every item to its category, counts the lines."""
    if vocabularies is None and folder is not None:
        vocabularies = _authors_vocabularies(folder)
    counts = [dict(), dict(), dict()]
    history_counts: Dict[str, int] = {}
    pairs: List[Tuple[str, str]] = []
    seen = set()
    lines = 0
    offsets, line_users, user_numbers = array("q"), array("q"), {}
    for offset, s in _samples_with_offsets(path):
        lines += 1
        offsets.append(offset)
        line_users.append(user_numbers.setdefault(s.user, len(user_numbers)))
        for table, value in ((0, s.user), (1, s.item), (2, s.category)):
            counts[table][value] = counts[table].get(value, 0) + 1
        for item, cat in zip(s.history_items, s.history_categories):
            counts[1][item] = counts[1].get(item, 0) + 1
            counts[2][cat] = counts[2].get(cat, 0) + 1
            history_counts[item] = history_counts.get(item, 0) + 1
        for item, cat in [(s.item, s.category)] + list(zip(s.history_items, s.history_categories)):
            if item not in seen:
                seen.add(item)
                pairs.append((item, cat))
    if vocabularies is None:
        vocabularies = OrderedDict([("items", vocabulary_from_counts(counts[1])), ("categories", vocabulary_from_counts(counts[2])),
                                    ("users", vocabulary_from_counts(counts[0]))])
    items, cats = vocabularies["items"], vocabularies["categories"]
    item_categories = {items.get(i, 0): cats.get(c, 0) for i, c in pairs if items.get(i, 0) > 0}
    corpus = Corpus(vocabularies, item_categories, lines, offsets, line_users, len(user_numbers))
    corpus.pool_categories, corpus.pool_counts, corpus.pool_source = negative_pool(folder, vocabularies, item_categories, history_counts)
    return corpus


def negative_pool(folder: Optional[str], vocabularies: Dict[str, Dict[str, int]], item_categories: Dict[int, int],
                  history_counts: Dict[str, int]) -> Tuple[Dict[int, int], Dict[int, int], str]:
    """The pool popularity-weighted negatives are drawn from, as the .NET ``AuthorsDataset`` builds it: every review's
    item in the folder's ``reviews-info`` with its category from ``item-info`` when both files are there (the authors'
    pool), otherwise every history behaviour of the training file. Returns (item -> category, item -> occurrences,
    where it came from), in id space; items the vocabulary does not know (id 0) are left out."""
    items, cats = vocabularies["items"], vocabularies["categories"]
    reviews = os.path.join(folder, "reviews-info") if folder else None
    item_info = os.path.join(folder, "item-info") if folder else None
    categories: Dict[int, int] = {}
    counts: Dict[int, int] = {}
    if reviews and item_info and os.path.isfile(reviews) and os.path.isfile(item_info):
        category_of = dict(_fields(item_info, 2, "asin \\t category"))
        for fields in _fields(reviews, 4, "reviewerID \\t asin \\t rating \\t unixTime"):
            item = items.get(fields[1], 0)
            if item:
                categories.setdefault(item, cats.get(category_of.get(fields[1], ""), 0))
                counts[item] = counts.get(item, 0) + 1
        return categories, counts, reviews
    for name, count in history_counts.items():
        item = items.get(name, 0)
        if item:
            categories.setdefault(item, item_categories.get(item, 0))
            counts[item] = counts.get(item, 0) + count
    return categories, counts, "the training histories"


def _fields(path: str, count: int, layout: str) -> Iterator[List[str]]:
    """The tab-separated fields of every non-empty line, each line checked to have ``count`` of them."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if line:
                fields = line.split("\t")
                if len(fields) != count:
                    raise DataFormatError(path, number, f"expected {count} tab-separated fields ({layout}) but found {len(fields)}")
                yield fields


def _samples_with_offsets(path: str) -> Iterator[Tuple[int, Sample]]:
    offset = 0
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            line = raw.decode("utf-8").rstrip("\n")
            if line:
                yield offset, parse_line(path, number, line)
            offset += len(raw)


# ------------------------------------------------------------------------------------ sharding and splits
def split_by_user(corpus: Corpus, fraction: float, seed: int) -> Tuple[List[int], List[int]]:
    """Rows of the kept users and rows of a seeded ``fraction`` of the distinct users held out for validation, each
    in file order: the rule of the .NET ``ValidationSplit.ByUser`` (users in order of first appearance, shuffled,
    the first round(fraction * users) held out, at least one kept and one held out when there are two users)."""
    if not (0 <= fraction < 1):
        raise ValueError(f"--validation-fraction {fraction}: must be in [0, 1) (the share of training users held out).")
    users = corpus.users
    held = 0 if fraction == 0 or users < 2 else min(max(int(round(fraction * users)), 1), users - 1)
    order = list(range(users))
    random.Random(seed).shuffle(order)
    validation_users = set(order[:held])
    train, validation = [], []
    for row, user in enumerate(corpus.line_users):
        (validation if user in validation_users else train).append(row)
    return train, validation


def epoch_order(rows: List[int], seed: int, epoch: int) -> List[int]:
    """The training rows in the order of one epoch: a shuffle seeded by ``seed`` and ``epoch``, the same in every process."""
    order = list(rows)
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return order


def rank_rows(order: List[int], step: int, global_batch: int, rank: int, world_size: int) -> List[int]:
    """This process's share of global batch ``step`` of the epoch: the same global batch for every number of
    processes, so each process sees both labels in the data's proportion and N processes follow one process."""
    local = global_batch // world_size
    start = step * global_batch + rank * local
    return order[start:start + local]


def sample_random(seed: int, epoch: int, row: int) -> random.Random:
    """The generator of one sample's negatives in one epoch: the same draws whichever process trains on the row."""
    return random.Random(((seed * 1_000_003 + epoch) << 40) + row)


def _authors_vocabularies(folder: str) -> Optional["OrderedDict[str, Dict[str, int]]"]:
    found = OrderedDict()
    for name, stem in (("items", "mid_voc"), ("categories", "cat_voc"), ("users", "uid_voc")):
        for ext in (".json", ".pkl"):
            p = os.path.join(folder, stem + ext)
            if os.path.isfile(p):
                found[name] = dict(read_vocabulary(p))  # never pickle.load: a data folder's pickle could run code
                break
    return found if len(found) == 3 else None


def table_size(vocabulary: Dict[str, int]) -> int:
    """The embedding table size: the largest id + 1 (at least 1)."""
    return max(vocabulary.values(), default=0) + 1


# ------------------------------------------------------------------------------------------------- batches
class NegativeSampler:
    """For each valid history position, an item (with its category) different from the behaviour there. Without
    ``counts``, uniform over the distinct items of ``item_categories`` (the .NET ``NegativeSampling.Uniform``); with
    ``counts`` (item -> occurrences), in proportion to them (``NegativeSampling.Popularity``, the authors' draw and
    the default of ``dien.train``), by the same cumulative table and search as .NET."""

    def __init__(self, item_categories: Dict[int, int], generator: Optional[random.Random] = None,
                 counts: Optional[Dict[int, int]] = None):
        self.items = sorted(counts if counts is not None else item_categories)
        self.categories = [item_categories.get(i, 0) for i in self.items]
        if len(self.items) < 2:
            raise ValueError(f"The negative pool has {len(self.items)} distinct item(s); at least 2 are needed.")
        self.cumulative: Optional[List[int]] = None
        if counts is not None:
            if any(counts[i] <= 0 for i in self.items):
                raise ValueError("Every count in the negative pool must be positive.")
            total, self.cumulative = 0, []
            for i in self.items:
                total += counts[i]
                self.cumulative.append(total)
        self.random = generator if generator is not None else random.Random(0)

    def _index(self, source: random.Random) -> int:
        if self.cumulative is None:
            return source.randrange(len(self.items))
        return bisect.bisect_right(self.cumulative, source.randrange(self.cumulative[-1]))

    def draw(self, positive: int, generator: Optional[random.Random] = None) -> Tuple[int, int]:
        source = generator if generator is not None else self.random
        for _ in range(1000):
            k = self._index(source)
            if self.items[k] != positive:
                return self.items[k], self.categories[k]
        raise RuntimeError("could not draw a negative different from the positive")


def to_batch(samples: List[Sample], vocabularies: Dict[str, Dict[str, int]], max_history: int,
             sampler: Optional[NegativeSampler] = None, generators: Optional[List[random.Random]] = None) -> Tuple[Batch, List[int]]:
    """Ids through the vocabularies (unknown strings -> 0), each history cut to its ``max_history`` most recent behaviours.
    Negatives come from ``sampler``, drawn with ``generators[k]`` for sample k when given (else the sampler's own)."""
    items, cats, users = vocabularies["items"], vocabularies["categories"], vocabularies["users"]
    rows_i, rows_c, neg_i, neg_c = [], [], [], []
    for k, s in enumerate(samples):
        hi = [items.get(x, 0) for x in s.history_items[-max_history:]]
        hc = [cats.get(x, 0) for x in s.history_categories[-max_history:]]
        rows_i.append(hi)
        rows_c.append(hc)
        if sampler is not None:
            drawn = [sampler.draw(i, generators[k] if generators is not None else None) for i in hi]
            neg_i.append([d[0] for d in drawn])
            neg_c.append([d[1] for d in drawn])
    width = max((len(r) for r in rows_i), default=0)

    def pad(rows):
        return torch.tensor([r + [0] * (width - len(r)) for r in rows], dtype=torch.long).reshape(len(rows), width)

    user_ids = [users.get(s.user, 0) for s in samples]
    batch = Batch(
        user_ids=torch.tensor(user_ids, dtype=torch.long),
        target_items=torch.tensor([items.get(s.item, 0) for s in samples], dtype=torch.long),
        target_categories=torch.tensor([cats.get(s.category, 0) for s in samples], dtype=torch.long),
        history_items=pad(rows_i), history_categories=pad(rows_c),
        lengths=torch.tensor([len(r) for r in rows_i], dtype=torch.long),
        labels=torch.tensor([s.label for s in samples], dtype=torch.float32),
        negative_items=pad(neg_i) if sampler is not None else None,
        negative_categories=pad(neg_c) if sampler is not None else None,
    )
    return batch, user_ids
