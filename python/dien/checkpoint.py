"""``.dien`` checkpoints, read and written here by the contract of the .NET ``Checkpoint`` (docs/state-dict.md).

A ``.dien`` file (format version 2) is a zip: ``manifest.json`` (format version, model kind, size and SHA-256 of
every entry), ``options.json`` (the .NET ``CtrModelOptions`` property names), ``data.json`` (the id maps ``Users``,
``Items``, ``Categories``, the ``ItemCategories`` map and the ``MaxHistoryLength`` cut) and ``weights.bin``
(TorchSharp's module format: a LEB128 count, then per entry a length-prefixed UTF-8 name, the LEB128 dtype code,
rank and dimensions, and the raw little-endian data). JSON is written as ordinary JSON and read by schema: .NET
compares options by value. Version-1 files (``vocabularies.json`` with named maps instead of ``data.json``) load too.
Training checkpoints of the .NET trainer also hold ``optimizer.bin`` and ``training.json``; those are .NET's
optimizer state and are not read here (a Python run starts its own optimizer).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple

import torch

from .models import CtrModel, build_model
from .options import CtrModelOptions

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
MANIFEST, OPTIONS, DATA, WEIGHTS = "manifest.json", "options.json", "data.json", "weights.bin"
LEGACY_VOCABULARIES = "vocabularies.json"  # format version 1: named maps instead of data.json
_V1_ITEM_CATEGORY = "item_category"  # version 1's name of the item -> category map

# TorchSharp ScalarType codes.
_DTYPES = {0: torch.uint8, 1: torch.int8, 2: torch.int16, 3: torch.int32, 4: torch.int64, 5: torch.float16,
           6: torch.float32, 7: torch.float64, 11: torch.bool, 15: torch.bfloat16}
_CODES = {v: k for k, v in _DTYPES.items()}

Vocabularies = Dict[str, Dict[str, int]]


class CheckpointError(Exception):
    """A checkpoint that cannot be used, or that disagrees with the model or vocabularies it meets; names the file."""

    def __init__(self, path: str, reason: str):
        self.path = path
        super().__init__(f"Checkpoint '{path}': {reason}")


# ------------------------------------------------------------------------------------- TorchSharp weights
def _leb128(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_leb128(stream: io.BytesIO) -> int:
    result = shift = 0
    while True:
        b = stream.read(1)
        if not b:
            raise EOFError("truncated LEB128 number")
        result |= (b[0] & 0x7F) << shift
        shift += 7
        if not b[0] & 0x80:
            return result


def write_weights(state: "OrderedDict[str, torch.Tensor]") -> bytes:
    """The bytes TorchSharp's ``Module.save`` writes for this state dict (in the given order)."""
    out = io.BytesIO()
    out.write(_leb128(len(state)))
    for name, tensor in state.items():
        encoded = name.encode("utf-8")
        out.write(_leb128(len(encoded)))
        out.write(encoded)
        t = tensor.detach().cpu().contiguous()
        if t.dtype not in _CODES:
            raise ValueError(f"'{name}' has dtype {t.dtype}, which TorchSharp's format does not carry.")
        out.write(_leb128(_CODES[t.dtype]))
        out.write(_leb128(t.dim()))
        for d in t.shape:
            out.write(_leb128(int(d)))
        if t.numel():
            out.write(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.dtype != torch.bool else t.to(torch.uint8).numpy().tobytes())
    return out.getvalue()


def read_weights(data: bytes) -> "OrderedDict[str, torch.Tensor]":
    """Parses TorchSharp's module format into an ordered state dict."""
    stream = io.BytesIO(data)
    count = _read_leb128(stream)
    state: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for _ in range(count):
        name = stream.read(_read_leb128(stream)).decode("utf-8")
        code = _read_leb128(stream)
        if code not in _DTYPES:
            raise ValueError(f"'{name}' has TorchSharp dtype code {code}, which this reader does not know.")
        dtype = _DTYPES[code]
        shape = [_read_leb128(stream) for _ in range(_read_leb128(stream))]
        numel = 1
        for d in shape:
            numel *= d
        nbytes = numel * torch.empty((), dtype=dtype).element_size()
        raw = stream.read(nbytes)
        if len(raw) != nbytes:
            raise EOFError(f"'{name}' is truncated")
        if dtype == torch.bool:
            tensor = torch.frombuffer(bytearray(raw), dtype=torch.uint8).to(torch.bool) if numel else torch.empty(0, dtype=torch.bool)
        else:
            tensor = torch.frombuffer(bytearray(raw), dtype=dtype) if numel else torch.empty(0, dtype=dtype)
        state[name] = tensor.reshape(shape).clone()
    if stream.read(1):
        raise ValueError("trailing bytes after the last tensor")
    return state


# ------------------------------------------------------------------------------------------- the contract
def _data_json(vocabularies: Mapping[str, Mapping[str, int]], item_category: Mapping[int, int], max_history: Optional[int]) -> bytes:
    """``data.json`` (format version 2): the id maps, each item's category and the history cut, as ordinary JSON."""
    return json.dumps({
        "Users": {str(k): int(v) for k, v in vocabularies.get("users", {}).items()},
        "Items": {str(k): int(v) for k, v in vocabularies.get("items", {}).items()},
        "Categories": {str(k): int(v) for k, v in vocabularies.get("categories", {}).items()},
        "ItemCategories": {str(int(k)): int(v) for k, v in item_category.items()},
        "MaxHistoryLength": None if max_history is None else int(max_history),
    }, indent=2, ensure_ascii=False).encode("utf-8")


def _manifest_json(kind: str, entries: Mapping[str, bytes]) -> bytes:
    return json.dumps({
        "FormatVersion": FORMAT_VERSION,
        "ModelKind": kind,
        "Entries": {name: {"Size": len(data), "Sha256": hashlib.sha256(data).hexdigest().upper()} for name, data in sorted(entries.items())},
    }, indent=2).encode("utf-8")


def _read_data(path: str, version: int, entries: Mapping[str, bytes]) -> Tuple[Vocabularies, Dict[int, int], Optional[int]]:
    """(vocabularies, item -> category, history cut) of a version-1 or version-2 file, read by schema."""
    name = LEGACY_VOCABULARIES if version == 1 else DATA
    try:
        raw = json.loads(entries[name].decode("utf-8"), object_pairs_hook=OrderedDict)
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        if version == 1:
            # named maps; item_category is keyed by the item index as text, and "0" (the unknown item) has no category
            tables = {k: raw.get(k) or OrderedDict() for k in ("items", "categories", "users")}
            item_category = {int(k): int(v) for k, v in (raw.get(_V1_ITEM_CATEGORY) or {}).items() if int(k) != 0}
            cut = None
        else:
            tables = {"items": raw.get("Items") or OrderedDict(), "categories": raw.get("Categories") or OrderedDict(),
                      "users": raw.get("Users") or OrderedDict()}
            item_category = {int(k): int(v) for k, v in (raw.get("ItemCategories") or {}).items()}
            cut = raw.get("MaxHistoryLength")
            cut = None if cut is None else int(cut)
        vocabularies = OrderedDict((k, OrderedDict((str(a), int(b)) for a, b in t.items())) for k, t in tables.items())
    except (ValueError, TypeError, AttributeError) as e:
        raise CheckpointError(path, f"entry '{name}' is unreadable ({e}).") from e
    return vocabularies, item_category, cut


# ------------------------------------------------------------------------------------------------ reading
@dataclass
class CheckpointContents:
    """A verified ``.dien`` file: its kind, options, id maps, item categories, history cut, weights and raw entries."""

    path: str
    kind: str
    options: CtrModelOptions
    vocabularies: Vocabularies
    state: "OrderedDict[str, torch.Tensor]"
    entries: Dict[str, bytes] = field(default_factory=dict)
    item_category: Dict[int, int] = field(default_factory=dict)
    max_history: Optional[int] = None
    format_version: int = FORMAT_VERSION


def read_checkpoint(path: str) -> CheckpointContents:
    """Reads and verifies a ``.dien`` file whole (CRC-32, manifest, sizes and SHA-256) before using anything.

    Format versions 1 and 2 load; an option a file lacks takes the value its release used (``CtrModelOptions.from_dict``).
    """
    if not os.path.isfile(path):
        raise CheckpointError(path, "the file does not exist.")
    entries: Dict[str, bytes] = {}
    reading = None
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                reading = info.filename
                if info.filename in entries:
                    raise CheckpointError(path, f"entry '{info.filename}' appears twice.")
                entries[info.filename] = archive.read(info)  # checks the CRC-32
            reading = None
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as e:
        where = "the zip directory" if reading is None else f"entry '{reading}'"
        raise CheckpointError(path, f"it is damaged or truncated ({where}: {e}).") from e
    if MANIFEST not in entries:
        raise CheckpointError(path, f"it has no {MANIFEST}.")
    try:
        manifest = json.loads(entries[MANIFEST])
    except ValueError as e:
        raise CheckpointError(path, f"entry '{MANIFEST}' is unreadable ({e}).") from e
    version = manifest.get("FormatVersion")
    if version not in READABLE_VERSIONS:
        raise CheckpointError(path, f"its format version is {version}; this package reads versions {min(READABLE_VERSIONS)} to {max(READABLE_VERSIONS)}.")
    listed = manifest.get("Entries") or {}
    for name, expected in listed.items():
        data = entries.get(name)
        if data is None:
            raise CheckpointError(path, f"entry '{name}' listed in the manifest is missing.")
        if len(data) != expected.get("Size") or hashlib.sha256(data).hexdigest().upper() != str(expected.get("Sha256")).upper():
            raise CheckpointError(path, f"entry '{name}' is damaged (size or SHA-256 differs from the manifest).")
    for name in entries:
        if name != MANIFEST and name not in listed:
            raise CheckpointError(path, f"entry '{name}' is not listed in the manifest.")
    for required in (OPTIONS, LEGACY_VOCABULARIES if version == 1 else DATA, WEIGHTS):
        if required not in listed:
            raise CheckpointError(path, f"it has no {required}.")
    try:
        options = CtrModelOptions.from_json(entries[OPTIONS].decode("utf-8"), format_version=version)
    except ValueError as e:
        raise CheckpointError(path, f"entry '{OPTIONS}' is unreadable ({e}).") from e
    vocabularies, item_category, cut = _read_data(path, version, entries)
    try:
        state = read_weights(entries[WEIGHTS])
    except (ValueError, EOFError) as e:
        raise CheckpointError(path, f"entry '{WEIGHTS}' is unreadable ({e}).") from e
    return CheckpointContents(path, str(manifest.get("ModelKind")), options, vocabularies, state, entries, item_category, cut, version)


def load_checkpoint(path: str, model: Optional[CtrModel] = None, vocabularies: Optional[Mapping[str, Mapping[str, int]]] = None
                    ) -> Tuple[CtrModel, Vocabularies]:
    """Builds the model a ``.dien`` file describes (or checks and fills ``model``) and returns it with the vocabularies.

    The vocabularies are the id maps ``items``, ``categories`` and ``users`` (raw id -> index); the item categories and
    the history cut are in :func:`read_checkpoint`'s contents. With ``model`` given, its kind and options must be those
    of the file; with ``vocabularies`` given, they must be those of the file: any disagreement is a CheckpointError
    naming what differs, and nothing is changed. The model is returned in training mode (call ``eval()`` to score).
    """
    contents = read_checkpoint(path)
    if vocabularies is not None:
        problems = vocabulary_differences(vocabularies, contents.vocabularies)
        if problems:
            raise CheckpointError(path, "its vocabularies differ from the given ones: " + "; ".join(problems) + ".")
    if model is None:
        try:
            model = build_model(contents.kind, contents.options)
        except NotImplementedError as e:
            raise CheckpointError(path, str(e)) from e
    else:
        if model.kind != contents.kind:
            raise CheckpointError(path, f"it holds a '{contents.kind}' model, not a '{model.kind}'.")
        differences = model.options.differences(contents.options)
        if differences:
            raise CheckpointError(path, f"entry '{OPTIONS}' differs from the model's options: " + "; ".join(differences) + ".")
    _load_state(path, model, contents.state)
    return model, contents.vocabularies


def _load_state(path: str, model: CtrModel, state: Mapping[str, torch.Tensor]) -> None:
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise CheckpointError(path, f"its keys differ from the model's (missing: {missing}; unexpected: {unexpected}).")
    for key, target in own.items():
        source = state[key]
        if tuple(source.shape) != tuple(target.shape):
            raise CheckpointError(path, f"'{key}' is {list(source.shape)} in the file but {list(target.shape)} in the model.")
    with torch.no_grad():
        for key, target in own.items():
            target.copy_(state[key].to(target.dtype))


def vocabulary_differences(mine: Mapping[str, Mapping[str, int]], theirs: Mapping[str, Mapping[str, int]], limit: int = 5) -> List[str]:
    """Sentences naming how two sets of vocabularies differ (tables present, sizes, and the first differing ids)."""
    problems = []
    for name in sorted(set(mine) | set(theirs)):
        if name not in theirs:
            problems.append(f"table '{name}' is only on this side")
            continue
        if name not in mine:
            problems.append(f"table '{name}' is only in the checkpoint")
            continue
        a, b = mine[name], theirs[name]
        bad = [k for k in set(a) | set(b) if a.get(k) != b.get(k)]
        if bad:
            bad.sort()
            shown = ", ".join(f"'{k}' -> {a.get(k)} here, {b.get(k)} there" for k in bad[:limit])
            problems.append(f"table '{name}' ({len(a)} vs {len(b)} entries) differs at {len(bad)} string(s): {shown}")
    return problems


# ------------------------------------------------------------------------------------------------ writing
def save_checkpoint(path: str, model: CtrModel, vocabularies: Optional[Mapping[str, Mapping[str, int]]] = None,
                    *, item_category: Optional[Mapping[int, int]] = None, max_history: Optional[int] = None,
                    state_order: Optional[List[str]] = None) -> None:
    """Writes an inference ``.dien`` checkpoint (format version 2) that the .NET ``CtrPredictor.Load`` serves.

    ``vocabularies``: the id maps ``items``, ``categories`` and ``users`` (raw id -> index, 0 being the unknown row);
    ``item_category``: item index -> category index (item 0, the unknown item, has none); ``max_history``: the most
    recent behaviours of a history the model was trained on, which the .NET predictor keeps when serving. For older
    callers an ``item_category`` table inside ``vocabularies`` (item index as text) is taken as ``item_category``.
    The weights are written as float32 (the .NET models' dtype) in the .NET key order; options and data as ordinary
    JSON, which .NET reads by value. Written to a temporary file and renamed.
    """
    tables = dict(vocabularies or {})
    legacy = tables.pop(_V1_ITEM_CATEGORY, None)
    unknown = [k for k in tables if k not in ("items", "categories", "users")]
    if unknown:
        raise ValueError(f"vocabularies: unknown table(s) {unknown}; a checkpoint holds 'items', 'categories' and 'users' "
                         "(give item categories as item_category=)")
    if item_category is None:
        item_category = {int(k): int(v) for k, v in (legacy or {}).items() if int(k) != 0}
    if 0 in item_category:
        raise ValueError("item_category: item 0 is the unknown item and has no category")
    if max_history is not None and int(max_history) < 1:
        raise ValueError(f"max_history = {max_history}: must be at least 1, or None when not known")
    state = model.state_dict()
    order = state_order if state_order is not None and sorted(state_order) == sorted(state) else model.dotnet_state_order()
    ordered = OrderedDict((k, state[k].detach().cpu() if state[k].dtype == torch.int64 else state[k].detach().cpu().to(torch.float32))
                          for k in order)
    entries = {OPTIONS: model.options.to_json().encode("utf-8"), DATA: _data_json(tables, item_category, max_history),
               WEIGHTS: write_weights(ordered)}
    manifest = _manifest_json(model.kind, entries)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".partial", dir=folder)
    try:
        with os.fdopen(fd, "wb") as file:
            with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(MANIFEST, manifest)
                for name in sorted(entries):
                    archive.writestr(name, entries[name])
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
