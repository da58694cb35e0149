"""The relation two_classes: a multi-class loss on two classes is its binary form on the score difference.

With scores [x_0, x_1], label y and d = x_1 - x_0 (exact in the dtype: relation_rules checks):

    weston_watkins_hinge  (1 / C) max(0, 1 - y' d)^p with C = 2, y' = 2 y - 1: the binary hinge (p = 1) or squared
                          hinge (p = 2) times 1/2 (torch's multi_margin_loss divides by the classes)
    crammer_singer_hinge  max(0, 1 - y' d): the binary hinge
    multiclass_perceptron max(0, -y' d): the binary perceptron
    multiclass_sparsemax  sparse_plus(-y' d): binary_sparsemax at label z = y

The partner has scores d as [N, 1], the same sample weights and reduction (a mean over N elements is one over N
rows); its gradient g maps back to f [-g, g] and its loss to f times it, f the factor above.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from harness.core.dtypes import cast
from harness.schema import Case, Literal
from harness.trials import Inputs

BINARY = {"weston_watkins_hinge": ("hinge", 0.5), "crammer_singer_hinge": ("hinge", 1.0),
          "multiclass_perceptron": ("perceptron", 1.0), "multiclass_sparsemax": ("binary_sparsemax", 1.0)}


def partner(case: Case, inputs: Inputs, dtype: str, base: dict):
    """(partner case, its inputs, the map back onto the case, what it is)."""
    x = np.asarray(inputs.logits, dtype=np.float64)
    y = np.asarray(inputs.labels).astype(np.float64).reshape(-1, 1)
    family, f = BINARY[case.family]
    if case.family == "weston_watkins_hinge" and case.params.p == 2:
        family = "squared_hinge"
    d = cast(x[:, 1:] - x[:, :1], dtype)
    z = cast(y if family == "binary_sparsemax" else 2 * y - 1, dtype)
    params = replace(case.params, p=1, margin=1.0, axis=-1, label_convention="pm1", class_weights=None)
    c = replace(case, family=family, predictions=Literal(values=d, shape=d.shape), labels=Literal(values=z, shape=z.shape),
                params=params, **base)

    def back(loss, grad):
        loss = np.asarray(loss, dtype=np.float64) * f
        g = np.asarray(grad, dtype=np.float64).reshape(-1, 1) * f
        return (loss.reshape(-1) if loss.ndim else loss), np.concatenate([-g, g], axis=1)

    what = f"{family} on the score difference x_1 - x_0" + (f", times {f:g}" if f != 1 else "")
    return c, replace(inputs, logits=d, labels=z), back, what
