"""Trains DIEN (or DIN, BaseModel) with PyTorch DistributedDataParallel on the authors' file format.

    torchrun --nproc_per_node=N -m dien.train --train local_train_splitByUser --test local_test_splitByUser \\
        --out model.dien [--model DienModel] [--steps 1000 | --epochs 1] [--batch-size 128] [--seed 1]

Every process streams its own shard of the training file (line k goes to rank k mod N), so no process loads the file.
The global batch is ``--batch-size``, split evenly over the processes; the learning rate is that of one process with
that batch. gloo on CPU, NCCL on GPU (``--device cuda``: one GPU per process, LOCAL_RANK). Rank 0 scans the training
file once for the vocabularies (or takes them from ``--vocabularies-from`` a .dien, so ids match an existing model),
evaluates AUC, GAUC and log loss with the .NET definitions, and writes the ``.dien`` that DienPredictor.Load serves.
Without torchrun it runs as one process.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from typing import Dict, List, Optional

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from . import metrics
from .checkpoint import read_checkpoint, save_checkpoint
from .data import NegativeSampler, read_samples, scan, shuffled, table_size, to_batch
from .models import build_model
from .options import DienOptions


def parse(argv=None):
    p = argparse.ArgumentParser(prog="torchrun --nproc_per_node=N -m dien.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", required=True, help="training file in the authors' format")
    p.add_argument("--test", help="test file in the authors' format (evaluated on rank 0)")
    p.add_argument("--out", required=True, help="the .dien checkpoint to write (rank 0)")
    p.add_argument("--model", default="DienModel", choices=["DienModel", "DinModel", "BaseModel"])
    p.add_argument("--options", help="an options.json to start from (vocabulary sizes are set from the vocabularies)")
    p.add_argument("--vocabularies-from", help="take the vocabularies (and so the ids) from this .dien")
    p.add_argument("--init-from", help="continue from the weights of this .dien (its options and vocabularies too)")
    p.add_argument("--batch-size", type=int, default=128, help="the global batch, split over the processes")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--steps", type=int, help="stop after this many steps (default: whole epochs)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-history", type=int, default=100)
    p.add_argument("--shuffle-buffer", type=int, default=10000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--device", default="cpu", help="cpu (gloo) or cuda (NCCL, one GPU per process)")
    p.add_argument("--threads", type=int, default=0, help="intra-op threads per process (0: torch's default)")
    p.add_argument("--report", help="write the figures as JSON here (rank 0)")
    p.add_argument("--log-every", type=int, default=100)
    return p.parse_args(argv)


def evaluate(model, path: str, vocabularies, max_history: int, batch_size: int, device) -> Dict[str, float]:
    model.eval()
    scores: List[float] = []
    labels: List[float] = []
    users: List[int] = []
    chunk = []

    def flush():
        batch, user_ids = to_batch(chunk, vocabularies, max_history)
        with torch.no_grad():
            out = model(batch.to(device))
        scores.extend(out.probability.to(torch.float32).cpu().tolist())
        labels.extend(batch.labels.tolist())
        users.extend(user_ids)
        chunk.clear()

    for s in read_samples(path):
        chunk.append(s)
        if len(chunk) == 1024:
            flush()
    if chunk:
        flush()
    model.train()
    return {"auc": metrics.auc(scores, labels), "gauc": metrics.group_auc(scores, labels, users),
            "logloss": metrics.log_loss(scores, labels), "test_samples": len(scores)}


def main(argv=None) -> int:
    args = parse(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    distributed = world > 1
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if distributed:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if args.batch_size % world:
        raise SystemExit(f"--batch-size {args.batch_size} must be a multiple of the {world} processes")
    local_batch = args.batch_size // world

    # Rank 0 scans the training file once; every rank gets the same vocabularies, item -> category map and line count.
    init = read_checkpoint(args.init_from) if args.init_from else None
    if rank == 0:
        given = init.vocabularies if init else (read_checkpoint(args.vocabularies_from).vocabularies if args.vocabularies_from else None)
        corpus = scan(args.train, given, os.path.dirname(os.path.abspath(args.train)))
        shared = [corpus]
    else:
        shared = [None]
    if distributed:
        dist.broadcast_object_list(shared, src=0)
    corpus = shared[0]
    vocabularies = corpus.vocabularies

    if init is not None:
        options = init.options
        kind = init.kind
    else:
        kind = args.model
        if args.options:
            with open(args.options, encoding="utf-8") as f:
                options = DienOptions.from_json(f.read())
        else:
            options = DienOptions()
        options.item_vocabulary_size = max(2, table_size(vocabularies["items"]))
        options.category_vocabulary_size = max(2, table_size(vocabularies["categories"]))
        options.user_vocabulary_size = max(1, table_size(vocabularies["users"]))

    torch.manual_seed(args.seed)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
    model = build_model(kind, options)
    if init is not None:
        model.load_state_dict({k: v.to(model.state_dict()[k].dtype) for k, v in init.state.items()})
    model.to(device).train()
    ddp = DistributedDataParallel(model, device_ids=[local_rank] if device.type == "cuda" else None) if distributed else model
    optimizer = torch.optim.Adam(ddp.parameters(), lr=args.lr)

    steps_per_epoch = (corpus.lines // world) // local_batch
    total = args.steps if args.steps else steps_per_epoch * args.epochs
    if steps_per_epoch == 0:
        raise SystemExit(f"{args.train}: {corpus.lines} lines give no full batch of {local_batch} per process")
    generator = random.Random(args.seed * 1000 + rank)
    sampler = NegativeSampler(corpus.item_categories, generator) if kind == "DienModel" and options.alpha > 0 and options.auxiliary_loss == "NextBehaviour" else None

    step = 0
    started = time.perf_counter()
    samples_seen = 0
    running = 0.0
    epoch = 0
    while step < total:
        chunk = []
        taken = 0
        for s in shuffled(read_samples(args.train, rank, world), args.shuffle_buffer, generator):
            chunk.append(s)
            if len(chunk) < local_batch:
                continue
            batch, _ = to_batch(chunk, vocabularies, args.max_history, sampler)
            chunk = []
            optimizer.zero_grad()
            out = ddp(batch.to(device))
            out.loss.backward()
            optimizer.step()
            running += float(out.loss)
            step += 1
            taken += 1
            samples_seen += local_batch * world
            if rank == 0 and args.log_every and step % args.log_every == 0:
                print(f"step {step}/{total}  loss {running / args.log_every:.4f}  {samples_seen / (time.perf_counter() - started):.0f} samples/s", flush=True)
                running = 0.0
            # every rank stops after the same number of steps, whatever its shard's length
            if step >= total or taken >= steps_per_epoch:
                break
        epoch += 1
    elapsed = time.perf_counter() - started

    if distributed:
        dist.barrier()
    report = {"processes": world, "steps": step, "global_batch": args.batch_size, "samples": samples_seen,
              "seconds": elapsed, "samples_per_second": samples_seen / elapsed if elapsed > 0 else math.nan}
    if rank == 0:
        if args.test:
            report.update(evaluate(model, args.test, vocabularies, args.max_history, local_batch, device))
        vocabularies_out = dict(vocabularies)
        save_checkpoint(args.out, model.to("cpu"), vocabularies_out)
        report["checkpoint"] = args.out
        print(json.dumps(report), flush=True)
        if args.report:
            with open(args.report, "w", encoding="utf-8") as f:
                json.dump(report, f, indent=1)
    if distributed:
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
