"""The oracle of the softmax cross-entropy families, dense or integer labels: exact loss and analytic gradient.

Semantics (one definition per option; DESIGN.md "Loss families"):

    x        logits, class axis moved last; C classes
    t        target distribution per row: one_hot(label) for integer labels, the given dense labels
    t'       label smoothing e:  t' = (1 - e) t + e / C
    w_c      class weights (default 1);  s_i sample weights (default 1)
    a_ic     = w_c t'_ic            A_i = sum_c a_ic
    log p_ic = x_ic - logsumexp(x_i)
    l_i      = -s_i * sum_c a_ic log p_ic          (a term with a_ic = 0 contributes 0, even at log p = -inf)
    ignore_index: a row whose label equals it has l_i = 0 and is not counted by any mean
    reduction none: l;  sum: sum_i l_i;  mean: sum_i l_i / (rows kept);
    weighted_mean: sum_i l_i / sum_i s_i sum_c w_c t_ic  (kept rows, unsmoothed t);
    a mean over nothing is NaN, and its gradient 0 (no kept row depends on the logits).
    gradient: d(sum of the returned values)/dx, analytically
        dl_i/dx_ic = s_i * (A_i p_ic - a_ic) = s_i * (a_ic expm1(log p_ic) + (A_i - a_ic) p_ic)
    (the second form has no cancellation for one-hot targets, where p_ic - 1 would lose all bits).

A row holding +inf or NaN logits has no defined softmax: its loss and gradient are NaN. A -inf
logit is a masked class: p = 0 there.

Accuracy: logsumexp is m + log1p(sum over all but one argmax of exp(x - m)), so the tail is kept
(logits [0, -40], label 0: 4.248354255291589e-18, not 0). Arithmetic runs in numpy's longdouble
(64-bit mantissa on x86-64) for trials up to EXTENDED_MAX_ELEMENTS, which makes the float64 result
correctly rounded in all but rare cases; the tests hold it to 1 ULP of mpmath. Larger trials run
in float64 (a few float64 ULPs, far below any float32 tolerance; integer labels without label smoothing
in harness/oracle/sparse_fast.py); `Reference.precision` says which.
"""

from __future__ import annotations

import numpy as np

from harness.oracle import core, sparse_fast
from harness.oracle.core import (
    Reference,
    SoftmaxRows,
    class_weights,
    dense_targets,
    from_rows,
    kept_labels,
    log_softmax,
    reduce,
    reference,
    sample_weights,
    saturates,
    smoothed,
    times,
    to_rows,
)
from harness.schema.model import Case
from harness.trials import Inputs


def softmax_cross_entropy(case: Case, inputs: Inputs, dtype: str) -> Reference:
    """The softmax families, dense or integer labels (see the module docstring)."""
    x = np.asarray(inputs.logits)
    axis = case.params.axis % x.ndim
    wd = core.working_dtype(x.size)
    if wd is np.float64 and case.sparse and case.params.label_smoothing == 0 and x.ndim and x.shape[axis] and x.size:
        return sparse_fast.sparse_softmax_cross_entropy(case, inputs, dtype, axis)
    ndim = x.ndim
    x2, batch_shape, C = to_rows(x, axis, wd)
    R = x2.shape[0]
    p = case.params

    sparse = case.sparse
    if sparse:
        kept, safe = kept_labels(inputs, R, p.ignore_index)
    else:
        t = dense_targets(inputs, R, C, wd, axis)
        kept = np.ones(R, dtype=bool)
    cw = class_weights(inputs, C, wd)
    sw = sample_weights(inputs, R, wd)
    e = wd(p.label_smoothing)

    logp, prob, bad = log_softmax(x2)
    rows = np.arange(R)

    # a_ic = w_c t'_ic and the denominator of weighted_mean (unsmoothed t)
    if sparse and e == 0:
        a_lab = cw[safe]
        A = a_lab
        loss = -times(a_lab, logp[rows, safe])
        denom_rows = a_lab
        a = None
    else:
        if sparse:
            t = np.zeros((R, C), dtype=wd)
            t[rows, safe] = 1
        ts = smoothed(t, e, C)
        a = cw[None, :] * ts
        A = a.sum(-1)
        loss = -times(a, logp).sum(-1)
        denom_rows = (cw[None, :] * t).sum(-1)

    loss = times(sw, loss)
    with np.errstate(invalid="ignore", over="ignore"):
        if a is None:
            grad = A[:, None] * prob
            grad[rows, safe] = a_lab * np.expm1(logp[rows, safe]) + (A - a_lab) * prob[rows, safe]
        else:
            grad = np.where(a == 0, 0, a * np.expm1(logp)) + (A[:, None] - a) * prob
        grad = sw[:, None] * grad
    # an undefined row (NaN, +inf, all -inf) is NaN, unless it is ignored: an ignored row contributes nothing
    loss = np.where(bad & kept, np.nan, np.where(kept, loss, 0))
    grad = np.where((bad & kept)[:, None], np.nan, np.where(kept[:, None], grad, 0))

    n_kept = int(kept.sum())
    out, grad, scale = reduce(loss, grad, p.reduction, n_kept, lambda: (sw * np.where(kept, denom_rows, 0)).sum(), wd)
    if p.reduction == "none":
        out = out.reshape(batch_shape)
    grad = from_rows(grad, batch_shape, C, axis, ndim)
    xs = np.where(bad[:, None] | ~np.isfinite(x2), -np.inf, x2)
    top = np.argmax(xs, axis=-1) if C else np.zeros(R, dtype=np.int64)
    stats = SoftmaxRows(
        m=np.where(bad, 0.0, np.asarray(xs[rows, top], dtype=np.float64)) if C else np.zeros(R),
        log_s=np.where(bad, 0.0, -np.asarray(logp[rows, top], dtype=np.float64)) if C else np.zeros(R),
        factor=np.asarray(np.where(kept, sw * scale, 0), dtype=np.float64),
        weight=np.asarray(A, dtype=np.float64) * np.ones(R),
        px=np.asarray(np.where(np.isfinite(x2), prob * np.abs(np.where(np.isfinite(x2), x2, 0)), 0).sum(-1),
                      dtype=np.float64) * np.ones(R),
        label=safe if sparse else None,
        label_coef=np.asarray(a_lab, dtype=np.float64) if a is None else None,
        coef=None if a is None else np.asarray(a, dtype=np.float64),
    )

    # saturation: a target class whose probability rounds to 0 or 1 in the trial dtype
    pt = prob[rows, safe][kept] if sparse else prob[t > 0]
    return reference(out, grad, wd, saturated=saturates(pt, dtype) and C > 1, rows=n_kept, classes=C,
                     unreduced=loss, scale=scale, softmax=stats)
