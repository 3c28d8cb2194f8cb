"""The Python half of tests/Dien.Tests/Interop/MetricsInteropTests.cs.

    metrics_script.py test_file out.json

Scores a test file in the authors' format with a seeded narrow DIEN through the trainer's own evaluation
(``dien.train.evaluate``), with vocabularies that know the file's items and categories but none of its users - a
file split by user, as the authors' test files are, where every user maps to id 0. Writes the scores and the
AUC, GAUC and log loss the trainer reports, for the .NET side to recompute with ``ClickMetrics``.
"""

import json
import sys

import torch

from dien import DienModel, CtrModelOptions
from dien.data import read_samples
from dien.train import evaluate


def main():
    test_file, out = sys.argv[1:3]
    samples = list(read_samples(test_file))
    items = sorted({x for s in samples for x in [s.item] + s.history_items})
    categories = sorted({x for s in samples for x in [s.category] + s.history_categories})
    vocabularies = {"items": {x: i + 1 for i, x in enumerate(items)}, "categories": {x: i + 1 for i, x in enumerate(categories)},
                    "users": {}}
    torch.manual_seed(11)
    options = CtrModelOptions(item_vocabulary_size=len(items) + 1, category_vocabulary_size=len(categories) + 1, user_vocabulary_size=1,
                          item_embedding_size=4, category_embedding_size=4, hidden_size=8, attention_hidden_sizes=[8],
                          auxiliary_hidden_sizes=[8], head_hidden_sizes=[8], embedding_init_scale=1.0,
                          alpha=0.0)  # no sampled negatives here: the metrics, not the auxiliary loss, are under test
    model = DienModel(options)
    # A model whose scores differ within users: a few steps on the file itself.
    from dien.data import to_batch
    batch, _ = to_batch(samples, vocabularies, 100)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(5):
        optimizer.zero_grad()
        model(batch).loss.backward()
        optimizer.step()
    figures = evaluate(model, samples, vocabularies, 100, torch.device("cpu"))
    model.eval()
    with torch.no_grad():
        scores = [float(p) for p in model(batch).probability.to(torch.float32)]
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"scores": scores, "auc": figures["auc"], "gauc": figures["gauc"], "logloss": figures["logloss"]}, f)


if __name__ == "__main__":
    main()
