"""The error model of the derivatives beyond the gradient (harness/oracle/orders.py): each output element's allowance.

An order's row judges the order's value only: its loss is the same call's as the trial's own row, which judges it.

Notation and policy in harness/judge/tolerances/policy.py; each order's row keeps the trial's loss allowance and
judges the order's value in the gradient's place (so it is also charged 3 u |value| for the last multiplication
and rounding, `Tolerance._scaled`). G_k is the trial's own gradient allowance of element k (its family's model),
n the elements an output sums over.

    jvp          sum_k G_k |v_k|                              the gradient's own error, along v
                 + (u + v_n) sum_k |g_k v_k|                   the products and their sum
    softmax (per row; p_c with relative error dp_c = u (1 + d_c) + dlogS + u, as in softmax.py; p.v formed
    with error E = sum_k p_k |v_k| (dp_k + v_C)):
    hvp_c        |f A| [p_c (dp_c + u) (|v_c| + |p.v|) + p_c E]
    label_grad   |f (1 - e) w_c| (dlogS + 2 u d_c + u log S + min(u |m + log S|, log S))   log p_c, as the loss's
    mixed_c      |f (1 - e) w_c| [E + u (|p.v| + |v_c|)]
    sigmoid (per element; s(x) s(-x) may be formed as s (1 - s), whose subtraction costs u s: either is correct):
    hvp          |W f b v| u (3 s s' + max(s, s'))
    label_grad   |W f (1 - e)| u (2 (q sp(-x) + sp(x)) + q + 1)  the two softplus terms and their difference
    mixed        |W f (1 - e) v| 2 u (q s' + s + q)
    margin       hvp: |2 W f / C| u (|v_j| + |v_y|) per entry, the label's entry the sum of the others'
    kl_divergence (q the log-predictions, t the targets or r = log t):
    label_grad   |f| 2 u (|log t| + 1 + |q|)                 the log and the two subtractions
                 log_target: |f| e^r 2 u (1 + |r| + |q|) + u |value|   and the exponential
    mixed        -f v: the product only;  log_target: u |f e^r v| (the exponential)
    floor        tiny (1 + the element's own factor)
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from harness.judge.tolerances.layout import full, moved
from harness.judge.tolerances.policy import Tolerance, dlogs, v_sum
from harness.judge.tolerances.softmax import softmax_rows
from harness.oracle import Reference
from harness.oracle.core import elementwise_weights, sample_weights, softplus
from harness.oracle.orders import contract
from harness.schema.model import Case
from harness.schema.orders import SIGMOID, SOFTMAX
from harness.trials import Inputs


def for_order(case: Case, order: str, base: Tolerance, ref: Reference, oref: Reference, inputs: Inputs,
              v: np.ndarray, u: float, acc: float, tiny: float) -> Tolerance:
    """The allowances of one order's row: the trial's loss allowance, and the order's per element."""
    if base.source != "policy":  # a case's override names the gradient: it holds for every order alike
        return replace(base, judge_loss=False)
    g = np.asarray(ref.grad, dtype=np.float64)
    vv = np.asarray(v, dtype=np.float64)
    if order == "jvp":
        G = base.grad_full(g)
        shape, axis = np.shape(ref.loss), case.params.axis
        n = g.size // max(int(np.prod(shape)), 1)  # the entries each returned value sums
        with np.errstate(invalid="ignore"):
            terms = {"the gradient's error along v": contract(G * np.abs(vv), shape, axis),
                     "products and their sum": (u + v_sum(acc, n)) * contract(np.abs(g * vv), shape, axis)}
        floor = tiny
    elif case.family in SOFTMAX:
        terms, floor = _softmax(case, order, ref, inputs, vv, u, acc, tiny)
    elif case.family in SIGMOID:
        terms, floor = _sigmoid(case, order, ref, inputs, vv, u, tiny)
    elif case.family == "kl_divergence":
        terms, floor = _kl(case, order, ref, oref, inputs, vv, u, tiny)
    else:
        terms, floor = _margin(case, order, ref, inputs, vv, u, acc, tiny)
    shape = np.shape(oref.grad)
    gterms, gfloor = full({k: np.broadcast_to(np.asarray(t, dtype=np.float64), shape) for k, t in terms.items()},
                          np.broadcast_to(np.asarray(floor, dtype=np.float64), shape))
    return Tolerance(base.loss_terms, gterms, base.loss_floor, gfloor, base.source, u=u, judge_loss=False)


def _softmax(case, order, ref, inputs, vv, u, acc, tiny):
    st = ref.softmax
    axis = case.params.axis
    x2, batch_shape, C = moved(inputs.logits, axis)
    v2, _, _ = moved(vv, axis)
    m, log_s, d, p = softmax_rows(np.asarray(x2, dtype=np.float64))
    f, A = np.abs(st.factor)[:, None], np.abs(st.weight)[:, None]
    dls = dlogs(u, acc, C)
    with np.errstate(invalid="ignore", over="ignore"):
        dp = np.where(p > 0, u * (1 + d) + dls + u, 0.0)  # a masked class (p = 0) has no error to carry
        pv = np.abs((p * v2).sum(-1, keepdims=True))
        E = (p * np.abs(v2) * (dp + v_sum(acc, C))).sum(-1, keepdims=True)
        w = np.ones(C) if inputs.class_weights is None else np.abs(np.asarray(inputs.class_weights, dtype=np.float64))
        fw = f * (1 - case.params.label_smoothing) * w[None, :]
        if order == "hvp":
            terms = {"p and p.v": f * A * (p * (dp + u) * (np.abs(v2) + pv) + p * E)}
            fl = tiny * (1 + f * A)
        elif order == "label_grad":
            at_max = np.minimum(u * np.abs(m + log_s), log_s)[:, None]
            terms = {"log p": fw * (dls + 2 * u * d + u * log_s[:, None] + at_max)}  # inf at a -inf logit: judged
            # as non-finite, never as a wide allowance (policy._total)
            fl = tiny * (1 + fw)
        else:
            terms = {"p.v - v": fw * (E + u * (pv + np.abs(v2)))}
            fl = tiny * (1 + fw)
    back = lambda a: np.moveaxis(np.broadcast_to(a, x2.shape).reshape(*batch_shape, C), -1,  # noqa: E731
                                 axis % np.ndim(inputs.logits))
    return {k: back(t) for k, t in terms.items()}, back(fl)


def _sigmoid(case, order, ref, inputs, vv, u, tiny):
    p = case.params
    x = np.asarray(inputs.logits, dtype=np.float64)
    z = np.asarray(inputs.labels, dtype=np.float64)
    e = p.label_smoothing
    zs = (1 - e) * z + e / 2 if e else z
    q = 1.0 if p.pos_weight is None else np.asarray(p.pos_weight, dtype=np.float64)
    Wf = np.abs(elementwise_weights(inputs, x.shape, np.float64)) * abs(ref.scale)
    with np.errstate(invalid="ignore", over="ignore"):
        sp_neg, sp_pos = softplus(-x), softplus(x)
        s, s_ = np.exp(-sp_neg), np.exp(-sp_pos)
        if order == "hvp":
            k = Wf * np.abs(q * zs + 1 - zs)
            return {"s(x) s(-x)": k * np.abs(vv) * u * (3 * s * s_ + np.maximum(s, s_))}, tiny * (1 + k)
        k = Wf * (1 - e)
        if order == "label_grad":
            return {"q sp(-x) - sp(x)": k * u * (2 * (q * sp_neg + sp_pos) + q + 1)}, tiny * (1 + k)
        return {"q s(-x) + s(x)": k * np.abs(vv) * 2 * u * (q * s_ + s + q)}, tiny * (1 + k)


def _kl(case, order, ref, oref, inputs, vv, u, tiny):
    q = np.asarray(inputs.logits, dtype=np.float64)
    y = np.asarray(inputs.labels, dtype=np.float64)
    f = np.abs(_sample_factor(case, inputs, ref, q.shape))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        aq = np.where(np.isfinite(q), np.abs(q), 0.0)
        if case.params.log_target:
            e = np.exp(y)
            ay = np.where(np.isfinite(y), np.abs(y), 0.0)
            if order == "label_grad":
                val = np.abs(np.asarray(oref.grad, dtype=np.float64))
                terms = {"e^r (1 + r - q)": f * e * 2 * u * (1 + ay + aq) + u * np.where(np.isfinite(val), val, 0.0)}
            else:
                terms = {"e^r": u * f * e * np.abs(vv)}
        else:
            terms = {"log t + 1 - q": f * 2 * u * (np.abs(np.log(y)) + 1 + aq)} if order == "label_grad" else {}
    return terms, tiny * (1 + f)


def _sample_factor(case, inputs, ref, shape):
    """f per element of a per-row family: the row's sample weight times the reduction's factor."""
    axis = case.params.axis % len(shape)
    rows = int(np.prod(shape)) // max(shape[axis], 1)
    sw = sample_weights(inputs, rows, np.float64)
    moved_shape = tuple(np.delete(np.array(shape), axis))
    return np.moveaxis(np.broadcast_to((sw * ref.scale).reshape(moved_shape)[..., None], moved_shape + (shape[axis],)),
                       -1, axis)


def _margin(case, order, ref, inputs, vv, u, acc, tiny):
    if case.family != "weston_watkins_hinge" or case.params.p == 1:  # hinge, p = 1: exactly 0; squared hinge: 2 W f v
        return {}, tiny
    axis = case.params.axis
    v2, batch_shape, C = moved(vv, axis)
    R = v2.shape[0]
    y = np.asarray(inputs.labels, dtype=np.int64).reshape(-1)
    vy = np.abs(v2[np.arange(R), y])[:, None]
    k = 2 * abs(ref.scale) / C
    w = np.ones(C) if inputs.class_weights is None else np.abs(np.asarray(inputs.class_weights, dtype=np.float64))
    sw = np.abs(sample_weights(inputs, R, np.float64))
    K = (k * sw * w[y])[:, None]
    t = K * u * (np.abs(v2) + vy)
    t[np.arange(R), y] = (t.sum(-1) - t[np.arange(R), y]) * (1 + v_sum(acc, C))
    back = lambda a: np.moveaxis(a.reshape(*batch_shape, C), -1, axis % np.ndim(inputs.logits))  # noqa: E731
    return {"v_j - v_y": back(t)}, back(tiny * (1 + K * np.ones_like(t)))
