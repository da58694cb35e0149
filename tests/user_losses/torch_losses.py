"""The four test losses on PyTorch tensors (see __init__.py)."""

from __future__ import annotations

from typing import Literal

import torch


def _reduce(per_row, reduction):
    return per_row if reduction == "none" else per_row.sum() if reduction == "sum" else per_row.mean()


def correct(logits, labels, reduction: Literal["none", "sum", "mean"] = "none", label_smoothing: float = 0.0):
    t = (1 - label_smoothing) * labels + label_smoothing / logits.shape[-1]
    return _reduce(-(t * torch.log_softmax(logits, dim=-1)).sum(dim=-1), reduction)


def naive(logits, labels):
    return -(labels * torch.log(torch.softmax(logits, dim=-1))).sum(dim=-1)


def clipped(logits, labels):
    return -(labels * torch.log(torch.clamp(torch.softmax(logits, dim=-1), 1e-7, 1 - 1e-7))).sum(dim=-1)


def ignores_smoothing(logits, labels, reduction: Literal["none", "sum", "mean"] = "none", label_smoothing: float = 0.0):
    return _reduce(-(labels * torch.log_softmax(logits, dim=-1)).sum(dim=-1), reduction)
