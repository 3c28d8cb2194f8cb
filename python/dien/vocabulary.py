"""The authors' vocabulary files (``uid_voc``, ``mid_voc``, ``cat_voc`` as ``.pkl`` or ``.json``): a flat dict of
str -> int, read without running anything the file asks for.

``pickle.load`` on a file from a data folder can execute code (a pickle may name any importable callable, such as
``os.system``, and have it called while loading). A vocabulary pickle needs no callable at all: dicts, strings and ints
have their own opcodes. So the unpickler here refuses every global a pickle names, and the result must be a dict of
str -> int; as the .NET ``PickleVocabularyFormat`` reader, which understands only those opcodes.
"""

from __future__ import annotations

import io
import json
import pickle
from collections import OrderedDict
from typing import Dict


class VocabularyFormatError(ValueError):
    """A vocabulary file that is not a dict of str -> int (or is a pickle that asks to load code); names the file."""

    def __init__(self, path: str, problem: str):
        self.path = path
        super().__init__(f"Vocabulary file '{path}': {problem}")


class _Refused(pickle.UnpicklingError):
    """What the pickle asks for is refused (as opposed to a pickle that is damaged)."""


class _DataOnlyUnpickler(pickle.Unpickler):
    """Refuses every class or function a pickle names (GLOBAL, STACK_GLOBAL, INST, OBJ, EXT*: all go through here)."""

    def find_class(self, module: str, name: str):  # noqa: D401 - the pickle protocol's hook
        raise _Refused(
            f"it refers to '{module}.{name}'; a vocabulary pickle holds only a dict of str -> int, so nothing it names is loaded")

    def persistent_load(self, pid):
        raise _Refused("it holds a persistent id; a vocabulary pickle holds only a dict of str -> int")


def read_pickle_vocabulary(path: str) -> "OrderedDict[str, int]":
    """The dict of a vocabulary ``.pkl`` (any protocol, Python 2's ``cPickle`` files too), in the file's order.

    Raises :class:`VocabularyFormatError` naming the file when the pickle names any class or function, is damaged, or
    holds anything other than a dict of str -> int.
    """
    with open(path, "rb") as f:
        data = f.read()
    try:
        # Python 2 pickles store str as bytes; "ASCII" is pickle's own default for them (the authors' ids are ASCII).
        value = _DataOnlyUnpickler(io.BytesIO(data), encoding="ASCII").load()
    except _Refused as e:
        raise VocabularyFormatError(path, str(e)) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError, UnicodeDecodeError, OverflowError) as e:
        raise VocabularyFormatError(path, f"the pickle is damaged or truncated ({type(e).__name__}: {e})") from None
    return _checked(path, value)


def read_json_vocabulary(path: str) -> "OrderedDict[str, int]":
    """The object of a vocabulary ``.json`` file, in the file's order; the same checks as the pickle."""
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f, object_pairs_hook=OrderedDict)
    except (ValueError, UnicodeDecodeError) as e:
        raise VocabularyFormatError(path, f"it is not JSON ({e})") from None
    return _checked(path, value)


def read_vocabulary(path: str) -> "OrderedDict[str, int]":
    """A ``.pkl`` or ``.json`` vocabulary file, by its extension."""
    return read_json_vocabulary(path) if path.endswith(".json") else read_pickle_vocabulary(path)


def _checked(path: str, value) -> "OrderedDict[str, int]":
    if not isinstance(value, dict):
        raise VocabularyFormatError(path, f"it holds a {type(value).__name__}, not a dict of str -> int")
    out: Dict[str, int] = OrderedDict()
    for k, v in value.items():
        # bool is an int subclass in Python, but no vocabulary writer stores one
        if not isinstance(k, str) or not isinstance(v, int) or isinstance(v, bool):
            raise VocabularyFormatError(path, f"entry {k!r} -> {v!r} is not a str -> int pair ({type(k).__name__} -> {type(v).__name__})")
        out[k] = v
    return out
