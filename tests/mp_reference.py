"""An independent arbitrary-precision reference (mpmath) for every loss family: returned values and gradient.

Written from DESIGN.md's "Loss families and their exact semantics" directly (the focal families and the
building blocks from their definitions in the families' docstrings: Lin et al.'s focal loss as Keras
defines it, and the vector-Jacobian product of log_softmax, softmax and logsumexp; the margin families from
the formulas stated in harness/oracle/hinge.py's docstring). It imports nothing
Written from DESIGN.md's "Loss families and their exact semantics" directly (the focal families, the
families on log-probabilities (nll_loss, kl_divergence) and the building blocks from their definitions in
the families' docstrings: Lin et al.'s focal loss as Keras
defines it, and the vector-Jacobian product of log_softmax, softmax and logsumexp). It imports nothing
from the harness, and it computes differently from the oracle: every element in mpmath at `DPS` digits,
each gradient from its own derivation.

    x        logits (class axis moved last, rows flattened); P probabilities; C classes
    t        target distribution: one_hot(label) for integer labels, the given dense labels
    t'       label smoothing e: t' = (1 - e) t + e / C;  binary families: z' = (1 - e) z + e / 2
    w_c, s_i class weights (per column) and sample weights (per index of the first batch axis: on a
             sequence every position of a sample shares its weight)
    a_ic     = w_c t'_ic; a term whose coefficient is 0 contributes 0, even where its log is -inf
    ignore_index: a row whose label equals it contributes 0 to the loss and the gradient, whatever its
             logits (NaN, -inf), and no mean counts it
    a row of logits with NaN or +inf, or only -inf, has no softmax: NaN loss and gradient (logsumexp is
             +inf with a +inf and no NaN, -inf when every logit is -inf)
    reductions: none; sum; mean (by rows kept, or elements for the elementwise families); weighted_mean
             (by sum_i s_i sum_c w_c t_ic over kept rows, unsmoothed t; elementwise: sum_ic s_i w_c);
             a mean over nothing is NaN, with gradient 0 (the loss is then constant in the inputs)
    gradient: d(sum of the returned values)/d(first input); for a building block, the product with its
             cotangent (the labels)

Accuracy. Every quantity is written without cancellation where the mathematics has none: with M the
row's largest finite logit and L = log1p(sum over all but one argmax of e^(x_k - M)),
-log p_c = (M - x_c) + L (two terms >= 0), p_c = e^(x_c - M) e^-L, and 1 - p_c = -expm1(x_c - M - L);
a gradient A p_c - a_c is p_c (A - a_c) - a_c (1 - p_c), which is exact for one-hot targets at any p.
Where a value really is a difference (soft labels, signed cotangents), each value comes with
`cancelled`, the magnitude of the terms that cancel, so that a comparison can allow float64's
resolution of those terms (a float64 computation of P - N loses eps * min(P, N) that no rounding of the
result accounts for). At 50 digits, each value is then exact far below float64's resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import mpmath as mp
import numpy as np
from mpmath.libmp import finf, fnan, fninf

DPS = 50

# The module's original users (tests/test_oracle.py: golden values to 0.5 ULP and 400-digit central
# differences) work at the global precision: a loss of 1e-320 next to terms of order 1 keeps its digits.
mp.mp.dps = 400

INF, NAN, ZERO, ONE = mp.inf, mp.nan, mp.mpf(0), mp.mpf(1)


class Val:
    """A value kept as (sum of its positive terms) - (sum of its negative terms)."""

    __slots__ = ("pos", "neg")

    def __init__(self, pos=ZERO, neg=ZERO):
        self.pos, self.neg = pos, neg

    @classmethod
    def of(cls, *terms) -> Val:
        pos = [t for t in terms if t > 0 or mp.isnan(t)]
        neg = [-t for t in terms if t < 0]
        return cls(mp.fsum(pos) if pos else ZERO, mp.fsum(neg) if neg else ZERO)

    @classmethod
    def term(cls, t) -> Val:
        """One term (any sign)."""
        return cls(ZERO, -t) if t < 0 else cls(t)

    @classmethod
    def nan(cls) -> Val:
        return cls(NAN, ZERO)

    def scaled(self, k) -> Val:
        if k is ONE:
            return self
        if mp.isnan(k):
            return Val.nan()
        if k == 0:  # 0 * inf is NaN, as in the definition
            return Val(self.pos * 0, self.neg * 0)
        return Val(self.pos * k, self.neg * k) if k > 0 else Val(self.neg * -k, self.pos * -k)

    def times(self, k) -> Val:
        """Times k > 0 (checked by the caller), keeping a one-signed value one-signed."""
        return Val(self.pos * k) if self.neg is ZERO else Val(self.pos * k, self.neg * k)

    @property
    def value(self):
        return self.pos if self.neg is ZERO else self.pos - self.neg

    @property
    def cancelled(self):
        """The magnitude lost to cancellation: min(P, N) (0 where every term has one sign)."""
        if self.neg is ZERO or self.pos is ZERO or not (mp.isfinite(self.pos) and mp.isfinite(self.neg)):
            return ZERO
        return min(self.pos, self.neg)


def vsum(vals) -> Val:
    vals = list(vals)
    return Val(mp.fsum(v.pos for v in vals), mp.fsum(v.neg for v in vals))


@dataclass
class Exact:
    """The reference for a trial: returned values and gradient as Val, in the oracle's layouts."""

    loss: list  # of Val, the returned values flattened
    loss_shape: tuple
    grad: np.ndarray  # object array of Val, the first input's shape


def _mp(v):
    return v if isinstance(v, mp.mpf) else mp.mpf(float(v))


def _as_mp_list(a) -> list:
    a = np.asarray(a)
    if a.dtype == object:
        return [_mp(v) for v in a.reshape(-1)]
    return [mp.mpf(v) for v in a.astype(np.float64).reshape(-1).tolist()]


def _div(n, d):
    """n / d with n / 0 = +-inf (mpmath raises instead)."""
    if d == 0:
        return NAN if n == 0 or mp.isnan(n) else (INF if n > 0 else -INF)
    return n / d


def _excluding(vals) -> list:
    """For each k, the sum of vals over every other index (prefix + suffix: no subtraction)."""
    n = len(vals)
    pre, suf = [ZERO] * (n + 1), [ZERO] * (n + 1)
    for k in range(n):
        pre[k + 1] = pre[k] + vals[k]
    for k in range(n - 1, -1, -1):
        suf[k] = suf[k + 1] + vals[k]
    return [pre[k] + suf[k + 1] for k in range(n)]


class Softmax:
    """One row's softmax without cancellation: e_c = e^(x_c - M), inv = e^-L, p_c = e_c inv, nlp(c) = -log p_c
    and q(c) = 1 - p_c (on demand: a 32,000-class row with an integer label needs them once)."""

    def __init__(self, x: list, e: list, M, L):
        self.x, self.e, self.M, self.L = x, e, M, L
        self.inv = mp.exp(-L)

    def p(self, c):
        return self.e[c] * self.inv

    def nlp(self, c):
        v = self.x[c]
        return (self.M - v) + self.L if v != -INF else INF

    def q(self, c):
        v = self.x[c]
        return -mp.expm1((v - self.M) - self.L) if v != -INF else ONE


def softmax_row(x: list) -> Softmax | None:
    """None where the softmax is undefined (NaN or +inf in the row, or no finite logit)."""
    if any(v._mpf_ in (fnan, finf) for v in x):
        return None
    finite = [k for k, v in enumerate(x) if v._mpf_ != fninf]
    if not finite:
        return None
    M = max(x[k] for k in finite)
    m = next(k for k in finite if x[k] == M)
    e = [mp.exp(v - M) if v._mpf_ != fninf else ZERO for v in x]
    L = mp.log1p(mp.fsum(e[k] for k in finite if k != m))
    return Softmax(x, e, M, L)


# --------------------------------------------------------------------------- a family as rows


class _Family:
    """A family as a function of one row (class axis last): row(i) -> (the row's returned values, d(their
    sum)/d(row)), as lists of Val; weight(i), the row's part of the weighted mean's denominator; kept_items(i),
    how many of its values a mean counts. `items_per_row` values per row: 1, or C for the elementwise
    families and log_softmax/softmax."""

    items_per_row = 1

    def __init__(self, case, inputs):
        self.case, self.p = case, case.params
        self.e = _mp(self.p.label_smoothing)
        x = np.asarray(inputs.logits)
        self.axis = self.p.axis % x.ndim
        moved = np.moveaxis(x, self.axis, -1)
        self.batch_shape, self.C = moved.shape[:-1], moved.shape[-1]
        self.R = int(np.prod(self.batch_shape, dtype=np.int64))
        self.x = np.asarray(moved).reshape(self.R, self.C)
        self.labels = inputs.labels
        C = self.C
        self.w = [ONE] * C if inputs.class_weights is None else _as_mp_list(inputs.class_weights)
        # sample weight of each row: the weight of its index on the first batch axis
        if inputs.sample_weights is None or self.R == 0:
            self.s = [ONE] * self.R
        else:
            sw = _as_mp_list(inputs.sample_weights)
            first = np.indices(self.batch_shape)[0].reshape(-1)
            self.s = [sw[int(i)] for i in first]

    def xrow(self, i) -> list:
        return _as_mp_list(self.x[i])

    def kept_items(self, i) -> int:
        return self.items_per_row


def _dense_rows(labels, axis, R, C) -> np.ndarray:
    y = np.moveaxis(np.asarray(labels), axis, -1)
    return y.reshape(R, C)


class _SoftmaxCE(_Family):
    """softmax_cross_entropy and sparse_softmax_cross_entropy; with `focal`, categorical_focal_crossentropy."""

    focal = False

    def __init__(self, case, inputs):
        super().__init__(case, inputs)
        if case.sparse:
            self.lab = np.asarray(self.labels).astype(np.int64).reshape(-1)
        else:
            self.y = _dense_rows(self.labels, self.axis, self.R, self.C)
        self.alpha = ONE if not self.focal or self.p.alpha is None else _mp(self.p.alpha)
        self.gamma = _mp(self.p.gamma) if self.focal else ZERO

    def kept(self, i) -> bool:
        return not (self.case.sparse and self.p.ignore_index is not None and self.lab[i] == self.p.ignore_index)

    def kept_items(self, i) -> int:
        return 1 if self.kept(i) else 0

    def targets(self, i) -> dict:
        """The nonzero targets of row i, {class: t}."""
        if self.case.sparse:
            return {int(self.lab[i]): ONE}
        row = np.asarray(self.y[i])
        nz = [c for c in range(self.C) if row[c] != 0] if row.dtype == object else np.flatnonzero(row).tolist()
        return {c: _mp(row[c]) for c in nz}

    def weight(self, i):
        if not self.kept(i):
            return ZERO
        return self.s[i] * mp.fsum(self.w[c] * t for c, t in self.targets(i).items())

    def coefficients(self, i) -> dict:
        """The nonzero a_c = alpha w_c t'_c of row i, {class: a_c}."""
        C, e, t = self.C, self.e, self.targets(i)
        if e == 0:
            a = {c: self.alpha * self.w[c] * tc for c, tc in t.items()}
        else:
            a = {c: self.alpha * self.w[c] * ((1 - e) * t.get(c, ZERO) + e / C) for c in range(C)}
        return {c: ac for c, ac in a.items() if ac != 0}

    def row(self, i):
        C = self.C
        if not self.kept(i):
            return [Val()], [Val()] * C
        sm = softmax_row(self.xrow(i))
        if sm is None:
            return [Val.nan()], [Val.nan()] * C
        a, s = self.coefficients(i), self.s[i]
        if self.focal:
            return self._focal(sm, [a.get(c, ZERO) for c in range(C)], s)
        loss = Val.of(*[ac * sm.nlp(c) for c, ac in a.items()]).scaled(s)
        # dl/dx_c = s (A p_c - a_c) = s (p_c (A - a_c) - a_c (1 - p_c)); where a_c = 0 that is s A inv e_c
        A = mp.fsum(a.values())
        k = s * A * sm.inv
        grad = [Val(k * ec) for ec in sm.e] if k >= 0 else [Val.term(k * ec) for ec in sm.e]
        for c, others in zip(a, _excluding(list(a.values())), strict=True):
            grad[c] = Val.of(sm.p(c) * others, -a[c] * sm.q(c)).scaled(s)
        return [loss], grad

    def _focal(self, sm, a, s):
        """l = -s sum_c a_c u_c^gamma log p_c with u = 1 - p; h_c = p_c dl/dp_c, dl/dx_j = h_j u_j - p_j sum_{c != j} h_c."""
        C, g = self.C, self.gamma
        terms, h = [], []
        for c in range(C):
            u, nlp, pc = sm.q(c), sm.nlp(c), sm.p(c)
            ug = u ** g
            if a[c] != 0:
                terms.append(a[c] * ug * nlp)
            # -p log p = p nlp; its product with u^(gamma-1) tends to 0 where u or p is 0
            second = ZERO if (g == 0 or u == 0 or pc == 0) else g * u ** (g - 1) * pc * nlp
            h.append(ZERO if a[c] == 0 else -s * a[c] * (ug + second))
        loss = Val.of(*terms).scaled(s)
        others = _excluding(h)
        grad = [Val.of(h[j] * sm.q(j), -sm.p(j) * others[j]) for j in range(C)]
        return [loss], grad


class _FocalCE(_SoftmaxCE):
    focal = True


class _CategoricalP(_SoftmaxCE):
    """categorical_crossentropy from probabilities taken as given: l = -s sum a_c log P_c, dl/dP_c = -s a_c / P_c."""

    def row(self, i):
        P = self.xrow(i)
        a, s = self.coefficients(i), self.s[i]
        if any(mp.isnan(v) for v in P):
            return [Val.nan()], [Val.nan()] * self.C
        loss = Val.of(*[-ac * (mp.log(P[c]) if P[c] > 0 else -INF) for c, ac in a.items()]).scaled(s)
        grad = [Val()] * self.C
        for c, ac in a.items():
            grad[c] = Val.term(-_div(ac, P[c])).scaled(s)
        return [loss], grad


class _Elementwise(_Family):
    """The elementwise families: sigmoid_cross_entropy, weighted_sigmoid_cross_entropy, binary_crossentropy,
    binary_focal_crossentropy. Classes are the last axis; one returned value per element."""

    def __init__(self, case, inputs):
        super().__init__(case, inputs)
        self.items_per_row = self.C
        self.z = np.asarray(self.labels).reshape(self.R, self.C)
        pw = self.p.pos_weight
        self.q = [ONE] * self.C if pw is None else (
            [_mp(v) for v in pw] if isinstance(pw, (tuple, list)) else [_mp(pw)] * self.C)

    def weight(self, i):
        return mp.fsum(self.s[i] * w for w in self.w)

    def row(self, i):
        x, z = self.xrow(i), _as_mp_list(self.z[i])
        out, grad = [], []
        for c in range(self.C):
            if mp.isnan(x[c]):
                out.append(Val.nan())
                grad.append(Val.nan())
                continue
            W = self.s[i] * self.w[c]
            zs = (1 - self.e) * z[c] + self.e / 2
            lv, gv = self.element(x[c], zs, c)
            out.append(lv.scaled(W))
            grad.append(gv.scaled(W))
        return out, grad


def _softplus(v):
    """log(1 + e^v), exact for every v (mpmath has no overflow)."""
    return mp.log1p(mp.exp(v))


def _sigmoid(v):
    return 1 / (1 + mp.exp(-v))


class _Sigmoid(_Elementwise):
    """-(q z' log s(x) + (1 - z') log(1 - s(x))) = q z' sp(-x) + (1 - z') sp(x); d/dx = (1 - z') s(x) - q z' s(-x)."""

    def element(self, x, zs, c):
        a, b = self.q[c] * zs, 1 - zs
        loss = Val.of(*([a * _softplus(-x)] if a != 0 else []), *([b * _softplus(x)] if b != 0 else []))
        return loss, Val.of(b * _sigmoid(x), -a * _sigmoid(-x))


class _BinaryP(_Elementwise):
    """-(z' log P + (1 - z') log(1 - P)); d/dP = -z' / P + (1 - z') / (1 - P)."""

    def element(self, P, zs, c):
        a, b = zs, 1 - zs
        terms = []
        if a != 0:
            terms.append(-a * (mp.log(P) if P > 0 else -INF))
        if b != 0:
            terms.append(-b * (mp.log1p(-P) if P < 1 else -INF))
        grad = Val.of(*([-_div(a, P)] if a != 0 else []), *([_div(b, 1 - P)] if b != 0 else []))
        return Val.of(*terms), grad


class _BinaryFocal(_Elementwise):
    """alpha_t v^gamma bce with bce = z' sp(-x) + (1 - z') sp(x), v = 1 - p_t = z' s(-x) + (1 - z') s(x),
    alpha_t = alpha z' + (1 - alpha)(1 - z') (1 without alpha). With dv/dx = (1 - 2z') s(x) s(-x) and
    dbce/dx = (1 - z') s(x) - z' s(-x):  d/dx = alpha_t (gamma v^(gamma-1) dv/dx bce + v^gamma dbce/dx)."""

    def element(self, x, zs, c):
        g = _mp(self.p.gamma)
        al = ONE if self.p.alpha is None else _mp(self.p.alpha) * zs + (1 - _mp(self.p.alpha)) * (1 - zs)
        sp_, sn = _sigmoid(x), _sigmoid(-x)
        bce = mp.fsum([*([zs * _softplus(-x)] if zs != 0 else []), *([(1 - zs) * _softplus(x)] if zs != 1 else [])])
        v = zs * sn + (1 - zs) * sp_
        vg = v ** g
        dv = sp_ * sn
        first = ZERO if (g == 0 or v == 0 or dv == 0) else g * v ** (g - 1) * (1 - 2 * zs) * dv * bce
        grad = Val.of(first, vg * (1 - zs) * sp_, -vg * zs * sn).scaled(al)
        return Val.of(vg * bce).scaled(al), grad


class _Margin(_Elementwise):
    """The binary margin families on scores x with labels y' = y (label_convention pm1) or 2 y - 1 (01)."""

    def signed(self, z):
        return 2 * z - 1 if self.p.label_convention == "01" else z


class _Hinge(_Margin):
    """max(0, 1 - y' x); d/dx = -y' where 1 - y' x > 0, 0 where < 0, and -y' KINK_SLOPE at 0 (any slope in
    [0, 1] there is a subgradient; 1/2 is the mean of the one-sided derivatives, what a central difference gives)."""

    KINK_SLOPE = mp.mpf(1) / 2

    def element(self, x, zs, c):
        y = self.signed(zs)
        m = 1 - y * x
        h = ONE if m > 0 else (self.KINK_SLOPE if m == 0 else ZERO)
        return Val.term(m if m > 0 else ZERO), Val.term(-y * h)


class _SquaredHinge(_Margin):
    """max(0, 1 - y' x)^2; d/dx = -2 y' max(0, 1 - y' x)."""

    def element(self, x, zs, c):
        y = self.signed(zs)
        m = 1 - y * x
        mp_ = m if m > 0 else ZERO
        return Val.term(mp_ * mp_), Val.term(-2 * y * mp_)


class _SoftMargin(_Margin):
    """log(1 + e^(-y' x)); d/dx = -y' / (1 + e^(y' x))."""

    def element(self, x, zs, c):
        y = self.signed(zs)
        return Val.term(_softplus(-y * x)), Val.term(-y * _sigmoid(-y * x))


class _MultilabelSoftMargin(_Family):
    """One value per row: -(s_i / C) sum_c w_c (z log s(x_c) + (1 - z) log(1 - s(x_c))), z in [0, 1];
    d/dx_c = (s_i w_c / C) ((1 - z) s(x_c) - z s(-x_c)). The weighted mean divides by sum_i s_i."""

    def weight(self, i):
        return self.s[i]

    def row(self, i):
        x, z = self.xrow(i), _as_mp_list(np.asarray(self.labels).reshape(self.R, self.C)[i])
        k = self.s[i] / self.C
        if any(mp.isnan(v) for v in x):
            return [Val.nan()], [Val.nan() if mp.isnan(v) else
                                 Val.of(k * self.w[c] * (1 - z[c]) * _sigmoid(v), -k * self.w[c] * z[c] * _sigmoid(-v))
                                 for c, v in enumerate(x)]
        terms, grad = [], []
        for c in range(self.C):
            W = k * self.w[c]
            if z[c] != 0:
                terms.append(W * z[c] * _softplus(-x[c]))
            if z[c] != 1:
                terms.append(W * (1 - z[c]) * _softplus(x[c]))
            grad.append(Val.of(W * (1 - z[c]) * _sigmoid(x[c]), -W * z[c] * _sigmoid(-x[c])))
        return [Val.of(*terms)], grad


class _Block(_Family):
    """log_softmax, softmax (C values per row) and logsumexp (one), with the labels as cotangent g."""

    def __init__(self, case, inputs):
        super().__init__(case, inputs)
        fam = case.family
        self.items_per_row = 1 if fam == "logsumexp" else self.C
        if fam == "logsumexp":
            self.g = np.asarray(self.labels).reshape(self.R, 1)
        else:
            self.g = _dense_rows(self.labels, self.axis, self.R, self.C)

    def weight(self, i):
        return ONE

    def row(self, i):
        fam, C = self.case.family, self.C
        x = self.xrow(i)
        g = _as_mp_list(self.g[i])
        sm = softmax_row(x)
        if sm is None:
            if fam != "logsumexp":
                return [Val.nan()] * C, [Val.nan()] * C
            if any(mp.isnan(v) for v in x):
                y = NAN
            elif any(v == INF for v in x):
                y = INF
            else:
                y = -INF  # every logit -inf
            return [Val.of(y)], [Val.nan()] * C
        if fam == "logsumexp":
            return [Val.of(sm.M, sm.L)], [Val.term(g[0] * sm.p(c)) for c in range(C)]
        pos_g = _excluding([gc if gc > 0 else ZERO for gc in g])
        neg_g = _excluding([gc if gc < 0 else ZERO for gc in g])
        if fam == "log_softmax":  # y = -nlp; dx_c = g_c - p_c sum_k g_k = g_c q_c - p_c sum_{k != c} g_k
            out = [Val.term(-sm.nlp(c)) for c in range(C)]
            grad = [Val.of(g[c] * sm.q(c), -sm.p(c) * pos_g[c], -sm.p(c) * neg_g[c]) for c in range(C)]
            return out, grad
        # softmax: y = p; dx_c = p_c (g_c - sum_k g_k p_k) = p_c (g_c q_c - sum_{k != c} g_k p_k)
        p = [sm.p(c) for c in range(C)]
        gp = [gc * pc for gc, pc in zip(g, p, strict=True)]
        pos_gp = _excluding([v if v > 0 else ZERO for v in gp])
        neg_gp = _excluding([v if v < 0 else ZERO for v in gp])
        grad = [Val.of(g[c] * sm.q(c), -pos_gp[c], -neg_gp[c]).scaled(p[c]) for c in range(C)]
        return [Val.term(v) for v in p], grad


class _MulticlassHinge(_Family):
    """The multi-class hinges, from their definitions (the oracle's docstring, harness/oracle/multiclass_hinge.py):
    Weston-Watkins  l = s w_y / C sum_{j != y} max(0, m - x_y + x_j)^p
    Crammer-Singer  l = s w_y max(0, m + max_{j != y} x_j - x_y)
    Keras' categorical hinge  l = s max(0, max_c (1 - t_c) x_c - sum_c t_c x_c + m)   (t in {0, 1})
    Each max is differentiated directly: at a kink the documented element of the subdifferential (the derivative
    of max(0, v) at v = 0 is 1/2; the weight of a max is shared equally among the tied terms)."""

    def __init__(self, case, inputs):
        super().__init__(case, inputs)
        self.m = _mp(self.p.margin)
        if case.sparse:
            self.lab = np.asarray(self.labels).astype(np.int64).reshape(-1)
        else:
            self.y = _dense_rows(self.labels, self.axis, self.R, self.C)

    def weight(self, i):
        return self.s[i] * (self.w[int(self.lab[i])] if self.case.sparse else ONE)

    def row(self, i):
        x, C, fam = self.xrow(i), self.C, self.case.family
        if any(mp.isnan(v) for v in x):
            return [Val.nan()], [Val.nan()] * C
        W = self.weight(i)
        g = [ZERO] * C
        if fam == "weston_watkins_hinge":
            y, k = int(self.lab[i]), W / C
            terms = []
            for j in range(C):
                if j == y:
                    continue
                z = self.m - x[y] + x[j]
                if z > 0:
                    terms.append(z if self.p.p == 1 else z * z)
                d = (ONE if z > 0 else (mp.mpf(0.5) if z == 0 else ZERO)) if self.p.p == 1 else 2 * max(z, ZERO)
                g[j] = k * d
                g[y] -= k * d
            return [Val.of(*terms).scaled(k) if terms else Val()], [Val.term(v) for v in g]
        if fam == "crammer_singer_hinge":
            y = int(self.lab[i])
            best = max(x[j] for j in range(C) if j != y) if C > 1 else -INF
            h = self.m + best - x[y]
            if h < 0 or C == 1:
                return [Val()], [Val()] * C
            tied = [j for j in range(C) if j != y and x[j] == best]
            share = ONE / (len(tied) + (1 if h == 0 else 0))  # at h = 0 the label's own (zero) term ties too
            for j in tied:
                g[j] = W * share
                g[y] -= W * share
            return [Val.of(self.m + best, -x[y]).scaled(W) if h > 0 else Val()], [Val.term(v) for v in g]
        t = [_mp(v) for v in self.y[i]]
        b = [ZERO if t[c] == 1 else x[c] for c in range(C)]
        neg = max(b)
        pos = [t[c] * x[c] for c in range(C) if t[c] != 0]
        h = neg - mp.fsum(pos) + self.m
        if h < 0:
            return [Val()], [Val()] * C
        mu = ONE if h > 0 else mp.mpf(0.5)
        tied = [c for c in range(C) if b[c] == neg]
        for c in range(C):
            g[c] = -W * mu * t[c] + (W * mu / len(tied) * (1 - t[c]) if c in tied else ZERO)
        return [Val.of(neg, self.m, *[-v for v in pos]).scaled(W) if h > 0 else Val()], [Val.term(v) for v in g]


class _NLL(_SoftmaxCE):
    """nll_loss on log-probabilities q taken as given: l = -w_y q_y, dl/dq_c = -w_y at c = y (whatever q_y is,
    -inf and NaN included: the loss is linear in q), 0 elsewhere; q at other classes is never read."""

    def row(self, i):
        grad = [Val()] * self.C
        if not self.kept(i):
            return [Val()], grad
        y = int(self.lab[i])
        w, qy = self.w[y], _mp(self.x[i][y])
        grad[y] = Val.term(-w)
        if mp.isnan(qy):
            return [Val.nan()], grad
        return [Val.term(ZERO if w == 0 else -w * qy)], grad


class _KL(_Family):
    """kl_divergence on log-predictions q: l = s sum_c t_c (log t_c - q_c), 0 log 0 = 0 (a zero target's term is
    0 even at q_c = -inf), t = exp(r) for log-targets r; dl/dq_c = -s t_c; mean by rows, weighted_mean by sum s."""

    def __init__(self, case, inputs):
        super().__init__(case, inputs)
        self.y = _dense_rows(self.labels, self.axis, self.R, self.C)

    def weight(self, i):
        return self.s[i]

    def row(self, i):
        q, given, s = self.xrow(i), _as_mp_list(self.y[i]), self.s[i]
        if self.p.log_target:
            t = [ZERO if r == -INF else mp.exp(r) for r in given]
            log_t = given
        else:
            t = given
            log_t = [mp.log(v) if v > 0 else -INF for v in given]
        grad = [Val.term(-s * tc) for tc in t]
        if s == 0:  # a zero sample weight: the row counts for nothing, whatever its terms
            return [Val()], grad
        if any(mp.isnan(v) for v in q + t):
            return [Val.nan()], grad
        terms = []
        for tc, lt, qc in zip(t, log_t, q, strict=True):
            if tc != 0:
                terms += [tc * lt, -tc * qc] if qc != -INF else [INF]
        return [Val.of(*terms).scaled(s)], grad


FAMILIES = {
    "nll_loss": _NLL,
    "kl_divergence": _KL,
    "softmax_cross_entropy": _SoftmaxCE,
    "sparse_softmax_cross_entropy": _SoftmaxCE,
    "categorical_focal_crossentropy": _FocalCE,
    "categorical_crossentropy": _CategoricalP,
    "sigmoid_cross_entropy": _Sigmoid,
    "weighted_sigmoid_cross_entropy": _Sigmoid,
    "binary_crossentropy": _BinaryP,
    "binary_focal_crossentropy": _BinaryFocal,
    "hinge": _Hinge,
    "squared_hinge": _SquaredHinge,
    "soft_margin": _SoftMargin,
    "multilabel_soft_margin": _MultilabelSoftMargin,
    "log_softmax": _Block,
    "softmax": _Block,
    "logsumexp": _Block,
    "weston_watkins_hinge": _MulticlassHinge,
    "crammer_singer_hinge": _MulticlassHinge,
    "categorical_hinge": _MulticlassHinge,
}


def _reduction(f: _Family):
    """(denominator, gradient factor) of the case's reduction: (None, 1) for none and sum."""
    red = f.p.reduction
    if red in ("none", "sum"):
        return None, ONE
    if red == "mean":
        d = mp.mpf(sum(f.kept_items(i) for i in range(f.R)))
    else:
        d = mp.fsum(f.weight(i) for i in range(f.R))
    return d, (ONE / d if d != 0 else ZERO)  # a mean over nothing: NaN, constant in the inputs


def _precision(dps):
    return mp.workdps(dps if dps is not None else mp.mp.dps)


def reduction(case, inputs, dps: int | None = DPS):
    """(denominator, factor) of the case's reduction on these inputs (no logit is read): the mean's count or
    total weight (None for none and sum), and what the reduction multiplies each row's gradient by."""
    with _precision(dps):
        return _reduction(FAMILIES[case.family](case, inputs))


def reduce(case, inputs, values, grad=None, dps: int | None = DPS) -> Exact:
    """The case's reduction applied to per-row values (Val, or floats) and their unreduced gradient (optional)."""
    with _precision(dps):
        denom, factor = _reduction(FAMILIES[case.family](case, inputs))
        vals = [v if isinstance(v, Val) else Val.term(_mp(v)) for v in values]
        if grad is None or factor is ONE:
            g = grad
        else:
            scale = (lambda v: v.times(factor)) if factor > 0 else (lambda v: v.scaled(factor))
            g = np.vectorize(scale, otypes=[object])(grad)
        if case.params.reduction == "none":
            return Exact(vals, (len(vals),), g)
        total = vsum(vals)
        if denom is not None:
            total = total.scaled(ONE / denom) if denom != 0 else Val.nan()
        return Exact([total], (), g)


def exact(case, inputs, dps: int | None = DPS) -> Exact:
    """The reference for `case` on `inputs` (anything with logits, labels, class_weights, sample_weights).
    `dps`: the working precision in digits; None for the current global one (numerical differentiation)."""
    if case.family == "ctc":
        with _precision(dps):
            return ctc_exact(case, inputs)
    with _precision(dps):
        f = FAMILIES[case.family](case, inputs)
        loss = np.empty((f.R, f.items_per_row), dtype=object)
        grad = np.empty((f.R, f.C), dtype=object)
        for i in range(f.R):
            loss[i, :], grad[i, :] = f.row(i)
        grad = np.moveaxis(grad.reshape(*f.batch_shape, f.C), -1, f.axis)
        if f.items_per_row != 1:  # one value per element: the logits' layout
            loss = np.moveaxis(loss.reshape(*f.batch_shape, f.C), -1, f.axis)
        else:
            loss = loss.reshape(f.batch_shape)
        out = reduce(case, inputs, list(loss.reshape(-1)), grad, dps)
        if case.params.reduction == "none":
            out.loss_shape = loss.shape
        return out


# --------------------------------------------------------------------------- CTC, by enumerating alignments


def _alignments(label: list, T: int, C: int, blank: int):
    """Every path pi in C^T that collapses to `label` (repeats merged, then blanks removed), found by extending
    prefixes one symbol at a time and dropping a prefix as soon as its collapse is no prefix of the label: no
    forward recursion, just the definition of the collapse."""
    L = len(label)

    def extend(prefix: tuple, emitted: int, last: int):
        if len(prefix) == T:
            if emitted == L:
                yield prefix
            return
        if L - emitted > T - len(prefix):
            return
        for k in range(C):
            if k == blank:
                yield from extend((*prefix, k), emitted, k)
            elif k == last:  # a repeat, merged
                yield from extend((*prefix, k), emitted, k)
            elif emitted < L and k == label[emitted]:
                yield from extend((*prefix, k), emitted + 1, k)
    yield from extend((), 0, -1)


def ctc_exact(case, inputs) -> Exact:
    """The CTC loss from its definition (Graves et al. 2006): Z = sum over the alignments pi of the label of
    prod_t y_{t, pi_t} with y = softmax(logits) per frame; loss -log Z; the gradient d(-log Z)/dx_tk =
    y_tk - (sum of P(pi) over alignments with pi_t = k) / Z, each alignment's product differentiated by hand.
    Labels are padded with the blank after each sequence; input_lengths (frames per item) default to all;
    no alignment: +inf with NaN gradient on the item's frames (zero_infinity: 0 and 0); a frame with no
    softmax: NaN. Reductions none, sum, mean (items), label_length_mean (mean of l_b / max(L_b, 1))."""
    p = case.params
    x = np.asarray(inputs.logits)
    labels = np.asarray(inputs.labels)
    B, T, C = x.shape
    Tb = [T] * B if p.input_lengths is None else list(p.input_lengths)
    losses, grad = [], np.empty((B, T, C), dtype=object)
    factors = []
    for b in range(B):
        label = [int(v) for v in labels[b] if int(v) != p.blank]
        factors.append(ONE / max(len(label), 1) if p.reduction == "label_length_mean" else ONE)
        grad[b, :, :] = [[Val() for _ in range(C)] for _ in range(T)]
        rows = [softmax_row(_as_mp_list(x[b, t])) for t in range(Tb[b])]
        if any(r is None for r in rows):
            losses.append(Val.nan())
            for t in range(Tb[b]):
                grad[b, t, :] = [Val.nan() for _ in range(C)]
            continue
        occ = [[ZERO] * C for _ in range(Tb[b])]
        parts = []
        for path in _alignments(label, Tb[b], C, p.blank):
            pr = mp.fprod(rows[t].p(k) for t, k in enumerate(path))
            parts.append(pr)
            for t, k in enumerate(path):
                occ[t][k] += pr
        Z = mp.fsum(parts)
        if Z == 0:
            losses.append(Val() if p.zero_infinity else Val.of(INF))
            for t in range(Tb[b]):
                grad[b, t, :] = [Val() if p.zero_infinity else Val.nan() for _ in range(C)]
            continue
        losses.append(Val.of(-mp.log(Z)))
        for t in range(Tb[b]):
            grad[b, t, :] = [Val(rows[t].p(k), occ[t][k] / Z) for k in range(C)]
    B_items = mp.mpf(B)
    scale = ONE if p.reduction in ("none", "sum") else ONE / B_items
    for b in range(B):
        f = factors[b] * scale
        if f != ONE:
            grad[b] = np.vectorize(lambda v, f=f: v.times(f), otypes=[object])(grad[b])
    vals = [v.times(factors[b]) if factors[b] != ONE else v for b, v in enumerate(losses)]
    if p.reduction == "none":
        return Exact(vals, (B,), grad)
    total = vsum(vals)
    return Exact([total.times(scale) if scale != ONE else total], (), grad)


# --------------------------------------------------------------------------- the original interface


def loss(case, logits, labels, class_weights=None, sample_weights=None):
    """The case's returned values (list of mpf) and their shape, at the global precision (400 digits)."""
    inputs = SimpleNamespace(logits=logits, labels=labels, class_weights=class_weights, sample_weights=sample_weights)
    ref = exact(case, inputs, dps=None)
    return [v.value for v in ref.loss], ref.loss_shape


def to_float(v) -> float:
    return float(v) if not mp.isnan(v) else float("nan")

# the families of tests/mp_single.py (imported last: it builds on the classes above)
from tests.mp_single import FAMILIES as _SINGLE  # noqa: E402

FAMILIES.update(_SINGLE)
from tests.mp_sparsemax import FAMILIES as _SPARSEMAX  # noqa: E402

FAMILIES.update(_SPARSEMAX)
