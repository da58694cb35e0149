"""The judge at kinks: any element of the subdifferential passes and is recorded; anything outside it fails."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.api import Observation
from harness import oracle
from harness.judge import tolerances
from harness.judge.verdicts import judge
from harness.oracle.core import Subgradient
from harness.schema import load_text

CASE = """\
- id: k
  family: sparse_softmax_cross_entropy
  description: d
  logits: [[1.0, 2.0, 3.0]]
  labels: [2]
"""
TOL = tolerances.Tolerance.fixed(0.0, 1e-12, 0.0, 1e-12, "test")


def _hinge(x: np.ndarray, y: np.ndarray, slope_at_kink: float) -> tuple[float, np.ndarray]:
    """sum max(0, 1 - y x) and its gradient, the derivative of max(0, m) at m = 0 taken as slope_at_kink."""
    m = 1 - y * x
    d = np.where(m > 0, 1.0, np.where(m < 0, 0.0, slope_at_kink))
    return float(np.maximum(m, 0).sum()), -y * d


def _verdict(ref, grad):
    (case,) = load_text(CASE, "k.yaml")
    obs = Observation(dtype="float64", loss=np.asarray(ref.loss), grad=np.asarray(grad, dtype=np.float64))
    return judge(case, ref, obs, TOL)


@pytest.fixture
def hinge_ref():
    x, y = np.array([[1.0, 0.5, 2.0, -1.0]]), np.array([[1.0, 1.0, 1.0, -1.0]])  # margins 0, 0.5, -1, 0
    loss, g0 = _hinge(x, y, 0.0)
    _, g1 = _hinge(x, y, 1.0)
    return oracle.Reference(loss=np.asarray(loss), grad=(g0 + g1) / 2, precision="float64", saturated=False, rows=1,
                            classes=4, subgradient=Subgradient(at0=g0, at1=g1))


@pytest.mark.parametrize("slope", [0.0, 0.5, 1.0, 0.25])
def test_every_element_of_the_subdifferential_passes_and_the_choice_is_recorded(hinge_ref, slope):
    x, y = np.array([[1.0, 0.5, 2.0, -1.0]]), np.array([[1.0, 1.0, 1.0, -1.0]])
    out = _verdict(hinge_ref, _hinge(x, y, slope)[1])
    assert out.verdict == "pass", out.message
    assert out.metrics["kinks"] == 2
    assert out.metrics["subgradient"] == f"{slope:g}"


def test_a_framework_mixing_conventions_records_both(hinge_ref):
    g = np.array([[-1.0, -1.0, 0.0, 0.0]])  # derivative 1 at the first kink, 0 at the second
    out = _verdict(hinge_ref, g)
    assert out.verdict == "pass" and out.metrics["subgradient"] == "0, 1"


@pytest.mark.parametrize("grad", [[[0.25, -1.0, 0.0, 0.5]], [[-1.5, -1.0, 0.0, 0.0]], [[-0.5, -1.0, 0.5, 0.0]]])
def test_outside_the_subdifferential_is_a_grad_mismatch(hinge_ref, grad):
    """Past either end of a kink's interval, or off the exact value where there is no kink."""
    out = _verdict(hinge_ref, grad)
    assert out.verdict == "grad_mismatch", out.metrics


def test_a_tie_inside_a_max_bounds_the_row_sum():
    """max_j(x_j) - x_0 with x = [0, 1, 1]: the tied classes 1 and 2 share a weight that sums to one, so
    [0, 0.5, 0.5] and [0, 1, 0] are subgradients (row sum 0 after the -1 at class 0: [-1, ...]) and
    [-1, 1, 1] is not, although each entry is inside its own interval."""
    at0 = np.array([[-1.0, 0.0, 0.0]])  # every tied max's derivative 0 ...
    at1 = np.array([[-1.0, 1.0, 1.0]])  # ... and 1: the box; the row sum of a subgradient is -1 + 1 = 0
    ref = oracle.Reference(loss=np.asarray(1.0), grad=np.array([[-1.0, 0.5, 0.5]]), precision="float64",
                           saturated=False, rows=1, classes=3,
                           subgradient=Subgradient(at0=at0, at1=at1, row_sum=(np.zeros(1), np.zeros(1))))
    for ok in ([[-1.0, 0.5, 0.5]], [[-1.0, 1.0, 0.0]], [[-1.0, 0.0, 1.0]]):
        out = _verdict(ref, ok)
        assert out.verdict == "pass", (ok, out.message)
    out = _verdict(ref, [[-1.0, 1.0, 1.0]])
    assert out.verdict == "grad_mismatch" and "sums to" in out.message


def test_a_choice_is_recorded_without_the_frameworks_rounding(hinge_ref):
    """A derivative of 0 that came out 7e-9 off after a rounded sum is still the choice 0."""
    g = np.array([[-1e-8, -1.0, 0.0, 1e-8]])
    out = _verdict(hinge_ref, g)
    assert out.metrics["subgradient"] == "0", out.metrics
