"""The oracle of the derivatives beyond the gradient (harness/schema/orders.py): jvp, hvp, label_grad and mixed.

Each is computed analytically in the working type (numpy's longdouble, harness/oracle/core.py) from the trial's
inputs and the direction v, per family. Notation of harness/oracle/core.py; f_i = s_i times the reduction's
factor (0 for an ignored row), S the sum of the returned values, r_i the rows of the loss's element i.

softmax families (per row; p = softmax(x), a_c = w_c t'_c, A = sum_c a_c; t' = (1 - e) y + e / C):
    grad_c      f (A p_c - a_c)                          (as harness/oracle/softmax.py forms it)
    jvp         sum_c grad_c v_c                          per row for reduction none, over every row otherwise
    hvp_c       f A p_c (v_c - p.v)                       (the Hessian f A (diag(p) - p p^T), times v)
    label_grad  -f (1 - e) w_c log p_c                    (+inf at a masked class with w_c > 0)
    mixed_c     f (1 - e) w_c (p.v - v_c)                 (d/dy_c of sum_k v_k f (A p_k - a_k))
sigmoid families (per element; s = s(x), s' = s(-x), q the pos_weight, b = q z' + 1 - z', z' = (1 - e) z + e / 2,
W = the element's class times sample weight):
    grad        W f ((1 - z') s - q z' s')                (= W f (b s - q z'))
    jvp         grad v, summed as the loss is
    hvp         W f b s s' v
    label_grad  W f (1 - e) (q sp(-x) - sp(x))            (d/dz of W (q z' sp(-x) + (1 - z') sp(x)))
    mixed       -W f (1 - e) (q s' + s) v                 (d/dz of W f (b s - q z') v)
kl_divergence (per row l = s sum_c t_c (log t_c - q_c), q the log-predictions; with log_target r = log t):
    label_grad  f (log t_c + 1 - q_c): -inf at a zero target (the one-sided limit; t log t is not differentiable
                from the left), NaN where a zero target meets q_c = -inf;  log_target: f e^r (1 + r - q), 0 at r = -inf
    mixed       -f v_c  (d/dt of sum_c v_c (-f t_c));  log_target: -f e^r v_c
every other family: jvp from its analytic gradient (the family's module), summed as the loss sums; hvp
    hinge 0;  squared_hinge 2 W f [m > 0] v;  weston_watkins_hinge p = 1: 0, p = 2: with W = s_i w_y,
    hvp_j = 2 W f / C [z_j > 0] (v_j - v_y) (j != y), hvp_y = -sum_{j != y} hvp_j.

Where the loss has a kink (Reference.subgradient, a hinge margin of exactly 0) and, for hvp, where the second
derivative jumps (a squared margin of exactly 0), the order is not defined as one value: `NotJudged` says so,
and the row is unsupported with that reason. A row with an undefined softmax (NaN, +inf) is NaN throughout, and so
is the jvp of a NaN value (a mean over nothing, whose gradient is 0 by harness/oracle/core.py's convention:
reverse mode never meets the NaN, forward mode carries it).
"""

from __future__ import annotations

import numpy as np

from harness.oracle import core
from harness.oracle.core import (
    Reference,
    class_weights,
    dense_targets,
    elementwise_weights,
    from_rows,
    kept_labels,
    log_softmax,
    reduction_scale,
    sample_weights,
    smoothed,
    softplus,
    times,
    to_rows,
)
from harness.oracle.hinge import signed_labels
from harness.schema.model import Case
from harness.schema.orders import SIGMOID, SOFTMAX
from harness.trials import Inputs


class NotJudged(Exception):
    """The order has no single exact value at this trial's point (a kink)."""


def derivative(case: Case, inputs: Inputs, ref: Reference, order: str, v: np.ndarray) -> Reference:
    """The Reference of one order of a trial: the trial's loss beside the order's exact value in `grad`."""
    if ref.subgradient is not None:
        raise NotJudged(f"the loss has a kink at these inputs (a margin of exactly 0 or a tie inside a max): "
                        f"{order} has no single exact value there")
    if case.family in SOFTMAX:
        value = _softmax(case, inputs, order, v)
    elif case.family in SIGMOID:
        value = _sigmoid(case, inputs, order, v)
    elif case.family == "kl_divergence" and order in ("label_grad", "mixed"):
        value = _kl(case, inputs, order, v)
    elif order == "jvp":
        wd = core.working_dtype(np.asarray(v).size)
        value = contract(np.asarray(ref.grad).astype(wd) * np.asarray(v).astype(wd), np.shape(ref.loss), case.params.axis)
    else:
        value = _margin(case, inputs, ref, order, v)
    if order == "jvp":  # the derivative of a NaN value (a mean over nothing) along v is NaN, not 0 (the gradient's
        value = np.where(np.isnan(ref.loss), np.nan, value)  # convention: reverse mode never meets the NaN)
    return Reference(loss=ref.loss, grad=np.asarray(value, dtype=np.float64), precision=ref.precision,
                     saturated=ref.saturated, rows=ref.rows, classes=ref.classes, unreduced=ref.unreduced,
                     scale=ref.scale, softmax=ref.softmax)


def contract(prod: np.ndarray, loss_shape: tuple[int, ...], axis: int) -> np.ndarray:
    """Products of a gradient and v summed the way the loss sums its elements: into each returned value (an
    elementwise family's are the elements themselves, a per-row family's its rows without the class axis, CTC's
    items without time and classes), or into the one value of a reduction."""
    if prod.shape == tuple(loss_shape):
        return prod
    if not loss_shape:
        return prod.sum()
    ax = axis % prod.ndim
    if prod.shape[:ax] + prod.shape[ax + 1:] == tuple(loss_shape):
        return prod.sum(axis=ax)
    if prod.shape[:len(loss_shape)] == tuple(loss_shape):
        return prod.reshape(*loss_shape, -1).sum(-1)
    raise NotJudged(f"no way to sum a gradient of shape {list(prod.shape)} into a loss of shape {list(loss_shape)}")


def _softmax(case: Case, inputs: Inputs, order: str, v: np.ndarray):
    p = case.params
    x0 = np.asarray(inputs.logits)
    axis, ndim = p.axis % x0.ndim, x0.ndim
    wd = core.working_dtype(x0.size)
    x, batch_shape, C = to_rows(x0, axis, wd)
    vr, _, _ = to_rows(v, axis, wd)
    R = x.shape[0]
    if case.sparse:
        kept, safe = kept_labels(inputs, R, p.ignore_index)
        t = np.zeros((R, C), dtype=wd)
        t[np.arange(R), safe] = 1
    else:
        kept, t = np.ones(R, dtype=bool), dense_targets(inputs, R, C, wd, axis)
    e = wd(p.label_smoothing)
    cw, sw = class_weights(inputs, C, wd), sample_weights(inputs, R, wd)
    a = cw[None, :] * smoothed(t, e, C)
    A = a.sum(-1)
    _, scale = reduction_scale(p.reduction, int(kept.sum()),
                               lambda: (sw * np.where(kept, (cw[None, :] * t).sum(-1), 0)).sum(), wd)
    f = np.where(kept, sw * scale, 0)[:, None]
    logp, prob, bad = log_softmax(x)
    with np.errstate(invalid="ignore", over="ignore"):
        # v_c - p.v about the row's argmax m (sum_k p_k = 1): (v_c - v_m) - sum_k p_k (v_k - v_m), so that a
        # saturated row (p_m = 1 - 1e-13) keeps its bits where v - p.v would cancel them
        top = np.argmax(np.where(np.isnan(x), -np.inf, x), axis=-1)
        dv = vr - vr[np.arange(R), top][:, None]
        centred = dv - (prob * dv).sum(-1, keepdims=True)  # v_c - p.v
        if order in ("jvp", "hvp"):
            grad = np.where(a == 0, 0, a * np.expm1(logp)) + (A[:, None] - a) * prob
            out = times(f, grad * vr) if order == "jvp" else times(f, A[:, None] * prob * centred)
        elif order == "label_grad":
            out = -times(f * (1 - e) * cw[None, :], logp)
        else:  # mixed
            out = -times(f * (1 - e) * cw[None, :], centred)
    out = np.where((bad & kept)[:, None], np.nan, out)
    full = from_rows(out, batch_shape, C, axis, ndim)
    return contract(full, _loss_shape(case, x0), axis) if order == "jvp" else full


def _sigmoid(case: Case, inputs: Inputs, order: str, v: np.ndarray):
    p = case.params
    x0 = np.asarray(inputs.logits)
    wd = core.working_dtype(x0.size)
    x, vv = x0.astype(wd), np.asarray(v).astype(wd)
    z = np.asarray(inputs.labels).astype(wd)
    e = wd(p.label_smoothing)
    zs = smoothed(z, e, 2)
    q = wd(1) if p.pos_weight is None else np.asarray(p.pos_weight).astype(wd)
    W = elementwise_weights(inputs, x.shape, wd)
    _, scale = reduction_scale(p.reduction, x.size, lambda: W.sum(), wd)
    Wf = W * scale
    sp_neg, sp_pos = softplus(-x), softplus(x)
    s, s_ = np.exp(-sp_neg), np.exp(-sp_pos)  # s(x), s(-x)
    with np.errstate(invalid="ignore", over="ignore"):
        if order == "jvp":
            out = contract(times(Wf, (1 - zs) * s - q * zs * s_) * vv, _loss_shape(case, x0), p.axis)
        elif order == "hvp":
            out = times(Wf, (q * zs + 1 - zs) * s * s_) * vv
        elif order == "label_grad":
            out = times(Wf * (1 - e), q * sp_neg - sp_pos)
        else:
            out = -times(Wf * (1 - e), q * s_ + s) * vv
    return np.where(np.isnan(x) if order != "jvp" or p.reduction == "none" else np.isnan(x).any(), np.nan, out)


def _kl(case: Case, inputs: Inputs, order: str, v: np.ndarray):
    p = case.params
    q0 = np.asarray(inputs.logits)
    wd = core.working_dtype(q0.size)
    q, batch_shape, C = to_rows(q0, p.axis, wd)
    y, _, _ = to_rows(np.asarray(inputs.labels), p.axis, wd)
    vr, _, _ = to_rows(v, p.axis, wd)
    R = q.shape[0]
    sw = sample_weights(inputs, R, wd)
    _, scale = reduction_scale(p.reduction, R, lambda: sw.sum(), wd)
    f = (sw * scale)[:, None]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if p.log_target:
            e = np.exp(y)
            out = (np.where(e == 0, 0, f * e * (1 + y - q)) if order == "label_grad" else -f * e * vr)
        else:
            out = f * (np.log(y) + 1 - q) if order == "label_grad" else -f * vr
        out = np.where(f == 0, 0, out) if order == "label_grad" else out
    out = np.where((np.isnan(q).any(-1) | np.isnan(y).any(-1))[:, None], np.nan, out)
    return from_rows(out, batch_shape, C, p.axis, q0.ndim)


def _loss_shape(case: Case, x: np.ndarray) -> tuple[int, ...]:
    """The shape of a softmax or sigmoid family's returned loss."""
    if case.params.reduction != "none":
        return ()
    return x.shape if case.elementwise else tuple(s for i, s in enumerate(x.shape) if i != case.params.axis % x.ndim)


def _margin(case: Case, inputs: Inputs, ref: Reference, order: str, v: np.ndarray):
    wd = core.working_dtype(np.asarray(v).size)
    vv = np.asarray(v).astype(wd)
    x = np.asarray(inputs.logits).astype(wd)
    if case.family == "hinge":
        return np.where(np.isnan(x), np.nan, 0 * vv)
    scale = wd(ref.scale)
    if case.family == "squared_hinge":
        m = 1 - signed_labels(case, inputs.labels, wd) * x
        if np.any(m == 0):
            raise NotJudged("a squared margin of exactly 0: the second derivative jumps there (0 to 2)")
        W = elementwise_weights(inputs, x.shape, wd)
        return np.where(np.isnan(x), np.nan, times(2 * W * scale * (m > 0), vv))
    return _weston_watkins(case, inputs, vv, scale, wd)


def _weston_watkins(case: Case, inputs: Inputs, vv, scale, wd):
    p = case.params
    x, batch_shape, C = to_rows(np.asarray(inputs.logits), p.axis, wd)
    vr, _, _ = to_rows(vv, p.axis, wd)
    R = x.shape[0]
    y = np.asarray(inputs.labels, dtype=np.int64).reshape(-1)
    rows = np.arange(R)
    nan = np.isnan(x).any(-1)[:, None]
    if p.p == 1:
        out = np.zeros_like(x)
    else:
        z = wd(p.margin) - x[rows, y][:, None] + x
        other = np.ones((R, C), dtype=bool)
        other[rows, y] = False
        if np.any((z == 0) & other):
            raise NotJudged("a Weston-Watkins margin of exactly 0 with p = 2: the second derivative jumps there")
        W = sample_weights(inputs, R, wd) * class_weights(inputs, C, wd)[y]
        k = (2 * W * scale / wd(C))[:, None]
        with np.errstate(invalid="ignore"):
            out = np.where(other & (z > 0), times(k, vr - vr[rows, y][:, None]), 0)
            out[rows, y] = -out.sum(-1)
    out = np.where(nan, np.nan, out)
    return from_rows(out, batch_shape, C, p.axis, np.asarray(inputs.logits).ndim)
