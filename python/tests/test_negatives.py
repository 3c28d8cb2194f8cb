"""The auxiliary loss's negatives (dien.data): drawn by popularity by default, as the authors draw and as the .NET
NegativeSampler does, from the folder's reviews-info pool when it is there, else from the training histories."""

import collections
import json
import random

import pytest

from conftest import small_options
from dien.data import DataFormatError, NegativeSampler, scan
from dien.train import main
from test_sharding import write_authors_file


class Fixed:
    """A stand-in generator whose randrange returns the given value: to check the draw's table search."""

    def __init__(self, value):
        self.value = value

    def randrange(self, stop):
        assert 0 <= self.value < stop
        return self.value


def test_popularity_draws_follow_the_counts():
    sampler = NegativeSampler({1: 10, 2: 20, 3: 30}, counts={1: 1, 2: 2, 3: 7})
    r = random.Random(1)
    drawn = collections.Counter(sampler.draw(99, r)[0] for _ in range(20000))
    assert abs(drawn[1] / 20000 - 0.1) < 0.015 and abs(drawn[2] / 20000 - 0.2) < 0.015 and abs(drawn[3] / 20000 - 0.7) < 0.015


def test_the_table_search_is_the_dotnet_rule():
    # .NET: u uniform in [0, total), index = the first i with cumulative[i] >= u + 1.
    counts = {4: 3, 9: 1, 12: 5}
    sampler = NegativeSampler({4: 1, 9: 1, 12: 2}, counts=counts)
    cumulative = [3, 4, 9]
    for u in range(9):
        expected = next(i for i, c in enumerate(cumulative) if c >= u + 1)
        assert sampler._index(Fixed(u)) == expected


@pytest.mark.parametrize("counts", (None, {1: 50, 2: 1}))
def test_a_negative_never_equals_its_positive_and_carries_its_category(counts):
    sampler = NegativeSampler({1: 7, 2: 8}, counts=counts)
    r = random.Random(3)
    assert all(sampler.draw(1, r) == (2, 8) for _ in range(200))


def test_uniform_draws_ignore_popularity():
    sampler = NegativeSampler({1: 1, 2: 1, 3: 1, 4: 1})
    r = random.Random(2)
    drawn = collections.Counter(sampler.draw(99, r)[0] for _ in range(20000))
    assert all(abs(drawn[i] / 20000 - 0.25) < 0.015 for i in (1, 2, 3, 4))


def test_a_pool_needs_two_items_and_positive_counts():
    with pytest.raises(ValueError, match="1 distinct item"):
        NegativeSampler({1: 1}, counts={1: 5})
    with pytest.raises(ValueError, match="positive"):
        NegativeSampler({1: 1, 2: 1}, counts={1: 5, 2: 0})


def test_the_pool_is_the_training_histories_without_side_files(tmp_path):
    path = tmp_path / "local_train_splitByUser"
    lines = write_authors_file(path)
    corpus = scan(str(path), folder=str(tmp_path))
    items = corpus.vocabularies["items"]
    expected = collections.Counter(items[m] for line in lines for m in line.split("\t")[4].split("\x02"))
    assert corpus.pool_counts == dict(expected)
    assert corpus.pool_source == "the training histories"
    assert all(corpus.pool_categories[i] == corpus.item_categories[i] for i in corpus.pool_counts)


def test_the_pool_is_the_folders_reviews_with_item_info_categories(tmp_path):
    path = tmp_path / "local_train_splitByUser"
    write_authors_file(path)
    (tmp_path / "item-info").write_text("m1\tc1\nm2\tc2\nzz\tc1\n", encoding="utf-8")
    (tmp_path / "reviews-info").write_text("u0\tm1\t5.0\t1\nu1\tm1\t4.0\t2\nu2\tm2\t5.0\t3\nu3\tm1\t1.0\t4\nu4\tzz\t2.0\t5\n", encoding="utf-8")
    corpus = scan(str(path), folder=str(tmp_path))
    items, cats = corpus.vocabularies["items"], corpus.vocabularies["categories"]
    assert corpus.pool_counts == {items["m1"]: 3, items["m2"]: 1}  # zz is not in the vocabulary: left out
    assert corpus.pool_categories == {items["m1"]: cats["c1"], items["m2"]: cats["c2"]}
    assert corpus.pool_source.endswith("reviews-info")


def test_a_bad_reviews_line_is_named(tmp_path):
    path = tmp_path / "local_train_splitByUser"
    write_authors_file(path)
    (tmp_path / "item-info").write_text("m1\tc1\n", encoding="utf-8")
    (tmp_path / "reviews-info").write_text("u0\tm1\t5.0\t1\nu1\tm1\t4.0\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"reviews-info, line 2: expected 4 tab-separated fields"):
        scan(str(path), folder=str(tmp_path))


@pytest.mark.parametrize("flag, expected", ((None, "popularity in the training histories"), ("uniform", "uniform")))
def test_the_trainer_draws_by_popularity_unless_told(tmp_path, monkeypatch, flag, expected):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    train = tmp_path / "local_train_splitByUser"
    write_authors_file(train)
    options = tmp_path / "options.json"
    options.write_text(small_options(alpha=1.0).to_json())
    report = tmp_path / "report.json"
    args = ["--train", str(train), "--out", str(tmp_path / "m.dien"), "--options", str(options), "--batch-size", "16",
            "--steps", "2", "--report", str(report), "--log-every", "0"]
    assert main(args + (["--negatives", flag] if flag else [])) == 0
    assert json.loads(report.read_text())["negatives"] == expected
