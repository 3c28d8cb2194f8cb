"""A batch as the models read it: the tensors of the .NET ``BehaviourBatch`` (ids int64, labels float, mask bool)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Optional, Sequence

import torch
from torch import Tensor


@dataclass
class Batch:
    """Histories are left-aligned, oldest first; positions at or after ``lengths[b]`` are padding (ignored)."""

    user_ids: Tensor            # int64 [B]
    target_items: Tensor        # int64 [B]
    target_categories: Tensor   # int64 [B]
    history_items: Tensor       # int64 [B, T]
    history_categories: Tensor  # int64 [B, T]
    lengths: Tensor             # int64 [B]
    labels: Optional[Tensor] = None              # float [B] (0/1)
    negative_items: Optional[Tensor] = None      # int64 [B, T]: slot t is the negative for the behaviour at t
    negative_categories: Optional[Tensor] = None  # int64 [B, T]
    history_labels: Optional[Tensor] = None      # float [B, T] (labelled-history auxiliary loss)
    extra_fields: Optional[Tensor] = None        # int64 [B, F]

    @property
    def size(self) -> int:
        return int(self.target_items.shape[0])

    @property
    def width(self) -> int:
        return int(self.history_items.shape[1])

    @property
    def mask(self) -> Tensor:
        """True at valid positions, bool [B, T]."""
        positions = torch.arange(self.width, device=self.lengths.device)
        return positions.unsqueeze(0) < self.lengths.unsqueeze(1)

    def to(self, device) -> "Batch":
        return Batch(**{f.name: (None if getattr(self, f.name) is None else getattr(self, f.name).to(device)) for f in fields(self)})


def make_batch(user_ids: Sequence[int], target_items: Sequence[int], target_categories: Sequence[int],
               histories: Sequence[Sequence[int]], history_categories: Sequence[Sequence[int]],
               labels: Optional[Sequence[float]] = None, negatives: Optional[Sequence[Sequence[int]]] = None,
               negative_categories: Optional[Sequence[Sequence[int]]] = None, extra_fields=None,
               max_length: int = 100) -> Batch:
    """Builds a batch from Python lists, keeping each history's ``max_length`` most recent behaviours (as the .NET Batcher)."""
    def clip(rows):
        return [list(r)[-max_length:] if len(r) > max_length else list(r) for r in rows]

    histories = clip(histories)
    history_categories = clip(history_categories)
    lengths = [len(h) for h in histories]
    width = max(lengths, default=0)

    def pad(rows):
        return torch.tensor([list(r) + [0] * (width - len(r)) for r in rows], dtype=torch.long).reshape(len(rows), width)

    return Batch(
        user_ids=torch.tensor(list(user_ids), dtype=torch.long),
        target_items=torch.tensor(list(target_items), dtype=torch.long),
        target_categories=torch.tensor(list(target_categories), dtype=torch.long),
        history_items=pad(histories),
        history_categories=pad(history_categories),
        lengths=torch.tensor(lengths, dtype=torch.long),
        labels=None if labels is None else torch.tensor(list(labels), dtype=torch.float32),
        negative_items=None if negatives is None else pad(clip(negatives)),
        negative_categories=None if negative_categories is None else pad(clip(negative_categories)),
        extra_fields=None if extra_fields is None else torch.tensor(extra_fields, dtype=torch.long),
    )
