"""The oracle of the sparsemax losses (optax.losses.sparsemax_loss, multiclass_sparsemax_loss): exact loss and gradient.

Both are Fenchel-Young losses (Blondel, Martins & Niculae, JMLR 2020) with the Gini negentropy, so they are
continuously differentiable: the support of the projection changing is a kink of the gradient's derivative,
not of the loss, and the gradient below is the only correct one everywhere.

binary_sparsemax (labels z in {0, 1}; optax: sparse_plus(where(z, -x, x))), elementwise, w = s_i w_c:
    v = (1 - 2 z) x     l = w sparse_plus(v),  sparse_plus(v) = 0 (v <= -1), (v + 1)^2 / 4 (|v| < 1), v (v >= 1)
    dl/dx = w (1 - 2 z) sparse_sigmoid(v),     sparse_sigmoid(v) = clip((v + 1) / 2, 0, 1)
    the pieces meet with equal values and slopes at v = -1 and v = 1. v = +inf: l = +inf, slope w (1 - 2 z);
    v = -inf: l = 0, slope 0.

multiclass_sparsemax (integer labels y; Martins & Astudillo 2016), per row, W_i = s_i w_y:
    p = sparsemax(x), the Euclidean projection of x onto the simplex: p_j = max(x_j - tau, 0), tau such that
    sum_j p_j = 1 (sort x descending; k the largest j with 1 + j x_(j) > sum_{i <= j} x_(i); tau = (that sum - 1) / k)
    l_i = W_i (<p, x> - |p|^2 / 2 + 1 / 2 - x_y)    (optax: <p, x - x_y> + (1 - |p|^2) / 2, the label's term 0)
        = W_i (|p - e_y|^2 / 2 + max(0, tau - x_y))  (with <p, x> = |p|^2 + tau; one-signed terms: no cancellation)
    dl_i/dx = W_i (p - e_y)
    A -inf score is a masked class (p_j = 0, no term); at the label it gives l = +inf with the same gradient; a row
    holding NaN or +inf, or only -inf, has no projection: NaN loss and gradient (as a softmax row has none).

Reductions: none, sum, mean (elements; rows for the multi-class loss), weighted_mean (sum of w; rows: of W_i).
"""

from __future__ import annotations

import numpy as np

from harness.oracle import core
from harness.oracle.core import Reference, class_weights, from_rows, reduce, reference, sample_weights, times, to_rows
from harness.oracle.hinge import _done, _setup
from harness.schema.model import Case
from harness.trials import Inputs


def binary_sparsemax(case: Case, inputs: Inputs, dtype: str) -> Reference:
    x, wd, weight = _setup(case, inputs)
    sign = 1 - 2 * np.asarray(inputs.labels).astype(wd)
    with np.errstate(invalid="ignore", over="ignore"):
        v = sign * x
        inner = (v + 1) * (v + 1) / 4
        loss = times(weight, np.where(v <= -1, wd(0), np.where(v >= 1, v, inner)))
        grad = weight * sign * np.clip((v + 1) / 2, 0, 1)
    return _done(case, x, wd, loss, grad, weight, dtype)


def sparsemax_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(p, tau, bad) of each row of x (rows x C): the projection onto the simplex, its threshold, and the rows that
    have none (NaN or +inf, or only -inf)."""
    R, C = x.shape
    bad = np.isnan(x).any(-1) | np.isposinf(x).any(-1) | ~np.isfinite(x).any(-1) if C else np.ones(R, bool)
    xs = np.where(bad[:, None], 0, x)
    with np.errstate(invalid="ignore", over="ignore"):
        z = -np.sort(-xs, axis=-1)
        fin = np.isfinite(z)
        cs = np.cumsum(np.where(fin, z, 0), axis=-1)
        j = np.arange(1, C + 1, dtype=x.dtype)
        ok = fin & (1 + j * np.where(fin, z, 0) > cs)
        k = np.maximum(ok.sum(-1), 1)
        tau = (np.take_along_axis(cs, (k - 1)[:, None], -1)[:, 0] - 1) / k.astype(x.dtype)
        p = np.where(np.isfinite(xs), np.maximum(xs - tau[:, None], 0), 0)
    return p.astype(x.dtype), tau, bad


def multiclass_sparsemax(case: Case, inputs: Inputs, dtype: str) -> Reference:
    par = case.params
    x0 = np.asarray(inputs.logits)
    wd = core.working_dtype(x0.size)
    x, batch_shape, C = to_rows(x0, par.axis, wd)
    R = x.shape[0]
    y = np.asarray(inputs.labels, dtype=np.int64).reshape(-1)
    onehot = np.zeros((R, C), dtype=wd)
    onehot[np.arange(R), y] = 1
    W = sample_weights(inputs, R, wd) * class_weights(inputs, C, wd)[y]
    p, tau, bad = sparsemax_rows(x)
    with np.errstate(invalid="ignore", over="ignore"):
        xy = x[np.arange(R), y] if C else np.zeros(R, dtype=wd)
        d = p - onehot
        row = (d * d).sum(-1) / 2 + np.maximum(tau - xy, 0)
        loss = times(W, row)
        grad = W[:, None] * d
    loss = np.where(bad, np.nan, loss)
    grad = np.where(bad[:, None], np.nan, grad)
    out, grad, scale = reduce(loss, grad, par.reduction, R, lambda: W.sum(), wd)
    if par.reduction == "none":
        out = out.reshape(batch_shape)
    return reference(out, from_rows(grad, batch_shape, C, par.axis, x0.ndim), wd, saturated=False, rows=R,
                     classes=C, unreduced=loss, scale=scale)
