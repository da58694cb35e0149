"""The oracle: exact loss semantics in float64, computed in extended precision, with analytic gradients.

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

Sigmoid families (elementwise; classes are the last axis), with sp(v) = log(1 + e^v) computed as
max(v, 0) + log1p(e^-|v|) and s(v) = e^-sp(-v):

    z'       = (1 - e) z + e / 2             label smoothing e
    a, b     = q z', 1 - z'                   q = pos_weight (scalar or per class; 1 without)
    l_ic     = s_i w_c (a sp(-x) + b sp(x))   = -s_i w_c (q z' log s(x) + (1 - z') log(1 - s(x)))
    dl/dx    = s_i w_c (b s(x) - a s(-x))
    mean divides by the number of elements; weighted_mean by sum_ic s_i w_c.
    A term whose coefficient (a or b) is 0 contributes 0, even where sp is infinite.

Accuracy: logsumexp is m + log1p(sum over all but one argmax of exp(x - m)), so the tail is kept
(logits [0, -40], label 0: 4.248354255291589e-18, not 0). Arithmetic runs in numpy's longdouble
(64-bit mantissa on x86-64) for trials up to EXTENDED_MAX_ELEMENTS, which makes the float64 result
correctly rounded in all but rare cases; the tests hold it to 1 ULP of mpmath. Larger trials run
in float64 (a few float64 ULPs, far below any float32 tolerance); `Reference.precision` says which.
"""

from __future__ import annotations

import numpy as np

from harness.core.dtypes import cast
from harness.core.settings import available_cores
from harness.oracle import core
from harness.oracle.core import Reference, SoftmaxRows, log_softmax, softplus, times
from harness.schema import Case
from harness.trials import Inputs


def softmax_cross_entropy(case: Case, inputs: Inputs, dtype: str) -> Reference:
    """The softmax families, dense or integer labels (see the module docstring)."""
    x = np.asarray(inputs.logits)
    axis = case.params.axis % x.ndim
    n = x.size
    wd = core.working_dtype(n)
    precision = "longdouble" if wd is np.longdouble else "float64"
    if wd is np.float64 and case.sparse and case.params.label_smoothing == 0 and x.ndim and x.shape[axis] and x.size:
        return _sparse_float64(case, inputs, dtype, axis)
    x = np.moveaxis(x.astype(wd), axis, -1)
    batch_shape, C = x.shape[:-1], x.shape[-1]
    x2 = x.reshape(-1, C)
    R = x2.shape[0]
    p = case.params

    sparse = case.sparse
    if sparse:
        labels = np.asarray(inputs.labels, dtype=np.int64).reshape(-1)
        kept = np.ones(R, dtype=bool) if p.ignore_index is None else labels != p.ignore_index
        safe = np.where(kept, labels, 0)
    else:
        t = np.moveaxis(np.asarray(inputs.labels).astype(wd), axis, -1).reshape(-1, C)
        kept = np.ones(R, dtype=bool)
    cw = np.ones(C, dtype=wd) if inputs.class_weights is None else inputs.class_weights.astype(wd)
    sw = np.ones(R, dtype=wd) if inputs.sample_weights is None else np.repeat(
        inputs.sample_weights.astype(wd), R // max(len(inputs.sample_weights), 1)
    )
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
        ts = (1 - e) * t + e / C if e else t
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

    red = p.reduction
    n_kept = int(kept.sum())
    scale = wd(1)
    if red == "none":
        out = loss.reshape(batch_shape)
    else:
        total = loss.sum()
        if red == "sum":
            out = total
        else:
            denom = wd(n_kept) if red == "mean" else (sw * np.where(kept, denom_rows, 0)).sum()
            with np.errstate(invalid="ignore", divide="ignore"):
                out = total / denom if denom != 0 else wd(np.nan)
                scale = 1 / denom if denom != 0 else wd(0)  # the NaN mean is constant in the logits
        with np.errstate(invalid="ignore"):
            grad = grad * scale
    grad = np.moveaxis(grad.reshape(*batch_shape, C), -1, axis)
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
    if sparse:
        pt = prob[rows, safe][kept]
    else:
        pt = prob[t > 0]
    pt_d = cast(pt.astype(np.float64), dtype).astype(np.float64)
    saturated = bool(np.any((pt_d == 1) | (pt_d == 0)) and C > 1)

    return Reference(
        loss=np.asarray(out, dtype=np.float64),
        grad=np.asarray(grad, dtype=np.float64),
        precision=precision,
        saturated=saturated,
        rows=n_kept,
        classes=C,
        unreduced=np.asarray(loss, dtype=np.float64),
        scale=float(scale),
        softmax=stats,
    )


# float64 elements per block of the large-trial path (2 MiB): large enough that numpy's per-call overhead
# is small (1 MiB blocks were 15% slower on 2 cores, 256 KiB 75%), small enough to stay in cache
FAST_BLOCK_ELEMENTS = 1 << 18


def _sparse_float64(case: Case, inputs: Inputs, dtype: str, axis: int) -> Reference:
    """The large-trial path of integer labels without label smoothing, in float64: the same semantics as
    `compute`, in one pass over the logits in blocks of rows that stay in cache, on a few threads.

    No one-hot targets and no full-size temporaries: per block, the logits shifted by the row maximum
    (found in the trial dtype) are written into a float64 buffer, exponentiated in place and summed
    (all but one argmax, so the tail is kept as in `_log_softmax`); the gradient row is that buffer times one factor per row,
    p_ic = exp(x_ic - m_i) * exp(-log1p(tail_i)), written straight into the output, and the label's
    element is a_i expm1(log p_i,label) as in `compute`. Error: the loss is log1p(tail) - (x_label - m)
    with no cancellation (both terms are >= 0), a few float64 ULPs from the sum; a probability is a
    product of two exponentials, a few ULPs times (1 + log1p(tail)), and never the |log p| ULPs that
    exp(log p) costs for small probabilities.
    """
    from concurrent.futures import ThreadPoolExecutor

    p = case.params
    x0 = np.asarray(inputs.logits)
    x = np.moveaxis(x0, axis, -1)
    batch_shape, C = x.shape[:-1], x.shape[-1]
    x2 = x.reshape(-1, C)
    R = x2.shape[0]
    labels = np.asarray(inputs.labels, dtype=np.int64).reshape(-1)
    kept = np.ones(R, dtype=bool) if p.ignore_index is None else labels != p.ignore_index
    safe = np.where(kept, labels, 0)
    cw = None if inputs.class_weights is None else inputs.class_weights.astype(np.float64)
    a_lab = np.ones(R) if cw is None else cw[safe]
    sw = np.ones(R) if inputs.sample_weights is None else np.repeat(
        inputs.sample_weights.astype(np.float64), R // max(len(inputs.sample_weights), 1))

    # the reduction's factor is known before any logit is read: apply it to each row once
    red = p.reduction
    n_kept = int(kept.sum())
    scale, denom = 1.0, 1.0
    if red in ("mean", "weighted_mean"):
        denom = float(n_kept) if red == "mean" else float((sw * np.where(kept, a_lab, 0)).sum())
        scale = 1 / denom if denom != 0 else 0.0  # the NaN mean is constant in the logits
    row_factor = np.where(kept, sw * a_lab * scale, 0.0)  # dl/dx_i = row_factor_i * (p_i - t_i)

    grad = np.empty((R, C), dtype=np.float64)
    loss = np.empty(R, dtype=np.float64)
    p_label = np.empty(R, dtype=np.float64)
    m_all = np.zeros(R, dtype=np.float64)
    px_all = np.zeros(R, dtype=np.float64)
    log_s_all = np.zeros(R, dtype=np.float64)
    block = max(1, FAST_BLOCK_ELEMENTS // C)

    if x2.dtype not in (np.float32, np.float64):  # read as float64 in the blocks' ufuncs: a native float
        x2 = x2.astype(np.float64)

    def run(r0: int) -> None:
        r1 = min(R, r0 + block)
        n = r1 - r0
        xb = x2[r0:r1]  # read in the trial dtype; widened exactly to float64 inside the subtraction below
        rr = np.arange(n)
        idx = np.argmax(xb, axis=1)  # NaN wins argmax: a row with NaN, +inf, or only -inf has m non-finite
        m = xb[rr, idx].astype(np.float64)
        bad = ~np.isfinite(m)
        lab = safe[r0:r1]
        buf = np.empty((n, C), dtype=np.float64)
        if bad.any():  # undefined softmax: computed on zeros, then made NaN (as `_log_softmax`)
            idx[bad] = 0
            m[bad] = 0
        with np.errstate(invalid="ignore", over="ignore"):
            np.subtract(xb, m[:, None], out=buf)  # in float64, the block's one widening copy
            if bad.any():
                buf[bad] = 0
            d_lab = buf[rr, lab]
            np.exp(buf, out=buf)
            buf[rr, idx] = 0  # the sum over all but one argmax; exp(0) = 1 enters through log1p
            lse_tail = np.log1p(buf.sum(axis=1))
            logp_lab = d_lab - lse_tail
            inv = np.exp(-lse_tail)
            f = row_factor[r0:r1]
            np.multiply(buf, (f * inv)[:, None], out=grad[r0:r1])
            grad[r0 + rr, idx] = f * inv  # p at the argmax: exp(0) * exp(-lse_tail)
            grad[r0 + rr, lab] = f * np.expm1(logp_lab)  # a p - a = a expm1(log p), no cancellation
            loss[r0:r1] = np.where(kept[r0:r1], -times(sw[r0:r1] * a_lab[r0:r1], logp_lab), 0.0)
            p_label[r0:r1] = np.exp(logp_lab)
            m_all[r0:r1] = m
            absx = np.abs(np.asarray(xb, dtype=np.float64))
            absx[~np.isfinite(absx)] = 0
            px_all[r0:r1] = (np.einsum("ij,ij->i", buf, absx) + np.abs(m)) * inv  # buf: exp(x - m), argmax zeroed
            log_s_all[r0:r1] = np.where(bad, 0.0, lse_tail)  # an undefined row has none (as `compute`)
        undefined = bad & kept[r0:r1]  # an ignored row contributes nothing whatever its logits
        if undefined.any():
            grad[r0:r1][undefined] = np.nan
            loss[r0:r1][undefined] = np.nan

    starts = range(0, R, block)
    workers = min(len(starts), available_cores(), 8)
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:  # numpy releases the GIL inside each block's ufuncs
            list(pool.map(run, starts))
    else:
        for r0 in starts:
            run(r0)

    if red == "none":
        out = loss.reshape(batch_shape)
    else:
        total = loss.sum()
        with np.errstate(invalid="ignore"):
            out = total if red == "sum" else (total / denom if denom != 0 else np.float64(np.nan))
    pt_d = cast(p_label[kept], dtype).astype(np.float64)
    return Reference(
        loss=np.asarray(out, dtype=np.float64),
        grad=np.moveaxis(grad.reshape(*batch_shape, C), -1, axis),
        precision="float64",
        saturated=bool(np.any((pt_d == 1) | (pt_d == 0)) and C > 1),
        rows=n_kept,
        classes=C,
        unreduced=loss,
        scale=float(scale),
        softmax=SoftmaxRows(m=m_all, log_s=log_s_all, factor=np.where(kept, sw * scale, 0.0),
                            weight=a_lab, px=px_all, label=safe, label_coef=a_lab),
    )


def sigmoid_cross_entropy(case: Case, inputs: Inputs, dtype: str) -> Reference:
    """The elementwise sigmoid families (see the module docstring)."""
    x0 = np.asarray(inputs.logits)
    wd = core.working_dtype(x0.size)
    p = case.params
    x = x0.astype(wd)
    z = np.asarray(inputs.labels).astype(wd)
    C = x.shape[-1] if x.ndim else 1
    e = wd(p.label_smoothing)
    zs = (1 - e) * z + e / 2 if e else z
    q = wd(1) if p.pos_weight is None else np.asarray(p.pos_weight, dtype=np.float64).astype(wd)
    a, b = q * zs, 1 - zs
    w = np.ones(C, dtype=wd) if inputs.class_weights is None else inputs.class_weights.astype(wd)
    rows = x.shape[0] if x.ndim else 1
    sw = np.ones(rows, dtype=wd) if inputs.sample_weights is None else inputs.sample_weights.astype(wd)
    weight = w * sw.reshape((-1,) + (1,) * (x.ndim - 1)) if x.ndim else w * sw
    weight = np.broadcast_to(weight, x.shape)
    sp_neg, sp_pos = softplus(-x), softplus(x)
    with np.errstate(invalid="ignore", over="ignore"):
        loss = times(weight, times(a, sp_neg) + times(b, sp_pos))
        sig_pos, sig_neg = np.exp(-sp_neg), np.exp(-sp_pos)  # s(x), s(-x)
        grad = weight * (b * sig_pos - a * sig_neg)
    nan = np.isnan(x)
    loss = np.where(nan, np.nan, loss)
    grad = np.where(nan, np.nan, grad)
    n = x.size
    red = p.reduction
    scale = wd(1)
    if red == "none":
        out = loss
    else:
        total = loss.sum()
        if red == "sum":
            out = total
        else:
            denom = wd(n) if red == "mean" else weight.sum()
            with np.errstate(invalid="ignore", divide="ignore"):
                out = total / denom if denom != 0 else wd(np.nan)
                scale = 1 / denom if denom != 0 else wd(0)
        grad = grad * scale
    prob_d = cast(np.asarray(sig_pos, dtype=np.float64), dtype).astype(np.float64)
    return Reference(
        loss=np.asarray(out, dtype=np.float64),
        grad=np.asarray(grad, dtype=np.float64),
        precision="longdouble" if wd is np.longdouble else "float64",
        saturated=bool(np.any((prob_d == 0) | (prob_d == 1))),
        rows=rows,
        classes=C,
        unreduced=np.asarray(loss, dtype=np.float64),
        scale=float(scale),
    )
