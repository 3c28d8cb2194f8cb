"""Vocabulary files (uid_voc / mid_voc / cat_voc, .pkl or .json) are read without running anything a pickle asks for,
and a real dict of str -> int reads as pickle.load would read it, in every protocol (Python 2's cPickle files too)."""

import json
import os
import pickle

import pytest
import torch

from dien.convert import load_pytorch
from dien import CheckpointError
from dien.data import scan
from dien.vocabulary import VocabularyFormatError, read_json_vocabulary, read_pickle_vocabulary, read_vocabulary

VOCABULARY = {"default_mid": 0, "B00A": 1, "B00\u00e9": 2, "x" * 300: 70000, "neg": -3}


class RunsACommand:
    """What a hostile vocabulary file holds: unpickling it calls os.system."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", range(0, pickle.HIGHEST_PROTOCOL + 1))
def test_a_pickled_dict_reads_as_pickle_load_reads_it(tmp_path, protocol):
    path = tmp_path / "mid_voc.pkl"
    path.write_bytes(pickle.dumps(VOCABULARY, protocol=protocol))
    got = read_pickle_vocabulary(str(path))
    with open(path, "rb") as f:
        assert got == pickle.load(f) == VOCABULARY  # a trusted file of our own: the reference reading
    assert list(got) == list(VOCABULARY)


def test_a_python2_cpickle_file_reads(tmp_path):
    # cPickle.dump({"A1": 1, "default_cat": 0}, f) in Python 2: protocol 0, byte strings ('S') and INT opcodes.
    path = tmp_path / "cat_voc.pkl"
    path.write_bytes(b"(dp1\nS'A1'\np2\nI1\nsS'default_cat'\np3\nI0\ns.")
    assert read_pickle_vocabulary(str(path)) == {"A1": 1, "default_cat": 0}


def test_a_pickle_that_would_run_a_command_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "uid_voc.pkl"
    path.write_bytes(pickle.dumps({"a": 1, "b": RunsACommand(marker)}, protocol=2))
    # the file is what it claims: it names os.system (posix.system) for pickle.load to call
    assert b"system" in path.read_bytes() and not marker.exists()
    with pytest.raises(VocabularyFormatError) as caught:
        read_pickle_vocabulary(str(path))
    message = str(caught.value)
    assert str(path) in message and "system" in message and "nothing it names is loaded" in message
    assert not marker.exists()


@pytest.mark.parametrize("protocol", (0, 2, 4))
def test_any_class_or_function_is_refused_even_a_harmless_one(tmp_path, protocol):
    path = tmp_path / "mid_voc.pkl"
    path.write_bytes(pickle.dumps({"a": 1, "b": range(3)}, protocol=protocol))
    with pytest.raises(VocabularyFormatError, match=r"refers to '(builtins\.range|__builtin__\.xrange)'"):
        read_pickle_vocabulary(str(path))


@pytest.mark.parametrize("value, problem", [
    ([("a", 1)], "it holds a list, not a dict of str -> int"),
    ({"a": 1.5}, r"entry 'a' -> 1.5 is not a str -> int pair \(str -> float\)"),
    ({1: 2}, r"entry 1 -> 2 is not a str -> int pair \(int -> int\)"),
    ({"a": True}, r"entry 'a' -> True is not a str -> int pair"),
    ({"a": None}, "is not a str -> int pair"),
])
def test_anything_but_a_dict_of_str_to_int_is_refused(tmp_path, value, problem):
    path = tmp_path / "cat_voc.pkl"
    path.write_bytes(pickle.dumps(value, protocol=2))
    with pytest.raises(VocabularyFormatError, match=problem):
        read_pickle_vocabulary(str(path))
    as_json = tmp_path / "cat_voc.json"
    if not isinstance(next(iter(value), ""), int):
        as_json.write_text(json.dumps(value))
        with pytest.raises(VocabularyFormatError, match="cat_voc.json"):
            read_json_vocabulary(str(as_json))


def test_a_truncated_pickle_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "uid_voc.pkl"
    path.write_bytes(pickle.dumps(VOCABULARY, protocol=2)[:-5])
    with pytest.raises(VocabularyFormatError, match=r"uid_voc\.pkl.*damaged or truncated"):
        read_pickle_vocabulary(str(path))


def test_json_vocabularies_read_in_file_order(tmp_path):
    path = tmp_path / "uid_voc.json"
    path.write_text(json.dumps({"z": 2, "a": 1}))
    assert list(read_vocabulary(str(path)).items()) == [("z", 2), ("a", 1)]


AUTHORS_LINES = ["0\tu1\tm1\tc1\tm2\x02m3\tc2\x02c1", "1\tu1\tm4\tc2\tm2\x02m3\tc2\x02c1", "0\tu2\tm3\tc1\tm1\tc1"]


def test_training_reads_the_folders_vocabulary_pickles_through_the_restricted_reader(tmp_path):
    train = tmp_path / "local_train_splitByUser"
    train.write_text("\n".join(AUTHORS_LINES) + "\n")
    tables = {"uid_voc": {"u1": 1, "u2": 2}, "mid_voc": {"m1": 1, "m2": 2, "m3": 3, "m4": 4}, "cat_voc": {"c1": 1, "c2": 2}}
    for stem, table in tables.items():
        (tmp_path / f"{stem}.pkl").write_bytes(pickle.dumps(table, protocol=0))
    corpus = scan(str(train), folder=str(tmp_path))
    assert corpus.vocabularies["users"] == tables["uid_voc"] and corpus.vocabularies["items"] == tables["mid_voc"]
    assert corpus.item_categories == {1: 1, 2: 2, 3: 1, 4: 2}

    marker = tmp_path / "ran"
    (tmp_path / "mid_voc.pkl").write_bytes(pickle.dumps({"m1": RunsACommand(marker)}, protocol=2))
    with pytest.raises(VocabularyFormatError, match="mid_voc.pkl"):
        scan(str(train), folder=str(tmp_path))
    assert not marker.exists()


def test_converting_a_hostile_pytorch_file_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    path = str(tmp_path / "model.pt")
    torch.save({"state_dict": RunsACommand(marker)}, path)
    with pytest.raises(CheckpointError, match="model.pt"):
        load_pytorch(path)
    assert not marker.exists()
