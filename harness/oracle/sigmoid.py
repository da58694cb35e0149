"""The oracle of the sigmoid cross-entropy families (elementwise, from logits): exact loss and analytic gradient.

Sigmoid families (elementwise; classes are the last axis), with sp(v) = log(1 + e^v) computed as
max(v, 0) + log1p(e^-|v|) and s(v) = e^-sp(-v):

    z'       = (1 - e) z + e / 2             label smoothing e
    a, b     = q z', 1 - z'                   q = pos_weight (scalar or per class; 1 without)
    l_ic     = s_i w_c (a sp(-x) + b sp(x))   = -s_i w_c (q z' log s(x) + (1 - z') log(1 - s(x)))
    dl/dx    = s_i w_c (b s(x) - a s(-x))
    mean divides by the number of elements; weighted_mean by sum_ic s_i w_c.
    A term whose coefficient (a or b) is 0 contributes 0, even where sp is infinite.

A NaN logit has NaN loss and gradient. Precision as in harness/oracle/softmax.py (longdouble up to
EXTENDED_MAX_ELEMENTS, float64 beyond).
"""

from __future__ import annotations

import numpy as np

from harness.oracle import core
from harness.oracle.core import Reference, elementwise_weights, reduce, reference, saturates, smoothed, softplus, times
from harness.schema.model import Case
from harness.trials import Inputs


def sigmoid_cross_entropy(case: Case, inputs: Inputs, dtype: str) -> Reference:
    """The elementwise sigmoid families (see the module docstring)."""
    x0 = np.asarray(inputs.logits)
    wd = core.working_dtype(x0.size)
    p = case.params
    x = x0.astype(wd)
    z = np.asarray(inputs.labels).astype(wd)
    C = x.shape[-1] if x.ndim else 1
    zs = smoothed(z, wd(p.label_smoothing), 2)
    q = wd(1) if p.pos_weight is None else np.asarray(p.pos_weight, dtype=np.float64).astype(wd)
    a, b = q * zs, 1 - zs
    rows = x.shape[0] if x.ndim else 1
    weight = elementwise_weights(inputs, x.shape, wd)
    sp_neg, sp_pos = softplus(-x), softplus(x)
    with np.errstate(invalid="ignore", over="ignore"):
        loss = times(weight, times(a, sp_neg) + times(b, sp_pos))
        sig_pos, sig_neg = np.exp(-sp_neg), np.exp(-sp_pos)  # s(x), s(-x)
        grad = weight * (b * sig_pos - a * sig_neg)
    nan = np.isnan(x)
    loss = np.where(nan, np.nan, loss)
    grad = np.where(nan, np.nan, grad)
    out, grad, scale = reduce(loss, grad, p.reduction, x.size, lambda: weight.sum(), wd)
    return reference(out, grad, wd, saturated=saturates(sig_pos, dtype), rows=rows, classes=C,
                     unreduced=loss, scale=scale)
