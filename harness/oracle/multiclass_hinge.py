"""The oracle of the multi-class hinge families (Weston-Watkins, Crammer-Singer, Keras' categorical hinge): exact
loss, analytic gradient and, at kinks, the whole subdifferential.

Conventions as in harness/oracle/core.py: x scores (class axis moved last, rows flattened), m the margin
(option `margin`, default 1), w_c class weights, s_i sample weights, W_i = s_i w_{y_i} for integer labels y.
Reductions: none, sum, mean (divides by the rows, with weights too, as torch's 'mean' does), weighted_mean
(divides by sum_i W_i; categorical_hinge: by sum_i s_i, Keras' mean_with_sample_weight).

weston_watkins_hinge (torch.nn.functional.multi_margin_loss; integer labels; p in {1, 2}):
    z_ij = m - x_iy + x_ij        l_i = W_i / C * sum_{j != y} max(0, z_ij)^p     (w_y after the power)
    dl_i/dx_ij = W_i / C * d_ij (j != y),  dl_i/dx_iy = -sum_{j != y} dl_i/dx_ij
    with d_ij = p max(0, z_ij)^(p-1): for p = 1 the step [z > 0], a kink at z = 0 where d is anything in
    [0, 1] independently per j (separable: the box at0..at1 is exact; the row sums to 0, stated too).

crammer_singer_hinge (optax.multiclass_hinge_loss; integer labels):
    v_ij = x_ij + m [j != y]      l_i = W_i (max_j v_ij - x_iy) = W_i max(0, m + max_{j != y} x_ij - x_iy)
    optax writes it max_j(x_j + 1 - onehot_j) - x_y (margin 1). Pieces: j != y gives e_j - e_y, j = y the 0
    function. A the active set {j: v_ij = max}; a subgradient is W_i sum_{j in A, j != y} lam_j (e_j - e_y), lam
    a distribution over A. The gradient where |A| = 1; at a tie (|A| > 1) at0 has every lam_j = 0 and at1 every
    lam_j = 1 (x_y's entry between 0 and -W_i when y is in A, else exactly -W_i). The box with the row sum
    fixed at 0 is exactly the set: the free entries' weights lie in [0, 1] and sum to 1 (y not in A; then
    x_y's entry is -W_i) or to at most 1 (y in A: x_y's entry is minus their sum).

multiclass_perceptron (optax.multiclass_perceptron_loss; Collins 2002): Crammer-Singer at margin 0,
    l_i = W_i (max_j x_ij - x_iy), its subdifferential the same (y's own piece ties whenever x_y is a max)

categorical_hinge (keras.losses.CategoricalHinge; dense labels t in {0, 1}, sample weights only):
    b_ic = (1 - t_ic) x_ic (0 where t_ic = 1)   neg_i = max_c b_ic   pos_i = sum_c t_ic x_ic
    h_i = neg_i - pos_i + m      l_i = s_i max(0, h_i)
    Where t = 1 the term is zeroed, not excluded (keras-team/keras#8083): with every other score negative,
    neg = 0, so t = [1, 0], x = [-3, -5] gives 4 where Crammer-Singer gives 0.
    Convex: the subdifferential is mu (sum_{c in A} lam_c (1 - t_c) e_c - t) scaled by s_i, A = {c: b_c = neg},
    lam a distribution over A, mu = 1 where h > 0, any of [0, 1] where h = 0, 0 where h < 0. at0 takes mu = 0 at
    h = 0 and every lam = 0 at a tie (|A| > 1), at1 mu = 1 and every lam = 1. The row sum is
    s_i mu (Lam - T), T = sum_c t_c and Lam = sum over A's t = 0 members of lam: exactly 1 when A has no t = 1
    member, else anything in [0, 1] (an active t = 1 member's piece moves nothing). With one-hot labels the
    box and these row-sum bounds describe the set exactly (the free entries are lam_c or mu lam_c in [0, 1]
    and x_y's entry -mu; solving back gives mu and lam). With multi-hot labels at h = 0 it is a relaxation:
    the box lets the t = 1 entries, all -mu in truth, differ from each other.

Edges: a -inf score at a class other than the label (t = 0) is masked: it never wins a max and adds 0; a row
holding NaN has NaN loss and gradient; +inf (or -inf at the label) gives an infinite loss with the gradient of
the formulas (NaN where they take inf - inf). A zero weight's row contributes 0 (core.times). The default
gradient is an element of the subdifferential: d = 1/2 at a Weston-Watkins kink, lam uniform over A, mu = 1/2.
"""

from __future__ import annotations

import numpy as np

from harness.oracle import core
from harness.oracle.core import (
    Reference,
    Subgradient,
    class_weights,
    dense_targets,
    from_rows,
    reduced,
    reduction_scale,
    reference,
    sample_weights,
    times,
    to_rows,
)
from harness.schema.model import Case
from harness.trials import Inputs


def _sparse(case: Case, inputs: Inputs, wd):
    """(x rows, one-hot rows (bool), labels, W_i = s_i w_y, batch shape, C)."""
    p = case.params
    x, batch_shape, C = to_rows(np.asarray(inputs.logits), p.axis, wd)
    R = x.shape[0]
    y = np.asarray(inputs.labels, dtype=np.int64).reshape(-1)
    onehot = np.zeros((R, C), dtype=bool)
    onehot[np.arange(R), y] = True
    W = sample_weights(inputs, R, wd) * class_weights(inputs, C, wd)[y]
    return x, onehot, y, W, batch_shape, C


def _finish(case: Case, inputs: Inputs, wd, loss, g, g0, g1, kinked, row_lo, row_hi, batch_shape, C, W_total):
    """Reduce the per-row losses, scale the gradients (the default one, at0 and at1) and shape them back."""
    p = case.params
    x0 = np.asarray(inputs.logits)
    R = loss.shape[0]
    denom, scale = reduction_scale(p.reduction, R, W_total, wd)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = reduced(loss, p.reduction, denom, wd)
    if p.reduction == "none":
        out = out.reshape(batch_shape)
    back = lambda a: from_rows(a * scale, batch_shape, C, p.axis, x0.ndim)  # noqa: E731
    sub = None
    if kinked.any():
        sub = Subgradient(at0=np.asarray(back(g0), dtype=np.float64), at1=np.asarray(back(g1), dtype=np.float64),
                          row_sum=(np.asarray((row_lo * scale).reshape(batch_shape), dtype=np.float64),
                                   np.asarray((row_hi * scale).reshape(batch_shape), dtype=np.float64)),
                          axis=p.axis % x0.ndim)
    return reference(out, back(g), wd, saturated=False, rows=R, classes=C, unreduced=loss, scale=scale,
                     subgradient=sub)


def _bad_rows(loss, grads, x):
    """A row holding NaN: NaN loss and gradient."""
    nan = np.isnan(x).any(-1)
    loss = np.where(nan, np.nan, loss)
    return loss, [np.where(nan[:, None], np.nan, g) for g in grads]


def weston_watkins_hinge(case: Case, inputs: Inputs, dtype: str) -> Reference:
    wd = core.working_dtype(np.asarray(inputs.logits).size)
    x, onehot, y, W, batch_shape, C = _sparse(case, inputs, wd)
    R = x.shape[0]
    m, pw = wd(case.params.margin), case.params.p
    xy = x[np.arange(R), y][:, None]
    with np.errstate(invalid="ignore", over="ignore"):
        z = np.where(onehot, -np.inf, m - xy + x)  # the label's own term is excluded
        zp = np.where(z > 0, z, wd(0))
        zp = np.where(np.isnan(z), np.nan, zp)
        f = W / wd(C)
        loss = times(f, (zp if pw == 1 else zp * zp).sum(-1))
        kink = (z == 0) & (pw == 1)
        d = np.where(z > 0, wd(1), wd(0)) if pw == 1 else 2 * zp
        d = np.where(np.isnan(z), np.nan, d)

        def grad(dk):
            gj = times(f[:, None], np.where(kink, dk, d))
            return np.where(onehot, -np.where(onehot, 0, gj).sum(-1, keepdims=True), gj)
        g, g0, g1 = grad(wd(0.5)), grad(wd(0)), grad(wd(1))
    loss, (g, g0, g1) = _bad_rows(loss, (g, g0, g1), x)
    zero = np.zeros(R, dtype=wd)
    return _finish(case, inputs, wd, loss, g, g0, g1, kink, zero, zero, batch_shape, C, lambda: W.sum())


def crammer_singer_hinge(case: Case, inputs: Inputs, dtype: str, margin: float | None = None) -> Reference:
    wd = core.working_dtype(np.asarray(inputs.logits).size)
    x, onehot, y, W, batch_shape, C = _sparse(case, inputs, wd)
    R = x.shape[0]
    m = wd(case.params.margin if margin is None else margin)
    xy = x[np.arange(R), y]
    with np.errstate(invalid="ignore", over="ignore"):
        v = np.where(onehot, x, x + m)
        M = v.max(-1)
        loss = times(W, M - xy)
        active = v == M[:, None]
        n = active.sum(-1)
        tie = n > 1
        y_in = (active & onehot).any(-1, keepdims=True)

        def grad(lam):  # lam: the weight of each active piece; x_y's entry -1 unless y's own piece is active
            gj = np.where(active & ~onehot, lam, wd(0))
            gy = np.where(y_in, np.maximum(-gj.sum(-1, keepdims=True), -1), wd(-1))
            return times(W[:, None], np.where(onehot, gy, gj))
        g = grad(wd(1) / np.maximum(n, 1)[:, None].astype(wd))
        g0 = np.where(tie[:, None], grad(wd(0)), g)
        g1 = np.where(tie[:, None], grad(wd(1)), g)
    loss, (g, g0, g1) = _bad_rows(loss, (g, g0, g1), x)
    zero = np.zeros(R, dtype=wd)
    return _finish(case, inputs, wd, loss, g, g0, g1, tie, zero, zero, batch_shape, C, lambda: W.sum())


def multiclass_perceptron(case: Case, inputs: Inputs, dtype: str) -> Reference:
    """Crammer-Singer at margin 0: max_j x_j - x_y (optax.losses.multiclass_perceptron_loss)."""
    return crammer_singer_hinge(case, inputs, dtype, margin=0.0)


def categorical_hinge(case: Case, inputs: Inputs, dtype: str) -> Reference:
    p = case.params
    wd = core.working_dtype(np.asarray(inputs.logits).size)
    x, batch_shape, C = to_rows(np.asarray(inputs.logits), p.axis, wd)
    R = x.shape[0]
    t = dense_targets(inputs, R, C, wd, p.axis)
    s = sample_weights(inputs, R, wd)
    m = wd(p.margin)
    with np.errstate(invalid="ignore", over="ignore"):
        b = times(1 - t, x)
        neg = b.max(-1)
        pos = times(t, x).sum(-1)
        h = neg - pos + m
        loss = times(s, np.maximum(h, 0))
        active = b == neg[:, None]
        tie = active.sum(-1) > 1
        outer = h == 0
        T = t.sum(-1)

        def grad(mu, lam):
            return times((s * mu)[:, None], np.where(active, lam, wd(0)) * (1 - t) - t)
        mu = np.where(h > 0, wd(1), wd(0))
        lam = np.where(tie, wd(1) / np.maximum(active.sum(-1), 1), wd(1))[:, None]
        g = grad(np.where(outer, wd(0.5), mu), lam)
        g0 = grad(mu, np.where(tie[:, None], wd(0), lam))
        g1 = grad(np.where(outer, wd(1), mu), np.where(tie[:, None], wd(1), lam))
        # the row sum s mu (Lam - T): Lam = 1 unless an active member has t = 1 (then [0, 1]); mu in [0, 1] at h = 0
        free = (active & (t == 1)).any(-1)
        lam_lo = np.where(free, wd(0), wd(1))
        mu_hi = np.where(outer, wd(1), mu)
        ends = np.stack([mu_hi * (lam_lo - T), mu_hi * (1 - T), mu * (lam_lo - T), mu * (1 - T)])
        row_lo, row_hi = times(s, ends.min(0)), times(s, ends.max(0))
    loss, (g, g0, g1) = _bad_rows(loss, (g, g0, g1), x)
    return _finish(case, inputs, wd, loss, g, g0, g1, tie | outer, row_lo, row_hi, batch_shape, C, lambda: s.sum())
