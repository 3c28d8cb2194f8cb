"""The DDP trainer's row assignment (dien.data): a seeded shuffle per epoch, each process a disjoint slice of every
global batch, the slices together the one-process batch, and both labels in every process on the authors' files,
whose lines alternate negative and positive."""

import random

import pytest

from dien.data import epoch_order, rank_rows, read_rows, sample_random, scan, split_by_user

ROWS = list(range(640))
LABEL = {r: r % 2 for r in ROWS}  # the authors' files: negative, positive, negative, ...
BATCH = 64


def assignment(order, world):
    """Every process's rows over one epoch, step by step."""
    steps = len(order) // BATCH
    return [[rank_rows(order, s, BATCH, rank, world) for s in range(steps)] for rank in range(world)]


def test_the_epoch_order_is_a_seeded_permutation_redrawn_every_epoch():
    first = epoch_order(ROWS, seed=1, epoch=0)
    assert sorted(first) == ROWS and first != ROWS
    assert epoch_order(ROWS, seed=1, epoch=0) == first  # every process computes the same order
    assert epoch_order(ROWS, seed=1, epoch=1) != first
    assert epoch_order(ROWS, seed=2, epoch=0) != first
    assert ROWS == list(range(640))  # the caller's list is not shuffled in place


@pytest.mark.parametrize("world", (1, 2, 4, 8))
def test_each_process_gets_a_disjoint_slice_and_together_they_are_the_global_batch(world):
    order = epoch_order(ROWS, seed=1, epoch=0)
    per_rank = assignment(order, world)
    for s in range(len(order) // BATCH):
        slices = [per_rank[rank][s] for rank in range(world)]
        assert all(len(rows) == BATCH // world for rows in slices)
        flat = [r for rows in slices for r in rows]
        assert len(set(flat)) == len(flat), "a row given to two processes"
        assert flat == rank_rows(order, s, BATCH, 0, 1) == order[s * BATCH:(s + 1) * BATCH]
    everything = [r for rank in per_rank for rows in rank for r in rows]
    assert sorted(everything) == ROWS  # 640 rows, 10 full global batches: the epoch covers every row once


@pytest.mark.parametrize("world", (2, 4))
def test_every_process_sees_both_labels_in_every_epoch(world):
    for epoch in range(3):
        per_rank = assignment(epoch_order(ROWS, seed=1, epoch=epoch), world)
        for rank, steps in enumerate(per_rank):
            labels = [LABEL[r] for rows in steps for r in rows]
            share = sum(labels) / len(labels)
            assert 0.35 < share < 0.65, (epoch, rank, share)
            # and nearly every single step holds both labels, not only the epoch as a whole
            both = sum(1 for rows in steps if 0 < sum(LABEL[r] for r in rows) < len(rows))
            assert both >= len(steps) - 1, (epoch, rank, both)


def test_the_rule_it_replaces_would_give_each_process_one_label():
    # "line k to process k mod N": on alternating labels every process of an even N sees one label only. The
    # assignment above must not be that rule (this is what the label-share test guards against).
    for world in (2, 4):
        for rank in range(world):
            assert len({LABEL[r] for r in ROWS if r % world == rank}) == 1


def test_a_rows_negatives_do_not_depend_on_which_process_trains_on_it():
    draws = [sample_random(seed=1, epoch=0, row=17).random() for _ in range(2)]
    assert draws[0] == draws[1]
    assert sample_random(1, 0, 17).random() != sample_random(1, 1, 17).random()
    assert sample_random(1, 0, 17).random() != sample_random(1, 0, 18).random()


def write_authors_file(path, users=20, lines_per_user=6):
    lines = []
    r = random.Random(5)
    for u in range(users):
        for k in range(lines_per_user):
            history = [f"m{r.randrange(30)}" for _ in range(r.randrange(1, 5))]
            label = len(lines) % 2
            lines.append(f"{label}\tu{u}\tm{r.randrange(30)}\tc{k % 3}\t" + "\x02".join(history) + "\t" + "\x02".join(f"c{len(h) % 3}" for h in history))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines


def test_rows_read_back_by_offset_and_the_validation_users_are_held_out_whole(tmp_path):
    path = tmp_path / "local_train_splitByUser"
    lines = write_authors_file(path)
    corpus = scan(str(path))
    assert corpus.lines == len(lines) and corpus.users == 20
    rows = [7, 0, 119, 50]
    samples = read_rows(str(path), corpus.offsets, rows)
    assert [s.user for s in samples] == [lines[r].split("\t")[1] for r in rows]
    assert [s.label for s in samples] == [float(lines[r][0]) for r in rows]

    train, validation = split_by_user(corpus, 0.1, seed=1)
    assert sorted(train + validation) == list(range(len(lines)))
    users = lambda rows: {lines[r].split("\t")[1] for r in rows}  # noqa: E731
    assert len(users(validation)) == 2 and not users(train) & users(validation)
    assert split_by_user(corpus, 0.1, seed=1) == (train, validation)
    assert split_by_user(corpus, 0.1, seed=2) != (train, validation)
    with pytest.raises(ValueError, match="--validation-fraction 1.0"):
        split_by_user(corpus, 1.0, seed=1)
