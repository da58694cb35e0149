"""Tolerance policy: the one place that says how close a framework must come to the oracle.

A value passes when |observed - reference| <= atol + rtol * |reference|, elementwise.

    eps_d    machine epsilon of the trial dtype (the output is rounded to it: 0.5 ULP at least)
    eps_acc  epsilon of the accumulation: frameworks accumulate float16/bfloat16 sums in float32
    n        terms summed for the quantity (classes per row, times rows for sum/mean reductions)
    K = 4    slack for a handful of correctly rounded operations

    rtol     = K * (eps_d + eps_acc * log2(1 + n))        pairwise/blocked summation grows like log n
    loss     atol = K * eps_d * (1 + max|x|) * rows_summed
             logsumexp is m + log(sum exp(x - m)): any implementation that rounds m or the log in
             the trial dtype makes an absolute error of order eps_d * |m| per row. This is why a
             framework that returns 0 for the loss 4.2e-18 at logits [0, -40] passes (its error is
             still reported in ULPs).
    grad     rtol += K * eps_d * min(spread, log(1/tiny_d))
             atol = max(rtol * max|g_ref|, K * eps_d * grad_scale)
             p = exp(log p) carries the absolute rounding error of log p, which grows with the
             spread of the logits up to the point where exp underflows. A gradient element is
             A p - a, formed from terms of size up to grad_scale = s_i A_i (times 1/count for means):
             p near 1 is rounded to the dtype's spacing there, so p - 1 has an absolute error of
             order eps_d * grad_scale however small the true gradient is (at logits [0, -40] the
             true -4.2e-18 comes out as 0 in every dtype). Errors on small entries are also judged
             against the largest gradient entry (a norm-wise floor).

A case may override any of the four numbers, only with a reason; the tolerance used and where it
came from are written into every row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harness.dtypes import eps, finfo, finite_stats
from harness.oracle import Reference
from harness.schema import Case

K = 4.0


@dataclass(frozen=True)
class Tolerance:
    loss_rtol: float
    loss_atol: float
    grad_rtol: float
    grad_atol: float
    source: str  # "policy" or "case: <reason>"


def _eps_acc(dtype: str) -> float:
    return min(eps(dtype), eps("float32"))


def for_trial(case: Case, dtype: str, ref: Reference, logits: np.ndarray) -> Tolerance:
    e = eps(dtype)
    acc = _eps_acc(dtype)
    C = max(ref.classes, 1)
    rows = max(ref.rows, 1)
    reduced = case.params.reduction != "none"
    n_loss = C * rows if reduced else C
    loss_rtol = K * (e + acc * math.log2(1 + n_loss))
    rows_summed = rows if case.params.reduction == "sum" else 1  # a mean is back on the scale of one row
    loss_atol = K * e * (1.0 + ref.max_abs_logit) * rows_summed

    spread = _spread(logits, case.params.axis)
    cap = math.log(1.0 / float(finfo(dtype).smallest_normal))
    grad_rtol = K * (e + acc * math.log2(1 + C)) + K * e * min(spread, cap)
    grad_atol = max(grad_rtol * finite_stats(ref.grad)[2], K * e * ref.grad_scale)

    tol = Tolerance(loss_rtol, loss_atol, grad_rtol, grad_atol, "policy")
    o = case.tolerance
    if o is not None:
        tol = Tolerance(
            loss_rtol=o.loss_rtol if o.loss_rtol is not None else tol.loss_rtol,
            loss_atol=o.loss_atol if o.loss_atol is not None else tol.loss_atol,
            grad_rtol=o.grad_rtol if o.grad_rtol is not None else tol.grad_rtol,
            grad_atol=o.grad_atol if o.grad_atol is not None else tol.grad_atol,
            source=f"case: {o.reason}",
        )
    return tol


def _spread(logits: np.ndarray, axis: int) -> float:
    """Largest gap between a row's maximum and its other finite logits."""
    x = np.asarray(logits)
    if x.size == 0:
        return 0.0
    if x.dtype in (np.float32, np.float64) and np.isfinite(x).all():  # the common case, without float64 copies
        s = np.max(x, axis=axis).astype(np.float64) - np.min(x, axis=axis).astype(np.float64)
        return float(s.max()) if s.size else 0.0
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        fin = np.where(np.isfinite(x), x, np.nan)
        hi = np.nanmax(fin, axis=axis) if np.isfinite(fin).any() else np.zeros(1)
        lo = np.nanmin(fin, axis=axis) if np.isfinite(fin).any() else np.zeros(1)
    s = np.nan_to_num(hi - lo, nan=0.0)
    return float(s.max()) if s.size else 0.0
