"""The oracle of the cross-entropy families from probabilities (categorical and binary): exact loss and gradient.

Conventions as in harness/oracle/core.py (P probabilities; reductions: none, sum, mean over rows, or
elements for binary_crossentropy, weighted_mean over sum_i s_i sum_c w_c t_ic, elementwise: sum_ic s_i w_c;
a mean over nothing is NaN with gradient 0).

categorical_crossentropy (probabilities, dense labels; the probabilities are taken as given: no clip,
no renormalisation, which is exactly where frameworks differ):
    l_i = -s_i sum_c a_ic log P_ic                     dl_i/dP_ic = -s_i a_ic / P_ic
    A target class with P = 0 has loss +inf and gradient -inf.

binary_crossentropy (probabilities, labels in [0, 1], elementwise):
    l_ic = -s_i w_c (z' log P + (1 - z') log(1 - P))   dl/dP = -s_i w_c (z' / P - (1 - z') / (1 - P))
"""

from __future__ import annotations

import numpy as np

from harness.oracle import core
from harness.oracle.core import (
    Reference,
    categorical_weights,
    elementwise_weights,
    from_rows,
    reduce,
    reference,
    smoothed,
    times,
    to_rows,
)
from harness.schema.model import Case
from harness.trials import Inputs


def categorical_crossentropy(case: Case, inputs: Inputs, dtype: str) -> Reference:
    P0 = np.asarray(inputs.logits)
    wd = core.working_dtype(P0.size)
    p = case.params
    P, batch_shape, C = to_rows(P0, p.axis, wd)
    R = P.shape[0]
    t, a, cw, sw = categorical_weights(case, inputs, R, C, wd)
    with np.errstate(divide="ignore", invalid="ignore"):
        logP = np.log(P)
        loss = -times(sw, times(a, logP).sum(-1))
        grad = -sw[:, None] * np.where(a == 0, wd(0), a / P)
    out, grad, scale = reduce(loss, grad, p.reduction, R, lambda: (sw * (cw[None, :] * t).sum(-1)).sum(), wd)
    if p.reduction == "none":
        out = out.reshape(batch_shape)
    target = P[a > 0]
    return reference(
        out, from_rows(grad, batch_shape, C, p.axis, P0.ndim), wd,
        saturated=bool(np.any((target == 0) | (target == 1))),
        rows=R, classes=C, unreduced=loss, scale=scale,
    )


def binary_crossentropy(case: Case, inputs: Inputs, dtype: str) -> Reference:
    P0 = np.asarray(inputs.logits)
    wd = core.working_dtype(P0.size)
    p = case.params
    P = P0.astype(wd)
    z = np.asarray(inputs.labels).astype(wd)
    zs = smoothed(z, wd(p.label_smoothing), 2)
    a, b = zs, 1 - zs
    weight = elementwise_weights(inputs, P.shape, wd)
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = -times(weight, times(a, np.log(P)) + times(b, np.log1p(-P)))
        grad = -weight * (np.where(a == 0, 0, a / P) - np.where(b == 0, 0, b / (1 - P)))
    out, grad, scale = reduce(loss, grad, p.reduction, P.size, lambda: weight.sum(), wd)
    return reference(
        out, grad, wd,
        saturated=bool(np.any(((a > 0) & (P == 0)) | ((b > 0) & (P == 1)))),
        rows=P.shape[0], classes=P.shape[-1], unreduced=loss, scale=scale,
    )
