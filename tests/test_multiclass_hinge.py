"""The multi-class hinge families: their options' checks, the subdifferential the oracle gives at kinks, and the
error model's allowance for a margin within its rounding of a kink."""

from __future__ import annotations

import json

import numpy as np
import pytest

from adapters.api import Observation
from harness import oracle
from harness.judge import tolerances
from harness.judge.verdicts import judge
from harness.schema import CaseFileError, load_text
from harness.trials import Trial, materialize


def _case(family, logits, labels, dtypes=("float64",), **params):
    text = json.dumps([{"id": "h", "family": family, "description": "d", "logits": logits, "labels": labels,
                        "params": params, "dtypes": list(dtypes)}])
    (case,) = load_text(text, "h.yaml")
    return case


def _verdict(case, grad, dtype="float64"):
    inputs = materialize(Trial(case, dtype))
    ref = oracle.compute(case, inputs, dtype)
    tol = tolerances.for_trial(case, dtype, ref, inputs)
    obs = Observation(dtype=dtype, loss=np.asarray(ref.loss), grad=np.asarray(grad, dtype=np.float64))
    return judge(case, ref, obs, tol)


@pytest.mark.parametrize("family, labels, params, why", [
    ("weston_watkins_hinge", [0], {"p": 3}, "expected 1 or 2"),
    ("crammer_singer_hinge", [0], {"p": 2}, "weston_watkins_hinge only"),
    ("crammer_singer_hinge", [0], {"label_smoothing": 0.1}, "no label_smoothing"),
    ("categorical_hinge", [[0.5, 0.5, 0.0]], {}, "each 0 or 1"),
    ("categorical_hinge", [[1, 0, 0]], {"class_weights": [1.0, 2.0, 3.0]}, "sample_weights"),
    ("softmax_cross_entropy", [[1, 0, 0]], {"margin": 2.0}, "hinge families only"),
])
def test_the_hinge_options_are_checked(family, labels, params, why):
    with pytest.raises(CaseFileError, match=why):
        _case(family, [[1.0, 2.0, 3.0]], labels, **params)


def test_keras_zeroes_the_true_class_where_crammer_singer_excludes_it():
    """keras-team/keras#8083: t = [1, 0], x = [-3, -5]: neg = max(0 * -3, -5) = 0, so 0 - (-3) + 1 = 4; the
    largest other score is -5, so Crammer-Singer's max(0, 1 - 5 + 3) = 0."""
    x = [[-3.0, -5.0]]
    assert float(oracle.compute(_case("categorical_hinge", x, [[1, 0]]), materialize(Trial(_case(
        "categorical_hinge", x, [[1, 0]]), "float64")), "float64").loss[0]) == 4.0
    cs = _case("crammer_singer_hinge", x, [0])
    assert float(oracle.compute(cs, materialize(Trial(cs, "float64")), "float64").loss[0]) == 0.0


def test_a_tie_of_two_in_crammer_singer_takes_any_split_and_nothing_else():
    """x = [1, 3, 3], y = 0: the tied classes share a weight of 1 (x_y's entry is -1 whatever the split)."""
    case = _case("crammer_singer_hinge", [[1.0, 3.0, 3.0]], [0])
    for ok in ([-1.0, 0.5, 0.5], [-1.0, 1.0, 0.0], [-1.0, 0.25, 0.75]):
        out = _verdict(case, [ok])
        assert out.verdict == "pass", (ok, out.message)
    for bad in ([-1.0, 1.0, 1.0], [-0.5, 0.5, 0.0], [-1.0, 0.0, 0.0]):
        assert _verdict(case, [bad]).verdict == "grad_mismatch", bad


def test_weston_watkins_kinks_are_separable():
    """x = [1, 0, 0], y = 0, margin 1: both margins are exactly 0; each term's derivative is anything in [0, 1]
    (divided by C = 3), x_y's entry minus their sum."""
    case = _case("weston_watkins_hinge", [[1.0, 0.0, 0.0]], [0])
    for d1, d2 in ((0, 0), (1, 1), (0, 1), (0.5, 0.25)):
        g = np.array([[-(d1 + d2), d1, d2]]) / 3
        out = _verdict(case, g)
        assert out.verdict == "pass", ((d1, d2), out.message)
    assert _verdict(case, np.array([[-2.0, 2.0, 0.0]]) / 3).verdict == "grad_mismatch"


def test_categorical_hinge_at_h_0_with_the_true_class_tied():
    """x = [1, 0, -1], t = [1, 0, 0]: neg = max(0, 0, -1) = 0 ties the zeroed true class with x_1 = 0, and
    h = 0 - 1 + 1 = 0: subgradients mu (lam e_1 - e_0) with mu, lam in [0, 1]."""
    case = _case("categorical_hinge", [[1.0, 0.0, -1.0]], [[1, 0, 0]])
    for mu, lam in ((0, 0), (1, 1), (1, 0), (0.5, 0.5)):
        out = _verdict(case, [[-mu, mu * lam, 0.0]])
        assert out.verdict == "pass", ((mu, lam), out.message)
    for bad in ([[-0.5, 1.0, 0.0]], [[0.0, 0.5, 0.0]]):
        assert _verdict(case, bad).verdict == "grad_mismatch", bad


def test_a_margin_within_its_rounding_of_a_kink_may_be_taken_either_side():
    """In float16, x_y = 1 and x_1 = 2^-11 (the margin 1 - 1 + 2^-11 is 4.9e-4, within float16's rounding of
    the sum): a path that rounds it to 0 and takes the step's derivative 0 is within the allowance; far from a
    kink the same error is not."""
    near = _case("weston_watkins_hinge", [[1.0, 2.0 ** -11, -4.0]], [0], dtypes=("float16",))
    assert _verdict(near, [[0.0, 0.0, 0.0]], "float16").verdict == "pass"
    far = _case("weston_watkins_hinge", [[1.0, 0.5, -4.0]], [0], dtypes=("float16",))
    assert _verdict(far, [[0.0, 0.0, 0.0]], "float16").verdict == "grad_mismatch"
