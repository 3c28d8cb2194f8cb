"""One command each way between a .NET ``.dien`` checkpoint and a PyTorch file.

    python -m dien.convert to-pytorch model.dien model.pt
    python -m dien.convert to-dien model.pt model.dien [--vocabularies vocabularies.json] [--check-against other.dien]

``model.pt`` is a ``torch.save`` dict: ``kind``, ``options`` (the options.json text), ``vocabularies``,
``item_category``, ``max_history``, ``state_dict`` (float32 on CPU, the .NET keys) and the .NET key order, so that
converting back gives the same model, the same data and the same weights bytes. ``dien.load_pytorch`` turns it into a
model; a plain ``torch.save(model.state_dict())`` file is accepted too with ``--kind`` and ``--options``.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from collections import OrderedDict
from typing import Mapping, Optional, Tuple

import torch

from .checkpoint import (OPTIONS, CheckpointError, read_checkpoint, save_checkpoint, vocabulary_differences, _load_state)
from .models import CtrModel, build_model
from .options import CtrModelOptions


def dien_to_pytorch(source: str, target: str) -> None:
    contents = read_checkpoint(source)
    torch.save({
        "format": "dien-pytorch/1",
        "kind": contents.kind,
        "options": contents.entries[OPTIONS].decode("utf-8"),
        "vocabularies": contents.vocabularies,
        "item_category": contents.item_category,
        "max_history": contents.max_history,
        "state_dict": contents.state,
        "state_order": list(contents.state.keys()),
    }, target)


def save_pytorch(path: str, model: CtrModel, vocabularies: Optional[Mapping[str, Mapping[str, int]]] = None) -> None:
    """A Python-side bundle of a model (what ``to-pytorch`` writes), convertible with ``to-dien``."""
    torch.save({"format": "dien-pytorch/1", "kind": model.kind, "options": model.options.to_json(),
                "vocabularies": dict(vocabularies or {}), "state_dict": OrderedDict((k, v.detach().cpu()) for k, v in model.state_dict().items())}, path)


def load_pytorch(path: str, kind: Optional[str] = None, options: Optional[CtrModelOptions] = None) -> Tuple[CtrModel, dict, dict]:
    """(model, vocabularies, bundle) from a bundle, or from a bare state dict with ``kind`` and ``options``."""
    # weights_only: tensors, dicts, lists and plain values only; a .pt from elsewhere must not run code while loading
    try:
        bundle = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(path, f"it holds more than tensors, dicts, lists and plain values, so it is not loaded ({e}).") from None
    if not isinstance(bundle, dict):
        raise CheckpointError(path, "it holds neither a dien bundle nor a state dict.")
    if "state_dict" not in bundle:
        if kind is None or options is None:
            raise CheckpointError(path, "it is a bare state dict: give --kind and --options (an options.json).")
        bundle = {"kind": kind, "options": options.to_json(), "vocabularies": {}, "state_dict": bundle}
    file_options = CtrModelOptions.from_json(bundle["options"])
    if options is not None and options != file_options:
        raise CheckpointError(path, "its options differ from the given ones: " + "; ".join(options.differences(file_options)) + ".")
    model = build_model(kind or bundle["kind"], file_options)
    _load_state(path, model, bundle["state_dict"])
    return model, bundle.get("vocabularies") or {}, bundle


def pytorch_to_dien(source: str, target: str, vocabularies_path: Optional[str] = None, check_against: Optional[str] = None,
                    kind: Optional[str] = None, options_path: Optional[str] = None) -> None:
    options = None
    if options_path:
        with open(options_path, encoding="utf-8") as f:
            options = CtrModelOptions.from_json(f.read())
    model, vocabularies, bundle = load_pytorch(source, kind, options)
    if vocabularies_path:
        with open(vocabularies_path, encoding="utf-8") as f:
            given = json.load(f, object_pairs_hook=OrderedDict)
        if vocabularies and vocabulary_differences(given, vocabularies):
            raise CheckpointError(source, "its vocabularies differ from " + vocabularies_path + ": " + "; ".join(vocabulary_differences(given, vocabularies)) + ".")
        vocabularies = given
    if check_against:
        other = read_checkpoint(check_against)
        problems = []
        if other.kind != model.kind:
            problems.append(f"model kind is {model.kind} here but {other.kind} there")
        problems += model.options.differences(other.options)
        problems += vocabulary_differences(vocabularies, other.vocabularies)
        if problems:
            raise CheckpointError(source, f"it disagrees with '{check_against}': " + "; ".join(problems) + ".")
    save_checkpoint(target, model, vocabularies, item_category=bundle.get("item_category") or {}, max_history=bundle.get("max_history"),
                    state_order=bundle.get("state_order"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dien.convert", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("to-pytorch", help=".dien -> .pt bundle")
    a.add_argument("source")
    a.add_argument("target")
    b = sub.add_parser("to-dien", help=".pt bundle (or bare state dict) -> .dien")
    b.add_argument("source")
    b.add_argument("target")
    b.add_argument("--vocabularies", help="a JSON file of named maps (e.g. items, categories, users) to store")
    b.add_argument("--check-against", help="a .dien whose kind, options and vocabularies must agree")
    b.add_argument("--kind", help="DienModel, DinModel or BaseModel (for a bare state dict)")
    b.add_argument("--options", help="an options.json (for a bare state dict; checked against a bundle's)")
    args = parser.parse_args(argv)
    try:
        if args.command == "to-pytorch":
            dien_to_pytorch(args.source, args.target)
        else:
            pytorch_to_dien(args.source, args.target, args.vocabularies, args.check_against, args.kind, args.options)
    except (CheckpointError, ValueError, NotImplementedError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
