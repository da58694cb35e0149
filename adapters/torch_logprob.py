"""PyTorch's paths of the families on log-probabilities: F.nll_loss / nn.NLLLoss and F.kl_div / nn.KLDivLoss.

torch takes the classes at dim 1 (nll_loss), weight= and ignore_index=, and reduction='mean' with weight= as
the weighted mean. kl_div is elementwise: its reduction='none' returns one term per element, not a loss per
row; 'sum' adds them, 'batchmean' divides the sum by input.size(0) (the harness's mean over rows for
[batch, classes] inputs), and 'mean' divides by every element (rows x classes), which no harness reduction
names: no path uses it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from adapters.api import ApiPath, Call
from harness.schema import Case

NLL = frozenset({"nll_loss"})
KL = frozenset({"kl_divergence"})
ALL_REDUCTIONS = frozenset({"none", "sum", "mean", "weighted_mean"})


def _nll_check(case: Case, dtype: str) -> str | None:
    p = case.params
    if p.axis % len(case.predictions.shape) != 1:
        return "torch.nn.functional.nll_loss takes the class dimension at dim 1; moving it would be emulation"
    if p.reduction == "mean" and p.class_weights is not None:
        return ("with weight=, reduction='mean' divides by the summed weights of the targets (weighted_mean); a "
                "plain mean over rows is not expressible")
    return None


def nll_kwargs(case: Case) -> dict:
    """reduction ('mean' for the weighted mean), weight= (a tensor: '<tensor>' here), ignore_index=."""
    p = case.params
    kw: dict = {"reduction": "mean" if p.reduction == "weighted_mean" else p.reduction}
    if p.class_weights is not None:
        kw["weight"] = "<tensor>"
    if p.ignore_index is not None:
        kw["ignore_index"] = p.ignore_index
    return kw


def _fmt(kw: dict) -> str:
    return ", ".join(f"{k}={v if v == '<tensor>' else repr(v)}" for k, v in kw.items())


def _nll(module: bool):
    def fn(c: Call):
        kw = nll_kwargs(c.case)
        args = {**kw, **({"weight": c.class_weights} if "weight" in kw else {})}
        if module:
            return torch.nn.NLLLoss(**args)(c.logits, c.labels), f"torch.nn.NLLLoss({_fmt(kw)})(log_probabilities, labels)"
        return (F.nll_loss(c.logits, c.labels, **args),
                f"torch.nn.functional.nll_loss(log_probabilities, labels, {_fmt(kw)})")
    return fn


def kl_reduction(case: Case) -> str:
    """torch's name for the case's reduction: 'sum', or 'batchmean' for a mean over the rows of a [batch, classes]
    input (weighted_mean is the same mean here: kl_div takes no sample weights)."""
    return "sum" if case.params.reduction == "sum" else "batchmean"


def _kl_check(case: Case, dtype: str) -> str | None:
    p = case.params
    if p.reduction == "none":
        return ("torch.nn.functional.kl_div(reduction='none') returns one term per element, not one loss per row "
                "(the sum over the classes)")
    nd = len(case.predictions.shape)
    if p.reduction in ("mean", "weighted_mean") and (nd != 2 or p.axis % nd != 1):
        return ("reduction='batchmean' divides by input.size(0), the mean over rows only for [batch, classes] "
                "inputs; reduction='mean' divides by every element, which no harness reduction names")
    return None


def _kl(module: bool):
    def fn(c: Call):
        red, lt = kl_reduction(c.case), c.params.log_target
        if module:
            return (torch.nn.KLDivLoss(reduction=red, log_target=lt)(c.logits, c.labels),
                    f"torch.nn.KLDivLoss(reduction={red!r}, log_target={lt})(log_probabilities, targets)")
        return (F.kl_div(c.logits, c.labels, reduction=red, log_target=lt),
                f"torch.nn.functional.kl_div(log_probabilities, targets, reduction={red!r}, log_target={lt})")
    return fn


PATHS = [
    ApiPath("F.nll_loss", NLL, _nll(False), options=frozenset({"class_weights", "ignore_index", "axis"}),
            reductions=ALL_REDUCTIONS, check=_nll_check, doc="log-probabilities with classes at dim 1"),
    ApiPath("nn.NLLLoss", NLL, _nll(True), options=frozenset({"class_weights", "ignore_index", "axis"}),
            reductions=ALL_REDUCTIONS, check=_nll_check),
    ApiPath("F.kl_div", KL, _kl(False), options=frozenset({"axis", "log_target"}), reductions=ALL_REDUCTIONS,
            check=_kl_check, doc="reduction 'sum' or 'batchmean'; 'none' is per element and 'mean' per element too"),
    ApiPath("nn.KLDivLoss", KL, _kl(True), options=frozenset({"axis", "log_target"}), reductions=ALL_REDUCTIONS,
            check=_kl_check),
]
