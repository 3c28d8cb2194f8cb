"""One optimiser step on a tiny batch: finite gradients that reach every part, padding rows untouched, a lower loss."""

import pytest
import torch

from conftest import KINDS, small_batch, small_options
from dien import build_model
from dien.options import EVOLUTION


def loss_of(model, batch):
    return model(batch).loss


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_are_finite_and_reach_every_part(kind):
    model = build_model(kind, small_options(embedding_init_scale=0.5)).train()
    model(small_batch()).loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert bool(torch.isfinite(p.grad).all()), f"{name} has a non-finite gradient"
    grads = dict(model.named_parameters())
    assert float(grads["embedding.items.weight"].grad.abs().sum()) > 0
    head = [p.grad for n, p in model.named_parameters() if n.startswith("head.")]
    assert any(float(g.abs().sum()) > 0 for g in head)
    if kind == "DienModel":
        for part in ("extractor.", "evolution.", "attention.", "auxiliary."):
            assert any(float(p.grad.abs().sum()) > 0 for n, p in model.named_parameters() if n.startswith(part)), part


@pytest.mark.parametrize("kind", KINDS)
def test_the_padding_row_gets_no_gradient_and_stays_zero(kind):
    model = build_model(kind, small_options(embedding_init_scale=0.5)).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    optimizer.zero_grad()
    model(small_batch()).loss.backward()
    assert float(model.embedding.items.weight.grad[0].abs().sum()) == 0
    optimizer.step()
    assert float(model.embedding.items.weight[0].abs().sum()) == 0
    assert float(model.embedding.categories.weight[0].abs().sum()) == 0


@pytest.mark.parametrize("kind", KINDS)
def test_one_step_lowers_the_loss_on_the_batch(kind):
    model = build_model(kind, small_options(embedding_init_scale=0.5)).train()
    batch = small_batch()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    before = model(batch).loss
    optimizer.zero_grad()
    before.backward()
    optimizer.step()
    with torch.no_grad():
        after = loss_of(model, batch)
    assert float(after) < float(before), (float(before), float(after))


@pytest.mark.parametrize("evolution", EVOLUTION)
def test_a_few_adam_steps_fit_the_tiny_batch(evolution):
    model = build_model("DienModel", small_options(evolution=evolution, embedding_init_scale=0.5)).train()
    batch = small_batch(size=8)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    first = None
    for _ in range(25):
        optimizer.zero_grad()
        out = model(batch)
        out.loss.backward()
        optimizer.step()
        first = float(out.target_loss) if first is None else first
    model.eval()
    with torch.no_grad():
        probability = model(batch).probability
    labels = batch.labels
    # Memorising 8 rows: every positive scored above every negative, and the target loss well below its start.
    assert float(probability[labels == 1].min()) > float(probability[labels == 0].max())
    model.train()
    with torch.no_grad():
        assert float(model(batch).target_loss) < 0.5 * first
