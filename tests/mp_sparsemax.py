"""The mpmath references of the losses only optax ships: the perceptrons and the sparsemax losses, written from their
definitions (optax.losses.perceptron_loss, multiclass_perceptron_loss, sparsemax_loss, multiclass_sparsemax_loss;
Blondel et al. 2020, Martins & Astudillo 2016), in tests/mp_reference.py's row form and terms.

    perceptron             l = w max(0, -y' x);  dl/dx = -y' w, 0 on the right side, -y' w / 2 at x = 0 (the mean of
                           the one-sided derivatives)
    multiclass_perceptron  l = W (max_j x_j - x_y);  the weight of the max shared equally among the tied maxima
                           (the label's own piece among them)
    binary_sparsemax       l = w sparse_plus(v), v = (1 - 2 z) x: 0, (v + 1)^2 / 4 or v;  dl/dx = (1 - 2 z) w times
                           clip((v + 1) / 2, 0, 1)
    multiclass_sparsemax   p = sparsemax(x) by its definition (the threshold of the sorted scores);
                           l = W (<p, x> - |p|^2 / 2 + 1 / 2 - x_y) (the Fenchel-Young form), dl/dx = W (p - e_y)

Like tests/mp_reference.py it imports nothing from the harness.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np

from tests.mp_reference import INF, ONE, ZERO, Val, _Family, _Margin

HALF = mp.mpf(1) / 2


class Perceptron(_Margin):
    def element(self, x, zs, c):
        y = self.signed(zs)
        m = -y * x
        h = ONE if m > 0 else (HALF if m == 0 else ZERO)
        return Val.term(m if m > 0 else ZERO), Val.term(-y * h)


class BinarySparsemax(_Margin):
    def element(self, x, zs, c):
        sign = 1 - 2 * zs
        v = sign * x
        if v <= -1:
            return Val(), Val()
        if v >= 1:
            return Val.term(v), Val.term(sign)
        return Val.term((v + 1) ** 2 / 4), Val.term(sign * (v + 1) / 2)


class _SparseRows(_Family):
    """Integer labels, W_i = s_i w_y."""

    def __init__(self, case, inputs):
        super().__init__(case, inputs)
        self.lab = np.asarray(self.labels).astype(np.int64).reshape(-1)

    def weight(self, i):
        return self.s[i] * self.w[int(self.lab[i])]


class MulticlassPerceptron(_SparseRows):
    def row(self, i):
        x, C, y, W = self.xrow(i), self.C, int(self.lab[i]), self.weight(i)
        if any(mp.isnan(v) for v in x):
            return [Val.nan()], [Val.nan()] * C
        best = max(x)
        tied = [j for j in range(C) if x[j] == best]
        g = [ZERO] * C
        for j in tied:
            g[j] += W / len(tied)
        g[y] -= W
        loss = Val() if x[y] == best else Val.of(best, -x[y]).scaled(W)
        return [loss], [Val.term(v) for v in g]


def sparsemax(x: list):
    """(p as Val per class, tau) of one row, or None where it has no projection (NaN, +inf, every score -inf)."""
    if any(mp.isnan(v) or v == INF for v in x) or all(v == -INF for v in x):
        return None
    z = sorted((v for v in x if v != -INF), reverse=True)
    k, total = 0, ZERO
    for j, zj in enumerate(z, start=1):
        if 1 + j * zj > total + zj:
            k, total = j, total + zj
        else:
            break
    tau = (mp.fsum(z[:k]) - 1) / k
    return [Val.of(v, -tau) if v > tau else Val() for v in x], tau


class MulticlassSparsemax(_SparseRows):
    def row(self, i):
        x, C, y, W = self.xrow(i), self.C, int(self.lab[i]), self.weight(i)
        proj = sparsemax(x)
        if proj is None:
            return [Val.nan()], [Val.nan()] * C
        p, tau = proj
        pv = [v.value for v in p]
        grad = [Val.of(p[j].pos, -p[j].neg, *([-ONE] if j == y else [])).scaled(W) for j in range(C)]
        if x[y] == -INF:
            return [Val.term(INF).scaled(W)], grad
        terms = [pv[j] * x[j] for j in range(C) if pv[j] != 0]
        loss = Val.of(*terms, *[-(v * v) / 2 for v in pv if v != 0], HALF, -x[y]).scaled(W)
        return [loss], grad


FAMILIES = {"perceptron": Perceptron, "multiclass_perceptron": MulticlassPerceptron,
            "binary_sparsemax": BinarySparsemax, "multiclass_sparsemax": MulticlassSparsemax}
