"""``.dien`` checkpoints, read and written here exactly as the .NET ``Checkpoint`` does.

A ``.dien`` file is a zip: ``manifest.json`` (format version, model kind, size and SHA-256 of every entry),
``options.json``, ``vocabularies.json`` and ``weights.bin`` (TorchSharp's module format: a LEB128 count, then per
entry a length-prefixed UTF-8 name, the LEB128 dtype code, rank and dimensions, and the raw little-endian data).
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
from .options import DienOptions

FORMAT_VERSION = 1
MANIFEST, OPTIONS, VOCABULARIES, WEIGHTS = "manifest.json", "options.json", "vocabularies.json", "weights.bin"

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


# --------------------------------------------------------------------------------------------- JSON as .NET
def _json_string(text: str) -> str:
    """A string as System.Text.Json's default encoder writes it (HTML-sensitive and non-ASCII characters as \\uXXXX)."""
    short = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", "\\": "\\\\"}
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in short:
            out.append(short[ch])
        elif 0x20 <= code < 0x7F and ch not in "\"&'+<>`":
            out.append(ch)
        elif code > 0xFFFF:
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04X}\\u{0xDC00 + (code & 0x3FF):04X}")
        else:
            out.append(f"\\u{code:04X}")
    out.append('"')
    return "".join(out)


def vocabularies_json(vocabularies: Mapping[str, Mapping[str, int]]) -> str:
    """The text .NET writes for the vocabularies (named maps, in their order)."""
    if not vocabularies:
        return "{}"
    lines = ["{"]
    names = list(vocabularies)
    for i, name in enumerate(names):
        table = vocabularies[name]
        head = f"  {_json_string(name)}: "
        if not table:
            lines.append(head + "{}" + ("," if i < len(names) - 1 else ""))
            continue
        lines.append(head + "{")
        keys = list(table)
        for j, key in enumerate(keys):
            lines.append(f"    {_json_string(key)}: {int(table[key])}" + ("," if j < len(keys) - 1 else ""))
        lines.append("  }" + ("," if i < len(names) - 1 else ""))
    lines.append("}")
    return "\n".join(lines)


def manifest_json(kind: str, entries: Mapping[str, bytes]) -> str:
    lines = ["{", f'  "FormatVersion": {FORMAT_VERSION},', f'  "ModelKind": {_json_string(kind)},', '  "Entries": {']
    names = sorted(entries, key=lambda n: n.encode("utf-16-be"))  # .NET's ordinal order
    for i, name in enumerate(names):
        data = entries[name]
        lines += [f"    {_json_string(name)}: {{", f'      "Size": {len(data)},',
                  f'      "Sha256": "{hashlib.sha256(data).hexdigest().upper()}"', "    }" + ("," if i < len(names) - 1 else "")]
    lines += ["  }", "}"]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ reading
@dataclass
class CheckpointContents:
    """A verified ``.dien`` file: its kind, options, vocabularies, weights and the raw bytes of every entry."""

    path: str
    kind: str
    options: DienOptions
    vocabularies: Vocabularies
    state: "OrderedDict[str, torch.Tensor]"
    entries: Dict[str, bytes] = field(default_factory=dict)


def read_checkpoint(path: str) -> CheckpointContents:
    """Reads and verifies a ``.dien`` file whole (CRC-32, manifest, sizes and SHA-256) before using anything."""
    if not os.path.isfile(path):
        raise CheckpointError(path, "the file does not exist.")
    entries: Dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.filename in entries:
                    raise CheckpointError(path, f"entry '{info.filename}' appears twice.")
                entries[info.filename] = archive.read(info)  # checks the CRC-32
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise CheckpointError(path, f"it is damaged or truncated ({e}).") from e
    if MANIFEST not in entries:
        raise CheckpointError(path, f"it has no {MANIFEST}.")
    try:
        manifest = json.loads(entries[MANIFEST])
    except ValueError as e:
        raise CheckpointError(path, f"entry '{MANIFEST}' is unreadable ({e}).") from e
    if manifest.get("FormatVersion") != FORMAT_VERSION:
        raise CheckpointError(path, f"its format version is {manifest.get('FormatVersion')}; this package reads version {FORMAT_VERSION}.")
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
    for required in (OPTIONS, VOCABULARIES, WEIGHTS):
        if required not in listed:
            raise CheckpointError(path, f"it has no {required}.")
    try:
        options = DienOptions.from_json(entries[OPTIONS].decode("utf-8"))
    except ValueError as e:
        raise CheckpointError(path, f"entry '{OPTIONS}' is unreadable ({e}).") from e
    vocabularies = json.loads(entries[VOCABULARIES].decode("utf-8"), object_pairs_hook=OrderedDict)
    try:
        state = read_weights(entries[WEIGHTS])
    except (ValueError, EOFError) as e:
        raise CheckpointError(path, f"entry '{WEIGHTS}' is unreadable ({e}).") from e
    return CheckpointContents(path, str(manifest.get("ModelKind")), options, vocabularies, state, entries)


def load_checkpoint(path: str, model: Optional[CtrModel] = None, vocabularies: Optional[Mapping[str, Mapping[str, int]]] = None
                    ) -> Tuple[CtrModel, Vocabularies]:
    """Builds the model a ``.dien`` file describes (or checks and fills ``model``) and returns it with the vocabularies.

    With ``model`` given, its kind and options must be those of the file; with ``vocabularies`` given, they must be
    those of the file: any disagreement is a CheckpointError naming what differs, and nothing is changed.
    The model is returned in training mode, ready to continue training (call ``eval()`` to score).
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
                    *, raw_entries: Optional[Mapping[str, bytes]] = None, state_order: Optional[List[str]] = None) -> None:
    """Writes an inference ``.dien`` checkpoint that the .NET ``DienPredictor.Load`` serves.

    The weights are written as float32 (the .NET models' dtype) in the .NET key order; options and vocabularies as
    .NET writes them. ``raw_entries`` (from :func:`read_checkpoint`) are reused verbatim where the content is unchanged,
    so a .NET -> Python -> .NET round trip gives back the same bytes. Written to a temporary file and renamed.
    """
    state = model.state_dict()
    order = state_order if state_order is not None and sorted(state_order) == sorted(state) else model.dotnet_state_order()
    ordered = OrderedDict((k, state[k].detach().cpu() if state[k].dtype == torch.int64 else state[k].detach().cpu().to(torch.float32))
                          for k in order)
    raw = dict(raw_entries or {})
    options_text = model.options.to_json().encode("utf-8")
    options_bytes = raw[OPTIONS] if OPTIONS in raw and DienOptions.from_json(raw[OPTIONS].decode("utf-8")) == model.options else options_text
    vocab_bytes = vocabularies_json(vocabularies or {}).encode("utf-8")
    if VOCABULARIES in raw and json.loads(raw[VOCABULARIES].decode("utf-8")) == json.loads(vocab_bytes.decode("utf-8")):
        vocab_bytes = raw[VOCABULARIES]
    entries = {OPTIONS: options_bytes, VOCABULARIES: vocab_bytes, WEIGHTS: write_weights(ordered)}
    manifest = manifest_json(model.kind, entries).encode("utf-8")
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
