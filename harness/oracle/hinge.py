"""The oracle of the margin families (hinge, squared hinge, soft margin, multilabel soft margin): exact loss and gradient.

Scores x (logits), labels y elementwise (classes the last axis), w = s_i w_c the element's weight. The binary
families read the labels by `label_convention`: y' = y for pm1 (labels in {-1, 1}), y' = 2 y - 1 for 01
(labels in {0, 1}); the margin is m = 1 - y' x.

hinge                   l = w max(0, m)          dl/dx = -w y' H(m), H(m) = [m > 0]
                        not differentiable at m = 0: there H(0) may be anything in [0, 1] (the Reference's
                        Subgradient: `at0` with H(0) = 0, `at1` with H(0) = 1; `grad` takes 1/2)
perceptron              the hinge at margin 0: m = -y' x, l = w max(0, -y' x), the same subgradient at m = 0
squared_hinge           l = w max(0, m)^2        dl/dx = -2 w y' max(0, m)        (differentiable)
soft_margin             l = w sp(-y' x)          dl/dx = -w y' s(-y' x)
                        = sigmoid cross-entropy at labels z = (y' + 1) / 2 (harness/oracle/sigmoid.py)
multilabel_soft_margin  labels z in [0, 1] (torch's convention: no label_convention), one loss per row:
                        l_i = s_i (1 / C) sum_c w_c (z sp(-x_c) + (1 - z) sp(x_c))
                        dl_i/dx_c = s_i w_c (1 / C) ((1 - z) s(x_c) - z s(-x_c))

with sp(v) = log(1 + e^v) and s(v) = e^-sp(-v) as in harness/oracle/core.py. Reductions: none, sum, mean over
the elements (multilabel: over the rows), weighted_mean over sum_ic s_i w_c (multilabel: over sum_i s_i).
A NaN score has NaN loss and gradient; an infinite one the limit (hinge: 0 on the right side, w |x| and
slope -w y' on the wrong one).
"""

from __future__ import annotations

import numpy as np

from harness.oracle import core
from harness.oracle.core import (
    Reference,
    Subgradient,
    elementwise_weights,
    reduce,
    reference,
    sample_weights,
    saturates,
    softplus,
    times,
)
from harness.schema.model import Case
from harness.trials import Inputs


def signed_labels(case: Case, labels, wd):
    """y' in {-1, 1}: the labels as the case's label_convention reads them."""
    y = np.asarray(labels).astype(wd)
    return 2 * y - 1 if case.params.label_convention == "01" else y


def _setup(case: Case, inputs: Inputs):
    x0 = np.asarray(inputs.logits)
    wd = core.working_dtype(x0.size)
    x = x0.astype(wd)
    return x, wd, elementwise_weights(inputs, x.shape, wd)


def _done(case, x, wd, loss, grad, weight, dtype, subgradient=None, saturated=False) -> Reference:
    nan = np.isnan(x)
    loss, grad = np.where(nan, np.nan, loss), np.where(nan, np.nan, grad)
    out, grad, scale = reduce(loss, grad, case.params.reduction, x.size, lambda: weight.sum(), wd)
    sub = None
    if subgradient is not None:
        sub = Subgradient(at0=np.asarray(np.where(nan, np.nan, subgradient[0]) * scale, dtype=np.float64),
                          at1=np.asarray(np.where(nan, np.nan, subgradient[1]) * scale, dtype=np.float64))
    return reference(out, grad, wd, saturated=saturated, rows=x.shape[0] if x.ndim else 1,
                     classes=x.shape[-1] if x.ndim else 1, unreduced=loss, scale=scale, subgradient=sub)


def hinge(case: Case, inputs: Inputs, dtype: str, margin: float = 1.0) -> Reference:
    x, wd, weight = _setup(case, inputs)
    y = signed_labels(case, inputs.labels, wd)
    with np.errstate(invalid="ignore", over="ignore"):
        m = wd(margin) - y * x
        loss = times(weight, np.maximum(m, 0))
        slope = -weight * y
        at0 = np.where(m > 0, slope, 0 * slope)
        at1 = np.where(m >= 0, slope, 0 * slope)
    kinked = bool(np.any(m == 0))
    return _done(case, x, wd, loss, (at0 + at1) / 2, weight, dtype, subgradient=(at0, at1) if kinked else None)


def perceptron(case: Case, inputs: Inputs, dtype: str) -> Reference:
    """The hinge at margin 0: max(0, -y' x) (optax.losses.perceptron_loss)."""
    return hinge(case, inputs, dtype, margin=0.0)


def squared_hinge(case: Case, inputs: Inputs, dtype: str) -> Reference:
    x, wd, weight = _setup(case, inputs)
    y = signed_labels(case, inputs.labels, wd)
    with np.errstate(invalid="ignore", over="ignore"):
        mp = np.maximum(1 - y * x, 0)
        loss = times(weight, mp * mp)
        grad = times(weight, -2 * y * mp)
    return _done(case, x, wd, loss, grad, weight, dtype)


def soft_margin(case: Case, inputs: Inputs, dtype: str) -> Reference:
    x, wd, weight = _setup(case, inputs)
    y = signed_labels(case, inputs.labels, wd)
    with np.errstate(invalid="ignore", over="ignore"):
        v = -y * x
        loss = times(weight, softplus(v))
        s = np.exp(-softplus(-v))  # s(-y' x)
        grad = weight * (-y * s)
    return _done(case, x, wd, loss, grad, weight, dtype, saturated=saturates(s, dtype))


def multilabel_soft_margin(case: Case, inputs: Inputs, dtype: str) -> Reference:
    x0 = np.asarray(inputs.logits)
    wd = core.working_dtype(x0.size)
    x = x0.astype(wd)
    R, C = x.shape[0], x.shape[-1]
    z = np.asarray(inputs.labels).astype(wd)
    w = elementwise_weights(inputs, x.shape, wd) / wd(C)
    sp_neg, sp_pos = softplus(-x), softplus(x)
    with np.errstate(invalid="ignore", over="ignore"):
        per = times(w, times(z, sp_neg) + times(1 - z, sp_pos))
        s_pos, s_neg = np.exp(-sp_neg), np.exp(-sp_pos)
        grad = w * ((1 - z) * s_pos - z * s_neg)
    nan = np.isnan(x)
    per, grad = np.where(nan, np.nan, per), np.where(nan, np.nan, grad)
    loss = per.sum(-1)
    sw = sample_weights(inputs, R, wd)
    out, grad, scale = reduce(loss, grad, case.params.reduction, R, lambda: sw.sum(), wd)
    return reference(out, grad, wd, saturated=saturates(s_pos, dtype), rows=R, classes=C, unreduced=loss, scale=scale)
