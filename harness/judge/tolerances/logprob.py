"""The error model of the families on log-probabilities: nll_loss and kl_divergence.

Notation and policy in harness/judge/tolerances/policy.py; q the log-probabilities as given, f the row's
sample weight times the reduction's factor. Both losses are linear in q, so their gradients hold no
arithmetic on q at all: only the weight, the factor and the rounding that every gradient entry is charged
(3 u |g|), plus what a weighted mean's denominator brings.

nll_loss (l = -w_y q_y):
    loss       u |w_y q_y|                             the product with the class weight, rounded
    grad       (nothing beyond the policy's 3 u |g|)
    weighted_mean: the denominator sum_i w_{y_i} is a sum of R non-negative terms, off by v_R relatively,
    which every output and every gradient entry inherits: v_R |l_i| per row, v_R |g| per entry.

kl_divergence (l = s sum_c t_c (log t_c - q_c), per row):
    loss       |s| sum_c t_c u |log t_c|               log t rounded (targets given as probabilities), or
               |s| sum_c t_c u |r_c - q_c|             t = exp(r) rounded (log-targets r)
               |s| sum_c t_c 2 u |log t_c - q_c|       the difference and the product with t, rounded
               |s| sum_c t_c 2 u                       an implementation from Q = exp(q), as log(t / Q): the
                                                       exp and the division enter the log as absolute errors
               |s| v_C sum_c t_c |log t_c - q_c|       the sum over the classes
    grad       |f t_c| (u [log-targets] + 2 u)         t = exp(r) rounded; through Q = exp(q) (t / Q times Q)
    floor      tiny (1 + |f| t_c)
    weighted_mean (by sum_i s_i): v_R as for nll_loss.
A term with t_c = 0 is 0: every correct implementation drops it.
"""

from __future__ import annotations

import numpy as np

from harness.judge.tolerances.layout import by_rows, floor_by_rows, moved
from harness.judge.tolerances.policy import v_sum
from harness.oracle import Reference
from harness.oracle.core import class_weights, kept_labels, sample_weights
from harness.schema.model import Case
from harness.trials import Inputs


def nll_model(case: Case, ref: Reference, inputs: Inputs, u: float, acc: float, tiny: float):
    p = case.params
    q, _, C = moved(np.asarray(inputs.logits, dtype=np.float64), p.axis)
    R = q.shape[0]
    kept, safe = kept_labels(inputs, R, p.ignore_index)
    w = np.where(kept, np.abs(class_weights(inputs, C, np.float64)[safe]), 0.0)
    with np.errstate(invalid="ignore"):
        wq = np.where(w == 0, 0.0, w * np.abs(q[np.arange(R), safe] if C else np.zeros(R)))
    vR = v_sum(acc, R) if p.reduction == "weighted_mean" else 0.0
    row = {"weight times log-probability, rounded": u * wq, "weighted mean's denominator": vR * wq if vR else 0 * w}
    f = np.where(kept, abs(ref.scale), 0.0)
    g = np.zeros((R, C))
    if C:
        g[np.arange(R), safe] = vR * f * w
    fn = by_rows(lambda r0, r1: {"weighted mean's denominator": g[r0:r1]}, np.shape(inputs.logits), p.axis, C)
    fl = floor_by_rows(lambda r0, r1: np.full((r1 - r0, C), tiny), np.shape(inputs.logits), p.axis, C)
    return row, fn, fl


def kl_model(case: Case, ref: Reference, inputs: Inputs, u: float, acc: float, tiny: float):
    p = case.params
    q, _, C = moved(np.asarray(inputs.logits, dtype=np.float64), p.axis)
    given, _, _ = moved(np.asarray(inputs.labels, dtype=np.float64), p.axis)
    R = q.shape[0]
    sw = np.abs(sample_weights(inputs, R, np.float64))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        t, log_t = (np.exp(given), given) if p.log_target else (given, np.log(given))
        on = t != 0
        d = np.where(on, np.abs(log_t - q), 0.0)
        first = ("exp of the log-target", u * d) if p.log_target else ("log t", u * np.abs(np.where(on, log_t, 0.0)))
        terms = {first[0]: first[1], "difference and product": 2 * u * d, "through Q = exp(q)": 2 * u * on,
                 "sum over classes": v_sum(acc, C) * d}
        row = {k: sw * np.where(on, t * v, 0.0).sum(-1) for k, v in terms.items()}
        vR = v_sum(acc, R) if p.reduction == "weighted_mean" else 0.0
        total = sw * np.where(on, t * d, 0.0).sum(-1)
        row["weighted mean's denominator"] = vR * total
        ft = (sw * abs(ref.scale))[:, None] * t
        g = {"t = exp(r) and through Q = exp(q)": ((u if p.log_target else 0.0) + 2 * u + vR) * ft}
    floor = tiny * (1 + np.nan_to_num(ft, nan=0.0))
    fn = by_rows(lambda r0, r1: {k: v[r0:r1] for k, v in g.items()}, np.shape(inputs.logits), p.axis, C)
    fl = floor_by_rows(lambda r0, r1: floor[r0:r1], np.shape(inputs.logits), p.axis, C)
    return row, fn, fl
