"""The multi-class hinge families' error model: Weston-Watkins, Crammer-Singer, Keras' categorical hinge.

Notation and policy in harness/judge/tolerances/policy.py; the semantics in harness/oracle/multiclass_hinge.py.
Every quantity is a sum of a few scores and the margin m, so its error is what forming it costs: m rounded to
the dtype (u |m|), and each addition u times the magnitude of its operands. F is an entry's gradient factor
(|W_i| scale / C for Weston-Watkins, |W_i| scale for Crammer-Singer, |s_i| scale for Keras).

    margin z_j = m - x_y + x_j             dz_j = u (|m| + 2 (|m| + |x_y| + |x_j|))      (Weston-Watkins)
    piece v_j = x_j + m [j != y]           dv_j = u (|m| + 2 (|m| + |x_j|))              (Crammer-Singer; optax
                                           forms x_y's piece as x_y + 1 - 1); the multi-class perceptron's
                                           pieces are the scores: dv_j = 0, a near tie is a tie
    h = neg - pos + m                      dh = dpos + u (|m| + 2 (|neg| + |pos| + |m|)), dpos = u (T - 1) sum_c |t_c x_c|
                                           (Keras; the sum pos is exact for one-hot labels, neg is a max of exact values)

    loss   Weston-Watkins  |W|/C sum_j [z_j > -dz_j] ((z_j+ + dz_j)^p - (z_j+)^p + u (z_j+)^p)   hinge terms
                           + |W|/C (v_C + 2 u) sum_j (z_j+)^p                                     sum, w_y / C
           Crammer-Singer  |W| (max of dv_j over the pieces near the max + u (|max| + |x_y|))
           Keras           |s| [h > -dh] (dh + u |h|)
    grad   p = 2: 2 F (dz_j + u z_j+) where z_j > -dz_j; x_y's entry the sum of its row's, + v_C |g_y|
           "kink within rounding": where the exact quantity is within its rounding of a kink but not at it, a
           framework computing it in the dtype may land on either side, so the entry may take either one-sided
           derivative: F at such an entry (p = 1: each z_j with 0 < |z_j| <= dz_j, and x_y's entry F per such
           j; Crammer-Singer: each piece within dv_j + dv_max of the max while another is, and x_y's entry when
           its own zero piece is; Keras: every entry whose derivative carries mu, where 0 < |h| <= dh).
           At the kink itself the subdifferential (harness/judge/kinks.py) holds every choice.
    floor  tiny (1 + F)
"""

from __future__ import annotations

import numpy as np

from harness.judge.tolerances.layout import by_rows, floor_by_rows, moved
from harness.judge.tolerances.policy import v_sum
from harness.oracle import Reference
from harness.oracle.core import class_weights, sample_weights
from harness.schema.model import Case
from harness.trials import Inputs


def multiclass_hinge_model(case: Case, ref: Reference, inputs: Inputs, u: float, acc: float, tiny: float):
    p = case.params
    x, _, C = moved(np.asarray(inputs.logits, dtype=np.float64), p.axis)
    R = x.shape[0]
    m = abs(p.margin)
    s = np.abs(sample_weights(inputs, R, np.float64))
    with np.errstate(invalid="ignore", over="ignore"):
        if case.family == "categorical_hinge":
            row, g = _keras(case, inputs, x, s, m, u, abs(ref.scale))
            F = s * abs(ref.scale)
        else:
            y = np.asarray(inputs.labels, dtype=np.int64).reshape(-1)
            W = s * np.abs(class_weights(inputs, C, np.float64))[y]
            onehot = np.zeros((R, C), dtype=bool)
            onehot[np.arange(R), y] = True
            xy = x[np.arange(R), y][:, None]
            ax = np.where(np.isfinite(x), np.abs(x), 0.0)
            if case.family == "weston_watkins_hinge":
                row, g = _weston_watkins(p.p, x, xy, ax, onehot, W, m, u, acc, C, abs(ref.scale))
                F = W * abs(ref.scale) / C
            else:
                exact = case.family == "multiclass_perceptron"  # the pieces are the scores themselves
                row, g = _crammer_singer(x, xy, ax, onehot, W, 0.0 if exact else m, u, abs(ref.scale), exact)
                F = W * abs(ref.scale)
    floor = np.broadcast_to((tiny * (1 + F))[:, None], (R, C))
    shape = np.shape(inputs.logits)
    fn = by_rows(lambda r0, r1: {k: v[r0:r1] for k, v in g.items()}, shape, p.axis, C)
    fl = floor_by_rows(lambda r0, r1: floor[r0:r1], shape, p.axis, C)
    return row, fn, fl


def _label_sum(v: np.ndarray, onehot: np.ndarray) -> np.ndarray:
    """Each row's other entries' sum placed at its label (x_y's entry is minus their sum), others as they are."""
    return np.where(onehot, np.where(onehot, 0.0, v).sum(-1, keepdims=True), v)


def _weston_watkins(pw, x, xy, ax, onehot, W, m, u, acc, C, scale):
    z = np.where(onehot, -np.inf, m - xy + x)
    dz = np.where(onehot, 0.0, u * (m + 2 * (m + np.abs(xy) + ax)))
    zp = np.where(z > 0, z, 0.0)
    live = (z > -dz) & ~onehot
    zpp = zp if pw == 1 else zp * zp
    vC = v_sum(acc, C)
    k = W / C
    terms = np.where(live, (zp + dz) ** pw - zpp + u * zpp, 0.0)
    row = {"hinge terms": k * terms.sum(-1), "sum over classes, w_y / C": k * (vC + 2 * u) * zpp.sum(-1)}
    F = (k * scale)[:, None]
    near = (np.abs(z) <= dz) & (z != 0) & ~onehot
    g = {"kink within rounding": _label_sum(F * near, onehot)}
    if pw == 2:
        g["margin rounding"] = _label_sum(np.where(live, 2 * F * (dz + u * zp), 0.0), onehot)
        g["sum over classes"] = np.where(onehot, vC * 2 * F * zp.sum(-1, keepdims=True), 0.0)
    return row, g


def _crammer_singer(x, xy, ax, onehot, W, m, u, scale, exact=False):
    v = np.where(onehot, x, x + m)
    dv = np.zeros_like(ax) if exact else u * (m + 2 * (m + ax))
    M = v.max(-1, keepdims=True)
    active = v == M
    dv_top = np.where(active, dv, 0.0).max(-1, keepdims=True)
    near = v >= M - dv - dv_top
    row = {"pieces x_j + m": W * np.where(near, dv, 0.0).max(-1),
           "minus x_y": W * u * (np.abs(M[:, 0]) + np.abs(xy[:, 0]))}
    F = (W * scale)[:, None]
    flips = near & (near & ~active).any(-1, keepdims=True)  # an exact tie alone is the subdifferential's
    y_near = (near & onehot).any(-1, keepdims=True) & ~(active & onehot).any(-1, keepdims=True)
    g = {"near tie in the max (within the pieces' rounding)": np.where(onehot, F * (y_near | (flips & onehot)),
                                                                      F * (flips & ~onehot))}
    return row, g


def _keras(case: Case, inputs: Inputs, x, s, m, u, scale):
    t, _, _ = moved(np.asarray(inputs.labels, dtype=np.float64), case.params.axis)
    b = np.where(t == 1, 0.0, x)
    neg = b.max(-1)
    tx = np.where(t == 0, 0.0, t * x)
    pos = tx.sum(-1)
    T = t.sum(-1)
    dpos = u * np.maximum(T - 1, 0) * np.abs(tx).sum(-1)
    fin = lambda a: np.where(np.isfinite(a), np.abs(a), 0.0)  # noqa: E731
    dh = dpos + u * (m + 2 * (fin(neg) + fin(pos) + m))
    h = neg - pos + m
    row = {"neg - pos + m": s * np.where(h > -dh, dh + u * fin(h), 0.0)}
    F = (s * scale)[:, None]
    near = ((np.abs(h) <= dh) & (h != 0))[:, None]
    carries = (b == neg[:, None]) | (t != 0)
    return row, {"kink within rounding": F * (near & carries)}
