"""The margin families' error model: hinge, squared hinge, soft margin and multilabel soft margin.

Notation and policy in harness/judge/tolerances/policy.py; semantics in harness/oracle/hinge.py (y' the labels
read by label_convention, m = 1 - y' x, w = s_i w_c, f the reduction's factor). Per element:

hinge, squared hinge: y' is -1 or 1 (2 y - 1 of a 0/1 label is exact), so y' x is exact and m = 1 - y' x is
rounded once: |dm| <= u |m|. A rounding keeps a number's sign, so the computed margin is on the exact margin's
side of the kink, and 0 only where the exact margin is 0 (where the oracle's Subgradient accepts either side).
The margin can cross the kink only through an error made before that subtraction: the product y' x, exact for
labels of magnitude 1 and charged u |y' x| otherwise (labels the schema refuses). Then:

    hinge      loss  |w| u |m| [m > 0]                      the subtraction (perceptron, m = -y' x: none)
               grad  |w f| |y'| [0 < |m| <= u |y' x| [|y'| != 1]]     "kink side": the margin computed on the
                                                           other side of 0 (either slope is then correct)
    squared    loss  |w| 3 u m+^2                           m rounded (2 u m^2 through the square), the square
               grad  |w f| 2 |y'| u m+                      m rounded
    (the weight, the factor and the output's rounding: policy's "times weight and scale" and "output rounding")

soft margin: the sigmoid cross-entropy at labels z = (y' + 1) / 2 (harness/judge/tolerances/elementwise.py),
the correctly rounded softplus and sigmoid of -y' x.

multilabel soft margin: each class's term as the sigmoid cross-entropy's with the weight s_i w_c / C, the
row's terms summed, plus the mean over the C classes: v_C |l_i| (the sum) and u |l_i| (the division by C).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from harness.judge.tolerances.elementwise import elementwise_model
from harness.judge.tolerances.layout import full
from harness.judge.tolerances.policy import Terms, v_sum
from harness.oracle import Reference
from harness.oracle.core import elementwise_weights
from harness.schema.model import Case
from harness.trials import Inputs


def _signed(case: Case, inputs: Inputs) -> np.ndarray:
    y = np.asarray(inputs.labels, dtype=np.float64)
    return 2 * y - 1 if case.params.label_convention == "01" else y


def hinge_model(case: Case, ref: Reference, inputs: Inputs, u: float, acc: float, tiny: float):
    """hinge, squared_hinge and perceptron (the hinge at margin 0: -y x is exact, no subtraction to charge)."""
    x = np.asarray(inputs.logits, dtype=np.float64)
    y = _signed(case, inputs)
    w0 = np.abs(elementwise_weights(inputs, x.shape, np.float64))
    wf = w0 * abs(ref.scale)
    margin = 0.0 if case.family == "perceptron" else 1.0
    with np.errstate(invalid="ignore", over="ignore"):
        yx = np.abs(y * x)
        m = margin - y * x
        mp = np.where(m > 0, m, 0.0)
        ay = np.abs(y)
        d_product = np.where(ay != 1, u * yx, 0.0)  # 0 for every label the schema allows
        if case.family != "squared_hinge":
            row_terms: Terms = {"1 - y x": w0 * u * mp} if margin else {}
            side = (m != 0) & (np.abs(m) <= d_product)
            g = {"kink side": np.where(side, wf * ay, 0.0)}
        else:
            row_terms = {"(1 - y x)^2": w0 * 3 * u * mp * mp}
            g = {"1 - y x": wf * 2 * ay * (u * mp + d_product)}
    return row_terms, *full(g, tiny * (1 + wf * np.where(np.isfinite(ay), ay, 0.0)))


def soft_margin_model(case: Case, ref: Reference, inputs: Inputs, u: float, acc: float, tiny: float):
    """soft_margin: the sigmoid model at labels (y' + 1) / 2."""
    z = (_signed(case, inputs) + 1) / 2
    as_sigmoid = replace(case, family="sigmoid_cross_entropy", params=replace(case.params, label_convention="pm1"))
    return elementwise_model(as_sigmoid, ref, replace(inputs, labels=z), u, acc, tiny)


def multilabel_model(case: Case, ref: Reference, inputs: Inputs, u: float, acc: float, tiny: float):
    """multilabel_soft_margin: the sigmoid model per class with weight 1/C, then the mean over the classes."""
    x = np.asarray(inputs.logits)
    C = x.shape[-1]
    as_sigmoid = replace(case, family="sigmoid_cross_entropy")
    per_class = replace(ref, scale=ref.scale / C)
    terms, grad_terms, grad_floor = elementwise_model(as_sigmoid, per_class, inputs, u, acc, tiny)
    row_terms = {k: np.asarray(v, dtype=np.float64).sum(-1) / C for k, v in terms.items()}
    rows = np.abs(np.asarray(ref.unreduced, dtype=np.float64))
    row_terms["mean over classes"] = (v_sum(acc, C) + u) * np.where(np.isfinite(rows), rows, 0.0)
    return row_terms, grad_terms, grad_floor
