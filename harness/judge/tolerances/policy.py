"""Tolerance policy: how an allowance is formed from its terms, the Tolerance a trial gets, and the reduction's terms.

Every output element (a row's loss, an element's loss, each gradient entry, each output of a building
block) gets an allowance derived from *that element's own* inputs: the error a correct implementation
in the trial dtype makes on it. Nothing is taken from the largest value of the whole trial, so one row
at 1e4, one class weight of 1000 or one class masked at -1e9 widens no other element's allowance.

    u        machine epsilon of the trial dtype. A rounding to nearest costs u/2; exp and log in the
             frameworks' math libraries are within one ULP, so each operation below is charged u.
    v_n      eps_acc * log2(1 + n): the relative error of a sum of n non-negative terms, accumulated
             pairwise or in blocks in float32 for float16/bfloat16 inputs (what every framework's
             reductions do) and in the dtype itself for float32/float64.
    tiny     the smallest normal number of the computation dtype (float32 for float16 and bfloat16):
             XLA and TensorFlow flush subnormals to zero, so a result or an intermediate probability
             below the normal range loses at most this (times the factor it is multiplied by). A
             float16 probability of 1.4e-5 (a float16 subnormal, but a normal float32) is not below it.
    K = 1    no slack beyond charging every operation a full eps: twice what a rounding to nearest
             costs, which also covers exp and log within one ULP and the second-order terms.

    allowed = K * (sum of the terms below) + floor

The terms of each family are derived in its model's module (softmax, elementwise, categorical, blocks).

Every gradient entry g, in every family, is also multiplied by its weight and by the reduction's factor
and rounded to the dtype: 3 u |g| more.

Reductions: sum and mean add the rows' allowances (times the reduction's factor), the sum's own error
v_R sum_i |l_i|, and the output's rounding u |out|.

A case may override an allowance (atol + rtol |ref| for the quantities it names) only with a reason. The
allowance of each row's worst element and the term that dominated it are written into every row.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from harness.core.dtypes import eps, finfo
from harness.oracle import Reference
from harness.schema.model import Case

K = 1.0

Terms = dict[str, np.ndarray]


def eps_acc(dtype: str) -> float:
    """The epsilon sums are accumulated in: the dtype's, float32's for float16 and bfloat16."""
    return min(eps(dtype), eps("float32"))


def _tiny(dtype: str) -> float:
    """The smallest normal number of the dtype a framework computes in (float32 for float16 and bfloat16):
    XLA and TensorFlow run with subnormals flushed to zero on CPU, so a value below it may come out 0."""
    return float(finfo("float64" if dtype == "float64" else "float32").smallest_normal)


def floor_tiny(dtype: str) -> float:
    """tiny: below the normal range, flushed in the computation, or rounded to the dtype's subnormal spacing."""
    return _tiny(dtype) + float(finfo(dtype).smallest_subnormal)


def v_sum(acc: float, n: int) -> float:
    """v_n = eps_acc * log2(1 + n), the relative error of a sum of n non-negative terms."""
    return acc * math.log2(1 + n)


def dlogs(u: float, acc: float, C: int) -> float:
    """dlogS = u (1 + log C) + v_C: the absolute error of a row's log S (harness/judge/tolerances/softmax.py)."""
    return u * (1.0 + math.log(max(C, 1))) + v_sum(acc, C)


@dataclass(frozen=True)
class Tolerance:
    """The allowances of one trial: `loss` per loss element (the shape of the oracle's loss), `grad_terms`
    per gradient element of a flat block [start, stop) of the gradient (computed block by block, like the
    comparison, so a large trial costs no full-size temporaries)."""

    loss_terms: Terms
    grad_terms: Callable[[int, int], Terms]
    loss_floor: np.ndarray | float
    grad_floor: Callable[[int, int], np.ndarray]
    source: str  # "policy" or "case: <reason>"
    override: tuple[float | None, float | None, float | None, float | None] = (None, None, None, None)
    u: float = 0.0  # the dtype's epsilon: every gradient entry is also multiplied by its weight and the
    # reduction's factor and rounded to the dtype, 3 u |g| (see `_scaled`)
    judge_loss: bool = True  # False for a derivative order's row: its loss is the trial's own row's to judge

    @classmethod
    def fixed(cls, loss_rtol: float, loss_atol: float, grad_rtol: float, grad_atol: float, source: str) -> Tolerance:
        """atol + rtol |ref| for every element (the golden values' check, and tests)."""
        zero = lambda s, e: np.zeros(max(e - s, 0))  # noqa: E731
        return cls({}, lambda s, e: {}, 0.0, zero, source, (loss_rtol, loss_atol, grad_rtol, grad_atol))

    def loss_allowed(self, ref: np.ndarray) -> np.ndarray:
        """Allowed |observed - ref| for each loss element (the shape of the oracle's loss)."""
        lr, la = self.override[0], self.override[1]
        if lr is not None or la is not None:
            return (la or 0.0) + (lr or 0.0) * np.abs(np.asarray(ref, dtype=np.float64))
        return np.broadcast_to(_total(self.loss_terms, self.loss_floor), np.shape(ref))

    def grad_allowed(self, ref_block: np.ndarray, start: int, stop: int) -> np.ndarray:
        gr, ga = self.override[2], self.override[3]
        if gr is not None or ga is not None:
            return (ga or 0.0) + (gr or 0.0) * np.abs(np.asarray(ref_block, dtype=np.float64))
        return _total(self._scaled(self.grad_terms(start, stop), ref_block), self.grad_floor(start, stop))

    def _scaled(self, terms: Terms, ref_block: np.ndarray) -> Terms:
        with np.errstate(invalid="ignore"):
            r = np.abs(np.asarray(ref_block, dtype=np.float64))
        return {**terms, "times weight and scale, rounded": 3 * self.u * np.where(np.isfinite(r), r, 0.0)}

    def grad_full(self, ref: np.ndarray) -> np.ndarray:
        """Every gradient element's allowance at once (small trials: relations)."""
        flat = np.asarray(ref).reshape(-1)
        return self.grad_allowed(flat, 0, flat.size).reshape(np.shape(ref))

    def explain(self, quantity: str, flat_index: int, ref_value: float = 0.0) -> str:
        """The allowance of one element and the term that dominates it, e.g. '3.1e-07 (K * 1.5e-07, mostly
        log S)'."""
        if any(v is not None for v in self.override):
            return f"atol + rtol |ref| ({self.source})"
        if quantity == "loss":
            terms = {k: np.asarray(v).reshape(-1)[flat_index: flat_index + 1] for k, v in self.loss_terms.items()}
            floor = np.asarray(self.loss_floor).reshape(-1)
            floor = float(floor[flat_index] if floor.size > 1 else floor[0]) if floor.size else 0.0
        else:
            terms = self._scaled(self.grad_terms(flat_index, flat_index + 1), np.array([ref_value]))
            floor = float(np.asarray(self.grad_floor(flat_index, flat_index + 1)).reshape(-1)[0])
        vals = {k: float(np.asarray(v).reshape(-1)[0]) if np.size(v) else 0.0 for k, v in terms.items()}
        total = K * sum(vals.values()) + floor
        top = max(vals, key=lambda k: vals[k]) if vals and max(vals.values()) > 0 else "floor"
        return f"{total:.3g} (mostly {top})"


def _total(terms: Terms, floor) -> np.ndarray:
    out = None
    for v in terms.values():
        out = np.asarray(v, dtype=np.float64) if out is None else out + v
    out = np.zeros(np.shape(floor)) if out is None else out
    with np.errstate(invalid="ignore"):
        # a term that is NaN or infinite (an undefined row, an infinite loss) allows nothing: the comparison
        # judges those elements as non-finite, and no finite element may be allowed an infinite error
        return np.nan_to_num(K * out + floor, nan=0.0, posinf=0.0)


def reduced_loss_terms(case: Case, ref: Reference, row_terms: Terms, u: float, acc: float, tiny: float):
    """The loss allowance after the reduction: each row's terms (already weighted), summed and scaled
    for sum and mean, plus the sum's own error and the output's rounding."""
    red = case.params.reduction
    out = np.abs(np.asarray(ref.loss, dtype=np.float64))
    if red == "none" or ref.unreduced is None:
        terms = {k: np.asarray(v, dtype=np.float64).reshape(np.shape(ref.loss)) for k, v in row_terms.items()}
        terms["output rounding"] = u * out
        return terms, tiny
    scale = abs(ref.scale)
    l_abs = np.abs(np.asarray(ref.unreduced, dtype=np.float64))
    n = l_abs.size
    with np.errstate(invalid="ignore"):
        terms = {k: np.asarray(scale * np.sum(v), dtype=np.float64) for k, v in row_terms.items()}
        terms["sum over rows"] = np.asarray(scale * acc * math.log2(1 + n) * np.sum(l_abs))
    terms["output rounding"] = u * out
    return terms, tiny
