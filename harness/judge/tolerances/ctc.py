"""The CTC error model: each item's loss and each gradient entry's allowance, from the item's own frames and posteriors.

Notation and policy in harness/judge/tolerances/policy.py; the semantics in harness/oracle/ctc.py. Per item b
(frames t < T_b, S' = 2 L_b + 1 states of the extended label), per frame t: m_t the frame's largest logit,
d_tk = |x_tk - m_t|, log S_t its normaliser, L_tk = -log y_tk = d_tk + log S_t, gamma_tk the occupancy (the
posterior probability that an alignment emits k at t; sum_k gamma_tk = 1), f_b the item's factor (the
reduction's 1/B, and 1/max(L_b, 1) for label_length_mean).

    log y_tk   e_tk = dlogS + u d_tk + u L_tk            the frame's log_softmax in the dtype: the normaliser
                                                         (dlogS = u (1 + log C) + v_C), the shift, the subtraction
    emissions  sum_t sum_k gamma_tk (e_tk + u |x_tk|)   to first order an error delta_tk in log y_tk moves the
                                                         loss by -sum gamma_tk delta_tk: the posterior weighs each
                                                         frame's error, and the inputs' last bit (u |x_tk|) the same
    recursion  T_b u (3 + |l_b| + log S')               each of the T_b steps of the forward recursion rounds
                                                         alpha_t(s) = log y + lse(up to 3 terms): the lse's exp, sum
                                                         and log (3 u), and the addition u |alpha_t(s)|. Weighted by
                                                         the posteriors, sum_s post_t(s) |alpha_t(s)| <= |l_b| +
                                                         sum_s post |log post| <= |l_b| + log S' (alpha_t(s) >=
                                                         log Z + log post_t(s), as beta <= 0; the entropy <= log S')
    loss_b     |f_b| (emissions + recursion)             (an infinite or NaN loss allows nothing: judged as such)

    grad_btk   dl/dx_tk = f_b (y_tk - gamma_tk):
               |f_b| y_tk (e_tk + u)                     y = exp(log y): the error of log y, relative, and the exp
               + |f_b| gamma_tk (2 E_b + v_S')           gamma = exp(alpha + beta - log Z): the forward part, the
                                                         backward part and log Z each carry at most the item's loss
                                                         error E_b (emissions + recursion), summed over the states
                                                         of class k (v_S')
               + |f_b| y_tk (2 E_b + v_C)                the log_softmax's backward pass: a path that differentiates
                                                         through log_softmax (PyTorch's, the frameworks' autodiff)
                                                         forms g_x = g_lp - y sum_j g_lp,j, and the frame's sum of
                                                         the occupancies (1 exactly) carries their errors, 2 E_b
               + |f_b| u (y_tk + gamma_tk)               the subtraction's operands
               floor tiny (1 + |f_b|)

Frames t >= T_b do not enter: their gradient is exactly 0 and allowed only the floor.
"""

from __future__ import annotations

import math

import numpy as np

from harness.judge.tolerances.layout import full
from harness.judge.tolerances.policy import dlogs, v_sum
from harness.oracle import Reference
from harness.oracle.core import log_softmax
from harness.oracle.ctc import forward_backward, lengths
from harness.schema.model import Case
from harness.trials import Inputs


def ctc_model(case: Case, ref: Reference, inputs: Inputs, u: float, acc: float, tiny: float):
    """(item terms of the loss, gradient terms by flat block, gradient floor by flat block) of a CTC trial."""
    p = case.params
    x = np.asarray(inputs.logits, dtype=np.float64)
    labels = np.asarray(inputs.labels, dtype=np.int64)
    B, T, C = x.shape
    L, Tb = lengths(case, labels)
    dls = dlogs(u, acc, C)
    # the item factors f_b: the gradient's scaling of y - gamma
    per_item = 1.0 / np.maximum(L, 1) if p.reduction == "label_length_mean" else np.ones(B)
    f = np.abs(per_item * ref.scale)
    item_loss = np.abs(np.asarray(ref.unreduced, dtype=np.float64)) / per_item
    emissions, recursion = np.zeros(B), np.zeros(B)
    y_err, gam_err, back, sub = (np.zeros((B, T, C)) for _ in range(4))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        for b in range(B):
            t_b = int(Tb[b])
            logp, y, bad = log_softmax(x[b, :t_b])
            if bad.any() or not np.isfinite(item_loss[b]):
                continue
            _, gam = forward_backward(logp, labels[b, : L[b]], p.blank)
            fin = np.where(np.isfinite(x[b, :t_b]), x[b, :t_b], 0.0)
            d = np.abs(fin - fin.max(-1, keepdims=True))
            e = dls + u * d + u * np.where(np.isfinite(logp), -logp, 0.0)
            emissions[b] = np.sum(np.where(gam > 0, gam * (e + u * np.abs(fin)), 0.0))
            S = 2 * int(L[b]) + 1
            recursion[b] = t_b * u * (3 + item_loss[b] + math.log(S))
            E = emissions[b] + recursion[b]
            y_err[b, :t_b] = f[b] * y * (e + u)
            gam_err[b, :t_b] = f[b] * gam * (2 * E + v_sum(acc, S))
            back[b, :t_b] = f[b] * y * (2 * E + v_sum(acc, C))
            sub[b, :t_b] = f[b] * u * (y + gam)
    row_terms = {"emissions (log_softmax per frame, by occupancy)": per_item * emissions,
                 "forward recursion": per_item * recursion}
    g = {"softmax y": y_err, "occupancy gamma": gam_err, "log_softmax backward": back, "y - gamma": sub}
    floor = np.broadcast_to((tiny * (1 + f))[:, None, None], (B, T, C))
    return row_terms, *full(g, floor)
