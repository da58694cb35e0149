"""The building blocks' error model: log_softmax, softmax and logsumexp outputs and their vector-Jacobian products.

Notation and policy in harness/judge/tolerances/policy.py (d, log S, dlogS as in the softmax model,
harness/judge/tolerances/softmax.py). Building blocks (reduction none; G the cotangent):

    log_softmax  y = x - m - log S:    u d + dlogS + u |y|;    grad G - p sum G:  u |G| + |sum G| dp + v_C p sum |G|
    softmax      y = p:                dp = p (u (1 + d) + dlogS + u);    grad p (G - sum_c G_c p_c): its terms' errors
    logsumexp    y = m + log S:        dlogS + u |y|;           grad G p:  |G| dp
"""

from __future__ import annotations

import numpy as np

from harness.judge.tolerances.layout import by_rows, floor_by_rows, moved
from harness.judge.tolerances.policy import dlogs, v_sum
from harness.judge.tolerances.softmax import softmax_rows
from harness.oracle import Reference
from harness.schema.model import Case
from harness.trials import Inputs


def block_model(case: Case, ref: Reference, inputs: Inputs, u: float, acc: float, tiny: float):
    fam = case.family
    axis = case.params.axis
    x, _, C = moved(np.asarray(inputs.logits, dtype=np.float64), axis)
    R = x.shape[0]
    dls = dlogs(u, acc, C)
    vC = v_sum(acc, C)
    m, log_s, d, p = softmax_rows(x)
    with np.errstate(invalid="ignore", over="ignore"):
        dp = p * (u * (1 + d) + dls + u)
        if fam == "logsumexp":
            G = np.broadcast_to(np.abs(np.asarray(inputs.labels, dtype=np.float64)).reshape(R, 1), (R, C))
            out = {"log S": np.full(R, dls)}
            g = {"G p": G * dp}
            floor = tiny * (1 + G)
        else:
            Graw, _, _ = moved(np.asarray(inputs.labels, dtype=np.float64), axis)
            G = np.abs(Graw)
            if fam == "log_softmax":
                SG = np.abs(Graw.sum(-1, keepdims=True))
                out = {"x - max": np.where(np.isfinite(d), u * d, 0.0), "log S": np.full((R, C), dls)}
                g = {"G": u * G, "p sum G": SG * dp + p * vC * G.sum(-1, keepdims=True)}
                floor = tiny * (1 + np.broadcast_to(SG, (R, C)))
            else:
                out = {"p": dp}
                sig = (Graw * p).sum(-1, keepdims=True)
                e_sig = (G * dp).sum(-1, keepdims=True) + vC * (G * p).sum(-1, keepdims=True)
                g = {"p": np.abs(Graw - sig) * dp, "sum G p": p * e_sig, "rounding": u * p * (G + np.abs(sig))}
                floor = tiny * (1 + G + np.abs(sig))
    if fam != "logsumexp":
        shape = np.shape(inputs.logits)
        ofn = by_rows(lambda r0, r1: out, shape, axis, C)
        n = int(np.prod(shape))
        out = {k: v[:n].reshape(np.shape(ref.loss)) for k, v in ofn(0, n).items()}
    fn = by_rows(lambda r0, r1: {k: v[r0:r1] for k, v in g.items()}, np.shape(inputs.logits), axis, C)
    floor = np.asarray(floor)
    fl = floor_by_rows(lambda r0, r1: floor[r0:r1], np.shape(inputs.logits), axis, C)
    return out, fn, fl
