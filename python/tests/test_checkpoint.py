"""The .dien checkpoint: save -> load gives the same model, state and scores; the contract's entries are there; the
files every earlier release wrote (tests/Dien.Tests/Checkpoints/Golden) still load and score as pinned; damage and
disagreement are refused with the file named."""

import glob
import hashlib
import json
import os
import zipfile

import pytest
import torch

from conftest import KINDS, REPO, small_batch, small_options
from dien import CheckpointError, build_model, load_checkpoint, read_checkpoint, save_checkpoint
from dien.checkpoint import FORMAT_VERSION
from dien.convert import dien_to_pytorch, pytorch_to_dien

GOLDEN = os.path.join(REPO, "tests", "Dien.Tests", "Checkpoints", "Golden")
VOCABULARIES = {"items": {f"item-{i}": i for i in range(1, 20)},
                "categories": {"c\u00e9t\u00e9gorie <1> & 'x'": 1, "b": 2, "c": 3, "d": 4},
                "users": {f"user-{u}": u for u in range(1, 7)}}
ITEM_CATEGORY = {i: 1 + i % 4 for i in range(1, 20)}


def trained(kind, **changes):
    """A model a few steps away from its initialisation, BatchNorm statistics included, so nothing is at a default."""
    model = build_model(kind, small_options(embedding_init_scale=0.3, **changes)).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(3):
        optimizer.zero_grad()
        model(small_batch()).loss.backward()
        optimizer.step()
    return model


def scores(model, batch):
    model.eval()
    with torch.no_grad():
        return model(batch).probability


@pytest.mark.parametrize("kind", KINDS)
def test_save_then_load_gives_the_same_state_and_the_same_scores(tmp_path, kind):
    model = trained(kind, use_user_field=True, head_activation="Dice", evolution="Agru")
    path = str(tmp_path / "model.dien")
    save_checkpoint(path, model, VOCABULARIES, item_category=ITEM_CATEGORY, max_history=50)

    loaded, vocabularies = load_checkpoint(path)
    assert loaded.training  # ready to train on, as documented
    assert loaded.kind == kind and type(loaded) is type(model)
    assert loaded.options == model.options
    assert vocabularies == VOCABULARIES
    mine, theirs = model.state_dict(), loaded.state_dict()
    assert list(theirs) == list(mine)
    for key in mine:
        assert torch.equal(mine[key], theirs[key]), key
    batch = small_batch()
    assert torch.equal(scores(model, batch), scores(loaded, batch))


def test_a_checkpoint_holds_what_the_dotnet_side_reads(tmp_path):
    model = trained("DienModel")
    path = str(tmp_path / "model.dien")
    save_checkpoint(path, model, VOCABULARIES, item_category=ITEM_CATEGORY, max_history=50)

    with zipfile.ZipFile(path) as archive:
        names = sorted(archive.namelist())
        entries = {n: archive.read(n) for n in names}
    assert names == ["data.json", "manifest.json", "options.json", "weights.bin"]
    manifest = json.loads(entries["manifest.json"])
    assert manifest["FormatVersion"] == FORMAT_VERSION and manifest["ModelKind"] == "DienModel"
    for name in ("data.json", "options.json", "weights.bin"):
        listed = manifest["Entries"][name]
        assert listed["Size"] == len(entries[name])
        assert listed["Sha256"] == hashlib.sha256(entries[name]).hexdigest().upper()
    data = json.loads(entries["data.json"])
    assert data["Items"] == VOCABULARIES["items"] and data["Categories"] == VOCABULARIES["categories"]
    assert data["Users"] == VOCABULARIES["users"]
    assert data["ItemCategories"] == {str(k): v for k, v in ITEM_CATEGORY.items()}
    assert data["MaxHistoryLength"] == 50
    assert json.loads(entries["options.json"])["HiddenSize"] == 6

    contents = read_checkpoint(path)
    assert contents.item_category == ITEM_CATEGORY and contents.max_history == 50
    assert contents.format_version == FORMAT_VERSION and contents.kind == "DienModel"
    assert set(contents.vocabularies) == {"items", "categories", "users"}


def test_weights_are_stored_in_the_dotnet_key_order_as_float32(tmp_path):
    model = trained("DinModel").to(torch.float64)
    path = str(tmp_path / "model.dien")
    save_checkpoint(path, model, VOCABULARIES, item_category=ITEM_CATEGORY)
    state = read_checkpoint(path).state
    assert list(state) == model.dotnet_state_order()
    assert all(t.dtype in (torch.float32, torch.int64) for t in state.values())


GOLDEN_FILES = sorted(glob.glob(os.path.join(GOLDEN, "*.dien")))


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=os.path.basename)
def test_every_released_format_still_loads_and_scores_as_pinned(path):
    from golden_script import cut
    from parity import batch_of

    with open(os.path.splitext(path)[0] + ".json", encoding="utf-8") as f:
        pinned = json.load(f)
    contents = read_checkpoint(path)
    assert contents.format_version == pinned["FormatVersion"] and contents.kind == pinned["Kind"]
    assert len(contents.item_category) > 0, "the item -> category map the .NET predictor reads"
    assert set(contents.vocabularies) == {"items", "categories", "users"}
    model, _ = load_checkpoint(path)
    got = scores(model, batch_of(cut(pinned["Batch"], contents.max_history))).to(torch.float32)
    assert torch.allclose(got, torch.tensor(pinned["Probabilities"]), rtol=0, atol=2e-6)


def test_the_golden_files_are_there():
    assert len(GOLDEN_FILES) >= 9, GOLDEN


def test_a_damaged_entry_is_refused_naming_the_file(tmp_path):
    model = trained("BaseModel")
    path = str(tmp_path / "model.dien")
    save_checkpoint(path, model, VOCABULARIES, item_category=ITEM_CATEGORY)
    with zipfile.ZipFile(path) as archive:
        entries = {n: archive.read(n) for n in archive.namelist()}
    weights = bytearray(entries["weights.bin"])
    weights[-1] ^= 0x01
    entries["weights.bin"] = bytes(weights)  # a consistent zip (fresh CRC), but not what the manifest lists
    damaged = str(tmp_path / "damaged.dien")
    with zipfile.ZipFile(damaged, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    with pytest.raises(CheckpointError, match=r"damaged\.dien'.*entry 'weights\.bin' is damaged"):
        load_checkpoint(damaged)

    truncated = str(tmp_path / "truncated.dien")
    with open(path, "rb") as f, open(truncated, "wb") as g:
        g.write(f.read()[:-40])
    with pytest.raises(CheckpointError, match="truncated.dien"):
        load_checkpoint(truncated)


def test_loading_into_a_model_with_other_options_names_what_differs(tmp_path):
    path = str(tmp_path / "model.dien")
    save_checkpoint(path, trained("DienModel"), VOCABULARIES, item_category=ITEM_CATEGORY)
    other = build_model("DienModel", small_options(hidden_size=8))
    with pytest.raises(CheckpointError, match="HiddenSize is 8 here but 6 there"):
        load_checkpoint(path, other)
    with pytest.raises(CheckpointError, match="holds a 'DienModel' model, not a 'DinModel'"):
        load_checkpoint(path, build_model("DinModel", small_options()))
    wrong = {**VOCABULARIES, "items": {**VOCABULARIES["items"], "item-1": 7}}
    with pytest.raises(CheckpointError, match="table 'items'.*'item-1' -> 7 here, 1 there"):
        load_checkpoint(path, vocabularies=wrong)


def test_save_refuses_what_the_contract_cannot_hold(tmp_path):
    model = trained("BaseModel")
    path = str(tmp_path / "model.dien")
    with pytest.raises(ValueError, match="unknown table"):
        save_checkpoint(path, model, {**VOCABULARIES, "shops": {"a": 1}})
    with pytest.raises(ValueError, match="item 0 is the unknown item"):
        save_checkpoint(path, model, VOCABULARIES, item_category={0: 1, 1: 2})
    with pytest.raises(ValueError, match="max_history = 0"):
        save_checkpoint(path, model, VOCABULARIES, item_category=ITEM_CATEGORY, max_history=0)
    assert not os.path.exists(path)


def test_converting_to_pytorch_and_back_gives_the_same_file_contents(tmp_path):
    model = trained("DienModel")
    first, bundle, second = (str(tmp_path / n) for n in ("a.dien", "a.pt", "b.dien"))
    save_checkpoint(first, model, VOCABULARIES, item_category=ITEM_CATEGORY, max_history=20)
    dien_to_pytorch(first, bundle)
    pytorch_to_dien(bundle, second)
    a, b = read_checkpoint(first), read_checkpoint(second)
    for name in ("options.json", "data.json", "weights.bin"):
        assert a.entries[name] == b.entries[name], name
