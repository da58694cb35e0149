"""The mpmath references of the losses only one framework ships (poly-1 cross-entropy, generalized cross-entropy),
written from their definitions (Leng et al. 2022 as optax.poly_loss_cross_entropy computes it; Zhang & Sabuncu
2018 as keras.losses.CategoricalGeneralizedCrossEntropy does), in tests/mp_reference.py's row form and terms.

    poly1_cross_entropy        l = s (sum_c t_c (-log p_c) + epsilon sum_c t_c (1 - p_c)), t as given
                               dl/dx_j = s (p_j sum_{c != j} t_c - t_j (1 - p_j)
                                            - epsilon p_j (t_j (1 - p_j) - sum_{c != j} t_c p_c))
    generalized_cross_entropy  l = s (1 - P_y^q) / q;  dl/dP_y = -s P_y^(q - 1), 0 elsewhere; NaN in a row: NaN

Like tests/mp_reference.py it imports nothing from the harness.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np

from tests.mp_reference import INF, ONE, ZERO, Val, _excluding, _Family, _mp, _SoftmaxCE, softmax_row


class Poly1(_SoftmaxCE):
    def row(self, i):
        C = self.C
        sm = softmax_row(self.xrow(i))
        if sm is None:
            return [Val.nan()], [Val.nan()] * C
        t, s, eps = self.targets(i), self.s[i], _mp(self.p.epsilon)
        tl = [t.get(c, ZERO) for c in range(C)]
        loss = Val.of(*[tc * sm.nlp(c) for c, tc in t.items()], *[eps * tc * sm.q(c) for c, tc in t.items()]).scaled(s)
        others_t = _excluding(tl)
        tp = [tl[c] * sm.p(c) for c in range(C)]
        others_tp = _excluding(tp)
        grad = []
        for j in range(C):
            pj, tq = sm.p(j), tl[j] * sm.q(j)
            grad.append(Val.of(pj * others_t[j], -tq, -eps * pj * tq, eps * pj * others_tp[j]).scaled(s))
        return [loss], grad


class Generalized(_Family):
    def __init__(self, case, inputs):
        super().__init__(case, inputs)
        self.lab = np.asarray(self.labels).astype(np.int64).reshape(-1)

    def weight(self, i):
        return self.s[i]

    def row(self, i):
        P, y, s, q = self.xrow(i), int(self.lab[i]), self.s[i], _mp(self.p.q)
        if any(mp.isnan(v) for v in P):
            return [Val.nan()], [Val.nan()] * self.C
        Py = P[y]
        loss = Val.term(-mp.expm1(q * mp.log(Py)) / q if Py > 0 else ONE / q).scaled(s)
        grad = [Val()] * self.C
        grad[y] = Val.term(-(Py ** (q - 1)) if Py > 0 else -INF).scaled(s)
        return [loss], grad


FAMILIES = {"poly1_cross_entropy": Poly1, "generalized_cross_entropy": Generalized}

