"""The oracle's large-trial path: integer labels without label smoothing, in float64, one pass over the logits.

For trials beyond extended precision's limit (harness/oracle/core.py, EXTENDED_MAX_ELEMENTS) the softmax
families' semantics (harness/oracle/softmax.py) with integer labels and no label smoothing are computed here,
in float64 (`Reference.precision` says so).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from harness.core.settings import available_cores
from harness.oracle.core import (
    Reference,
    SoftmaxRows,
    from_rows,
    kept_labels,
    reduced,
    reduction_scale,
    reference,
    sample_weights,
    saturates,
    times,
)
from harness.schema.model import Case
from harness.trials import Inputs

# float64 elements per block of the large-trial path (2 MiB): large enough that numpy's per-call overhead
# is small (1 MiB blocks were 15% slower on 2 cores, 256 KiB 75%), small enough to stay in cache
FAST_BLOCK_ELEMENTS = 1 << 18


def sparse_softmax_cross_entropy(case: Case, inputs: Inputs, dtype: str, axis: int) -> Reference:
    """The large-trial path of integer labels without label smoothing, in float64: the same semantics as
    `softmax_cross_entropy`, in one pass over the logits in blocks of rows that stay in cache, on a few threads.

    No one-hot targets and no full-size temporaries: per block, the logits shifted by the row maximum
    (found in the trial dtype) are written into a float64 buffer, exponentiated in place and summed
    (all but one argmax, so the tail is kept as in `core.log_softmax`); the gradient row is that buffer times one
    factor per row, p_ic = exp(x_ic - m_i) * exp(-log1p(tail_i)), written straight into the output, and the label's
    element is a_i expm1(log p_i,label) as in `softmax_cross_entropy`. Error: the loss is log1p(tail) - (x_label - m)
    with no cancellation (both terms are >= 0), a few float64 ULPs from the sum; a probability is a
    product of two exponentials, a few ULPs times (1 + log1p(tail)), and never the |log p| ULPs that
    exp(log p) costs for small probabilities.
    """
    p = case.params
    x0 = np.asarray(inputs.logits)
    x = np.moveaxis(x0, axis, -1)
    batch_shape, C = x.shape[:-1], x.shape[-1]
    x2 = x.reshape(-1, C)
    R = x2.shape[0]
    kept, safe = kept_labels(inputs, R, p.ignore_index)
    cw = None if inputs.class_weights is None else inputs.class_weights.astype(np.float64)
    a_lab = np.ones(R) if cw is None else cw[safe]
    sw = sample_weights(inputs, R, np.float64)

    # the reduction's factor is known before any logit is read: apply it to each row once
    red = p.reduction
    n_kept = int(kept.sum())
    denom, scale = reduction_scale(red, n_kept, lambda: (sw * np.where(kept, a_lab, 0)).sum(), np.float64)
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
        if bad.any():  # undefined softmax: computed on zeros, then made NaN (as `core.log_softmax`)
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
            log_s_all[r0:r1] = np.where(bad, 0.0, lse_tail)  # an undefined row has none (as `softmax_cross_entropy`)
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

    out = reduced(loss, red, denom, np.float64)
    if red == "none":
        out = out.reshape(batch_shape)
    return reference(
        out, from_rows(grad, batch_shape, C, axis, x0.ndim), np.float64,
        saturated=saturates(p_label[kept], dtype) and C > 1,
        rows=n_kept, classes=C, unreduced=loss, scale=scale,
        softmax=SoftmaxRows(m=m_all, log_s=log_s_all, factor=np.where(kept, sw * scale, 0.0),
                            weight=a_lab, px=px_all, label=safe, label_coef=a_lab),
    )
