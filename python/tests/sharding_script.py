"""The Python half of tests/Dien.Tests/Interop/ShardingInteropTests.cs.

    sharding_script.py train_file out.json

Replays the DDP trainer's row assignment (``dien.data``: split_by_user, epoch_order, rank_rows) for 2 and 4
processes over 2 epochs of global batch 64, without training, and writes what the .NET side checks: the share of
positive labels each process saw in each epoch, its steps, whether the processes' slices of every global batch are
disjoint and make up the 1-process batch, whether the two epochs' orders differ, and the users of both parts.
"""

import json
import sys

from dien.data import epoch_order, rank_rows, read_rows, scan, split_by_user


def main():
    path, out = sys.argv[1:3]
    corpus = scan(path)
    train, validation = split_by_user(corpus, 0.1, 1)
    samples = read_rows(path, corpus.offsets, list(range(corpus.lines)))
    batch = 64
    steps = len(train) // batch
    report = {"train_rows": len(train), "validation_rows": len(validation),
              "train_users": sorted({samples[r].user for r in train}), "validation_users": sorted({samples[r].user for r in validation}),
              "worlds": {}}
    orders = [epoch_order(train, 1, epoch) for epoch in range(2)]
    report["epoch_orders_differ"] = orders[0] != orders[1]
    for world in (2, 4):
        shares, partitions = [], True
        for epoch, order in enumerate(orders):
            per_rank = [[] for _ in range(world)]
            for step in range(steps):
                slices = [rank_rows(order, step, batch, rank, world) for rank in range(world)]
                partitions &= [r for s in slices for r in s] == rank_rows(order, step, batch, 0, 1)
                partitions &= all(len(s) == batch // world for s in slices)
                for rank, rows in enumerate(slices):
                    per_rank[rank].extend(rows)
            shares.append([sum(samples[r].label for r in rows) / len(rows) for rows in per_rank])
        report["worlds"][str(world)] = {"positive_share": shares, "steps": steps, "slices_make_the_global_batch": partitions}
    report["positive_share_overall"] = sum(samples[r].label for r in train) / len(train)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main()
