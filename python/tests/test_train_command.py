"""The trainer's command (python -m dien.train) in one process on a tiny file in the authors' format: it trains, reports,
and writes a .dien with what the .NET predictor reads (the vocabularies and the item -> category map)."""

import json

import torch

from conftest import small_options
from dien import build_model, load_checkpoint, read_checkpoint
from dien.train import main
from test_sharding import write_authors_file


def test_one_process_trains_and_writes_the_checkpoint_the_dotnet_side_reads(tmp_path, monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    train = tmp_path / "local_train_splitByUser"
    lines = write_authors_file(train)
    test = tmp_path / "local_test_splitByUser"
    test.write_text("\n".join(lines[:20]) + "\n", encoding="utf-8")
    options = tmp_path / "options.json"
    options.write_text(small_options().to_json())
    out, report = tmp_path / "model.dien", tmp_path / "report.json"

    assert main(["--train", str(train), "--test", str(test), "--out", str(out), "--options", str(options),
                 "--batch-size", "16", "--epochs", "2", "--max-history", "3", "--report", str(report), "--log-every", "0"]) == 0

    figures = json.loads(report.read_text())
    assert figures["steps"] == 2 * (figures["train_lines"] // 16) and figures["validation_lines"] > 0
    assert figures["train_lines"] + figures["validation_lines"] == len(lines)
    assert 0 <= figures["auc"] <= 1 and figures["test_samples"] == 20
    contents = read_checkpoint(str(out))
    assert contents.kind == "DienModel" and contents.max_history == 3
    assert len(contents.vocabularies["items"]) == 30 and len(contents.vocabularies["users"]) == 20
    items, categories = contents.vocabularies["items"], contents.vocabularies["categories"]
    assert contents.item_category and all(items_id in items.values() for items_id in contents.item_category)
    assert set(contents.item_category.values()) <= set(categories.values())
    model, _ = load_checkpoint(str(out))
    assert model.options.hidden_size == 6
    torch.manual_seed(1)  # the trainer's --seed: the weights it started from
    start = build_model("DienModel", model.options).state_dict()
    trained = model.state_dict()
    assert not torch.equal(start["head.output.weight"], trained["head.output.weight"]), "the checkpoint holds untrained weights"
