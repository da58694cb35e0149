"""The oracle: exact loss semantics in float64, from extended precision, with analytic gradients, per family.

`compute(case, inputs, dtype)` is the one entry point; `core` holds the Reference it returns and the shared
arithmetic, `softmax` the softmax and sigmoid cross-entropy families, `families` the probability, focal and
building-block families (each module's docstring states its semantics).
"""

from __future__ import annotations

from harness.oracle import families, softmax
from harness.oracle.core import Reference, SoftmaxRows, times
from harness.schema import Case
from harness.trials import Inputs

__all__ = ["Reference", "SoftmaxRows", "compute", "times"]


def compute(case: Case, inputs: Inputs, dtype: str) -> Reference:
    """The exact loss and gradient of one trial (float64 values; see the family's module for its semantics)."""
    if case.family in families.ORACLES:
        return families.ORACLES[case.family](case, inputs, dtype)
    if case.elementwise:
        return softmax.sigmoid_cross_entropy(case, inputs, dtype)
    return softmax.softmax_cross_entropy(case, inputs, dtype)
