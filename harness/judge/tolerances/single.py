"""The error model of the losses only one framework ships: poly-1 cross-entropy (logits), generalized cross-entropy (probabilities).

Notation and policy in harness/judge/tolerances/policy.py; the softmax row quantities (d_c = m - x_c, log S,
L_c = -log p_c, dlogS, dp_c = p_c (u (1 + d_c) + dlogS + u), the error of p_c) as in
harness/judge/tolerances/softmax.py and categorical.py. T = sum_c t_c, S = sum_c t_c p_c, eps the option epsilon.

Poly-1 (l = s (-sum t log p + eps sum t (1 - p))):

    loss       |s| [ sum_c |t_c| (u (d_c + L_c) + dlogS + v_C L_c)   the cross-entropy's log p_c and its sum
                   + |eps| sum_c |t_c| (dp_c + u) (1 + v_C)          1 - p_c formed by a subtraction, summed
                   + u |eps| sum_c |t_c| (1 - p_c) ]                 times eps, rounded; and the final addition
    grad       |f| [ T dp_j + u (T p_j + |t_j|)                      the cross-entropy's p - t
                   + |eps| (dp_j (|t_j| + S) + p_j (sum_c |t_c| dp_c + (u + v_C) (|t_j| + S))) ]
                                                                     eps p_j (t_j - S): the softmax's VJP of -eps t
               floor tiny (1 + |f| (T + |eps| (|t_j| + S)))

Generalized cross-entropy (l = s (1 - P_y^q) / q, Keras: pow, a subtraction, a division):

    loss       |s| / q [ u P_y^q (2 + |q log P_y|)                   the power (exp of q log P_y) and its argument
                       + u (1 - P_y^q) ] + u |l|                     the subtraction; the division
    grad       |f| P_y^(q - 1) u (4 + |(q - 1) log P_y|)             the power's derivative q P^(q-1), divided by q
               floor tiny (1 + |f|)
"""

from __future__ import annotations

import numpy as np

from harness.judge.tolerances.layout import by_rows, floor_by_rows, moved
from harness.judge.tolerances.policy import dlogs, v_sum
from harness.judge.tolerances.softmax import softmax_rows
from harness.oracle import Reference
from harness.oracle.core import sample_weights
from harness.schema.model import Case
from harness.trials import Inputs


def poly1_model(case: Case, ref: Reference, inputs: Inputs, u: float, acc: float, tiny: float):
    p = case.params
    x, _, C = moved(np.asarray(inputs.logits, dtype=np.float64), p.axis)
    t, _, _ = moved(np.asarray(inputs.labels, dtype=np.float64), p.axis)
    t = np.abs(t)
    R = x.shape[0]
    sw = np.abs(sample_weights(inputs, R, np.float64))
    e = abs(float(p.epsilon))
    vC = v_sum(acc, C)
    dls = dlogs(u, acc, C)
    m, log_s, d, prob = softmax_rows(x)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        L = d + log_s[:, None]
        dp = np.where(prob > 0, prob * (u * (1 + d) + dls + u), 0.0)  # a masked class: p = 0 exactly
        row = {"log p": sw * np.where(t == 0, 0, t * (u * (d + L) + dls + vC * L)).sum(-1),
               "eps (1 - p)": sw * e * np.where(t == 0, 0, t * ((dp + u) * (1 + vC) + u * (1 - prob))).sum(-1)}
        f = sw * abs(ref.scale)
        T = t.sum(-1, keepdims=True)
        S = (t * prob).sum(-1, keepdims=True)
        tdp = np.where(t == 0, 0, t * dp).sum(-1, keepdims=True)
        g = {"p T - t": f[:, None] * (T * dp + u * (T * prob + t)),
             "eps p (t - S)": f[:, None] * e * (dp * (t + S) + prob * (tdp + (u + vC) * (t + S)))}
    floor = tiny * (1 + f[:, None] * (T + e * (t + S)))
    fn = by_rows(lambda r0, r1: {k: v[r0:r1] for k, v in g.items()}, np.shape(inputs.logits), p.axis, C)
    fl = floor_by_rows(lambda r0, r1: floor[r0:r1], np.shape(inputs.logits), p.axis, C)
    return row, fn, fl


def generalized_model(case: Case, ref: Reference, inputs: Inputs, u: float, acc: float, tiny: float):
    p = case.params
    P, _, C = moved(np.asarray(inputs.logits, dtype=np.float64), p.axis)
    R = P.shape[0]
    y = np.asarray(inputs.labels, dtype=np.int64).reshape(-1)
    sw = np.abs(sample_weights(inputs, R, np.float64))
    q = float(p.q)
    rr = np.arange(R)
    Py = P[rr, y] if R and C else np.zeros(R)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        lp = np.abs(np.log(Py))
        pq = Py ** q
        loss = (1 - pq) / q
        row = {"P^q": sw / q * u * pq * (2 + q * lp), "1 - P^q, / q": sw * u * (loss + (1 - pq) / q)}
        f = sw * abs(ref.scale)
        gy = np.zeros((R, C))
        if R and C:
            gy[rr, y] = f * Py ** (q - 1) * u * (4 + (1 - q) * lp)
    floor = np.broadcast_to((tiny * (1 + f))[:, None], (R, C))
    fn = by_rows(lambda r0, r1: {"P^(q - 1)": gy[r0:r1]}, np.shape(inputs.logits), p.axis, C)
    fl = floor_by_rows(lambda r0, r1: floor[r0:r1], np.shape(inputs.logits), p.axis, C)
    return row, fn, fl
