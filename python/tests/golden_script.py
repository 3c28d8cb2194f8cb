"""Writes the Python golden checkpoint of this package's format version for tests/Dien.Tests/Checkpoints/GoldenFileTests.cs.

    python3 python/tests/golden_script.py tests/Dien.Tests/Checkpoints/Golden     (from the repository root)
    python3 python/tests/golden_script.py --check tests/Dien.Tests/Checkpoints/Golden


The first writes ``python-v{N}-DienModel.dien`` and ``python-v{N}-DienModel.json`` (the inputs and the probabilities this
package computes for them), N being ``dien.checkpoint.FORMAT_VERSION``. Run it with an older release's ``python/`` on
PYTHONPATH to write that release's file (format version 1 was written so, from the package before format version 2).
``--check`` reads every golden file (every version, .NET's and Python's) with this package, scores the pinned inputs
(histories cut to the file's ``max_history``, as the .NET predictor cuts them) and prints one line per file with the
largest difference from the pinned probabilities; it exits with 1 when one is over 2e-6 (float32 on both sides).
"""

import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parity import batch_of  # noqa: E402

from dien import DienModel, CtrModelOptions, load_checkpoint, read_checkpoint, save_checkpoint  # noqa: E402
from dien import checkpoint as ckpt  # noqa: E402

# Histories no longer than the stored cut (4), so that these scores need no cut on this side.
BATCH = {
    "Size": 4, "Width": 4, "UserIds": [1, 0, 5, 2], "TargetItems": [3, 11, 0, 7], "TargetCategories": [1, 4, 0, 2],
    "HistoryItems": [3, 10, 6, 8, 8, 0, 0, 0, 2, 11, 9, 0, 4, 7, 0, 0],
    "HistoryCategories": [1, 4, 3, 3, 2, 0, 0, 0, 2, 1, 3, 0, 3, 1, 0, 0],
    "Lengths": [4, 1, 3, 2], "ExtraFieldCount": 0,
}


def cut(batch, max_history):
    """The batch with each row's history cut to its ``max_history`` most recent behaviours (rows oldest first from column 0)."""
    if max_history is None or batch["Width"] <= max_history:
        return batch
    width, rows = batch["Width"], batch["Size"]
    out = dict(batch, Width=max_history, HistoryItems=[], HistoryCategories=[], Lengths=[])
    for r in range(rows):
        length = batch["Lengths"][r]
        keep = min(length, max_history)
        for name in ("HistoryItems", "HistoryCategories"):
            row = batch[name][r * width:r * width + length][length - keep:]
            out[name] += row + [0] * (max_history - keep)
        out["Lengths"].append(keep)
    return out


def check(folder):
    worst = 0.0
    for name in sorted(n for n in os.listdir(folder) if n.endswith(".dien")):
        path = os.path.join(folder, name)
        with open(os.path.splitext(path)[0] + ".json", encoding="utf-8") as f:
            pinned = json.load(f)
        contents = read_checkpoint(path)
        model, _ = load_checkpoint(path)
        model.eval()
        with torch.no_grad():
            scores = model(batch_of(cut(pinned["Batch"], contents.max_history))).probability.to(torch.float32).tolist()
        difference = max(abs(a - b) for a, b in zip(scores, pinned["Probabilities"]))
        worst = max(worst, difference)
        print(f"{name}: format version {contents.format_version}, {contents.kind}, cut {contents.max_history}, "
              f"{len(contents.item_category)} item categories, largest difference {difference:.2e}")
    return 0 if worst <= 2e-6 else 1


def main():
    if sys.argv[1] == "--check":
        return check(sys.argv[2])
    folder = sys.argv[1]
    version = ckpt.FORMAT_VERSION
    torch.manual_seed(24)
    options = CtrModelOptions(item_vocabulary_size=12, category_vocabulary_size=5, user_vocabulary_size=6, item_embedding_size=4,
                          category_embedding_size=4, user_embedding_size=3, use_user_field=True, hidden_size=6,
                          attention_hidden_sizes=[6], auxiliary_hidden_sizes=[5], head_hidden_sizes=[8], alpha=1.0,
                          embedding_init_scale=0.5, head_activation="Dice", evolution="AugruAuthorsCode")
    model = DienModel(options)
    with torch.no_grad():  # BatchNorm statistics other than the initial ones, so that they are pinned too
        for name, buffer in model.named_buffers():
            if name.endswith("running_mean"):
                buffer.uniform_(-0.5, 0.5)
            elif name.endswith("running_var"):
                buffer.uniform_(0.5, 2.0)
    vocabularies = {"items": {f"item-{i}": i for i in range(1, 12)}, "categories": {f"cat-{c}": c for c in range(1, 5)},
                    "users": {f"user-{u}": u for u in range(1, 6)}}
    item_category = {i: 1 + i % 4 for i in range(1, 12)}
    path = os.path.join(folder, f"python-v{version}-DienModel.dien")
    if version == 1:
        # As version-1 training wrote it: the item -> category map by name, with the last unknown item's category under "0".
        vocabularies["item_category"] = {str(k): v for k, v in item_category.items()}
        vocabularies["item_category"]["0"] = 3
        save_checkpoint(path, model, vocabularies)
        cut = None
    else:
        cut = 4
        save_checkpoint(path, model, vocabularies, item_category=item_category, max_history=cut)
    model.eval()
    with torch.no_grad():
        scores = [float(p) for p in model(batch_of(BATCH)).probability.to(torch.float32)]
    pinned = {"Writer": f"python/dien/checkpoint.py, format version {version}", "Kind": "DienModel", "FormatVersion": version,
              "Items": 11, "MaxHistoryLength": cut, "Tolerance": 2e-6, "Batch": BATCH, "Probabilities": scores}
    with open(os.path.splitext(path)[0] + ".json", "w", encoding="utf-8") as f:
        json.dump(pinned, f, indent=2)
        f.write("\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
