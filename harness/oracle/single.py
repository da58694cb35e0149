"""The oracle of the losses only one framework ships (optax's poly-1, Keras' generalized cross-entropy): exact loss and gradient.

Conventions as in harness/oracle/core.py (x logits, P probabilities, class axis last, rows flattened; s_i sample
weights; reductions: none, sum, mean over rows, weighted_mean over sum_i s_i sum_c t_ic; a mean over nothing is
NaN with gradient 0). Neither family has class weights, label smoothing or ignored rows (no library defines them).

poly1_cross_entropy (logits, dense labels t, used as given: soft labels are not renormalised; epsilon,
optax.poly_loss_cross_entropy's default 2.0; Leng et al. 2022):
    p = softmax(x), u_c = 1 - p_c = -expm1(log p_c), T = sum_c t_c, S = sum_c t_c p_c
    l_i = s_i (-sum_c t_c log p_c + epsilon sum_c t_c u_c)       (optax: CE + epsilon * sum(t * (1 - p)))
    dl_i/dx_j = s_i (T p_j - t_j - epsilon p_j (t_j - S))
              = s_i (p_j (T - t_j) - t_j u_j - epsilon p_j (t_j u_j - (S - t_j p_j)))   no cancellation for one-hot t

generalized_cross_entropy (probabilities, integer labels y; q in (0, 1); Zhang & Sabuncu 2018 as Keras'
CategoricalGeneralizedCrossEntropy defines it: the probabilities taken as given, no clip):
    l_i = s_i (1 - P_iy^q) / q = -s_i expm1(q log P_iy) / q     (1 / q where P_iy = 0)
    dl_i/dP_iy = -s_i P_iy^(q - 1)      (-inf where P_iy = 0), 0 for every other class
    A row with a NaN anywhere has no defined loss (NaN loss and gradient row), as for the other probability families.
"""

from __future__ import annotations

import numpy as np

from harness.oracle import core
from harness.oracle.core import (
    Reference,
    dense_targets,
    from_rows,
    kept_labels,
    log_softmax,
    reduce,
    reference,
    sample_weights,
    saturates,
    times,
    to_rows,
)
from harness.schema.model import Case
from harness.trials import Inputs


def poly1_cross_entropy(case: Case, inputs: Inputs, dtype: str) -> Reference:
    x0 = np.asarray(inputs.logits)
    wd = core.working_dtype(x0.size)
    p = case.params
    x, batch_shape, C = to_rows(x0, p.axis, wd)
    R = x.shape[0]
    t = dense_targets(inputs, R, C, wd, p.axis)
    sw = sample_weights(inputs, R, wd)
    eps = wd(p.epsilon)
    logp, prob, bad = log_softmax(x)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        u = -np.expm1(logp)  # 1 - p without cancellation near p = 1
        tu = times(t, u)
        tp = t * prob
        T, S = t.sum(-1, keepdims=True), tp.sum(-1, keepdims=True)
        row = -times(t, logp).sum(-1) + eps * tu.sum(-1)
        loss = times(sw, row)
        g = prob * (T - t) - tu - eps * prob * (tu - (S - tp))
        grad = sw[:, None] * g
    loss = np.where(bad, np.nan, loss)
    grad = np.where(bad[:, None], np.nan, grad)
    out, grad, scale = reduce(loss, grad, p.reduction, R, lambda: (sw * t.sum(-1)).sum(), wd)
    if p.reduction == "none":
        out = out.reshape(batch_shape)
    return reference(
        out, from_rows(grad, batch_shape, C, p.axis, x0.ndim), wd,
        saturated=saturates(prob[t > 0], dtype) and C > 1,
        rows=R, classes=C, unreduced=loss, scale=scale,
    )


def generalized_cross_entropy(case: Case, inputs: Inputs, dtype: str) -> Reference:
    P0 = np.asarray(inputs.logits)
    wd = core.working_dtype(P0.size)
    p = case.params
    P, batch_shape, C = to_rows(P0, p.axis, wd)
    R = P.shape[0]
    _, y = kept_labels(inputs, R, None)
    sw = sample_weights(inputs, R, wd)
    q = wd(p.q)
    rr = np.arange(R)
    Py = P[rr, y] if R and C else np.zeros(R, dtype=wd)
    bad = np.isnan(P).any(-1) if C else np.zeros(R, bool)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        loss = times(sw, -np.expm1(q * np.log(Py)) / q)
        grad = np.zeros_like(P)
        if R and C:
            grad[rr, y] = -times(sw, np.where(Py == 0, wd(np.inf), np.exp((q - 1) * np.log(Py))))
    loss = np.where(bad, np.nan, loss)
    grad = np.where(bad[:, None], np.nan, grad)
    out, grad, scale = reduce(loss, grad, p.reduction, R, lambda: sw.sum(), wd)
    if p.reduction == "none":
        out = out.reshape(batch_shape)
    return reference(
        out, from_rows(grad, batch_shape, C, p.axis, P0.ndim), wd,
        saturated=bool(np.any((Py == 0) | (Py == 1))),
        rows=R, classes=C, unreduced=loss, scale=scale,
    )
