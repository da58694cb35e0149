"""The sparsemax losses' error model: binary (sparse_plus of a signed score) and multi-class (projection onto the simplex).

Notation and policy in harness/judge/tolerances/policy.py; the semantics in harness/oracle/sparsemax.py. Weights,
the reduction's factor and the output's rounding are the policy's. Per element:

binary_sparsemax: v = (1 - 2 z) x is exact (a negation), and so is every branch test on it; the pieces meet with
equal values and slopes, so no rounding moves a result across a jump. Only the middle piece rounds:

    loss   |w| 3 u (v + 1)^2 / 4     where |v| < 1           v + 1 rounded (twice through the square), the square
    grad   |w f| 2 u (v + 1) / 2     where |v| < 1           v + 1 rounded, times 1/2 (or 2 / 4)
    (0 and v outside: exact)

multiclass_sparsemax, per row (W_i = s_i w_y, F = |W_i| f): M the row's largest score, d_j = x_j - M, k the
support's size, A = sum over it of |d_j| (each at most 1: the support lies within 1 of the max). A correct
implementation is shift invariant: it projects the scores less their max, so its errors are those of the
differences, whatever the scores' magnitude (one that projects x itself, as optax does, loses u |x| in p):

    tau    dtau = (v_k A + u (A + 1)) / k                    the support's sum, minus 1, over k
    p_j    dp_j = dtau + u (2 |d_j| + 2 |tau - M| + 1)       d_j rounded, minus tau - M, each rounded; for every
                                                             j within dp_j of the support ("live"): an entry that
                                                             close may be counted in it or not, which moves tau and
                                                             p by no more (p is continuous there)
    loss   sum_live (dp_j |x_j - x_y| + 2 u p_j |x_j - x_y|) + v_C sum p_j |x_j - x_y|     <p, x - x_y>
           + sum_live (2 p_j dp_j + u p_j^2) + v_C |p|^2 + u |1 - |p|^2|                   (1 - |p|^2) / 2
           + u |l|                                                                         the sum of the two
    grad   F (dp_j + u |p_j - [j = y]|)                      p - e_y
           at x_y's entry also F (sum of the live entries' dp_j + v_C): 1 - p_y formed as a sum
    floor  tiny (1 + F)
"""

from __future__ import annotations

import numpy as np

from harness.judge.tolerances.layout import by_rows, floor_by_rows, full, moved
from harness.judge.tolerances.policy import v_sum
from harness.oracle import Reference
from harness.oracle.core import class_weights, elementwise_weights, sample_weights
from harness.oracle.sparsemax import sparsemax_rows
from harness.schema.model import Case
from harness.trials import Inputs


def binary_sparsemax_model(case: Case, ref: Reference, inputs: Inputs, u: float, acc: float, tiny: float):
    x = np.asarray(inputs.logits, dtype=np.float64)
    z = np.asarray(inputs.labels, dtype=np.float64)
    w0 = np.abs(elementwise_weights(inputs, x.shape, np.float64))
    wf = w0 * abs(ref.scale)
    with np.errstate(invalid="ignore", over="ignore"):
        v = (1 - 2 * z) * x
        mid = np.abs(v) < 1
        row_terms = {"(v + 1)^2 / 4": np.where(mid, w0 * 3 * u * (v + 1) ** 2 / 4, 0.0)}
        g = {"(v + 1) / 2": np.where(mid, wf * u * (v + 1), 0.0)}
    return row_terms, *full(g, tiny * (1 + wf))


def multiclass_sparsemax_model(case: Case, ref: Reference, inputs: Inputs, u: float, acc: float, tiny: float):
    par = case.params
    x, _, C = moved(np.asarray(inputs.logits, dtype=np.float64), par.axis)
    R = x.shape[0]
    y = np.asarray(inputs.labels, dtype=np.int64).reshape(-1)
    W = np.abs(sample_weights(inputs, R, np.float64) * class_weights(inputs, C, np.float64)[y])
    onehot = np.zeros((R, C), dtype=bool)
    onehot[np.arange(R), y] = True
    p, tau, bad = sparsemax_rows(x)
    fin = lambda a: np.where(np.isfinite(a), np.abs(a), 0.0)  # noqa: E731
    with np.errstate(invalid="ignore", over="ignore"):
        M = np.max(np.where(np.isfinite(x), x, -np.inf), axis=-1, initial=-np.inf)[:, None]
        d = fin(x - M)
        supp = p > 0
        k = np.maximum(supp.sum(-1), 1)
        A = np.where(supp, d, 0.0).sum(-1)
        vk = np.array([v_sum(acc, int(n)) for n in k])
        dtau = (vk * A + u * (A + 1)) / k
        dp = dtau[:, None] + u * (2 * d + 2 * fin(tau[:, None] - M) + 1)
        live = np.isfinite(x) & (x >= tau[:, None] - dp)
        dp = np.where(live, dp, 0.0)
        xy = x[np.arange(R), y][:, None] if C else np.zeros((R, 1))
        dxy = fin(x - xy)
        vC = v_sum(acc, C)
        pd = np.where(live, p * dxy, 0.0)
        pp = (p * p).sum(-1)
        loss = np.where(bad, 0.0, fin(ref.unreduced).reshape(-1) / np.where(W > 0, W, 1.0))
        row = {"<p, x - x_y>": W * ((dp * dxy + 2 * u * pd).sum(-1) + vC * pd.sum(-1)),
               "(1 - |p|^2) / 2": W * ((2 * p * dp + u * p * p).sum(-1) + vC * pp + u * np.abs(1 - pp)),
               "the sum": W * u * loss}
        F = (W * abs(ref.scale))[:, None]
        at_y = np.where(onehot, dp.sum(-1, keepdims=True) + vC, 0.0)
        g = {"p - e_y": F * (dp + u * np.abs(p - onehot)), "1 - p_y": F * at_y}
        g = {key: np.where(bad[:, None], 0.0, a) for key, a in g.items()}
        row = {key: np.where(bad, 0.0, a) for key, a in row.items()}
    floor = np.broadcast_to(tiny * (1 + F), (R, C))
    shape = np.shape(inputs.logits)
    fn = by_rows(lambda r0, r1: {key: a[r0:r1] for key, a in g.items()}, shape, par.axis, C)
    fl = floor_by_rows(lambda r0, r1: floor[r0:r1], shape, par.axis, C)
    return row, fn, fl
