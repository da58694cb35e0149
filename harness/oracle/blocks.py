"""The oracle of the building blocks (log_softmax, softmax, logsumexp): exact outputs and vector-Jacobian products.

Building blocks (reduction none; `labels` is the cotangent g of the output, ones by default, so the
gradient is the vector-Jacobian product g^T d(output)/dx):
    log_softmax:  y = x - logsumexp(x)          dx = g - p sum_c g_c = g (1 - p) - p sum_{c != j} g_c
    softmax:      y = p                         dx = p (g - sum_c g_c p_c) = p (g (1 - p) - sum_{c != j} g_c p_c)
    (the second forms, with 1 - p = -expm1(log p), keep every bit of an entry whose p is near 1)
    logsumexp:    y_i = logsumexp(x_i)          dx = g_i p
    A row with NaN or +inf is undefined (NaN), except logsumexp, which is +inf with a +inf and no NaN;
    an all -inf row has logsumexp -inf and no defined softmax.
"""

from __future__ import annotations

import numpy as np

from harness.oracle import core
from harness.oracle.core import Reference, from_rows, log_softmax, reference, saturates, to_rows
from harness.schema.model import Case
from harness.trials import Inputs


def _sum_others(v: np.ndarray) -> np.ndarray:
    """sum_{k != j} v_k for every j of each row, without subtracting v_j from the total (which cancels
    where v_j dominates the row); rows of up to a few thousand entries, as the block cases have."""
    R, C = v.shape
    if R * C * C > (1 << 22):
        return v.sum(-1, keepdims=True) - v
    others = np.broadcast_to(v[:, None, :], (R, C, C)).copy()
    others[:, np.arange(C), np.arange(C)] = 0
    return others.sum(-1)


def block(case: Case, inputs: Inputs, dtype: str) -> Reference:
    """The building blocks (see the module docstring)."""
    x0 = np.asarray(inputs.logits)
    wd = core.working_dtype(x0.size)
    axis = case.params.axis
    x, batch_shape, C = to_rows(x0, axis, wd)
    R = x.shape[0]
    fam = case.family
    if fam == "logsumexp":
        gvec = np.asarray(inputs.labels).astype(wd).reshape(R)
        G = gvec[:, None] * np.ones((1, C), dtype=wd)
    else:
        G = to_rows(np.asarray(inputs.labels), axis, wd)[0]
    logp, prob, bad = log_softmax(x)
    with np.errstate(invalid="ignore", over="ignore"):
        # without cancellation: 1 - p_c = -expm1(log p_c), and the other classes' terms summed apart
        one_minus = -np.expm1(logp)
        if fam == "log_softmax":
            out = logp
            grad = G * one_minus - prob * _sum_others(G)
        elif fam == "softmax":
            out = prob
            grad = prob * (G * one_minus - _sum_others(G * prob))
        else:
            idx = np.argmax(np.where(bad[:, None], 0, x), axis=-1)
            out = x[np.arange(R), idx] - logp[np.arange(R), idx]  # lse = x_m - log p_m, tail kept
            grad = G * prob
    out = np.where(bad if fam == "logsumexp" else bad[:, None], np.nan, out)
    grad = np.where(bad[:, None], np.nan, grad)
    if fam == "logsumexp":
        with np.errstate(invalid="ignore"):
            nan = np.isnan(x).any(-1)
            out = np.where(~nan & np.isposinf(x).any(-1), np.inf, out)
            out = np.where(~nan & np.isneginf(x).all(-1), -np.inf, out)
        out = out.reshape(batch_shape)
    else:
        out = from_rows(out, batch_shape, C, axis, x0.ndim)
    return reference(
        out, from_rows(grad, batch_shape, C, axis, x0.ndim), wd,
        saturated=saturates(prob, dtype) and C > 1,
        rows=R, classes=C, unreduced=out, scale=1.0,
    )
