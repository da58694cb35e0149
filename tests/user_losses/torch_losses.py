"""The four test losses on PyTorch tensors (see __init__.py)."""

from __future__ import annotations

from typing import Literal

import torch


def _reduce(per_row, reduction):
    return per_row if reduction == "none" else per_row.sum() if reduction == "sum" else per_row.mean()


def correct(logits, labels, reduction="none", label_smoothing=0.0, class_weights=None, sample_weights=None):
    """-s_i sum_c w_c t'_ic log softmax(x)_ic, with t' the smoothed targets; weighted_mean divides by sum_i s_i sum_c w_c t_ic."""
    w = 1.0 if class_weights is None else class_weights
    s = 1.0 if sample_weights is None else sample_weights
    t = (1 - label_smoothing) * labels + label_smoothing / logits.shape[-1]
    per_row = -(w * t * torch.log_softmax(logits, dim=-1)).sum(dim=-1) * s
    if reduction == "weighted_mean":
        return per_row.sum() / ((w * labels).sum(dim=-1) * s).sum()
    return _reduce(per_row, reduction)


def naive(logits, labels):
    return -(labels * torch.log(torch.softmax(logits, dim=-1))).sum(dim=-1)


def clipped(logits, labels):
    return -(labels * torch.log(torch.clamp(torch.softmax(logits, dim=-1), 1e-7, 1 - 1e-7))).sum(dim=-1)


def ignores_smoothing(logits, labels, reduction: Literal["none", "sum", "mean"] = "none", label_smoothing: float = 0.0):
    return _reduce(-(labels * torch.log_softmax(logits, dim=-1)).sum(dim=-1), reduction)
