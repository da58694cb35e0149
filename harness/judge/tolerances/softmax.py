"""The softmax families' error model: each row's loss and each gradient entry's allowance, from the row's own logits.

Notation and policy in harness/judge/tolerances/policy.py. Softmax families (per row i, class axis last;
m the row's largest logit, d_c = |x_c - m|, log S = log sum_c exp(x_c - m), L_c = -log p_c = d_c + log S,
a_c the target coefficients w_c t'_c, A = sum_c a_c, s the sample weight, f = s times the reduction's
1/denominator):

    log S      the normaliser: each exp rounded (u S), the sum (v_C S), the log (u log S <= u log C):
               dlogS = u (1 + log C) + v_C, an absolute error, entering every log p_c of the row
    loss_i     |s| [ A dlogS                          the normaliser
                   + sum_c |a_c| u d_c                the shift x_c - m, rounded
                   + sum_c |a_c| (u + v_C) L_c        the subtraction log S - (x_c - m), and the sum over c
                   + u sum_c |A p_c - a_c| |x_c|      the inputs' last bit: the loss's sensitivity to each
                                                      logit times its rounding
                   + A min(u |m + log S|, log S) ]    the log-sum-exp at the scale of the row's own max: an
                                                      implementation may form logsumexp(x) = m + log S in the
                                                      dtype and subtract the target logits from it, as optax's
                                                      integer-label path does (one that subtracts the max
                                                      first does not). Rounding m + log S costs u |m + log S|,
                                                      and never more than log S: it rounds to no less than m,
                                                      and only a log S of at least half an ULP of m can move
                                                      it by one. The row's own max, never the trial's
    grad_ic    dl/dx_ic = f (A p_c - a_c), with p_c = exp(-(d_c + log S)):
               |f| A p_c (u (1 + d_c) + dlogS + u)  the error of p_c itself: relative, and large only
                                                    where the exponent is (p d <= 1/e), never the
                                                    largest entry of the trial
               + |f| u (A p_c + |a_c|)              the subtraction's operands
               floor tiny (1 + |f A|)
"""

from __future__ import annotations

import numpy as np

from harness.judge.tolerances.layout import by_rows, floor_by_rows, moved
from harness.judge.tolerances.policy import Terms, dlogs, v_sum
from harness.oracle import Reference
from harness.oracle.core import sample_weights
from harness.schema.model import Case
from harness.trials import Inputs


def softmax_model(case: Case, ref: Reference, inputs: Inputs, u: float, acc: float, tiny: float):
    """(row terms of the loss, gradient terms by flat block, gradient floor by flat block) of a softmax trial,
    from the row quantities the oracle recorded (Reference.softmax)."""
    st = ref.softmax
    axis = case.params.axis
    x2, _, C = moved(inputs.logits, axis)
    vC = v_sum(acc, C)
    dls = dlogs(u, acc, C)
    R = x2.shape[0]
    f = np.abs(st.factor)
    A = np.abs(st.weight)
    sw = np.abs(sample_weights(inputs, R, np.float64))

    # the loss, per row
    with np.errstate(invalid="ignore", over="ignore"):
        if st.coef is None:  # integer labels without smoothing: only the label's term
            rr = np.arange(R)
            x_t = x2[rr, st.label].astype(np.float64) if R and C else np.zeros(R)
            d_t = np.abs(x_t - st.m)
            L_t = d_t + st.log_s
            a_t = np.abs(st.label_coef)
            shift = np.where(a_t == 0, 0, a_t * u * d_t)
            sub = np.where(a_t == 0, 0, a_t * (u + vC) * L_t)
            p_t = np.exp(-L_t)
            ax_t = np.where(np.isfinite(x_t), np.abs(x_t), 0.0)
            cond = a_t * u * np.maximum(ax_t * (1 - 2 * p_t) + st.px, 0.0)
            at_max = a_t * np.minimum(u * np.abs(st.m + st.log_s), st.log_s)
        else:
            xf = x2.astype(np.float64)
            d = np.abs(xf - st.m[:, None])
            L = d + st.log_s[:, None]
            a = np.abs(st.coef)
            shift = np.where(a == 0, 0, a * u * d).sum(-1)
            sub = np.where(a == 0, 0, a * (u + vC) * L).sum(-1)
            pr = np.exp(-L)
            ax = np.where(np.isfinite(xf), np.abs(xf), 0.0)
            cond = u * (np.abs(A[:, None] * np.where(np.isfinite(pr), pr, 0.0) - a) * ax).sum(-1)
            at_max = A * np.minimum(u * np.abs(st.m + st.log_s), st.log_s)
    w_row = sw
    if case.params.ignore_index is not None and st.label is not None:  # an ignored row contributes nothing
        w_row = np.where(np.asarray(inputs.labels).reshape(-1) == case.params.ignore_index, 0.0, sw)
    row_terms = {"log S": w_row * A * dls, "x - max": w_row * shift, "log S - (x - max)": w_row * sub,
                 "inputs' last bit": w_row * cond, "log-sum-exp at the max's scale": w_row * at_max}

    def grad_rows(r0: int, r1: int) -> Terms:
        xb = np.asarray(x2[r0:r1], dtype=np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            d = np.abs(xb - st.m[r0:r1, None])
            p = np.exp(-(d + st.log_s[r0:r1, None]))
            if st.coef is None:
                a = np.zeros_like(xb)
                n = r1 - r0
                a[np.arange(n), st.label[r0:r1]] = np.abs(st.label_coef[r0:r1])
            else:
                a = np.abs(st.coef[r0:r1])
            fr, Ar = f[r0:r1, None], A[r0:r1, None]
            pd = np.where(p > 0, p * d, 0.0)
            return {
                "p (x - max)": fr * Ar * u * pd,
                "p log S": fr * Ar * p * (u + dls + u),
                "A p - a": fr * u * (Ar * p + a),
            }

    def floor_rows(r0: int, r1: int) -> np.ndarray:
        n = r1 - r0
        return np.broadcast_to((tiny * (1 + f[r0:r1] * A[r0:r1]))[:, None], (n, C))

    shape = np.shape(inputs.logits)
    return row_terms, by_rows(grad_rows, shape, axis, C), floor_by_rows(floor_rows, shape, axis, C)


def softmax_rows(x: np.ndarray):
    """(m, log S, d, p) of an R x C float64 array, the tail kept (a row with no finite logit: log S 0): the
    row quantities of the models that have no Reference.softmax (the focal and building-block families)."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        xs = np.where(np.isfinite(x), x, -np.inf)
        m = np.max(xs, axis=-1) if x.shape[-1] else np.zeros(x.shape[0])
        m = np.where(np.isfinite(m), m, 0.0)
        d = np.abs(x - m[:, None])
        ex = np.exp(-d)
        log_s = np.log(np.where(np.isfinite(x), ex, 0).sum(-1))
        log_s = np.where(np.isfinite(log_s), log_s, 0.0)
        p = np.exp(-(d + log_s[:, None]))
        p = np.where(np.isfinite(p), p, 0.0)
    return m, log_s, d, p
