"""The oracle of the families on log-probabilities (nll_loss, kl_divergence): exact loss and analytic gradient.

Both take the log-probabilities q as given (class axis moved last, rows flattened): no renormalisation, no
clip; a row need not sum to 1 in probability. Conventions as in harness/oracle/core.py.

nll_loss (log-probabilities q, integer labels y; class_weights w, ignore_index; PyTorch's nll_loss):
    l_i = -w_{y_i} q_{i,y_i}           dl_i/dq_ic = -w_{y_i} at c = y_i, 0 elsewhere
    The loss is linear in q: its gradient does not depend on q's values (a -inf or NaN at the label still
    has gradient -w_y), and q at any other class is never read (a NaN there changes nothing). A zero class
    weight on q = -inf contributes 0 (`times`). An ignored row (label == ignore_index) has loss 0 and
    gradient 0 and is not counted by a mean.
    reductions: none; sum; mean over the rows kept; weighted_mean over sum_i w_{y_i} of the rows kept
    (PyTorch's reduction='mean' with weight=).

kl_divergence (log-predictions q = log Q, dense targets; sample_weights s, log_target):
    targets t (log_target false) or log-targets r = log t (log_target true), per row
    l_i = s_i sum_c t_c (log t_c - q_c)      with 0 log 0 = 0, and a zero target contributes 0 even where
                                             q_c = -inf (the house rule of `times`); t_c > 0 at q_c = -inf
                                             is +inf; a NaN anywhere in the row is NaN
    dl_i/dq_ic = -s_i t_c                    (linear in q: no dependence on q's values)
    with log_target, t_c = exp(r_c), and r_c = -inf is a zero target.
    reductions: none (one loss per row: the sum over the class axis); sum; mean over the rows (PyTorch's
    'batchmean' for [batch, classes] inputs, Keras' sum_over_batch_size, sample weights in the numerator);
    weighted_mean over sum_i s_i (Keras' mean_with_sample_weight). PyTorch's reduction='mean' divides by
    every element (rows x classes): no harness reduction names it, and no path emulates it.
    The gradient is with respect to the predictions q only. With respect to the targets it would be
    log t_c + 1 - q_c (log_target false), -inf at t_c = 0 for finite q_c; (1 + r_c - q_c) e^(r_c) with
    log-targets, 0 at r_c = -inf. A trial's own row judges the first input's gradient; the target gradient is
    the `label_grad` order (harness/oracle/orders.py, where PyTorch and optax give NaN at a zero target).
"""

from __future__ import annotations

import numpy as np

from harness.oracle import core
from harness.oracle.core import (
    Reference,
    class_weights,
    dense_targets,
    from_rows,
    kept_labels,
    reduce,
    reference,
    sample_weights,
    times,
    to_rows,
)
from harness.schema.model import Case
from harness.trials import Inputs


def nll_loss(case: Case, inputs: Inputs, dtype: str) -> Reference:
    q0 = np.asarray(inputs.logits)
    wd = core.working_dtype(q0.size)
    p = case.params
    q, batch_shape, C = to_rows(q0, p.axis, wd)
    R = q.shape[0]
    kept, safe = kept_labels(inputs, R, p.ignore_index)
    rows = np.arange(R)
    w = np.where(kept, class_weights(inputs, C, wd)[safe], wd(0))
    qy = q[rows, safe] if C else np.zeros(R, dtype=wd)
    loss = np.where(kept, -times(w, qy), wd(0))
    grad = np.zeros((R, C), dtype=wd)
    if C:
        grad[rows, safe] = -w
    out, grad, scale = reduce(loss, grad, p.reduction, int(kept.sum()), lambda: w.sum(), wd)
    if p.reduction == "none":
        out = out.reshape(batch_shape)
    return reference(
        out, from_rows(grad, batch_shape, C, p.axis, q0.ndim), wd,
        saturated=bool(np.any(kept & ((qy == 0) | np.isneginf(qy)))),
        rows=int(kept.sum()), classes=C, unreduced=loss, scale=scale,
    )


def kl_targets(case: Case, inputs: Inputs, R: int, C: int, wd) -> tuple[np.ndarray, np.ndarray]:
    """(t, log t) per row in the working type: from the targets (log 0 = -inf) or from the log-targets."""
    given = dense_targets(inputs, R, C, wd, case.params.axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        if case.params.log_target:
            return np.exp(given), given
        return given, np.log(given)


def kl_divergence(case: Case, inputs: Inputs, dtype: str) -> Reference:
    q0 = np.asarray(inputs.logits)
    wd = core.working_dtype(q0.size)
    p = case.params
    q, batch_shape, C = to_rows(q0, p.axis, wd)
    R = q.shape[0]
    t, log_t = kl_targets(case, inputs, R, C, wd)
    sw = sample_weights(inputs, R, wd)
    with np.errstate(invalid="ignore"):
        # t (log t - q) with 0 log 0 = 0: a zero target's term is 0 whatever q is (-inf included), unless q is
        # NaN (then the row is NaN below)
        loss = times(sw, np.where(t == 0, wd(0), t * (log_t - q)).sum(-1))
        loss = np.where(np.isnan(q).any(-1) | np.isnan(t).any(-1), wd(np.nan), loss)
    grad = -sw[:, None] * t
    out, grad, scale = reduce(loss, grad, p.reduction, R, lambda: sw.sum(), wd)
    if p.reduction == "none":
        out = out.reshape(batch_shape)
    return reference(
        out, from_rows(grad, batch_shape, C, p.axis, q0.ndim), wd,
        saturated=bool(np.any((t > 0) & np.isneginf(q))),
        rows=R, classes=C, unreduced=loss, scale=scale,
    )
