"""The authors' file format, streamed: ``label \\t uid \\t mid \\t cat \\t mid_history \\t cat_history`` (histories
joined by the byte 0x02, oldest first), as the .NET ``AuthorsFormatReader`` reads it.

Nothing but the current line and a bounded shuffle buffer is held: a reader given ``rank``/``world_size`` keeps
only the lines whose number (counted over the whole file) is ``rank`` modulo ``world_size``, so every process
of a DDP run reads its own disjoint shard of the same file.
"""

from __future__ import annotations

import json
import os
import pickle
import random
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

import torch

from .batch import Batch

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


def read_samples(path: str, rank: int = 0, world_size: int = 1) -> Iterator[Sample]:
    """Streams the samples of this rank's shard (line numbers congruent to rank modulo world_size)."""
    with open(path, encoding="utf-8") as f:
        number = 0
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            number += 1
            if (number - 1) % world_size != rank:
                continue
            yield parse_line(path, number, line)


# --------------------------------------------------------------------------------------------- vocabularies
def vocabulary_from_counts(counts: Dict[str, int]) -> "OrderedDict[str, int]":
    """Ids 1, 2, ... by descending count, ties in ordinal (UTF-16) order, as the .NET Vocabulary.FromCounts; 0 stays padding."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].encode("utf-16-be")))
    return OrderedDict((k, i + 1) for i, (k, _) in enumerate(ordered))


@dataclass
class Corpus:
    """What one streaming pass over the training file learns: the vocabularies, the item -> category map and the line count."""

    vocabularies: "OrderedDict[str, Dict[str, int]]"
    item_categories: Dict[int, int]
    lines: int


def scan(path: str, vocabularies: Optional[Dict[str, Dict[str, int]]] = None, folder: Optional[str] = None) -> Corpus:
    """One streaming pass: counts strings (unless the vocabularies are given, or found as the authors' uid_voc /
    mid_voc / cat_voc .pkl or .json in ``folder``), maps every item to its category, counts the lines."""
    if vocabularies is None and folder is not None:
        vocabularies = _authors_vocabularies(folder)
    counts = [dict(), dict(), dict()]
    pairs: List[Tuple[str, str]] = []
    seen = set()
    lines = 0
    for s in read_samples(path):
        lines += 1
        for table, value in ((0, s.user), (1, s.item), (2, s.category)):
            counts[table][value] = counts[table].get(value, 0) + 1
        for item, cat in zip(s.history_items, s.history_categories):
            counts[1][item] = counts[1].get(item, 0) + 1
            counts[2][cat] = counts[2].get(cat, 0) + 1
        for item, cat in [(s.item, s.category)] + list(zip(s.history_items, s.history_categories)):
            if item not in seen:
                seen.add(item)
                pairs.append((item, cat))
    if vocabularies is None:
        vocabularies = OrderedDict([("items", vocabulary_from_counts(counts[1])), ("categories", vocabulary_from_counts(counts[2])),
                                    ("users", vocabulary_from_counts(counts[0]))])
    items, cats = vocabularies["items"], vocabularies["categories"]
    item_categories = {items.get(i, 0): cats.get(c, 0) for i, c in pairs if items.get(i, 0) > 0}
    return Corpus(vocabularies, item_categories, lines)


def _authors_vocabularies(folder: str) -> Optional["OrderedDict[str, Dict[str, int]]"]:
    found = OrderedDict()
    for name, stem in (("items", "mid_voc"), ("categories", "cat_voc"), ("users", "uid_voc")):
        for ext in (".json", ".pkl"):
            p = os.path.join(folder, stem + ext)
            if os.path.isfile(p):
                with open(p, "rb") as f:
                    found[name] = {str(k): int(v) for k, v in (json.load(f) if ext == ".json" else pickle.load(f)).items()}
                break
    return found if len(found) == 3 else None


def table_size(vocabulary: Dict[str, int]) -> int:
    """The embedding table size: the largest id + 1 (at least 1)."""
    return max(vocabulary.values(), default=0) + 1


# ------------------------------------------------------------------------------------------------- batches
class NegativeSampler:
    """For each valid history position, an item (with its category) different from the behaviour there, uniform over the
    distinct items of the training file (as the .NET NegativeSampler in Uniform mode)."""

    def __init__(self, item_categories: Dict[int, int], generator: random.Random):
        self.items = sorted(item_categories)
        self.categories = [item_categories[i] for i in self.items]
        if len(self.items) < 2:
            raise ValueError("The negative pool has fewer than 2 distinct items.")
        self.random = generator

    def draw(self, positive: int) -> Tuple[int, int]:
        for _ in range(1000):
            k = self.random.randrange(len(self.items))
            if self.items[k] != positive:
                return self.items[k], self.categories[k]
        raise RuntimeError("could not draw a negative different from the positive")


def to_batch(samples: List[Sample], vocabularies: Dict[str, Dict[str, int]], max_history: int,
             sampler: Optional[NegativeSampler] = None) -> Tuple[Batch, List[int]]:
    """Ids through the vocabularies (unknown strings -> 0), each history cut to its ``max_history`` most recent behaviours."""
    items, cats, users = vocabularies["items"], vocabularies["categories"], vocabularies["users"]
    rows_i, rows_c, neg_i, neg_c = [], [], [], []
    for s in samples:
        hi = [items.get(x, 0) for x in s.history_items[-max_history:]]
        hc = [cats.get(x, 0) for x in s.history_categories[-max_history:]]
        rows_i.append(hi)
        rows_c.append(hc)
        if sampler is not None:
            drawn = [sampler.draw(i) for i in hi]
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


def shuffled(stream: Iterator[Sample], buffer: int, generator: random.Random) -> Iterator[Sample]:
    """A bounded-memory shuffle: keeps ``buffer`` samples and emits a random one for each new one."""
    pool: List[Sample] = []
    for s in stream:
        if len(pool) < buffer:
            pool.append(s)
            continue
        k = generator.randrange(buffer)
        yield pool[k]
        pool[k] = s
    generator.shuffle(pool)
    yield from pool
