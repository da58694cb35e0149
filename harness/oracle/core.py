"""The oracle's shared core: the Reference it returns, zero-weight products, log-softmax and softplus in extended precision."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EXTENDED_MAX_ELEMENTS = 1 << 20
EXTENDED_OK = np.finfo(np.longdouble).nmant >= 63


def working_dtype(n: int):
    """The type a trial of n elements is computed in: numpy's longdouble up to EXTENDED_MAX_ELEMENTS (where it
    has a 64-bit mantissa), float64 beyond (Reference.precision says which)."""
    return np.longdouble if (EXTENDED_OK and n <= EXTENDED_MAX_ELEMENTS) else np.float64


@dataclass(frozen=True)
class SoftmaxRows:
    """The per-row quantities of a softmax trial that its error analysis (harness/judge/tolerances.py) reads, with
    the class axis moved last and the batch flattened to R rows (all float64, R long unless said):

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
    with np.errstate(over="ignore", invalid="ignore"):
        return np.maximum(v, 0) + np.log1p(np.exp(-np.abs(v)))
