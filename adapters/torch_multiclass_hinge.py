"""PyTorch's multi-class hinge paths: F.multi_margin_loss and nn.MultiMarginLoss (Weston-Watkins), the others by hand."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from adapters import manual_hinge
from adapters.api import ApiPath, Call
from adapters.naive import Ops
from adapters.torch_calls import fmt
from harness.schema import Case

WW = frozenset({"weston_watkins_hinge"})


def _two_dims(case: Case, dtype: str) -> str | None:
    """multi_margin_loss takes (N, C) (or (C,)) input: classes at dim 1 of a 2-D batch, nothing else."""
    shape = case.predictions.shape
    if len(shape) != 2:
        return f"torch.nn.functional.multi_margin_loss takes (N, C) input, not {len(shape)}-D"
    if case.params.axis % 2 != 1:
        return "torch.nn.functional.multi_margin_loss takes the classes at dim 1"
    return None


def _kwargs(c: Call) -> dict:
    p = c.params
    kw: dict = {"p": p.p, "margin": p.margin}
    if c.class_weights is not None:
        kw["weight"] = c.class_weights
    kw["reduction"] = p.reduction
    return kw



def _multi_margin(c: Call):
    kw = _kwargs(c)
    return F.multi_margin_loss(c.logits, c.labels, **kw), f"torch.nn.functional.multi_margin_loss({fmt(kw)})"


def _module(c: Call):
    kw = _kwargs(c)
    return torch.nn.MultiMarginLoss(**kw)(c.logits, c.labels), f"torch.nn.MultiMarginLoss({fmt(kw)})"


# the relation two_classes (harness/judge/two_classes.py): torch has no binary hinge, so its users' formula
BINARY = (("hinge", "manual:torch.clamp(1-y*x, min=0)"), ("squared_hinge", "manual:torch.clamp(1-y*x, min=0)**2"))


def paths(ops: Ops) -> list[ApiPath]:
    options = frozenset({"class_weights", "margin", "p", "axis"})
    doc = "w_y after the power; 'mean' divides by the rows, with weights too"
    h = manual_hinge.HingeOps(ops, lambda v: v.max(dim=-1).values, "torch.max(dim=-1).values",
                              lambda v: torch.clamp(v, min=0), "torch.clamp(min=0)")
    return [
        ApiPath("F.multi_margin_loss", WW, _multi_margin, options=options, check=_two_dims, doc=doc, partners=BINARY),
        ApiPath("nn.MultiMarginLoss", WW, _module, options=options, check=_two_dims, doc=doc, partners=BINARY),
        *manual_hinge.paths(h, ("crammer_singer_hinge", "categorical_hinge")),
    ]
