"""Trains DIEN (or DIN, BaseModel) with PyTorch DistributedDataParallel on the authors' file format.

    torchrun --nproc_per_node=N -m dien.train --train local_train_splitByUser --test local_test_splitByUser \\
        --out model.dien [--model DienModel] [--steps 1000 | --epochs 1] [--batch-size 128] [--seed 1]

Rank 0 reads the training file once, recording where each line starts and whose user it is; a seeded share of the
users (``--validation-fraction``) is held out by user for validation, as the .NET ``ValidationSplit.ByUser``. Every
epoch the kept rows are shuffled by ``--seed`` and the epoch, the same in every process, and global batch s is rows
[s*B, (s+1)*B) of that order, process r taking its r-th slice: every process sees the data's label mix, every
process takes the same number of steps, and N processes train on the very batches one process would (line numbers
decide nothing: the authors' files alternate labels). Rows are read back by offset, so no process loads the file.
The global batch is ``--batch-size``, split evenly over the processes; the learning rate is that of one process with
that batch. gloo on CPU, NCCL on GPU (``--device cuda``: one GPU per process, LOCAL_RANK). Rank 0 scans the training
file once for the vocabularies (or takes them from ``--vocabularies-from`` a .dien, so ids match an existing model),
evaluates AUC, GAUC (grouped by the raw user string) and log loss with the .NET definitions, on the validation users
after every epoch and on ``--test`` at the end, and writes the ``.dien`` that CtrPredictor.Load serves, with the
vocabularies and the item -> category map (``item_category``) that the .NET predict command and Dien.Serve read.
Without torchrun it runs as one process.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Dict, List, Optional

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from . import metrics
from .checkpoint import read_checkpoint, save_checkpoint
from .data import (NegativeSampler, epoch_order, rank_rows, read_rows, read_samples, sample_random, scan, split_by_user,
                   table_size, to_batch)
from .global_batch_norm import use_global_batch_norm
from .models import build_model
from .native_heap import keep_freed_blocks
from .options import CtrModelOptions


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
    p.add_argument("--negatives", default="popularity", choices=["popularity", "uniform"],
                   help="how the auxiliary loss's negatives are drawn: by popularity in the pool (the default, as the authors "
                        "draw: the folder's reviews-info, else the training histories) or uniform over the training file's items")
    p.add_argument("--validation-fraction", type=float, default=0.1,
                   help="share of the training users held out (with all their lines) and scored after every epoch; 0: none")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--device", default="cpu", help="cpu (gloo) or cuda (NCCL, one GPU per process)")
    p.add_argument("--threads", type=int, default=0, help="intra-op threads per process (0: torch's default)")
    p.add_argument("--report", help="write the figures as JSON here (rank 0)")
    p.add_argument("--scores", help="write the test file's click probabilities here, one a line in file order, in full precision (rank 0)")
    p.add_argument("--log-every", type=int, default=100)
    return p.parse_args(argv)


def evaluate(model, samples, vocabularies, max_history: int, device, scores_out: Optional[List[float]] = None) -> Dict[str, float]:
    """AUC, GAUC and log loss of ``samples`` (an iterable) in evaluation mode; GAUC groups by the raw user string, as
    the .NET evaluator groups by ``Sample.Group``: a test file split by user has only users the vocabulary never saw,
    all of id 0, so grouping by id would make GAUC the AUC."""
    model.eval()
    scores: List[float] = []
    labels: List[float] = []
    users: List[str] = []
    chunk = []

    def flush():
        batch, _ = to_batch(chunk, vocabularies, max_history)
        with torch.no_grad():
            out = model(batch.to(device))
        scores.extend(out.probability.to(torch.float32).cpu().tolist())
        labels.extend(batch.labels.tolist())
        users.extend(s.user for s in chunk)
        chunk.clear()

    for s in samples:
        chunk.append(s)
        if len(chunk) == 1024:
            flush()
    if chunk:
        flush()
    model.train()
    if scores_out is not None:
        scores_out.extend(scores)
    return {"auc": metrics.auc(scores, labels), "gauc": metrics.group_auc(scores, labels, users),
            "logloss": metrics.log_loss(scores, labels), "samples": len(scores)}


def main(argv=None) -> int:
    args = parse(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    distributed = world > 1
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    keep_freed_blocks()
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
                options = CtrModelOptions.from_json(f.read())
        else:
            options = CtrModelOptions()
        options.item_vocabulary_size = max(2, table_size(vocabularies["items"]))
        options.category_vocabulary_size = max(2, table_size(vocabularies["categories"]))
        options.user_vocabulary_size = max(1, table_size(vocabularies["users"]))

    torch.manual_seed(args.seed)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
    model = build_model(kind, options)
    if init is not None:
        model.load_state_dict({k: v.to(model.state_dict()[k].dtype) for k, v in init.state.items()})
    model.to(device).train()
    if distributed:
        use_global_batch_norm(model)  # BatchNorm on the global batch, so N processes train as one does
    ddp = DistributedDataParallel(model, device_ids=[local_rank] if device.type == "cuda" else None) if distributed else model
    optimizer = torch.optim.Adam(ddp.parameters(), lr=args.lr)

    train_rows, validation_rows = split_by_user(corpus, args.validation_fraction, args.seed)
    steps_per_epoch = len(train_rows) // args.batch_size
    if steps_per_epoch == 0:
        raise SystemExit(f"{args.train}: {len(train_rows)} training lines give no full global batch of {args.batch_size}")
    total = args.steps if args.steps else steps_per_epoch * args.epochs
    use_negatives = kind == "DienModel" and options.alpha > 0 and options.auxiliary_loss == "NextBehaviour"
    if not use_negatives:
        sampler = None
    elif args.negatives == "uniform":
        sampler = NegativeSampler(corpus.item_categories)
    else:
        sampler = NegativeSampler(corpus.pool_categories, counts=corpus.pool_counts)

    step = 0
    started = time.perf_counter()
    samples_seen = 0
    running = 0.0
    epoch = 0
    epochs = []
    while step < total:
        order = epoch_order(train_rows, args.seed, epoch)
        epoch_started, epoch_loss, epoch_steps = time.perf_counter(), 0.0, 0
        for s in range(min(steps_per_epoch, total - step)):
            rows = rank_rows(order, s, args.batch_size, rank, world)
            samples = read_rows(args.train, corpus.offsets, rows)
            # each row's negatives come from its own generator, so they do not depend on which process trains on it
            generators = [sample_random(args.seed, epoch, r) for r in rows] if sampler is not None else None
            batch, _ = to_batch(samples, vocabularies, args.max_history, sampler, generators)
            optimizer.zero_grad()
            out = ddp(batch.to(device))
            out.loss.backward()
            optimizer.step()
            loss = float(out.loss)
            running += loss
            epoch_loss += loss
            epoch_steps += 1
            step += 1
            samples_seen += local_batch * world
            if rank == 0 and args.log_every and step % args.log_every == 0:
                print(f"step {step}/{total}  loss {running / args.log_every:.4f}  {samples_seen / (time.perf_counter() - started):.0f} samples/s", flush=True)
                running = 0.0
        record = {"epoch": epoch + 1, "steps": epoch_steps, "seconds": time.perf_counter() - epoch_started,
                  "train_loss": epoch_loss / max(epoch_steps, 1)}
        if rank == 0 and validation_rows:
            figures = evaluate(model, (s for k in range(0, len(validation_rows), 4096)
                                       for s in read_rows(args.train, corpus.offsets, validation_rows[k:k + 4096])),
                               vocabularies, args.max_history, device)
            record.update({"validation_" + k: v for k, v in figures.items()})
            print(f"epoch {epoch + 1}: validation AUC {figures['auc']:.4f} GAUC {figures['gauc']:.4f} logloss {figures['logloss']:.4f}", flush=True)
        epochs.append(record)
        epoch += 1
    elapsed = time.perf_counter() - started

    if distributed:
        dist.barrier()
    train_seconds = sum(e["seconds"] for e in epochs)
    report = {"processes": world, "steps": step, "global_batch": args.batch_size, "samples": samples_seen,
              "train_lines": len(train_rows), "validation_lines": len(validation_rows), "steps_per_epoch": steps_per_epoch,
              "seconds": elapsed, "train_seconds": train_seconds,
              "samples_per_second": samples_seen / train_seconds if train_seconds > 0 else math.nan, "epochs": epochs,
              "negatives": None if sampler is None else (args.negatives if args.negatives == "uniform" else f"popularity in {corpus.pool_source}")}
    if rank == 0:
        if args.test:
            scores: List[float] = []
            figures = evaluate(model, read_samples(args.test), vocabularies, args.max_history, device, scores)
            if args.scores:
                with open(args.scores, "w", encoding="utf-8") as f:
                    f.writelines(f"{p!r}\n" for p in scores)  # float32 values, written so that they read back exactly
            report.update({"auc": figures["auc"], "gauc": figures["gauc"], "logloss": figures["logloss"], "test_samples": figures["samples"]})
        # What the .NET side reads (the checkpoint contract): the string -> id maps, the item -> category map of this
        # run's data (one taken over from --init-from is replaced) and the history cut the model trained with.
        vocabularies_out = {name: table for name, table in vocabularies.items() if name in ("users", "items", "categories")}
        item_category = {item: category for item, category in corpus.item_categories.items() if item != 0}
        save_checkpoint(args.out, model.to("cpu"), vocabularies_out, item_category=item_category, max_history=args.max_history)
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
