"""An independent arbitrary-precision reference (mpmath) for the softmax cross-entropy families.

Written from DESIGN.md's definitions directly, sharing no code with harness/oracle.py.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np

# 400 digits: a loss of 1e-320 next to terms of order 1 (logits [0, -736]) must keep its own digits;
# anything smaller underflows float64 anyway.
mp.mp.dps = 400


def _rows(a: np.ndarray, axis: int) -> np.ndarray:
    a = np.asarray(a)
    a = a if a.dtype == object else a.astype(np.float64)  # object arrays carry mpf values
    a = np.moveaxis(a, axis, -1)
    return a.reshape(-1, a.shape[-1])


def loss(case, logits, labels, class_weights=None, sample_weights=None):
    """The case's returned values (list of mpf) from float inputs, in 400 digits."""
    if case.family in OTHER:
        return OTHER[case.family](case, logits, labels, class_weights, sample_weights)
    if case.elementwise:
        return _sigmoid_loss(case, logits, labels, class_weights, sample_weights)
    p = case.params
    x = _rows(logits, p.axis)
    R, C = x.shape
    batch_shape = np.moveaxis(np.asarray(logits), p.axis, -1).shape[:-1]
    if case.sparse:
        lab = np.asarray(labels).reshape(-1)
        t = [[mp.mpf(1) if c == lab[i] else mp.mpf(0) for c in range(C)] for i in range(R)]
        kept = [p.ignore_index is None or lab[i] != p.ignore_index for i in range(R)]
    else:
        y = _rows(labels, p.axis)
        t = [[mp.mpf(float(v)) for v in row] for row in y]
        kept = [True] * R
    w = [mp.mpf(1)] * C if class_weights is None else [mp.mpf(float(v)) for v in class_weights]
    s = [mp.mpf(1)] * R if sample_weights is None else [mp.mpf(float(sample_weights[i // (R // len(sample_weights))])) for i in range(R)]
    e = mp.mpf(p.label_smoothing)
    out = []
    denom = mp.mpf(0)
    for i in range(R):
        row = [mp.mpf(v) for v in x[i]]
        if not kept[i]:
            out.append(mp.mpf(0))
            continue
        if any(mp.isnan(v) or (mp.isinf(v) and v > 0) for v in row) or all(mp.isinf(v) for v in row):
            out.append(mp.nan)
            continue
        lse = mp.log(mp.fsum(mp.exp(v) for v in row if not mp.isinf(v)))
        li = mp.mpf(0)
        for c in range(C):
            tc = (1 - e) * t[i][c] + e / C
            a = w[c] * tc
            if a == 0:
                continue
            li += a * mp.inf if mp.isinf(row[c]) else -a * (row[c] - lse)  # -log p = +inf at a masked class
        out.append(s[i] * li)
        denom += s[i] * mp.fsum(w[c] * t[i][c] for c in range(C))
    n_kept = int(sum(bool(k) for k in kept))
    if p.reduction == "none":
        return out, batch_shape
    total = mp.fsum(out)
    if p.reduction == "sum":
        return [total], ()
    d = mp.mpf(n_kept) if p.reduction == "mean" else denom
    return [total / d if d != 0 else mp.nan], ()


def to_float(v) -> float:
    return float(v) if not mp.isnan(v) else float("nan")


def _sigmoid_loss(case, logits, labels, class_weights=None, sample_weights=None):
    """-s_i w_c (q z' log s(x) + (1 - z') log(1 - s(x))) per element, straight from the definition."""
    p = case.params
    x = np.asarray(logits)
    x = x if x.dtype == object else x.astype(np.float64)
    z = np.asarray(labels, dtype=np.float64)
    shape = x.shape
    q = p.pos_weight if p.pos_weight is not None else 1.0
    e = mp.mpf(p.label_smoothing)
    out, weights = [], []
    for idx in np.ndindex(shape):
        xv, zv = mp.mpf(x[idx]), mp.mpf(float(z[idx]))
        c, i = idx[-1], idx[0]
        qc = mp.mpf(q[c] if isinstance(q, tuple) else q)
        w = (mp.mpf(float(class_weights[c])) if class_weights is not None else 1) * (
            mp.mpf(float(sample_weights[i])) if sample_weights is not None else 1)
        zs = (1 - e) * zv + e / 2
        log_s = -mp.log1p(mp.exp(-xv))  # log sigmoid(x)
        log_1ms = -mp.log1p(mp.exp(xv))  # log(1 - sigmoid(x))
        li = mp.mpf(0)
        if qc * zs != 0:
            li -= qc * zs * log_s
        if 1 - zs != 0:
            li -= (1 - zs) * log_1ms
        out.append(w * li)
        weights.append(w)
    if p.reduction == "none":
        return out, shape
    total = mp.fsum(out)
    if p.reduction == "sum":
        return [total], ()
    d = mp.mpf(len(out)) if p.reduction == "mean" else mp.fsum(weights)
    return [total / d if d != 0 else mp.nan], ()


# --------------------------------------------------------------------------- the other families


def _mp(v):
    return v if isinstance(v, mp.mpf) else mp.mpf(float(v))


def _reduce(case, out, shape, weights):
    p = case.params
    if p.reduction == "none":
        return out, shape
    total = mp.fsum(out)
    if p.reduction == "sum":
        return [total], ()
    d = mp.mpf(len(out)) if p.reduction == "mean" else mp.fsum(weights)
    return [total / d if d != 0 else mp.nan], ()


def _lse(row):
    if any(mp.isnan(v) for v in row):
        return mp.nan
    if any(mp.isinf(v) and v > 0 for v in row):
        return mp.inf
    fin = [v for v in row if not mp.isinf(v)]
    return mp.log(mp.fsum(mp.exp(v) for v in fin)) if fin else -mp.inf


def _categorical(case, logits, labels, class_weights, sample_weights, focal: bool):
    """-s_i alpha sum_c w_c t'_c (1 - p_c)^gamma log p_c; p given (categorical_crossentropy) or softmax(x)."""
    p = case.params
    x = _rows(logits, p.axis)
    R, C = x.shape
    y = _rows(labels, p.axis)
    batch_shape = np.moveaxis(np.asarray(logits), p.axis, -1).shape[:-1]
    e = mp.mpf(p.label_smoothing)
    out, weights = [], []
    for i in range(R):
        row = [_mp(v) for v in x[i]]
        s = _mp(sample_weights[i // (R // len(sample_weights))]) if sample_weights is not None else mp.mpf(1)
        if focal:
            lse = _lse(row)
            if mp.isnan(lse) or mp.isinf(lse):
                out.append(mp.nan)
                weights.append(s)
                continue
            logp = [v - lse for v in row]
        else:
            logp = [mp.log(v) if v > 0 else -mp.inf for v in row]
        li = mp.mpf(0)
        for c in range(C):
            a = (_mp(class_weights[c]) if class_weights is not None else 1) * ((1 - e) * _mp(y[i][c]) + e / C)
            if focal:
                a *= _mp(p.alpha) if p.alpha is not None else 1
            if a == 0:
                continue
            if mp.isinf(logp[c]):
                li = mp.inf
                continue
            factor = (-mp.expm1(logp[c])) ** p.gamma if focal else 1
            li -= a * factor * logp[c]
        out.append(s * li)
        weights.append(s * mp.fsum((_mp(class_weights[c]) if class_weights is not None else 1) * _mp(y[i][c]) for c in range(C)))
    return _reduce(case, out, batch_shape, weights)


def _binary(case, logits, labels, class_weights, sample_weights, focal: bool):
    """Elementwise: -w (z' log q + (1 - z') log(1 - q)), q = P given or sigmoid(x); focal: times alpha_t v^gamma."""
    p = case.params
    x = np.asarray(logits)
    x = x if x.dtype == object else x.astype(np.float64)
    z = np.asarray(labels, dtype=np.float64)
    e = mp.mpf(p.label_smoothing)
    out, weights = [], []
    for idx in np.ndindex(x.shape):
        xv, zs = _mp(x[idx]), (1 - e) * _mp(z[idx]) + e / 2
        w = (_mp(class_weights[idx[-1]]) if class_weights is not None else 1) * (
            _mp(sample_weights[idx[0]]) if sample_weights is not None else 1)
        if focal:
            log_q, log_1mq = -mp.log1p(mp.exp(-xv)), -mp.log1p(mp.exp(xv))
        else:
            log_q = mp.log(xv) if xv > 0 else -mp.inf
            log_1mq = mp.log1p(-xv) if xv < 1 else -mp.inf
        li = mp.mpf(0)
        for coef, lg in ((zs, log_q), (1 - zs, log_1mq)):
            if coef != 0:
                li = li - coef * lg
        if focal:
            v = zs * mp.exp(log_1mq) + (1 - zs) * mp.exp(log_q)
            alpha_t = 1 if p.alpha is None else _mp(p.alpha) * zs + (1 - _mp(p.alpha)) * (1 - zs)
            li = alpha_t * (v ** p.gamma if p.gamma else 1) * li
        out.append(w * li)
        weights.append(w)  # weighted_mean divides by the class and sample weights, not by alpha_t
    return _reduce(case, out, x.shape, weights)


def block(case, logits, labels=None, class_weights=None, sample_weights=None):
    """log_softmax, softmax or logsumexp of every row (the outputs, not weighted by the cotangent)."""
    p = case.params
    x = _rows(logits, p.axis)
    shape = np.moveaxis(np.asarray(logits), p.axis, -1).shape
    out = []
    for row in x:
        row = [_mp(v) for v in row]
        lse = _lse(row)
        if case.family == "logsumexp":
            out.append(lse)
            continue
        undefined = mp.isnan(lse) or mp.isinf(lse)
        for v in row:
            if undefined:
                out.append(mp.nan)
            elif case.family == "log_softmax":
                out.append(v - lse)
            else:
                out.append(mp.exp(v - lse))
    if case.family == "logsumexp":
        return out, shape[:-1]
    if p.axis % len(shape) != len(shape) - 1:  # back to the input's layout
        arr = np.moveaxis(np.array(out, dtype=object).reshape(shape), -1, p.axis % len(shape))
        return list(arr.reshape(-1)), arr.shape
    return out, shape


OTHER = {
    "categorical_crossentropy": lambda *a: _categorical(*a, focal=False),
    "categorical_focal_crossentropy": lambda *a: _categorical(*a, focal=True),
    "binary_crossentropy": lambda *a: _binary(*a, focal=False),
    "binary_focal_crossentropy": lambda *a: _binary(*a, focal=True),
    "log_softmax": block,
    "softmax": block,
    "logsumexp": block,
}
