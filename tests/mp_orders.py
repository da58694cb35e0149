"""An independent mpmath reference for the derivative orders (harness/oracle/orders.py): the loss written out in
mpmath from the definitions (DESIGN.md), differentiated numerically at high precision by mpmath's own `diff`.

Nothing here is taken from the oracle: `total(x, y)` is the sum of the returned values and `returned(x, y)` the
returned values, as functions of mpmath lists, and

    jvp         d/de returned(x + e v)
    hvp_k       d^2/(de dd) total(x + e v + d e_k)
    label_grad  d/dd total(x, y + d e_k)
    mixed_k     d^2/(de dd) total(x + e v, y + d e_k)
"""

from __future__ import annotations

import mpmath as mp
import numpy as np

DPS = 60
# the families written out here; every other family's jvp is its independent mpmath gradient
# (tests/mp_reference.py) along v, summed as its loss sums
WRITTEN = ("softmax_cross_entropy", "sparse_softmax_cross_entropy", "sigmoid_cross_entropy",
           "weighted_sigmoid_cross_entropy", "hinge", "squared_hinge", "weston_watkins_hinge")


def _mp(a) -> list:
    return [mp.mpf(float(v)) for v in np.asarray(a, dtype=np.float64).reshape(-1)]


class Loss:
    """The loss of one trial (class axis last, as every case of cases/orders.yaml writes it) as mpmath functions."""

    def __init__(self, case, inputs):
        self.case, self.p = case, case.params
        self.shape = np.shape(inputs.logits)
        self.C = self.shape[-1] if self.shape else 1
        self.R = int(np.prod(self.shape[:-1])) if len(self.shape) > 1 else 1
        self.x = _mp(inputs.logits)
        self.labels = np.asarray(inputs.labels)
        self.y = None if case.integer_labels else _mp(inputs.labels)
        self.cw = [mp.mpf(1)] * self.C if inputs.class_weights is None else _mp(inputs.class_weights)
        n = self.R if not case.elementwise else (self.shape[0] if self.shape else 1)
        sw = None if inputs.sample_weights is None else _mp(inputs.sample_weights)
        self.sw = [mp.mpf(1)] * n if sw is None else sw

    # -- the per-element losses before the reduction, and the reduction
    def elements(self, x, y) -> tuple[list, list]:
        """(losses, their weights for weighted_mean / counted for mean)."""
        fam = self.case.family
        if fam in ("softmax_cross_entropy", "sparse_softmax_cross_entropy"):
            return self._softmax(x, y)
        if fam == "weston_watkins_hinge":
            return self._weston_watkins(x)
        if fam == "kl_divergence":
            return self._kl(x, y)
        return self._elementwise(x, y)

    def _softmax(self, x, y):
        C, e = self.C, mp.mpf(self.p.label_smoothing)
        out, denom = [], []
        for i in range(self.R):
            row = x[i * C:(i + 1) * C]
            if self.case.sparse:
                lab = int(self.labels.reshape(-1)[i])
                if self.p.ignore_index is not None and lab == self.p.ignore_index:
                    out.append(None)
                    denom.append(mp.mpf(0))
                    continue
                t = [mp.mpf(1 if c == lab else 0) for c in range(C)]
            else:
                t = y[i * C:(i + 1) * C]
            finite = [v for v in row if v != -mp.inf]
            m = max(finite)
            lse = m + mp.log(mp.fsum(mp.exp(v - m) for v in finite))
            ts = [(1 - e) * tc + e / C if e else tc for tc in t]
            terms = [self.cw[c] * ts[c] * (row[c] - lse) for c in range(C) if self.cw[c] * ts[c] != 0]
            out.append(-self.sw[i] * mp.fsum(terms))
            denom.append(self.sw[i] * mp.fsum(self.cw[c] * t[c] for c in range(C)))
        return out, denom

    def _elementwise(self, x, y):
        fam, C = self.case.family, self.C
        e = mp.mpf(self.p.label_smoothing)
        q = mp.mpf(1) if self.p.pos_weight is None else mp.mpf(float(self.p.pos_weight))
        out, weights = [], []
        for k, xv in enumerate(x):
            w = self.cw[k % C] * self.sw[k // C]
            if fam in ("hinge", "squared_hinge"):
                s = y[k] if self.p.label_convention == "pm1" else 2 * y[k] - 1
                m = max(1 - s * xv, mp.mpf(0))
                out.append(w * (m if fam == "hinge" else m * m))
            else:
                z = (1 - e) * y[k] + e / 2 if e else y[k]
                sp = lambda v: mp.log1p(mp.exp(v))  # noqa: E731
                out.append(w * (q * z * sp(-xv) + (1 - z) * sp(xv)))
            weights.append(w)
        return out, weights

    def _kl(self, q, y):
        C, out = self.C, []
        for i in range(self.R):
            terms = []
            for c in range(C):
                t = mp.exp(y[i * C + c]) if self.p.log_target else y[i * C + c]
                if t != 0:
                    terms.append(t * ((y[i * C + c] if self.p.log_target else mp.log(t)) - q[i * C + c]))
            out.append(self.sw[i] * mp.fsum(terms))
        return out, list(self.sw[:self.R])

    def _weston_watkins(self, x):
        C, m, pw = self.C, mp.mpf(self.p.margin), self.p.p
        out, denom = [], []
        for i in range(self.R):
            row, lab = x[i * C:(i + 1) * C], int(self.labels.reshape(-1)[i])
            W = self.sw[i] * self.cw[lab]
            out.append(W / C * mp.fsum(max(m - row[lab] + row[j], mp.mpf(0)) ** pw for j in range(C) if j != lab))
            denom.append(W)
        return out, denom

    def returned(self, x, y=None) -> list:
        y = self.y if y is None else y
        losses, weights = self.elements(x, y)
        kept = [v for v in losses if v is not None]
        red = self.p.reduction
        if red == "none":
            return [mp.mpf(0) if v is None else v for v in losses]
        total = mp.fsum(kept)
        if red == "sum":
            return [total]
        n = len(kept) if red == "mean" else mp.fsum(weights)
        return [total / n]

    def total(self, x, y=None):
        return mp.fsum(self.returned(x, y))


def exact(case, inputs, order: str, v) -> np.ndarray:
    """The order's exact value by mpmath's numerical differentiation of the written-out loss (float64 array)."""
    if case.family not in WRITTEN and not (case.family == "kl_divergence" and order != "jvp"):
        assert order == "jvp", order
        return _jvp_from_gradient(case, inputs, v)
    with mp.workdps(DPS):
        L = Loss(case, inputs)
        vv = _mp(v)
        x, y = L.x, L.y
        if order == "mixed":
            # d/dy <v, grad_x S> is finite at a masked class (grad_x is), where S itself is +inf once its label
            # moves off 0: mask with -1e20 instead, whose p = e^-1e20 is 0 to any precision that matters here
            x = [mp.mpf(-1e20) if xi == -mp.inf else xi for xi in x]
        shift = lambda a, d, k=None: [a[i] + d * (vv[i] if k is None else (1 if i == k else 0))  # noqa: E731
                                      for i in range(len(a))]
        if order == "jvp":
            n = len(L.returned(x))
            vals = [mp.diff(lambda e, j=j: L.returned(shift(x, e))[j], 0) for j in range(n)]
            shape = np.shape(inputs.logits)[:-1] if case.params.reduction == "none" and not case.elementwise else (
                np.shape(inputs.logits) if case.params.reduction == "none" else ())
            return np.array([float(a) for a in vals]).reshape(shape)
        out = []
        for k in range(len(x)):
            if order == "hvp":
                f = lambda e, d, k=k: L.total([xi + e * vi + (d if i == k else 0) for i, (xi, vi) in enumerate(zip(x, vv, strict=False))])  # noqa: E731
                out.append(mp.diff(f, (0, 0), (1, 1)))
            elif order == "label_grad" and case.family == "kl_divergence" and (
                    y[k] == (-mp.inf if case.params.log_target else 0)):
                # a zero target: the one-sided limit of d/dt t (log t - q) = log t + 1 - q is -inf; with
                # log-targets, of d/dr e^r (r - q) = e^r (1 + r - q) as r -> -inf, 0 (a weight of 0 gives 0)
                out.append(mp.mpf(0) if case.params.log_target or L.sw[k // L.C] == 0 else -mp.inf)
            elif order == "label_grad":
                out.append(mp.diff(lambda d, k=k: L.total(x, shift(y, d, k)), 0))
            else:
                out.append(mp.diff(lambda e, d, k=k: L.total(shift(x, e), shift(y, d, k)), (0, 0), (1, 1)))
        return np.array([float(a) for a in out]).reshape(np.shape(inputs.logits))


def _jvp_from_gradient(case, inputs, v) -> np.ndarray:
    from tests import mp_reference

    with mp.workdps(DPS):
        ex = mp_reference.exact(case, inputs, dps=DPS)
        g = np.vectorize(lambda a: a.value, otypes=[object])(ex.grad)
        prod = g * np.array(_mp(v), dtype=object).reshape(np.shape(v))
        shape = tuple(ex.loss_shape) if case.params.reduction == "none" else ()
        if prod.shape == shape:
            out = prod
        elif not shape:
            out = np.array(mp.fsum(prod.reshape(-1)))
        elif prod.shape[:len(shape)] == shape and case.family == "ctc":
            out = np.array([mp.fsum(r) for r in prod.reshape(*shape, -1)], dtype=object)
        else:
            ax = case.params.axis % prod.ndim
            out = np.apply_along_axis(lambda r: mp.fsum(r), ax, prod)
        return np.vectorize(float, otypes=[np.float64])(out).reshape(shape)
