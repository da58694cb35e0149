"""Tolerance policy: the one place that says how far from the oracle a correct implementation may land.

Every output element (a row's loss, an element's loss, each gradient entry, each output of a building
block) gets an allowance derived from *that element's own* inputs: the error a correct implementation
in the trial dtype makes on it. Nothing is taken from the largest value of the whole trial, so one row
at 1e4, one class weight of 1000 or one class masked at -1e9 widens no other element's allowance.

    u        machine epsilon of the trial dtype. A rounding to nearest costs u/2; exp and log in the
             frameworks' math libraries are within one ULP, so each operation below is charged u.
    v_n      eps_acc * log2(1 + n): the relative error of a sum of n non-negative terms, accumulated
             pairwise or in blocks in float32 for float16/bfloat16 inputs (what every framework's
             reductions do) and in the dtype itself for float32/float64.
    tiny     the smallest normal number of the computation dtype (float32 for float16 and bfloat16):
             XLA and TensorFlow flush subnormals to zero, so a result or an intermediate probability
             below the normal range loses at most this (times the factor it is multiplied by). A
             float16 probability of 1.4e-5 (a float16 subnormal, but a normal float32) is not below it.
    K = 1    no slack beyond charging every operation a full eps: twice what a rounding to nearest
             costs, which also covers exp and log within one ULP and the second-order terms.

    allowed = K * (sum of the terms below) + floor

Softmax families (per row i, class axis last; m the row's largest logit, d_c = |x_c - m|, log S =
log sum_c exp(x_c - m), L_c = -log p_c = d_c + log S, a_c the target coefficients w_c t'_c,
A = sum_c a_c, s the sample weight, f = s times the reduction's 1/denominator):

    log S      the normaliser: each exp rounded (u S), the sum (v_C S), the log (u log S <= u log C):
               dlogS = u (1 + log C) + v_C, an absolute error, entering every log p_c of the row
    loss_i     |s| [ A dlogS                          the normaliser
                   + sum_c |a_c| u d_c                the shift x_c - m, rounded
                   + sum_c |a_c| (u + v_C) L_c        the subtraction log S - (x_c - m), and the sum over c
                   + u sum_c |A p_c - a_c| |x_c|      the inputs' last bit: the loss's sensitivity to each
                                                      logit times its rounding
                   + u (A |m| + sum_c |a_c| |x_c|) ]  the log-sum-exp at the scale of the row's own max: an
                                                      implementation may form logsumexp(x) = m + log S in the
                                                      dtype (u |m|) and subtract the target logit from it
                                                      (u |x_c|), as optax's integer-label path does; one that
                                                      subtracts the max first loses neither. The row's own
                                                      max and target logits, never the trial's
    grad_ic    dl/dx_ic = f (A p_c - a_c), with p_c = exp(-(d_c + log S)):
               |f| A p_c (u (1 + d_c) + dlogS + u)  the error of p_c itself: relative, and large only
                                                    where the exponent is (p d <= 1/e), never the
                                                    largest entry of the trial
               + |f| u (A p_c + |a_c|)              the subtraction's operands
               floor tiny (1 + |f A|)

Sigmoid families (per element; a = q z', b = 1 - z' with q the pos_weight, w the class times sample
weight, sp the softplus):

    loss       |w| [ u (|a| sp(-x) + |b| sp(x))       the two softplus terms, each correctly rounded
                   + u (|a| + |b|)                     log1p(exp(-|x|)) <= log 2, rounded
                   + u |x| (|a| + |b|) [0 < z' < 1] ]  x z' rounded in max(x, 0) - x z' (exact for z' in {0, 1})
    grad       |w f| u max(3 |a + b| s(x) + |a|,       (a + b) s(x) - a or b - (a + b) s(-x): the sigmoid
                       3 |a + b| s(-x) + |b|)          (two roundings), the subtraction; floor tiny (1 + |w f| (|a| + |b|))

From probabilities (categorical: -s sum_c a_c log P_c, normalised by sum_c P_c as Keras does;
binary: -w (a log P + b log(1 - P))):

    loss       |s| sum_c |a_c| (u |log P_c| + u + v_C)       |w| (u (|a| |log P| + |b| |log(1 - P)|) + u |b|)
    grad       |f a_c| / P_c (2 u + v_C)                     |w f| 2 u (|a| / P + |b| / (1 - P))

Focal families: as their cross-entropy, with the modulating factor's own error: v = 1 - p_t is formed
by a subtraction (absolute error u, plus p_t's own error), so v^gamma is off by |(v + dv)^gamma - v^gamma|,
which is what makes a focal loss at saturation inexact in any dtype.

Building blocks (reduction none; G the cotangent):

    log_softmax  y = x - m - log S:    u d + dlogS + u |y|;    grad G - p sum G:  u |G| + |sum G| dp + v_C p sum |G|
    softmax      y = p:                dp = p (u (1 + d) + dlogS + u);    grad p (G - sum_c G_c p_c): its terms' errors
    logsumexp    y = m + log S:        dlogS + u |y|;           grad G p:  |G| dp

Every gradient entry g, in every family, is also multiplied by its weight and by the reduction's factor
and rounded to the dtype: 3 u |g| more.

Reductions: sum and mean add the rows' allowances (times the reduction's factor), the sum's own error
v_R sum_i |l_i|, and the output's rounding u |out|.

A case may override an allowance (atol + rtol |ref| for the quantities it names) only with a reason. The
allowance of each row's worst element and the term that dominated it are written into every row.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from harness.core.dtypes import eps, finfo
from harness.oracle import Reference
from harness.schema import Case
from harness.trials import Inputs

K = 1.0

Terms = dict[str, np.ndarray]


def _eps_acc(dtype: str) -> float:
    return min(eps(dtype), eps("float32"))


def _tiny(dtype: str) -> float:
    """The smallest normal number of the dtype a framework computes in (float32 for float16 and bfloat16):
    XLA and TensorFlow run with subnormals flushed to zero on CPU, so a value below it may come out 0."""
    return float(finfo("float64" if dtype == "float64" else "float32").smallest_normal)


@dataclass(frozen=True)
class Tolerance:
    """The allowances of one trial: `loss` per loss element (the shape of the oracle's loss), `grad_terms`
    per gradient element of a flat block [start, stop) of the gradient (computed block by block, like the
    comparison, so a large trial costs no full-size temporaries)."""

    loss_terms: Terms
    grad_terms: Callable[[int, int], Terms]
    loss_floor: np.ndarray | float
    grad_floor: Callable[[int, int], np.ndarray]
    source: str  # "policy" or "case: <reason>"
    override: tuple[float | None, float | None, float | None, float | None] = (None, None, None, None)
    u: float = 0.0  # the dtype's epsilon: every gradient entry is also multiplied by its weight and the
    # reduction's factor and rounded to the dtype, 3 u |g| (see `_scaled`)

    @classmethod
    def fixed(cls, loss_rtol: float, loss_atol: float, grad_rtol: float, grad_atol: float, source: str) -> Tolerance:
        """atol + rtol |ref| for every element (the golden values' check, and tests)."""
        zero = lambda s, e: np.zeros(max(e - s, 0))  # noqa: E731
        return cls({}, lambda s, e: {}, 0.0, zero, source, (loss_rtol, loss_atol, grad_rtol, grad_atol))

    def loss_allowed(self, ref: np.ndarray) -> np.ndarray:
        """Allowed |observed - ref| for each loss element (the shape of the oracle's loss)."""
        lr, la = self.override[0], self.override[1]
        if lr is not None or la is not None:
            return (la or 0.0) + (lr or 0.0) * np.abs(np.asarray(ref, dtype=np.float64))
        return np.broadcast_to(_total(self.loss_terms, self.loss_floor), np.shape(ref))

    def grad_allowed(self, ref_block: np.ndarray, start: int, stop: int) -> np.ndarray:
        gr, ga = self.override[2], self.override[3]
        if gr is not None or ga is not None:
            return (ga or 0.0) + (gr or 0.0) * np.abs(np.asarray(ref_block, dtype=np.float64))
        return _total(self._scaled(self.grad_terms(start, stop), ref_block), self.grad_floor(start, stop))

    def _scaled(self, terms: Terms, ref_block: np.ndarray) -> Terms:
        with np.errstate(invalid="ignore"):
            r = np.abs(np.asarray(ref_block, dtype=np.float64))
        return {**terms, "times weight and scale, rounded": 3 * self.u * np.where(np.isfinite(r), r, 0.0)}

    def grad_full(self, ref: np.ndarray) -> np.ndarray:
        """Every gradient element's allowance at once (small trials: relations)."""
        flat = np.asarray(ref).reshape(-1)
        return self.grad_allowed(flat, 0, flat.size).reshape(np.shape(ref))

    def explain(self, quantity: str, flat_index: int, ref_value: float = 0.0) -> str:
        """The allowance of one element and the term that dominates it, e.g. '3.1e-07 (K * 1.5e-07, mostly
        log S)'."""
        if any(v is not None for v in self.override):
            return f"atol + rtol |ref| ({self.source})"
        if quantity == "loss":
            terms = {k: np.asarray(v).reshape(-1)[flat_index: flat_index + 1] for k, v in self.loss_terms.items()}
            floor = np.asarray(self.loss_floor).reshape(-1)
            floor = float(floor[flat_index] if floor.size > 1 else floor[0]) if floor.size else 0.0
        else:
            terms = self._scaled(self.grad_terms(flat_index, flat_index + 1), np.array([ref_value]))
            floor = float(np.asarray(self.grad_floor(flat_index, flat_index + 1)).reshape(-1)[0])
        vals = {k: float(np.asarray(v).reshape(-1)[0]) if np.size(v) else 0.0 for k, v in terms.items()}
        total = K * sum(vals.values()) + floor
        top = max(vals, key=lambda k: vals[k]) if vals and max(vals.values()) > 0 else "floor"
        return f"{total:.3g} (mostly {top})"


def _total(terms: Terms, floor) -> np.ndarray:
    out = None
    for v in terms.values():
        out = np.asarray(v, dtype=np.float64) if out is None else out + v
    out = np.zeros(np.shape(floor)) if out is None else out
    with np.errstate(invalid="ignore"):
        # a term that is NaN or infinite (an undefined row, an infinite loss) allows nothing: the comparison
        # judges those elements as non-finite, and no finite element may be allowed an infinite error
        return np.nan_to_num(K * out + floor, nan=0.0, posinf=0.0)


# --------------------------------------------------------------------------- the entry point


def for_trial(case: Case, dtype: str, ref: Reference, inputs: Inputs) -> Tolerance:
    # below the normal range: flushed in the computation, or rounded to the dtype's subnormal spacing
    u, acc, tiny = eps(dtype), _eps_acc(dtype), _tiny(dtype) + float(finfo(dtype).smallest_subnormal)
    fam = case.family
    if ref.softmax is not None:
        model = _softmax_model(case, ref, inputs, u, acc, tiny)
    elif fam in ("log_softmax", "softmax", "logsumexp"):
        model = _block_model(case, ref, inputs, u, acc, tiny)
    elif fam == "categorical_focal_crossentropy":
        model = _categorical_focal_model(case, ref, inputs, u, acc, tiny)
    elif fam == "categorical_crossentropy":
        model = _categorical_probabilities_model(case, ref, inputs, u, acc, tiny)
    else:
        model = _elementwise_model(case, ref, inputs, u, acc, tiny)
    row_terms, grad_terms, grad_floor = model
    loss_terms, loss_floor = _reduce(case, ref, row_terms, u, acc, tiny)
    o = case.tolerance
    if o is None:
        return Tolerance(loss_terms, grad_terms, loss_floor, grad_floor, "policy", u=u)
    return Tolerance(loss_terms, grad_terms, loss_floor, grad_floor, f"case: {o.reason}", u=u, override=
                     (o.loss_rtol, o.loss_atol, o.grad_rtol, o.grad_atol))


def _reduce(case: Case, ref: Reference, row_terms: Terms, u: float, acc: float, tiny: float):
    """The loss allowance after the reduction: each row's terms (already weighted), summed and scaled
    for sum and mean, plus the sum's own error and the output's rounding."""
    red = case.params.reduction
    out = np.abs(np.asarray(ref.loss, dtype=np.float64))
    if red == "none" or ref.unreduced is None:
        terms = {k: np.asarray(v, dtype=np.float64).reshape(np.shape(ref.loss)) for k, v in row_terms.items()}
        terms["output rounding"] = u * out
        return terms, tiny
    scale = abs(ref.scale)
    l_abs = np.abs(np.asarray(ref.unreduced, dtype=np.float64))
    n = l_abs.size
    with np.errstate(invalid="ignore"):
        terms = {k: np.asarray(scale * np.sum(v), dtype=np.float64) for k, v in row_terms.items()}
        terms["sum over rows"] = np.asarray(scale * acc * math.log2(1 + n) * np.sum(l_abs))
    terms["output rounding"] = u * out
    return terms, tiny


# --------------------------------------------------------------------------- rows and blocks


def _moved(a: np.ndarray, axis: int) -> tuple[np.ndarray, tuple[int, ...], int]:
    """The class axis moved last and the batch flattened to rows: (R x C view or copy, batch shape, C)."""
    a = np.asarray(a)
    m = np.moveaxis(a, axis % a.ndim, -1)
    return m.reshape(-1, m.shape[-1]), m.shape[:-1], m.shape[-1]


def _by_rows(rows_fn: Callable[[int, int], Terms], shape: tuple[int, ...], axis: int, C: int):
    """Turn a function of a row range [r0, r1) (class axis last) into one of a flat block [s, e) of the
    array in its own layout. With the class axis last a flat block is a run of whole or part rows;
    otherwise (small trials) the whole array is computed once and sliced."""
    nd = len(shape)
    last = nd == 0 or axis % nd == nd - 1
    if last:
        def block(s: int, e: int) -> Terms:
            if e <= s or C == 0:
                return {}
            r0, r1 = s // C, (e - 1) // C + 1
            t = rows_fn(r0, r1)
            return {k: np.asarray(v).reshape(-1)[s - r0 * C: e - r0 * C] for k, v in t.items()}
        return block
    cache: dict[str, np.ndarray] = {}

    def block_moved(s: int, e: int) -> Terms:
        if not cache:
            R = int(np.prod(shape)) // max(C, 1)
            moved_shape = tuple(np.delete(np.array(shape), axis % nd)) + (C,)
            for k, v in rows_fn(0, R).items():
                cache[k] = np.moveaxis(np.asarray(v).reshape(moved_shape), -1, axis % nd).reshape(-1)
        return {k: v[s:e] for k, v in cache.items()}
    return block_moved


def _floor_by_rows(floor_rows: Callable[[int, int], np.ndarray], shape, axis, C):
    fn = _by_rows(lambda r0, r1: {"floor": floor_rows(r0, r1)}, shape, axis, C)
    return lambda s, e: fn(s, e).get("floor", np.zeros(0))


def _dlogs(u: float, acc: float, C: int) -> float:
    return u * (1.0 + math.log(max(C, 1))) + acc * math.log2(1 + C)


def _softmax_model(case: Case, ref: Reference, inputs: Inputs, u: float, acc: float, tiny: float):
    st = ref.softmax
    axis = case.params.axis
    x2, _, C = _moved(inputs.logits, axis)
    vC = acc * math.log2(1 + C)
    dls = _dlogs(u, acc, C)
    R = x2.shape[0]
    f = np.abs(st.factor)
    A = np.abs(st.weight)
    sw = np.abs(_sample_weights(inputs, R))

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
            at_max = a_t * u * (np.abs(st.m) + ax_t)
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
            at_max = u * (A * np.abs(st.m) + np.where(a == 0, 0, a * ax).sum(-1))
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
    return row_terms, _by_rows(grad_rows, shape, axis, C), _floor_by_rows(floor_rows, shape, axis, C)


def _sample_weights(inputs: Inputs, R: int) -> np.ndarray:
    if inputs.sample_weights is None:
        return np.ones(R)
    sw = np.asarray(inputs.sample_weights, dtype=np.float64)
    return np.repeat(sw, R // max(len(sw), 1))


def _elementwise_weight(inputs: Inputs, shape) -> np.ndarray:
    C = shape[-1] if len(shape) else 1
    w = np.ones(C) if inputs.class_weights is None else np.asarray(inputs.class_weights, dtype=np.float64)
    rows = shape[0] if len(shape) else 1
    sw = np.ones(rows) if inputs.sample_weights is None else np.asarray(inputs.sample_weights, dtype=np.float64)
    return np.broadcast_to(w * sw.reshape((-1,) + (1,) * (len(shape) - 1)) if len(shape) else w * sw, shape)


def _softplus(v):
    with np.errstate(over="ignore", invalid="ignore"):
        return np.maximum(v, 0) + np.log1p(np.exp(-np.abs(v)))


def _full(arrs: Terms, floor: np.ndarray):
    flat = {k: np.asarray(v, dtype=np.float64).reshape(-1) for k, v in arrs.items()}
    ff = np.asarray(floor, dtype=np.float64).reshape(-1)
    return (lambda s, e: {k: v[s:e] for k, v in flat.items()}), (lambda s, e: ff[s:e])


def _elementwise_model(case: Case, ref: Reference, inputs: Inputs, u: float, acc: float, tiny: float):
    """Sigmoid, weighted sigmoid, binary focal (logits) and binary cross-entropy (probabilities)."""
    p = case.params
    x = np.asarray(inputs.logits, dtype=np.float64)
    z = np.asarray(inputs.labels, dtype=np.float64)
    e = p.label_smoothing
    zs = (1 - e) * z + e / 2 if e else z
    w0 = np.abs(_elementwise_weight(inputs, x.shape))
    wf = w0 * abs(ref.scale)
    frac = ((zs > 0) & (zs < 1)).astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        if case.family == "binary_crossentropy":
            a, b = np.abs(zs), np.abs(1 - zs)
            logP, log1mP = np.abs(np.log(x)), np.abs(np.log1p(-x))
            row_terms = {"log P, log(1 - P)": w0 * u * (np.where(a == 0, 0, a * logP) + np.where(b == 0, 0, b * log1mP)),
                         "1 - P": w0 * u * b}
            g = {"a / P - b / (1 - P)": wf * 2 * u * (np.where(a == 0, 0, a / x) + np.where(b == 0, 0, b / (1 - x)))}
            floor = tiny * (1 + wf)
            return row_terms, *_full(g, floor)
        q = 1.0 if p.pos_weight is None else np.asarray(p.pos_weight, dtype=np.float64)
        a, b = np.abs(q * zs), np.abs(1 - zs)
        sp_neg, sp_pos = _softplus(-x), _softplus(x)
        s_pos, s_neg = np.exp(-sp_neg), np.exp(-sp_pos)
        ab = a + b
        lin = np.where(np.isfinite(x), np.abs(x), 0.0) * frac
        if case.family != "binary_focal_crossentropy":
            row_terms = {"softplus terms": w0 * u * (np.where(a == 0, 0, a * sp_neg) + np.where(b == 0, 0, b * sp_pos)),
                         "log1p(exp(-|x|))": w0 * u * ab,
                         "x z": w0 * u * ab * lin}
            # either of the two ways to form it: (a + b) s(x) - a, or b - (a + b) s(-x) (autodiff of
            # TensorFlow's weighted form), each correct and each with its own cancellation
            g = {"sigmoid(x) - z": wf * u * np.maximum(3 * ab * s_pos + a, 3 * ab * s_neg + b)}
            return row_terms, *_full(g, tiny * (1 + wf * ab))
        # binary focal: l = w alpha_t v^gamma bce, v = 1 - p_t formed by a subtraction
        gam = float(p.gamma)
        alpha_t = np.ones_like(x) if p.alpha is None else np.abs(p.alpha * zs + (1 - p.alpha) * (1 - zs))
        bce = np.where(zs == 0, 0, zs * sp_neg) + np.where(zs == 1, 0, (1 - zs) * sp_pos)
        v = zs * s_neg + (1 - zs) * s_pos
        dv = u * (1 + 2 * v)
        vg = v ** gam if gam else np.ones_like(v)
        dvg = np.abs((v + dv) ** gam - vg) if gam else np.zeros_like(v)
        d_bce = u * (bce + 1 + np.abs(x) * frac)
        row_terms = {"bce": w0 * alpha_t * vg * d_bce, "(1 - p_t)^gamma": w0 * alpha_t * dvg * bce,
                     "output": w0 * alpha_t * u * vg * bce}
        ss = s_pos * s_neg
        k1 = gam * (v ** (gam - 1) if gam != 1 else np.ones_like(v)) if gam else np.zeros_like(v)
        dk1 = gam * np.abs((v + dv) ** (gam - 1) - v ** (gam - 1)) if gam and gam != 1 else np.zeros_like(v)
        first = np.where(v == 0, 0, k1) * np.abs(1 - 2 * zs) * ss * bce
        g = {"gamma v^(gamma-1) s s(-x) bce": wf * alpha_t * (first * 3 * u + np.where(v == 0, 0, dk1) * ss * bce
                                                               + np.where(v == 0, 0, k1) * ss * d_bce),
             "v^gamma (s - z)": wf * alpha_t * (vg * u * (3 * s_pos + zs) + dvg * np.abs(s_pos - zs))}
        return row_terms, *_full(g, tiny * (1 + wf * alpha_t * 4))


def _dense_rows(case: Case, inputs: Inputs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs, |a_ic| = |w_c t'_ic|, |s_i|) of a dense-label family, class axis last, rows flattened."""
    p = case.params
    x, _, C = _moved(np.asarray(inputs.logits, dtype=np.float64), p.axis)
    t, _, _ = _moved(np.asarray(inputs.labels, dtype=np.float64), p.axis)
    e = p.label_smoothing
    ts = (1 - e) * t + e / C if e else t
    cw = np.ones(C) if inputs.class_weights is None else np.asarray(inputs.class_weights, dtype=np.float64)
    return x, np.abs(cw[None, :] * ts), np.abs(_sample_weights(inputs, x.shape[0]))


def _categorical_probabilities_model(case: Case, ref: Reference, inputs: Inputs, u: float, acc: float, tiny: float):
    p = case.params
    P, a, sw = _dense_rows(case, inputs)
    R, C = P.shape
    vC = acc * math.log2(1 + C)
    with np.errstate(invalid="ignore", divide="ignore"):
        logP = np.abs(np.log(P))
        row = {"log P": sw * np.where(a == 0, 0, a * (u * logP + u + vC)).sum(-1)}
        f = sw * abs(ref.scale)
        g = np.where(a == 0, 0, f[:, None] * a / P * (2 * u + vC))
    floor = np.broadcast_to((tiny * (1 + f))[:, None], (R, C))
    fn = _by_rows(lambda r0, r1: {"a / P": g[r0:r1]}, np.shape(inputs.logits), p.axis, C)
    fl = _floor_by_rows(lambda r0, r1: floor[r0:r1], np.shape(inputs.logits), p.axis, C)
    return row, fn, fl


def _log_softmax_rows(x: np.ndarray):
    """(m, log S, d, p) of an R x C float64 array, the tail kept (a row with no finite logit: log S 0)."""
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


def _categorical_focal_model(case: Case, ref: Reference, inputs: Inputs, u: float, acc: float, tiny: float):
    p = case.params
    x, a, sw = _dense_rows(case, inputs)
    R, C = x.shape
    a = (1.0 if p.alpha is None else abs(p.alpha)) * a
    gam = float(p.gamma)
    vC = acc * math.log2(1 + C)
    dls = _dlogs(u, acc, C)
    m, log_s, d, prob = _log_softmax_rows(x)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        L = d + log_s[:, None]
        dlogp_loss = u * (d + L) + dls + vC * L
        dp = prob * (u * (1 + d) + dls + u)
        uu = np.clip(1 - prob, 0, 1)
        du = dp + u
        ug = uu ** gam if gam else np.ones_like(uu)
        dug = np.abs((uu + du) ** gam - ug) if gam else np.zeros_like(uu)
        row = {"log p": sw * np.where(a == 0, 0, a * ug * dlogp_loss).sum(-1),
               "(1 - p)^gamma": sw * np.where(a == 0, 0, a * dug * L).sum(-1)}
        # gradient: h_c = -s a_c (u_c^g - g u_c^(g-1) p_c log p_c);  grad_j = h_j u_j - p_j sum_{c != j} h_c
        k1 = gam * uu ** (gam - 1) if gam and gam != 1 else (np.ones_like(uu) if gam else np.zeros_like(uu))
        dk1 = gam * np.abs((uu + du) ** (gam - 1) - uu ** (gam - 1)) if gam and gam != 1 else np.zeros_like(uu)
        pl = np.where(prob > 0, prob * L, 0.0)
        h = np.where(a == 0, 0, a * (ug + k1 * pl))
        dh = np.where(a == 0, 0, a * (dug + u * ug + dk1 * pl + k1 * (dp * L + prob * dlogp_loss)))
        f = sw * abs(ref.scale)
        H = h.sum(-1, keepdims=True)
        dH = dh.sum(-1, keepdims=True)
        g = {"h (1 - p)": f[:, None] * (h * du + uu * dh + u * h * uu),
             "p sum h": f[:, None] * (dp * (H + h) + prob * (dH + vC * H) + u * prob * H)}
    floor = tiny * (1 + f[:, None] * np.broadcast_to(H, (R, C)))
    fn = _by_rows(lambda r0, r1: {k: v[r0:r1] for k, v in g.items()}, np.shape(inputs.logits), p.axis, C)
    fl = _floor_by_rows(lambda r0, r1: floor[r0:r1], np.shape(inputs.logits), p.axis, C)
    return row, fn, fl


def _block_model(case: Case, ref: Reference, inputs: Inputs, u: float, acc: float, tiny: float):
    fam = case.family
    axis = case.params.axis
    x, _, C = _moved(np.asarray(inputs.logits, dtype=np.float64), axis)
    R = x.shape[0]
    dls = _dlogs(u, acc, C)
    vC = acc * math.log2(1 + C)
    m, log_s, d, p = _log_softmax_rows(x)
    with np.errstate(invalid="ignore", over="ignore"):
        dp = p * (u * (1 + d) + dls + u)
        if fam == "logsumexp":
            G = np.broadcast_to(np.abs(np.asarray(inputs.labels, dtype=np.float64)).reshape(R, 1), (R, C))
            out = {"log S": np.full(R, dls)}
            g = {"G p": G * dp}
            floor = tiny * (1 + G)
        else:
            Graw, _, _ = _moved(np.asarray(inputs.labels, dtype=np.float64), axis)
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
        ofn = _by_rows(lambda r0, r1: out, shape, axis, C)
        n = int(np.prod(shape))
        out = {k: v[:n].reshape(np.shape(ref.loss)) for k, v in ofn(0, n).items()}
    fn = _by_rows(lambda r0, r1: {k: v[r0:r1] for k, v in g.items()}, np.shape(inputs.logits), axis, C)
    floor = np.asarray(floor)
    fl = _floor_by_rows(lambda r0, r1: floor[r0:r1], np.shape(inputs.logits), axis, C)
    return out, fn, fl
