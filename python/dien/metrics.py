"""AUC, GAUC and log loss with the definitions of the .NET ``ClickMetrics`` (float32 scores, ties share their average rank)."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Hashable, Sequence

import torch

LOG_LOSS_EPSILON = 1e-7


def auc(scores: Sequence[float], labels: Sequence[float]) -> float:
    """Exact AUC from ranks (Mann-Whitney U); NaN when all labels are of one class."""
    s = torch.as_tensor(scores, dtype=torch.float32).to(torch.float64)
    y = torch.as_tensor(labels, dtype=torch.float64)
    n = s.numel()
    if n == 0:
        return math.nan
    order = torch.argsort(s)
    sorted_scores = s[order]
    # average rank of each tie group (1-based)
    unique, inverse, counts = torch.unique_consecutive(sorted_scores, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).to(torch.float64)
    starts = ends - counts.to(torch.float64) + 1
    ranks = ((starts + ends) / 2)[inverse]
    positive = y[order] == 1
    positives = int(positive.sum())
    negatives = n - positives
    if positives == 0 or negatives == 0:
        return math.nan
    u = float(ranks[positive].sum()) - positives * (positives + 1) / 2.0
    return u / (positives * negatives)


def group_auc(scores: Sequence[float], labels: Sequence[float], users: Sequence[Hashable]) -> float:
    """Per-user AUC weighted by each user's impressions; users of one class are skipped; NaN when none is left.

    ``users`` are the raw user strings (the .NET evaluator's ``Sample.Group``), not vocabulary ids: in a file split
    by user every test user is unseen, and grouping by id (0 for all of them) would give the AUC."""
    rows = defaultdict(list)
    for i, u in enumerate(users):
        rows[u].append(i)
    weighted = 0.0
    weight = 0
    for indices in rows.values():
        a = auc([scores[i] for i in indices], [labels[i] for i in indices])
        if math.isnan(a):
            continue
        weighted += a * len(indices)
        weight += len(indices)
    return math.nan if weight == 0 else weighted / weight


def log_loss(probabilities: Sequence[float], labels: Sequence[float]) -> float:
    """Mean binary cross-entropy, probabilities clipped to [1e-7, 1 - 1e-7]."""
    if len(probabilities) == 0:
        return math.nan
    total = 0.0
    for p, y in zip(probabilities, labels):
        p = min(max(float(p), LOG_LOSS_EPSILON), 1 - LOG_LOSS_EPSILON)
        total -= math.log(p) if y == 1 else math.log(1 - p)
    return total / len(probabilities)
