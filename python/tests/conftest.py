"""Shared helpers of the pytest suite: small options and batches, so the whole suite runs in seconds on a CPU."""

import os
import random
import sys

import pytest
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the dien package, whichever folder pytest was started from
REPO = os.path.dirname(os.path.dirname(HERE))

from dien import CtrModelOptions, make_batch  # noqa: E402

KINDS = ("DienModel", "DinModel", "BaseModel")
ITEMS, CATEGORIES, USERS = 20, 5, 7


def small_options(**changes) -> CtrModelOptions:
    """Every width small; a valid model of any kind and evolution."""
    values = dict(item_vocabulary_size=ITEMS, category_vocabulary_size=CATEGORIES, user_vocabulary_size=USERS,
                  item_embedding_size=4, category_embedding_size=4, user_embedding_size=3, hidden_size=6,
                  attention_hidden_sizes=[6, 4], auxiliary_hidden_sizes=[5], head_hidden_sizes=[8, 4],
                  embedding_init_scale=0.1)
    values.update(changes)
    return CtrModelOptions(**values)


def category_of(item: int) -> int:
    return 1 + item % (CATEGORIES - 1)


def small_batch(size: int = 6, max_length: int = 5, seed: int = 3, negatives: bool = True, history_labels: bool = False):
    """A batch with histories of every length from 0 to ``max_length``, both labels, and a negative per position."""
    r = random.Random(seed)
    lengths = [k % (max_length + 1) for k in range(size)]
    histories = [[r.randrange(1, ITEMS) for _ in range(n)] for n in lengths]
    negs = [[(i % (ITEMS - 1)) + 1 for i in h] for h in histories]  # never the positive: i -> i + 1 (wrapping)
    targets = [r.randrange(1, ITEMS) for _ in range(size)]
    batch = make_batch(
        user_ids=[r.randrange(0, USERS) for _ in range(size)], target_items=targets,
        target_categories=[category_of(i) for i in targets], histories=histories,
        history_categories=[[category_of(i) for i in h] for h in histories],
        labels=[float(k % 2) for k in range(size)],
        negatives=negs if negatives else None,
        negative_categories=[[category_of(i) for i in h] for h in negs] if negatives else None)
    if history_labels:
        batch.history_labels = (torch.arange(batch.width).unsqueeze(0) % 2 == 0).to(torch.float32).expand(size, -1).clone() * batch.mask
    return batch


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same generator state, so its figures do not depend on the order tests run in."""
    torch.manual_seed(11)
    yield
