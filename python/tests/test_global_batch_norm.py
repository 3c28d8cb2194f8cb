"""GlobalBatchNorm1d: 2 gloo processes, each with half of the global batch, normalise, back-propagate and update the
running statistics as one process does with the whole batch; outside DDP it is BatchNorm1d; the keys do not change."""

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from dien.global_batch_norm import GlobalBatchNorm1d, use_global_batch_norm

ROWS, FEATURES = 8, 5


def _model() -> nn.Module:
    torch.manual_seed(7)
    model = nn.Sequential(nn.Linear(FEATURES, 4), nn.BatchNorm1d(4), nn.PReLU(), nn.Linear(4, 1)).double()
    with torch.no_grad():
        model[1].weight.uniform_(0.5, 1.5)  # not the identity, so that a wrong gradient shows
        model[1].bias.uniform_(-0.5, 0.5)
    return model


def _data():
    generator = torch.Generator().manual_seed(3)
    return torch.randn(ROWS, FEATURES, generator=generator, dtype=torch.float64), torch.rand(ROWS, 1, generator=generator, dtype=torch.float64)


def _step(model, x, y):
    out = model(x)
    loss = nn.functional.binary_cross_entropy_with_logits(out, y)
    loss.backward()
    return out.detach()


def _worker(rank, world, rendezvous, result_path):
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=world)
    try:
        model = use_global_batch_norm(_model()).train()
        ddp = DistributedDataParallel(model)
        x, y = _data()
        rows = slice(rank * ROWS // world, (rank + 1) * ROWS // world)
        out = _step(ddp, x[rows], y[rows])
        if rank == 0:
            torch.save({"out": out, "grads": {n: p.grad for n, p in model.named_parameters()},
                        "state": {k: v.clone() for k, v in model.state_dict().items()}}, result_path)
        else:
            torch.save({"out": out}, result_path + ".1")
    finally:
        dist.destroy_process_group()


def test_two_processes_normalise_and_learn_as_one_does(tmp_path):
    result = str(tmp_path / "rank0.pt")
    mp.spawn(_worker, args=(2, str(tmp_path / "rendezvous"), result), nprocs=2, join=True)
    two = torch.load(result)
    other = torch.load(result + ".1")

    one = _model().train()
    x, y = _data()
    out = _step(one, x, y)

    assert torch.allclose(torch.cat([two["out"], other["out"]]), out, atol=1e-10), "each slice is normalised with the global statistics"
    for name, parameter in one.named_parameters():
        assert torch.allclose(two["grads"][name], parameter.grad, atol=1e-10), f"gradient of {name}"
    for key, value in one.state_dict().items():
        assert torch.allclose(two["state"][key].to(value.dtype), value, atol=1e-10), f"{key} after the step"


def test_outside_a_distributed_run_it_is_batch_norm():
    x, _ = _data()
    plain = nn.BatchNorm1d(FEATURES).double().train()
    global_ = GlobalBatchNorm1d(FEATURES).double().train()
    assert torch.equal(global_(x), plain(x))
    assert torch.equal(global_.running_var, plain.running_var)


def test_the_conversion_keeps_every_key_and_value():
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    use_global_batch_norm(model)
    assert isinstance(model[1], GlobalBatchNorm1d)
    after = model.state_dict()
    assert list(after) == list(before)
    assert all(torch.equal(after[k], before[k]) for k in before)
