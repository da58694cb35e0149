"""The oracle of the focal cross-entropy families (categorical and binary, from logits): exact loss and gradient.

Conventions as in harness/oracle/core.py (reductions: none, sum, mean over rows, or elements for the binary
family, weighted_mean over sum_i s_i sum_c w_c t_ic, elementwise: sum_ic s_i w_c, alpha being no weight of
the mean; a mean over nothing is NaN with gradient 0).

categorical_focal_crossentropy (logits, dense labels; gamma, alpha; Lin et al. 2017 as Keras defines it):
    p = softmax(x), u_c = 1 - p_c = -expm1(log p_c)
    l_i = -s_i alpha sum_c a_ic u_c^gamma log p_c      (alpha = 1 when the case gives none)
    with h_c = p_c dl/dp_c = -s_i alpha a_ic (u_c^gamma - gamma u_c^(gamma-1) p_c log p_c):
    dl_i/dx_j = h_j - p_j sum_c h_c = h_j u_j - p_j sum_{c != j} h_c

binary_focal_crossentropy (logits, labels in [0, 1], elementwise; gamma, alpha):
    s = sigmoid(x), v = 1 - p_t = z' s(-x) + (1 - z') s(x), bce = z' sp(-x) + (1 - z') sp(x)
    alpha_t = alpha z' + (1 - alpha)(1 - z')  (1 when the case gives no alpha)
    l = s_i w_c alpha_t v^gamma bce
    dl/dx = s_i w_c alpha_t (gamma v^(gamma-1) (1 - 2 z') s(x) s(-x) bce + v^gamma (s(x) - z'))
"""

from __future__ import annotations

import numpy as np

from harness.oracle import core
from harness.oracle.core import (
    Reference,
    categorical_weights,
    elementwise_weights,
    from_rows,
    log_softmax,
    reduce,
    reference,
    saturates,
    smoothed,
    softplus,
    times,
    to_rows,
)
from harness.schema.model import Case
from harness.trials import Inputs


def binary_focal_crossentropy(case: Case, inputs: Inputs, dtype: str) -> Reference:
    x0 = np.asarray(inputs.logits)
    wd = core.working_dtype(x0.size)
    p = case.params
    x = x0.astype(wd)
    z = np.asarray(inputs.labels).astype(wd)
    zs = smoothed(z, wd(p.label_smoothing), 2)
    g = wd(p.gamma)
    alpha_t = wd(1) if p.alpha is None else wd(p.alpha) * zs + (1 - wd(p.alpha)) * (1 - zs)
    weights = elementwise_weights(inputs, x.shape, wd)
    weight = weights * alpha_t
    sp_neg, sp_pos = softplus(-x), softplus(x)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        s_pos, s_neg = np.exp(-sp_neg), np.exp(-sp_pos)  # s(x), s(-x)
        bce = np.where(zs == 0, 0, zs * sp_neg) + np.where(zs == 1, 0, (1 - zs) * sp_pos)
        v = zs * s_neg + (1 - zs) * s_pos  # 1 - p_t
        vg = v ** g if g else np.ones_like(v)
        dv = (1 - 2 * zs) * s_pos * s_neg
        dfocal = np.where((v == 0) | (g == 0), 0, g * v ** (g - 1) * dv * bce)
        loss = weight * vg * bce
        grad = weight * (dfocal + vg * ((1 - zs) * s_pos - zs * s_neg))  # s(x) - z' without cancellation
    nan = np.isnan(x)
    loss, grad = np.where(nan, np.nan, loss), np.where(nan, np.nan, grad)
    out, grad, scale = reduce(loss, grad, p.reduction, x.size, lambda: weights.sum(), wd)  # alpha_t is no weight of the mean
    return reference(
        out, grad, wd,
        saturated=saturates(s_pos, dtype),
        rows=x.shape[0], classes=x.shape[-1], unreduced=loss, scale=scale,
    )


def categorical_focal_crossentropy(case: Case, inputs: Inputs, dtype: str) -> Reference:
    x0 = np.asarray(inputs.logits)
    wd = core.working_dtype(x0.size)
    p = case.params
    x, batch_shape, C = to_rows(x0, p.axis, wd)
    R = x.shape[0]
    t, a, cw, sw = categorical_weights(case, inputs, R, C, wd)
    a = (wd(1) if p.alpha is None else wd(p.alpha)) * a
    g = wd(p.gamma)
    logp, prob, bad = log_softmax(x)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        u = -np.expm1(logp)  # 1 - p without cancellation near p = 1
        ug = u ** g if g else np.ones_like(u)
        loss = -times(sw, times(a * ug, logp).sum(-1))
        second = np.where((u == 0) | (g == 0) | (prob == 0), 0, g * u ** (g - 1) * prob * logp)
        h = -sw[:, None] * np.where(a == 0, 0, a * (ug - second))
        H = h.sum(-1, keepdims=True)
        grad = h * u - prob * (H - h)
    loss = np.where(bad, np.nan, loss)
    grad = np.where(bad[:, None], np.nan, grad)
    out, grad, scale = reduce(loss, grad, p.reduction, R, lambda: (sw * (cw[None, :] * t).sum(-1)).sum(), wd)
    if p.reduction == "none":
        out = out.reshape(batch_shape)
    return reference(
        out, from_rows(grad, batch_shape, C, p.axis, x0.ndim), wd,
        saturated=saturates(prob[t > 0], dtype) and C > 1,
        rows=R, classes=C, unreduced=loss, scale=scale,
    )
