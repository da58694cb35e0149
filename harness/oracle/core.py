"""The oracle's shared core: the Reference, the reductions, the inputs' layout and weights, extended precision.

Conventions of every family (each family's module states its own formulas): x are logits, P probabilities
(both with the class axis moved last and the batch flattened to rows), t dense targets (one_hot(label) for
integer labels), t' = (1 - e) t + e / C with label smoothing e (binary families: z' = (1 - e) z + e / 2),
w_c class weights, s_i sample weights (default 1), a_ic = w_c t'_ic. A term whose coefficient is 0
contributes 0 even where its log is -inf (`times`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.core.dtypes import cast
from harness.trials import Inputs

EXTENDED_MAX_ELEMENTS = 1 << 20
EXTENDED_OK = np.finfo(np.longdouble).nmant >= 63


def working_dtype(n: int):
    """The type a trial of n elements is computed in: numpy's longdouble up to EXTENDED_MAX_ELEMENTS (where it
    has a 64-bit mantissa), float64 beyond (Reference.precision says which)."""
    return np.longdouble if (EXTENDED_OK and n <= EXTENDED_MAX_ELEMENTS) else np.float64


# --------------------------------------------------------------------------- what the oracle returns


@dataclass(frozen=True)
class SoftmaxRows:
    """The per-row quantities of a softmax trial that its error analysis (harness/judge/tolerances/softmax.py)
    reads, with the class axis moved last and the batch flattened to R rows (all float64, R long unless said):

        m        the row's largest finite logit (0 for an undefined row)
        log_s    log sum_c exp(x_c - m)                       (so log p_c = x_c - m - log_s)
        factor   f_i = s_i * (the reduction's 1/denominator)   0 for an ignored row: dl/dx_ic = f_i (A_i p_ic - a_ic)
        weight   A_i = sum_c a_ic
        label    the integer label per row (sparse families), else None
        coef     a_ic (R x C) where targets are dense or smoothed, else None (then a_ic = label_coef at the label)
        label_coef  a at the label (sparse families)
        px       sum_c p_c |x_c| over the finite logits: with a_c, the loss's sensitivity to its inputs' last bits
    """

    m: np.ndarray
    log_s: np.ndarray
    factor: np.ndarray
    weight: np.ndarray
    px: np.ndarray
    label: np.ndarray | None = None
    label_coef: np.ndarray | None = None
    coef: np.ndarray | None = None


@dataclass(frozen=True)
class Subgradient:
    """Where the loss is not differentiable (a hinge margin of exactly 0, a tie inside a max), every element of
    the subdifferential is a correct gradient. `at0` and `at1` are the gradients with the derivative of every
    max(0, m) at m = 0 (or of every tied max) taken as 0 and as 1; they differ only at the kinks, and each
    element of the subdifferential lies, entry by entry, between them. Where the subdifferential is not a box
    (a tie among several classes inside one max: the weights of the tied classes sum to 1), `row_sum` bounds
    the sum of each row's gradient over `axis` (lo, hi), which with the box describes it exactly for the
    families here; None where the box alone is exact (separable kinks)."""

    at0: np.ndarray
    at1: np.ndarray
    row_sum: tuple[np.ndarray, np.ndarray] | None = None
    axis: int = -1

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return np.minimum(self.at0, self.at1), np.maximum(self.at0, self.at1)


@dataclass(frozen=True)
class Reference:
    loss: np.ndarray  # float64; scalar for sum/mean, batch-shaped for none
    grad: np.ndarray  # float64, shape of the logits
    precision: str  # "longdouble" or "float64"
    saturated: bool  # a target class's probability rounds to 0 or 1 in the trial dtype
    rows: int  # rows contributing to the reduction
    classes: int
    # what the error analysis needs: the losses before the reduction (per row, or per element for the
    # elementwise families; weighted, 0 where ignored), and the reduction's factor (1, or 1 / denominator)
    unreduced: np.ndarray | None = None
    scale: float = 1.0
    softmax: SoftmaxRows | None = None  # the softmax families' row quantities
    subgradient: Subgradient | None = None  # where the loss has kinks: every correct gradient (grad is one of them)


def reference(out, grad, wd, *, saturated: bool, rows: int, classes: int, unreduced, scale,
              softmax: SoftmaxRows | None = None, subgradient: Subgradient | None = None) -> Reference:
    """The Reference of a trial computed in the working type wd: every array as float64, the precision named."""
    return Reference(
        loss=np.asarray(out, dtype=np.float64),
        grad=np.asarray(grad, dtype=np.float64),
        precision="longdouble" if wd is np.longdouble else "float64",
        saturated=saturated,
        rows=rows,
        classes=classes,
        unreduced=np.asarray(unreduced, dtype=np.float64),
        scale=float(scale),
        softmax=softmax,
        subgradient=subgradient,
    )


def saturates(p, dtype: str) -> bool:
    """Whether any of the probabilities p rounds to 0 or 1 in the trial dtype."""
    pd = cast(np.asarray(p, dtype=np.float64), dtype).astype(np.float64)
    return bool(np.any((pd == 0) | (pd == 1)))


# --------------------------------------------------------------------------- the reductions


def reduction_scale(red: str, count: int, weight_total, wd):
    """(denominator, scale) of a reduction, in the working type wd: none and sum (1, 1); mean divides by count
    (the rows kept, or the elements of an elementwise family), weighted_mean by weight_total() (a function, so
    that only that reduction computes it); scale = 1 / denominator, and 0 for a mean over nothing, whose NaN
    is constant in the inputs: its gradient is 0."""
    if red in ("none", "sum"):
        return wd(1), wd(1)
    denom = wd(count) if red == "mean" else weight_total()
    with np.errstate(invalid="ignore", divide="ignore"):
        return denom, (1 / denom if denom != 0 else wd(0))


def reduced(loss: np.ndarray, red: str, denom, wd):
    """The output of a reduction of per-row (or per-element) losses given its denominator: none the losses,
    sum their sum, mean and weighted_mean the sum / denominator, NaN for a mean over nothing."""
    if red == "none":
        return loss
    total = loss.sum()
    if red == "sum":
        return total
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / denom if denom != 0 else wd(np.nan)


def reduce(loss: np.ndarray, grad: np.ndarray, red: str, count: int, weight_total, wd):
    """(output, gradient scaled to it, scale) of a reduction of per-row (or per-element) losses (see
    `reduction_scale` and `reduced`)."""
    denom, scale = reduction_scale(red, count, weight_total, wd)
    with np.errstate(invalid="ignore", divide="ignore"):
        return reduced(loss, red, denom, wd), grad * scale, scale


# --------------------------------------------------------------------------- the inputs' layout and weights


def to_rows(x, axis: int, wd) -> tuple[np.ndarray, tuple[int, ...], int]:
    """Class axis last, flattened to rows, in the working type: (rows x C array, batch shape, C)."""
    x = np.asarray(x)
    x = np.moveaxis(x.astype(wd), axis % x.ndim, -1)
    return x.reshape(-1, x.shape[-1]), x.shape[:-1], x.shape[-1]


def from_rows(a: np.ndarray, batch_shape, C: int, axis: int, ndim: int) -> np.ndarray:
    """The inverse of `to_rows`: rows x C back to the batch shape, the class axis back in its place."""
    return np.moveaxis(a.reshape(*batch_shape, C), -1, axis % ndim)


def kept_labels(inputs: Inputs, R: int, ignore_index: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(kept, safe) for the integer labels of R rows: the rows whose label is not ignore_index, and the labels
    with an ignored row's set to 0 (a valid index whose terms are then dropped)."""
    labels = np.asarray(inputs.labels, dtype=np.int64).reshape(-1)
    kept = np.ones(R, dtype=bool) if ignore_index is None else labels != ignore_index
    return kept, np.where(kept, labels, 0)


def dense_targets(inputs: Inputs, R: int, C: int, wd, axis: int) -> np.ndarray:
    """Dense targets t as rows x C, in the working type."""
    labels = np.asarray(inputs.labels)
    return np.moveaxis(labels.astype(wd), axis % labels.ndim, -1).reshape(R, C)


def class_weights(inputs: Inputs, C: int, wd) -> np.ndarray:
    """w_c, ones without class weights."""
    return np.ones(C, dtype=wd) if inputs.class_weights is None else np.asarray(inputs.class_weights).astype(wd)


def sample_weights(inputs: Inputs, R: int, wd) -> np.ndarray:
    """s_i per row: ones without sample weights; a weight per batch entry is repeated over the entry's rows."""
    if inputs.sample_weights is None:
        return np.ones(R, dtype=wd)
    sw = np.asarray(inputs.sample_weights).astype(wd)
    return np.repeat(sw, R // max(len(sw), 1))


def elementwise_weights(inputs: Inputs, shape, wd) -> np.ndarray:
    """s_i w_c per element of an elementwise family (classes the last axis, sample weights the first)."""
    nd = len(shape)
    w = class_weights(inputs, shape[-1] if nd else 1, wd)
    rows = shape[0] if nd else 1
    sw = np.ones(rows, dtype=wd) if inputs.sample_weights is None else np.asarray(inputs.sample_weights).astype(wd)
    return np.broadcast_to(w * sw.reshape((-1,) + (1,) * (nd - 1)) if nd else w * sw, shape)


def smoothed(t, e, k: int):
    """Labels smoothed by e over k outcomes, the one rule of every family: (1 - e) t + e / k (k = C classes, or 2
    for the binary families' z'); t itself when e is 0."""
    return (1 - e) * t + e / k if e else t


def categorical_weights(case, inputs: Inputs, R: int, C: int, wd):
    """(t, a, cw, sw) of a dense-label family: targets, a_ic = w_c t'_ic (smoothed), class and per-row sample weights."""
    p = case.params
    t = dense_targets(inputs, R, C, wd, p.axis)
    ts = smoothed(t, wd(p.label_smoothing), C)
    cw = class_weights(inputs, C, wd)
    return t, cw[None, :] * ts, cw, sample_weights(inputs, R, wd)


# --------------------------------------------------------------------------- arithmetic


def times(w, v):
    """w * v where a zero weight times anything infinite is 0: a term that does not count contributes
    nothing (DESIGN.md: a zero target, class weight or sample weight times log 0). NaN stays NaN."""
    with np.errstate(invalid="ignore"):
        return np.where((w == 0) & ~np.isnan(v), 0, w * v)


def log_softmax(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row-wise log-softmax keeping the tail; returns (log p, p, rows that are undefined)."""
    wd = x.dtype.type
    R, C = x.shape
    bad = np.isnan(x).any(-1) | np.isposinf(x).any(-1) | np.isneginf(x).all(-1) if C else np.zeros(R, bool)
    xs = np.where(bad[:, None], wd(0), x)
    if C == 0:
        return xs, xs, bad
    idx = np.argmax(xs, axis=-1)
    m = xs[np.arange(R), idx]
    with np.errstate(invalid="ignore", over="ignore"):
        d = xs - m[:, None]
        ex = np.exp(d)
    ex[np.arange(R), idx] = 0  # sum over all but one argmax: exp(0) = 1 enters through log1p
    lse_tail = np.log1p(ex.sum(-1))
    logp = d - lse_tail[:, None]
    prob = np.exp(logp)
    return logp, prob, bad


def softplus(v: np.ndarray) -> np.ndarray:
    """sp(v) = log(1 + e^v) as max(v, 0) + log1p(e^-|v|)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.maximum(v, 0) + np.log1p(np.exp(-np.abs(v)))
