"""The dense-row families' error model beyond softmax: categorical cross-entropy from probabilities, categorical focal.

Notation and policy in harness/judge/tolerances/policy.py. From probabilities (categorical:
-s sum_c a_c log P_c, normalised by sum_c P_c as Keras does):

    loss       |s| sum_c |a_c| (u |log P_c| + u + v_C)
    grad       |f a_c| / P_c (2 u + v_C)

Categorical focal: as its cross-entropy (the softmax model's terms, recomputed from the logits), with the
modulating factor's own error, u = 1 - p formed by a subtraction, so u^gamma is off by |(u + du)^gamma - u^gamma|
(the focal families' rule, in harness/judge/tolerances/elementwise.py).
"""

from __future__ import annotations

import numpy as np

from harness.judge.tolerances.layout import by_rows, floor_by_rows, moved
from harness.judge.tolerances.policy import dlogs, v_sum
from harness.judge.tolerances.softmax import softmax_rows
from harness.oracle import Reference
from harness.oracle.core import class_weights, sample_weights
from harness.schema.model import Case
from harness.trials import Inputs


def _dense_rows(case: Case, inputs: Inputs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs, |a_ic| = |w_c t'_ic|, |s_i|) of a dense-label family, class axis last, rows flattened."""
    p = case.params
    x, _, C = moved(np.asarray(inputs.logits, dtype=np.float64), p.axis)
    t, _, _ = moved(np.asarray(inputs.labels, dtype=np.float64), p.axis)
    e = p.label_smoothing
    ts = (1 - e) * t + e / C if e else t
    cw = class_weights(inputs, C, np.float64)
    return x, np.abs(cw[None, :] * ts), np.abs(sample_weights(inputs, x.shape[0], np.float64))


def categorical_probabilities_model(case: Case, ref: Reference, inputs: Inputs, u: float, acc: float, tiny: float):
    p = case.params
    P, a, sw = _dense_rows(case, inputs)
    R, C = P.shape
    vC = v_sum(acc, C)
    with np.errstate(invalid="ignore", divide="ignore"):
        logP = np.abs(np.log(P))
        row = {"log P": sw * np.where(a == 0, 0, a * (u * logP + u + vC)).sum(-1)}
        f = sw * abs(ref.scale)
        g = np.where(a == 0, 0, f[:, None] * a / P * (2 * u + vC))
    floor = np.broadcast_to((tiny * (1 + f))[:, None], (R, C))
    fn = by_rows(lambda r0, r1: {"a / P": g[r0:r1]}, np.shape(inputs.logits), p.axis, C)
    fl = floor_by_rows(lambda r0, r1: floor[r0:r1], np.shape(inputs.logits), p.axis, C)
    return row, fn, fl


def categorical_focal_model(case: Case, ref: Reference, inputs: Inputs, u: float, acc: float, tiny: float):
    p = case.params
    x, a, sw = _dense_rows(case, inputs)
    R, C = x.shape
    a = (1.0 if p.alpha is None else abs(p.alpha)) * a
    gam = float(p.gamma)
    vC = v_sum(acc, C)
    dls = dlogs(u, acc, C)
    m, log_s, d, prob = softmax_rows(x)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        L = d + log_s[:, None]
        dlogp_loss = u * (d + L) + dls + vC * L
        dp = prob * (u * (1 + d) + dls + u)
        uu = np.clip(1 - prob, 0, 1)
        du = dp + u
        ug = uu ** gam if gam else np.ones_like(uu)
        dug = np.abs((uu + du) ** gam - ug) if gam else np.zeros_like(uu)
        row = {"log p": sw * np.where(a == 0, 0, a * ug * dlogp_loss).sum(-1),
               "(1 - p)^gamma": sw * np.where(a == 0, 0, a * dug * L).sum(-1)}
        # gradient: h_c = -s a_c (u_c^g - g u_c^(g-1) p_c log p_c);  grad_j = h_j u_j - p_j sum_{c != j} h_c
        k1 = gam * uu ** (gam - 1) if gam and gam != 1 else (np.ones_like(uu) if gam else np.zeros_like(uu))
        dk1 = gam * np.abs((uu + du) ** (gam - 1) - uu ** (gam - 1)) if gam and gam != 1 else np.zeros_like(uu)
        pl = np.where(prob > 0, prob * L, 0.0)
        h = np.where(a == 0, 0, a * (ug + k1 * pl))
        dh = np.where(a == 0, 0, a * (dug + u * ug + dk1 * pl + k1 * (dp * L + prob * dlogp_loss)))
        f = sw * abs(ref.scale)
        H = h.sum(-1, keepdims=True)
        dH = dh.sum(-1, keepdims=True)
        g = {"h (1 - p)": f[:, None] * (h * du + uu * dh + u * h * uu),
             "p sum h": f[:, None] * (dp * (H + h) + prob * (dH + vC * H) + u * prob * H)}
    floor = tiny * (1 + f[:, None] * np.broadcast_to(H, (R, C)))
    fn = by_rows(lambda r0, r1: {k: v[r0:r1] for k, v in g.items()}, np.shape(inputs.logits), p.axis, C)
    fl = floor_by_rows(lambda r0, r1: floor[r0:r1], np.shape(inputs.logits), p.axis, C)
    return row, fn, fl
