"""The oracle for the probability, focal and building-block families (harness/oracle/softmax.py has the softmax and sigmoid ones).

Same conventions as harness/oracle/softmax.py: x are logits, P probabilities (both with the class axis moved
last), t dense targets (one_hot(label) for integer labels), t' = (1 - e) t + e / C with label smoothing
e (binary families: z' = (1 - e) z + e / 2), w_c class weights, s_i sample weights, a_ic = w_c t'_ic.
A term whose coefficient is 0 contributes 0 even where its log is -inf. Reductions as in softmax.py:
none, sum, mean (over rows, or elements for the elementwise families), weighted_mean (over
sum_i s_i sum_c w_c t_ic, elementwise: sum_ic s_i w_c); a mean over nothing is NaN with gradient 0.

categorical_crossentropy (probabilities, dense labels; the probabilities are taken as given: no clip,
no renormalisation, which is exactly where frameworks differ):
    l_i = -s_i sum_c a_ic log P_ic                     dl_i/dP_ic = -s_i a_ic / P_ic
    A target class with P = 0 has loss +inf and gradient -inf.

binary_crossentropy (probabilities, labels in [0, 1], elementwise):
    l_ic = -s_i w_c (z' log P + (1 - z') log(1 - P))   dl/dP = -s_i w_c (z' / P - (1 - z') / (1 - P))

categorical_focal_crossentropy (logits, dense labels; gamma, alpha; Lin et al. 2017 as Keras defines it):
    p = softmax(x), u_c = 1 - p_c = -expm1(log p_c)
    l_i = -s_i alpha sum_c a_ic u_c^gamma log p_c      (alpha = 1 when the case gives none)
    with h_c = p_c dl/dp_c = -s_i alpha a_ic (u_c^gamma - gamma u_c^(gamma-1) p_c log p_c):
    dl_i/dx_j = h_j - p_j sum_c h_c = h_j u_j - p_j sum_{c != j} h_c

binary_focal_crossentropy (logits, labels in [0, 1], elementwise; gamma, alpha):
    s = sigmoid(x), v = 1 - p_t = z' s(-x) + (1 - z') s(x), bce = z' sp(-x) + (1 - z') sp(x)
    alpha_t = alpha z' + (1 - alpha)(1 - z')  (1 when the case gives no alpha)
    l = s_i w_c alpha_t v^gamma bce
    dl/dx = s_i w_c alpha_t (gamma v^(gamma-1) (1 - 2 z') s(x) s(-x) bce + v^gamma (s(x) - z'))

Building blocks (reduction none; `labels` is the cotangent g of the output, ones by default, so the
gradient is the vector-Jacobian product g^T d(output)/dx):
    log_softmax:  y = x - logsumexp(x)          dx = g - p sum_c g_c = g (1 - p) - p sum_{c != j} g_c
    softmax:      y = p                         dx = p (g - sum_c g_c p_c) = p (g (1 - p) - sum_{c != j} g_c p_c)
    (the second forms, with 1 - p = -expm1(log p), keep every bit of an entry whose p is near 1)
    logsumexp:    y_i = logsumexp(x_i)          dx = g_i p
    A row with NaN or +inf is undefined (NaN), except logsumexp, which is +inf with a +inf and no NaN;
    an all -inf row has logsumexp -inf and no defined softmax.
"""

from __future__ import annotations

import numpy as np

from harness.core.dtypes import cast
from harness.oracle import core
from harness.oracle.core import Reference, log_softmax, softplus, times
from harness.schema import Case
from harness.trials import Inputs


def _precision(wd) -> str:
    return "longdouble" if wd is np.longdouble else "float64"


def _rows(x: np.ndarray, axis: int, wd) -> tuple[np.ndarray, tuple[int, ...], int]:
    """Class axis last, flattened to rows: (rows x C array, batch shape, C)."""
    x = np.moveaxis(np.asarray(x).astype(wd), axis % x.ndim, -1)
    return x.reshape(-1, x.shape[-1]), x.shape[:-1], x.shape[-1]


def _unrows(a: np.ndarray, batch_shape, C, axis, ndim) -> np.ndarray:
    return np.moveaxis(a.reshape(*batch_shape, C), -1, axis % ndim)


def _sample_weights(inputs: Inputs, R: int, wd) -> np.ndarray:
    if inputs.sample_weights is None:
        return np.ones(R, dtype=wd)
    sw = inputs.sample_weights.astype(wd)
    return np.repeat(sw, R // max(len(sw), 1))


def _reduce(loss, grad, red: str, count: int, weight_total, wd):
    """(output, gradient scaled to it, scale) for a reduction of per-row (or per-element) losses."""
    if red == "none":
        return loss, grad, wd(1)
    total = loss.sum()
    if red == "sum":
        return total, grad, wd(1)
    denom = wd(count) if red == "mean" else weight_total
    with np.errstate(invalid="ignore", divide="ignore"):
        out = total / denom if denom != 0 else wd(np.nan)
        scale = 1 / denom if denom != 0 else wd(0)  # the NaN mean is constant in the inputs
        return out, grad * scale, scale


def _reference(out, grad, wd, *, saturated: bool, rows: int, classes: int, unreduced, scale) -> Reference:
    return Reference(
        loss=np.asarray(out, dtype=np.float64),
        grad=np.asarray(grad, dtype=np.float64),
        precision=_precision(wd),
        saturated=saturated,
        rows=rows,
        classes=classes,
        unreduced=np.asarray(unreduced, dtype=np.float64),
        scale=float(scale),
    )


def _dense_targets(case: Case, inputs: Inputs, R: int, C: int, wd, axis: int) -> np.ndarray:
    t = np.moveaxis(np.asarray(inputs.labels).astype(wd), axis % np.asarray(inputs.labels).ndim, -1)
    return t.reshape(R, C)


def _categorical_weights(case: Case, inputs: Inputs, R: int, C: int, wd):
    """(t, a, cw, sw): dense targets, a_ic = w_c t'_ic (smoothed), class and per-row sample weights."""
    p = case.params
    t = _dense_targets(case, inputs, R, C, wd, p.axis)
    e = wd(p.label_smoothing)
    ts = (1 - e) * t + e / C if e else t
    cw = np.ones(C, dtype=wd) if inputs.class_weights is None else inputs.class_weights.astype(wd)
    return t, cw[None, :] * ts, cw, _sample_weights(inputs, R, wd)


# --------------------------------------------------------------------------- categorical, from probabilities


def categorical_crossentropy(case: Case, inputs: Inputs, dtype: str) -> Reference:
    P0 = np.asarray(inputs.logits)
    wd = core.working_dtype(P0.size)
    p = case.params
    P, batch_shape, C = _rows(P0, p.axis, wd)
    R = P.shape[0]
    t, a, cw, sw = _categorical_weights(case, inputs, R, C, wd)
    with np.errstate(divide="ignore", invalid="ignore"):
        logP = np.log(P)
        loss = -times(sw, times(a, logP).sum(-1))
        grad = -sw[:, None] * np.where(a == 0, wd(0), a / P)
    weight_total = (sw * (cw[None, :] * t).sum(-1)).sum()
    out, grad, scale = _reduce(loss, grad, p.reduction, R, weight_total, wd)
    if p.reduction == "none":
        out = out.reshape(batch_shape)
    target = P[a > 0]
    return _reference(
        out, _unrows(grad, batch_shape, C, p.axis, P0.ndim), wd,
        saturated=bool(np.any((target == 0) | (target == 1))),
        rows=R, classes=C, unreduced=loss, scale=scale,
    )


# --------------------------------------------------------------------------- elementwise families


def _elementwise_weights(inputs: Inputs, shape, wd) -> np.ndarray:
    C = shape[-1]
    w = np.ones(C, dtype=wd) if inputs.class_weights is None else inputs.class_weights.astype(wd)
    rows = shape[0]
    sw = np.ones(rows, dtype=wd) if inputs.sample_weights is None else inputs.sample_weights.astype(wd)
    return np.broadcast_to(w * sw.reshape((-1,) + (1,) * (len(shape) - 1)), shape)


def binary_crossentropy(case: Case, inputs: Inputs, dtype: str) -> Reference:
    P0 = np.asarray(inputs.logits)
    wd = core.working_dtype(P0.size)
    p = case.params
    P = P0.astype(wd)
    z = np.asarray(inputs.labels).astype(wd)
    e = wd(p.label_smoothing)
    zs = (1 - e) * z + e / 2 if e else z
    a, b = zs, 1 - zs
    weight = _elementwise_weights(inputs, P.shape, wd)
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = -times(weight, times(a, np.log(P)) + times(b, np.log1p(-P)))
        grad = -weight * (np.where(a == 0, 0, a / P) - np.where(b == 0, 0, b / (1 - P)))
    out, grad, scale = _reduce(loss, grad, p.reduction, P.size, weight.sum(), wd)
    return _reference(
        out, grad, wd,
        saturated=bool(np.any(((a > 0) & (P == 0)) | ((b > 0) & (P == 1)))),
        rows=P.shape[0], classes=P.shape[-1], unreduced=loss, scale=scale,
    )


def binary_focal_crossentropy(case: Case, inputs: Inputs, dtype: str) -> Reference:
    x0 = np.asarray(inputs.logits)
    wd = core.working_dtype(x0.size)
    p = case.params
    x = x0.astype(wd)
    z = np.asarray(inputs.labels).astype(wd)
    e = wd(p.label_smoothing)
    zs = (1 - e) * z + e / 2 if e else z
    g = wd(p.gamma)
    alpha_t = wd(1) if p.alpha is None else wd(p.alpha) * zs + (1 - wd(p.alpha)) * (1 - zs)
    weights = _elementwise_weights(inputs, x.shape, wd)
    weight = weights * alpha_t
    sp_neg, sp_pos = softplus(-x), softplus(x)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        s_pos, s_neg = np.exp(-sp_neg), np.exp(-sp_pos)  # s(x), s(-x)
        bce = np.where(zs == 0, 0, zs * sp_neg) + np.where(zs == 1, 0, (1 - zs) * sp_pos)
        v = zs * s_neg + (1 - zs) * s_pos  # 1 - p_t
        vg = v ** g if g else np.ones_like(v)
        dv = (1 - 2 * zs) * s_pos * s_neg
        dfocal = np.where((v == 0) | (g == 0), 0, g * v ** (g - 1) * dv * bce)
        loss = weight * vg * bce
        grad = weight * (dfocal + vg * ((1 - zs) * s_pos - zs * s_neg))  # s(x) - z' without cancellation
    nan = np.isnan(x)
    loss, grad = np.where(nan, np.nan, loss), np.where(nan, np.nan, grad)
    out, grad, scale = _reduce(loss, grad, p.reduction, x.size, weights.sum(), wd)  # alpha_t is no weight of the mean
    prob_d = cast(np.asarray(s_pos, dtype=np.float64), dtype).astype(np.float64)
    return _reference(
        out, grad, wd,
        saturated=bool(np.any((prob_d == 0) | (prob_d == 1))),
        rows=x.shape[0], classes=x.shape[-1], unreduced=loss, scale=scale,
    )


# --------------------------------------------------------------------------- categorical focal, from logits


def categorical_focal_crossentropy(case: Case, inputs: Inputs, dtype: str) -> Reference:
    x0 = np.asarray(inputs.logits)
    wd = core.working_dtype(x0.size)
    p = case.params
    x, batch_shape, C = _rows(x0, p.axis, wd)
    R = x.shape[0]
    t, a, cw, sw = _categorical_weights(case, inputs, R, C, wd)
    a = (wd(1) if p.alpha is None else wd(p.alpha)) * a
    g = wd(p.gamma)
    logp, prob, bad = log_softmax(x)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        u = -np.expm1(logp)  # 1 - p without cancellation near p = 1
        ug = u ** g if g else np.ones_like(u)
        loss = -times(sw, times(a * ug, logp).sum(-1))
        second = np.where((u == 0) | (g == 0) | (prob == 0), 0, g * u ** (g - 1) * prob * logp)
        h = -sw[:, None] * np.where(a == 0, 0, a * (ug - second))
        H = h.sum(-1, keepdims=True)
        grad = h * u - prob * (H - h)
    loss = np.where(bad, np.nan, loss)
    grad = np.where(bad[:, None], np.nan, grad)
    weight_total = (sw * (cw[None, :] * t).sum(-1)).sum()
    out, grad, scale = _reduce(loss, grad, p.reduction, R, weight_total, wd)
    if p.reduction == "none":
        out = out.reshape(batch_shape)
    pt = cast(np.asarray(prob[t > 0], dtype=np.float64), dtype).astype(np.float64)
    return _reference(
        out, _unrows(grad, batch_shape, C, p.axis, x0.ndim), wd,
        saturated=bool(np.any((pt == 0) | (pt == 1)) and C > 1),
        rows=R, classes=C, unreduced=loss, scale=scale,
    )


# --------------------------------------------------------------------------- building blocks


def _sum_others(v: np.ndarray) -> np.ndarray:
    """sum_{k != j} v_k for every j of each row, without subtracting v_j from the total (which cancels
    where v_j dominates the row); rows of up to a few thousand entries, as the block cases have."""
    R, C = v.shape
    if R * C * C > (1 << 22):
        return v.sum(-1, keepdims=True) - v
    others = np.broadcast_to(v[:, None, :], (R, C, C)).copy()
    others[:, np.arange(C), np.arange(C)] = 0
    return others.sum(-1)


def block(case: Case, inputs: Inputs, dtype: str) -> Reference:
    x0 = np.asarray(inputs.logits)
    wd = core.working_dtype(x0.size)
    axis = case.params.axis
    x, batch_shape, C = _rows(x0, axis, wd)
    R = x.shape[0]
    fam = case.family
    if fam == "logsumexp":
        gvec = np.asarray(inputs.labels).astype(wd).reshape(R)
        G = gvec[:, None] * np.ones((1, C), dtype=wd)
    else:
        G = _rows(np.asarray(inputs.labels), axis, wd)[0]
    logp, prob, bad = log_softmax(x)
    with np.errstate(invalid="ignore", over="ignore"):
        # without cancellation: 1 - p_c = -expm1(log p_c), and the other classes' terms summed apart
        one_minus = -np.expm1(logp)
        if fam == "log_softmax":
            out = logp
            grad = G * one_minus - prob * _sum_others(G)
        elif fam == "softmax":
            out = prob
            grad = prob * (G * one_minus - _sum_others(G * prob))
        else:
            idx = np.argmax(np.where(bad[:, None], 0, x), axis=-1)
            out = x[np.arange(R), idx] - logp[np.arange(R), idx]  # lse = x_m - log p_m, tail kept
            grad = G * prob
    out = np.where(bad if fam == "logsumexp" else bad[:, None], np.nan, out)
    grad = np.where(bad[:, None], np.nan, grad)
    if fam == "logsumexp":
        with np.errstate(invalid="ignore"):
            nan = np.isnan(x).any(-1)
            out = np.where(~nan & np.isposinf(x).any(-1), np.inf, out)
            out = np.where(~nan & np.isneginf(x).all(-1), -np.inf, out)
        out = out.reshape(batch_shape)
    else:
        out = _unrows(out, batch_shape, C, axis, x0.ndim)
    pd = cast(np.asarray(prob, dtype=np.float64), dtype).astype(np.float64)
    return _reference(
        out, _unrows(grad, batch_shape, C, axis, x0.ndim), wd,
        saturated=bool(np.any((pd == 0) | (pd == 1)) and C > 1),
        rows=R, classes=C, unreduced=out, scale=1.0,
    )


ORACLES = {
    "categorical_crossentropy": categorical_crossentropy,
    "binary_crossentropy": binary_crossentropy,
    "binary_focal_crossentropy": binary_focal_crossentropy,
    "categorical_focal_crossentropy": categorical_focal_crossentropy,
    "log_softmax": block,
    "softmax": block,
    "logsumexp": block,
}


# --------------------------------------------------------------------------- the `clipped` flag

CLIP_EPS = 1e-7  # Keras' epsilon and the tutorials' clip
LOG_FLOOR = -100.0  # PyTorch's clamp of the log in binary_cross_entropy


def clipped_losses(case: Case, inputs: Inputs, dtype: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The case's loss as the common guards would compute it, for the `clipped` flag: probabilities clipped
    to [eps, 1 - eps] with eps = 1e-7 rounded to the trial dtype (a clip written in that dtype); the same clip
    in float32, where that rounds differently (Keras' loss classes compute in their float32 dtype policy
    whatever the input dtype, and keras.ops on the NumPy backend promotes bfloat16 to float32:
    -log(float32(1e-7)) = 16.11809 where float16's 1e-7 gives 15.94238, and a float16 or bfloat16
    1 - 1e-7 is 1, which clips nothing); and the log clamped at -100.
    Each entry is (name, the loss with the guard, where the guard bites): the second has the loss's shape,
    True where the guard changes a term that counts (a clipped probability, a clamped log), so that a loss
    the guard leaves alone is never said to be explained by it. Cross-entropy families only (not the focal
    ones or the building blocks); float64."""
    fam = case.family
    if case.block or fam.endswith("focal_crossentropy"):
        return []

    def clip(lo: float, hi: float):  # log q, log(1 - q), and where the clip changes q (in either term)
        def changes(q):
            return (q < lo) | (q > hi)
        return lambda q: np.log(np.clip(q, lo, hi)), lambda q: np.log1p(-np.clip(q, lo, hi)), changes, changes

    bounds = [(float(cast(np.array([CLIP_EPS]), d)[0]), float(cast(np.array([1 - CLIP_EPS]), d)[0]), d)
              for d in (dtype, "float32")]
    guards = [(f"probabilities clipped to [{lo:.3g}, 1 - {1 - hi:.3g}]"
               + (" in float32 (as Keras clips, whatever the input dtype)" if d != dtype else ""),
               *clip(lo, hi)) for i, (lo, hi, d) in enumerate(bounds) if i == 0 or (lo, hi) != bounds[0][:2]]
    guards.append(("log clamped at -100", lambda q: np.maximum(np.log(q), LOG_FLOOR), lambda q: np.maximum(np.log1p(-q), LOG_FLOOR),
                   lambda q: np.log(q) < LOG_FLOOR, lambda q: np.log1p(-q) < LOG_FLOOR))
    p = case.params
    out = []
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if case.elementwise:
            x = np.asarray(inputs.logits, dtype=np.float64)
            q = x if case.input_kind == "probabilities" else 1 / (1 + np.exp(-x))
            z = np.asarray(inputs.labels, dtype=np.float64)
            zs = (1 - p.label_smoothing) * z + p.label_smoothing / 2
            qw = 1.0 if p.pos_weight is None else np.asarray(p.pos_weight, dtype=np.float64)
            a, b = qw * zs, 1 - zs
            weight = np.asarray(_elementwise_weights(inputs, x.shape, np.float64))
            for name, log_q, log_1mq, bites_q, bites_1mq in guards:
                loss = -weight * (np.where(a == 0, 0, a * log_q(q)) + np.where(b == 0, 0, b * log_1mq(q)))
                bites = (weight != 0) & (((a != 0) & bites_q(q)) | ((b != 0) & bites_1mq(q)))
                red = _reduce(loss, loss, p.reduction, x.size, weight.sum(), np.float64)[0]
                out.append((name, red, bites if p.reduction == "none" else np.asarray(bites.any())))
            return out
        x, batch_shape, C = _rows(np.asarray(inputs.logits), p.axis, np.float64)
        R = x.shape[0]
        q = x if case.input_kind == "probabilities" else log_softmax(x)[1]
        kept = np.ones(R, dtype=bool)
        if case.sparse:
            labels = np.asarray(inputs.labels).astype(np.int64).reshape(-1)
            if p.ignore_index is not None:
                kept = labels != p.ignore_index
            t = np.zeros((R, C))
            t[np.arange(R)[kept], labels[kept]] = 1
        else:
            t = _dense_targets(case, inputs, R, C, np.float64, p.axis)
        ts = (1 - p.label_smoothing) * t + p.label_smoothing / C
        cw = np.ones(C) if inputs.class_weights is None else inputs.class_weights.astype(np.float64)
        sw = _sample_weights(inputs, R, np.float64)
        a = np.where(kept[:, None], cw[None, :] * ts, 0)
        for name, log_q, _, bites_q, _ in guards:
            loss = -sw * np.where(a == 0, 0, a * log_q(q)).sum(-1)
            bites = (sw != 0) & ((a != 0) & bites_q(q)).any(-1)
            weight_total = (sw * np.where(kept, (cw[None, :] * t).sum(-1), 0)).sum()
            red = _reduce(loss, loss, p.reduction, int(kept.sum()), weight_total, np.float64)[0]
            if p.reduction == "none":
                out.append((name, red.reshape(batch_shape), bites.reshape(batch_shape)))
            else:
                out.append((name, red, np.asarray(bites.any())))
    return out
