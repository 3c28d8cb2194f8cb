"""Forward passes of every model kind and evolution variant: shapes, ranges, padding, and what each mode returns."""

import pytest
import torch

from conftest import KINDS, small_batch, small_options
from dien import build_model
from dien.options import ATTENTION, ATTENTION_NORMALIZATION, EVOLUTION

B, T = 6, 5


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_scores_one_probability_per_row(kind):
    model = build_model(kind, small_options()).train()
    out = model(small_batch(B, T))
    assert out.logit.shape == (B,) and out.probability.shape == (B,)
    assert torch.allclose(out.probability, torch.sigmoid(out.logit))
    assert bool(((out.probability > 0) & (out.probability < 1)).all())
    assert out.loss.shape == () and torch.isfinite(out.loss)
    assert out.target_loss.shape == () and torch.isfinite(out.target_loss)
    # Only DIEN has an auxiliary loss; the total is the target loss plus alpha times it.
    if kind == "DienModel":
        assert out.auxiliary_loss is not None and out.auxiliary_loss.shape == () and float(out.auxiliary_loss) > 0
        assert torch.allclose(out.loss, out.target_loss + out.auxiliary_loss * model.options.alpha)
    else:
        assert out.auxiliary_loss is None
        assert torch.equal(out.loss, out.target_loss)


@pytest.mark.parametrize("evolution", EVOLUTION)
def test_each_evolution_variant_runs_and_differs_from_the_others(evolution):
    batch = small_batch(B, T)
    scores = {}
    for variant in EVOLUTION:
        torch.manual_seed(4)  # the same weights for every variant, so only the recurrence differs
        model = build_model("DienModel", small_options(evolution=variant)).eval()
        with torch.no_grad():
            scores[variant] = model(batch).logit
    out = scores[evolution]
    assert out.shape == (B,) and bool(torch.isfinite(out).all())
    others = [v for v in EVOLUTION if v != evolution]
    # Rows with a history must tell the variants apart (an ignored option would give identical scores).
    assert all(not torch.allclose(out, scores[v], rtol=0, atol=1e-7) for v in others)


@pytest.mark.parametrize("attention", ATTENTION)
@pytest.mark.parametrize("normalization", ATTENTION_NORMALIZATION)
@pytest.mark.parametrize("kind", ("DienModel", "DinModel"))
def test_each_attention_form_runs(kind, attention, normalization):
    model = build_model(kind, small_options(attention=attention, attention_normalization=normalization)).train()
    out = model(small_batch(B, T))
    assert out.logit.shape == (B,) and torch.isfinite(out.loss)


@pytest.mark.parametrize("kind", KINDS)
def test_scores_do_not_depend_on_padding_width(kind):
    model = build_model(kind, small_options()).eval()
    batch = small_batch(B, T)
    wide = small_batch(B, T)
    extra = 3
    for name in ("history_items", "history_categories", "negative_items", "negative_categories"):
        # padding filled with real ids: the mask, not the value, must make it padding
        setattr(wide, name, torch.cat([getattr(batch, name), torch.full((B, extra), 2, dtype=torch.long)], dim=1))
    with torch.no_grad():
        assert torch.allclose(model(batch).logit, model(wide).logit, rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_the_history_matters(kind):
    model = build_model(kind, small_options(embedding_init_scale=0.5)).eval()
    batch = small_batch(B, T)
    changed = small_batch(B, T)
    changed.history_items = torch.where(batch.mask, (batch.history_items % 19) + 1, batch.history_items)
    with torch.no_grad():
        a, b = model(batch).logit, model(changed).logit
    has_history = batch.lengths > 0
    assert not torch.allclose(a[has_history], b[has_history], rtol=0, atol=1e-6)
    assert torch.allclose(a[~has_history], b[~has_history], rtol=0, atol=1e-6)  # nothing changed in empty histories


def test_dien_in_eval_mode_needs_no_negatives_and_gives_no_loss_without_labels():
    model = build_model("DienModel", small_options()).eval()
    batch = small_batch(B, T, negatives=False)
    batch.labels = None
    with torch.no_grad():
        out = model(batch)
    assert out.logit.shape == (B,)
    assert out.loss is None and out.target_loss is None and out.auxiliary_loss is None


def test_dien_training_without_negatives_is_refused_with_the_reason():
    model = build_model("DienModel", small_options()).train()
    with pytest.raises(ValueError, match="no negative_items"):
        model(small_batch(B, T, negatives=False))


def test_alpha_zero_builds_no_auxiliary_network_and_needs_no_negatives():
    model = build_model("DienModel", small_options(alpha=0.0)).train()
    assert model.auxiliary is None
    out = model(small_batch(B, T, negatives=False))
    assert out.auxiliary_loss is None and torch.equal(out.loss, out.target_loss)


def test_the_labelled_history_auxiliary_loss_reads_history_labels():
    options = small_options(auxiliary_loss="LabelledHistory", hidden_size=8)
    model = build_model("DienModel", options).train()
    with pytest.raises(ValueError, match="no history_labels"):
        model(small_batch(B, T, negatives=False))
    out = model(small_batch(B, T, negatives=False, history_labels=True))
    assert out.auxiliary_loss is not None and torch.isfinite(out.auxiliary_loss)


@pytest.mark.parametrize("kind", KINDS)
def test_an_id_outside_its_table_is_refused_with_the_option_that_sizes_it(kind):
    model = build_model(kind, small_options()).eval()
    batch = small_batch(B, T)
    batch.target_items[0] = 20
    with pytest.raises(ValueError, match=r"target_items holds id 20, outside 0 \.\. 19 \(ItemVocabularySize = 20\)"):
        model(batch)


@pytest.mark.parametrize("kind", KINDS)
def test_extra_fields_and_the_user_field_widen_the_head_input(kind):
    options = small_options(use_user_field=True, extra_field_vocabulary_sizes=[3, 4])
    model = build_model(kind, options).train()
    batch = small_batch(B, T)
    batch.extra_fields = torch.tensor([[k % 3, k % 4] for k in range(B)], dtype=torch.long)
    assert model(batch).logit.shape == (B,)
    batch.extra_fields = None
    with pytest.raises(ValueError, match="0 extra field"):
        model(batch)


def test_the_dotnet_state_order_lists_every_key_once():
    for kind in KINDS:
        model = build_model(kind, small_options(use_user_field=True))
        order = model.dotnet_state_order()
        assert sorted(order) == sorted(model.state_dict()) and len(order) == len(set(order))
