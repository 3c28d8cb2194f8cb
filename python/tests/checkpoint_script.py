"""The Python half of tests/Dien.Tests/Interop/CheckpointInteropTests.cs.

    checkpoint_script.py fresh    out.dien batch.json scores.json   # a model built and trained here, saved as .dien
    checkpoint_script.py continue in.dien out.dien batch.json scores.json   # a .NET checkpoint trained on here

Each writes the eval-mode click probabilities of the batch (float32, as CtrPredictor returns them) and the
training losses, so the .NET side can check that CtrPredictor.Load serves the same model.
"""

import json
import sys

import torch

from dien import DienModel, CtrModelOptions, load_checkpoint, read_checkpoint, save_checkpoint
from parity import batch_of


def train(model, batch, steps):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        out = model(batch)
        out.loss.backward()
        optimizer.step()
        losses.append(float(out.loss))
    return losses


def scores(model, batch):
    model.eval()
    with torch.no_grad():
        return [float(p) for p in model(batch).probability.to(torch.float32)]


def main():
    torch.manual_seed(5)
    mode = sys.argv[1]
    if mode == "fresh":
        target, batch_path, scores_path = sys.argv[2:5]
        options = CtrModelOptions(item_vocabulary_size=30, category_vocabulary_size=6, user_vocabulary_size=9,
                              extra_field_vocabulary_sizes=[4], item_max_norm=1.5, embedding_l2=1e-6, head_dropout=0.125,
                              head_hidden_sizes=[24, 12], head_activation="Dice", evolution="AugruAuthorsCode")
        model = DienModel(options)
        vocabularies = {"items": {f"item-{i}": i for i in range(1, 30)}, "categories": {"c\u00e9t\u00e9gorie <1> & 'x'+\"y\"": 1},
                        "users": {}}
        item_category, max_history = {i: 1 + i % 5 for i in range(1, 30)}, 50
    else:
        source, target, batch_path, scores_path = sys.argv[2:6]
        model, vocabularies = load_checkpoint(source)
        contents = read_checkpoint(source)
        item_category, max_history = contents.item_category, contents.max_history
    with open(batch_path, encoding="utf-8") as f:
        batch = batch_of(json.load(f))
    losses = train(model, batch, 8)
    save_checkpoint(target, model, vocabularies, item_category=item_category, max_history=max_history)
    with open(scores_path, "w", encoding="utf-8") as f:
        json.dump({"scores": scores(model, batch), "losses": losses}, f)


if __name__ == "__main__":
    main()
