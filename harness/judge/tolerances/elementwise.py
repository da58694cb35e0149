"""The elementwise families' error model: sigmoid and weighted sigmoid, binary focal (logits), binary cross-entropy.

Notation and policy in harness/judge/tolerances/policy.py. Sigmoid families (per element; a = q z', b = 1 - z'
with q the pos_weight, w the class times sample weight, sp the softplus):

    loss       |w| [ u (|a| sp(-x) + |b| sp(x))       the two softplus terms, each correctly rounded
                   + u (|a| + |b|)                     log1p(exp(-|x|)) <= log 2, rounded
                   + u |x| (|a| + |b|) [0 < z' < 1] ]  x z' rounded in max(x, 0) - x z' (exact for z' in {0, 1})
    grad       |w f| u max(3 |a + b| s(x) + |a|,       (a + b) s(x) - a or b - (a + b) s(-x): the sigmoid
                       3 |a + b| s(-x) + |b|)          (two roundings), the subtraction; floor tiny (1 + |w f| (|a| + |b|))

From probabilities (binary: -w (a log P + b log(1 - P))):

    loss       |w| (u (|a| |log P| + |b| |log(1 - P)|) + u |b|)
    grad       |w f| 2 u (|a| / P + |b| / (1 - P))

Focal families: as their cross-entropy, with the modulating factor's own error: v = 1 - p_t is formed
by a subtraction (absolute error u, plus p_t's own error), so v^gamma is off by |(v + dv)^gamma - v^gamma|,
which is what makes a focal loss at saturation inexact in any dtype (the categorical one in
harness/judge/tolerances/categorical.py).
"""

from __future__ import annotations

import numpy as np

from harness.judge.tolerances.layout import full
from harness.oracle import Reference
from harness.oracle.core import elementwise_weights, softplus
from harness.schema.model import Case
from harness.trials import Inputs


def elementwise_model(case: Case, ref: Reference, inputs: Inputs, u: float, acc: float, tiny: float):
    """Sigmoid, weighted sigmoid, binary focal (logits) and binary cross-entropy (probabilities)."""
    p = case.params
    x = np.asarray(inputs.logits, dtype=np.float64)
    z = np.asarray(inputs.labels, dtype=np.float64)
    e = p.label_smoothing
    zs = (1 - e) * z + e / 2 if e else z
    w0 = np.abs(elementwise_weights(inputs, x.shape, np.float64))
    wf = w0 * abs(ref.scale)
    frac = ((zs > 0) & (zs < 1)).astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        if case.family == "binary_crossentropy":
            a, b = np.abs(zs), np.abs(1 - zs)
            logP, log1mP = np.abs(np.log(x)), np.abs(np.log1p(-x))
            row_terms = {"log P, log(1 - P)": w0 * u * (np.where(a == 0, 0, a * logP) + np.where(b == 0, 0, b * log1mP)),
                         "1 - P": w0 * u * b}
            g = {"a / P - b / (1 - P)": wf * 2 * u * (np.where(a == 0, 0, a / x) + np.where(b == 0, 0, b / (1 - x)))}
            floor = tiny * (1 + wf)
            return row_terms, *full(g, floor)
        q = 1.0 if p.pos_weight is None else np.asarray(p.pos_weight, dtype=np.float64)
        a, b = np.abs(q * zs), np.abs(1 - zs)
        sp_neg, sp_pos = softplus(-x), softplus(x)
        s_pos, s_neg = np.exp(-sp_neg), np.exp(-sp_pos)
        ab = a + b
        lin = np.where(np.isfinite(x), np.abs(x), 0.0) * frac
        if case.family != "binary_focal_crossentropy":
            row_terms = {"softplus terms": w0 * u * (np.where(a == 0, 0, a * sp_neg) + np.where(b == 0, 0, b * sp_pos)),
                         "log1p(exp(-|x|))": w0 * u * ab,
                         "x z": w0 * u * ab * lin}
            # either of the two ways to form it: (a + b) s(x) - a, or b - (a + b) s(-x) (autodiff of
            # TensorFlow's weighted form), each correct and each with its own cancellation
            g = {"sigmoid(x) - z": wf * u * np.maximum(3 * ab * s_pos + a, 3 * ab * s_neg + b)}
            return row_terms, *full(g, tiny * (1 + wf * ab))
        # binary focal: l = w alpha_t v^gamma bce, v = 1 - p_t formed by a subtraction
        gam = float(p.gamma)
        alpha_t = np.ones_like(x) if p.alpha is None else np.abs(p.alpha * zs + (1 - p.alpha) * (1 - zs))
        bce = np.where(zs == 0, 0, zs * sp_neg) + np.where(zs == 1, 0, (1 - zs) * sp_pos)
        v = zs * s_neg + (1 - zs) * s_pos
        dv = u * (1 + 2 * v)
        vg = v ** gam if gam else np.ones_like(v)
        dvg = np.abs((v + dv) ** gam - vg) if gam else np.zeros_like(v)
        d_bce = u * (bce + 1 + np.abs(x) * frac)
        row_terms = {"bce": w0 * alpha_t * vg * d_bce, "(1 - p_t)^gamma": w0 * alpha_t * dvg * bce,
                     "output": w0 * alpha_t * u * vg * bce}
        ss = s_pos * s_neg
        k1 = gam * (v ** (gam - 1) if gam != 1 else np.ones_like(v)) if gam else np.zeros_like(v)
        dk1 = gam * np.abs((v + dv) ** (gam - 1) - v ** (gam - 1)) if gam and gam != 1 else np.zeros_like(v)
        first = np.where(v == 0, 0, k1) * np.abs(1 - 2 * zs) * ss * bce
        g = {"gamma v^(gamma-1) s s(-x) bce": wf * alpha_t * (first * 3 * u + np.where(v == 0, 0, dk1) * ss * bce
                                                               + np.where(v == 0, 0, k1) * ss * d_bce),
             "v^gamma (s - z)": wf * alpha_t * (vg * u * (3 * s_pos + zs) + dvg * np.abs(s_pos - zs))}
        return row_terms, *full(g, tiny * (1 + wf * alpha_t * 4))
