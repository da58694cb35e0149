"""The oracle: exact loss semantics in float64, from extended precision, with analytic gradients, per family.

`compute(case, inputs, dtype)` is the one entry point. `core` holds the Reference it returns, the reductions
and the shared arithmetic; one module per family group states its semantics: `softmax` (with `sparse_fast`,
its large-trial path), `sigmoid`, `probabilities`, `focal`, `hinge` (the binary margin families),
`multiclass_hinge`, `single` (the losses only one framework ships), `logprob` (nll_loss, kl_divergence),
`sparsemax` (the binary and multi-class sparsemax losses), `ctc` and `blocks`; the perceptrons are the
hinges at margin 0 (`hinge`, `multiclass_hinge`). `clipped` computes the losses behind the `clipped` flag.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.oracle import (
    blocks,
    ctc,
    focal,
    hinge,
    logprob,
    multiclass_hinge,
    probabilities,
    sigmoid,
    single,
    softmax,
    sparsemax,
)
from harness.oracle.core import Reference, SoftmaxRows, times
from harness.schema import Case
from harness.trials import Inputs

__all__ = ["Reference", "SoftmaxRows", "compute", "times"]

# the families with an oracle of their own; the others are the softmax (rows) and sigmoid (elementwise) families
ORACLES: dict[str, Callable[[Case, Inputs, str], Reference]] = {
    "categorical_crossentropy": probabilities.categorical_crossentropy,
    "binary_crossentropy": probabilities.binary_crossentropy,
    "binary_focal_crossentropy": focal.binary_focal_crossentropy,
    "categorical_focal_crossentropy": focal.categorical_focal_crossentropy,
    "hinge": hinge.hinge,
    "squared_hinge": hinge.squared_hinge,
    "soft_margin": hinge.soft_margin,
    "multilabel_soft_margin": hinge.multilabel_soft_margin,
    "poly1_cross_entropy": single.poly1_cross_entropy,
    "generalized_cross_entropy": single.generalized_cross_entropy,
    "log_softmax": blocks.block,
    "softmax": blocks.block,
    "logsumexp": blocks.block,
    "weston_watkins_hinge": multiclass_hinge.weston_watkins_hinge,
    "crammer_singer_hinge": multiclass_hinge.crammer_singer_hinge,
    "categorical_hinge": multiclass_hinge.categorical_hinge,
    "nll_loss": logprob.nll_loss,
    "kl_divergence": logprob.kl_divergence,
    "ctc": ctc.ctc_loss,
    "perceptron": hinge.perceptron,
    "multiclass_perceptron": multiclass_hinge.multiclass_perceptron,
    "binary_sparsemax": sparsemax.binary_sparsemax,
    "multiclass_sparsemax": sparsemax.multiclass_sparsemax,
}


def compute(case: Case, inputs: Inputs, dtype: str) -> Reference:
    """The exact loss and gradient of one trial (float64 values; see the family's module for its semantics)."""
    if case.family in ORACLES:
        return ORACLES[case.family](case, inputs, dtype)
    if case.elementwise:
        return sigmoid.sigmoid_cross_entropy(case, inputs, dtype)
    return softmax.softmax_cross_entropy(case, inputs, dtype)
