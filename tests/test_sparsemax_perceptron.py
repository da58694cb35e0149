"""The losses only optax ships (perceptron, multiclass_perceptron, binary_sparsemax, multiclass_sparsemax): the
loader's refusals, the relation two_classes' conditions, and the oracle's identities derived by hand (the
perceptrons as the hinges at margin 0 and their kinks; the sparsemax losses' smooth joints and two-class form)."""

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


def _case(family, logits, labels, dtypes=("float64",), relations=(), **params):
    entry = {"id": "s", "family": family, "description": "d", "logits": logits, "labels": labels, "params": params,
             "dtypes": list(dtypes), **({"relations": list(relations)} if relations else {})}
    text = json.dumps([entry])
    (case,) = load_text(text, "s.yaml")
    return case


def _ref(case, dtype="float64"):
    return oracle.compute(case, materialize(Trial(case, dtype)), dtype)


@pytest.mark.parametrize("family, logits, labels, params, why", [
    ("binary_sparsemax", [[1.0, 2.0]], [[0.5, 1.0]], {}, "labels are 0 or 1"),
    ("binary_sparsemax", [[1.0, 2.0]], [[-1.0, 1.0]], {}, "labels are 0 or 1"),
    ("binary_sparsemax", [[1.0, 2.0]], [[0.0, 1.0]], {"label_convention": "01"}, "binary margin families only"),
    ("perceptron", [[1.0, 2.0]], [[0.0, 1.0]], {}, "label_convention pm1"),
    ("perceptron", [[1.0, 2.0]], [[-1.0, 1.0]], {"margin": 0.5}, "hinge families only"),
    ("multiclass_perceptron", [[1.0, 2.0]], [0], {"label_smoothing": 0.1}, "does not take label_smoothing"),
    ("multiclass_sparsemax", [[1.0, 2.0]], [0], {"ignore_index": 1}, "does not take ignore_index"),
    ("multiclass_sparsemax", [[1.0, 2.0]], [0], {"epsilon": 1.0}, "does not take epsilon"),
])
def test_the_options_and_labels_are_checked(family, logits, labels, params, why):
    with pytest.raises(CaseFileError, match=why):
        _case(family, logits, labels, **params)


@pytest.mark.parametrize("family, logits, params, dtypes, why", [
    ("multiclass_sparsemax", [[1.0, 2.0, 3.0]], {}, ("float64",), r"scores \[rows, 2\]"),
    ("multiclass_perceptron", [[1.0, 2.0]], {"class_weights": [1.0, 2.0]}, ("float64",), "class weights"),
    ("crammer_singer_hinge", [[1.0, 2.0]], {"margin": 2.0}, ("float64",), "margin 1"),
    ("multiclass_perceptron", [[0.1, 1000.0]], {}, ("float16",), "not exact in float16"),
    ("categorical_hinge", [[1.0, 2.0]], {}, ("float64",), "two_classes is defined for"),
])
def test_two_classes_refuses_what_it_cannot_relate(family, logits, params, dtypes, why):
    labels = [[1, 0]] if family == "categorical_hinge" else [0]
    with pytest.raises(CaseFileError, match=why):
        _case(family, logits, labels, dtypes=dtypes, relations=["two_classes"], **params)


def test_the_perceptron_is_the_hinge_at_margin_0_and_spans_both_slopes_at_0():
    """max(0, -y x) = max(0, 1 - y (x + y)) for y = +-1; at x = 0 the slope is anything between 0 and -y."""
    x, y = [[0.5, -1.25, 0.0, 0.0]], [[1.0, 1.0, 1.0, -1.0]]
    p = _ref(_case("perceptron", x, y))
    h = _ref(_case("hinge", (np.asarray(x) + np.asarray(y)).tolist(), y))
    assert np.array_equal(p.loss, h.loss) and np.array_equal(p.loss, [[0.0, 1.25, 0.0, 0.0]])
    assert np.array_equal(p.subgradient.at0, [[0.0, -1.0, 0.0, 0.0]])
    assert np.array_equal(p.subgradient.at1, [[0.0, -1.0, -1.0, 1.0]])


def test_a_multiclass_perceptron_tie_with_the_label_takes_anything_from_0_to_e_j_minus_e_y():
    case = _case("multiclass_perceptron", [[2.0, 2.0, 0.5]], [1])
    assert float(_ref(case).loss[0]) == 0.0
    inputs = materialize(Trial(case, "float64"))
    ref = oracle.compute(case, inputs, "float64")
    tol = tolerances.for_trial(case, "float64", ref, inputs)
    for grad, verdict in (([0.0, 0.0, 0.0], "pass"), ([1.0, -1.0, 0.0], "pass"), ([0.5, -0.5, 0.0], "pass"),
                          ([1.0, 0.0, 0.0], "grad_mismatch"), ([0.0, -1.0, 0.0], "grad_mismatch")):
        obs = Observation(dtype="float64", loss=np.asarray(ref.loss), grad=np.asarray([grad]))
        assert judge(case, ref, obs, tol).verdict == verdict, grad


def test_sparse_plus_joins_its_pieces_with_equal_values_and_slopes():
    """v = (1 - 2 z) x = -1 and 1: (v + 1)^2 / 4 is 0 and 1 with slopes 0 and 1, as the outer pieces."""
    ref = _ref(_case("binary_sparsemax", [[-1.0, 1.0, 1.0, -1.0, 0.0]], [[0, 0, 1, 1, 1]]))
    assert np.array_equal(ref.loss, [[0.0, 1.0, 0.0, 1.0, 0.25]])
    assert np.array_equal(ref.grad, [[0.0, 1.0, 0.0, -1.0, -0.5]]) and ref.subgradient is None


def test_multiclass_sparsemax_by_hand_and_on_two_classes():
    """x = [0.5, 0, -0.5], y = 2: tau = -0.25, p = [0.75, 0.25, 0], loss |p - e_2|^2 / 2 + (tau - x_y) = 0.8125 + 0.25;
    on two classes it is the binary loss of x_1 - x_0 at z = y."""
    ref = _ref(_case("multiclass_sparsemax", [[0.5, 0.0, -0.5]], [2]))
    assert float(ref.loss[0]) == 1.0625 and np.array_equal(ref.grad, [[0.75, 0.25, -1.0]])
    x = [[0.5, 1.75], [2.0, -1.0], [-0.25, 0.5]]
    two = _ref(_case("multiclass_sparsemax", x, [0, 0, 1]))
    d = (np.asarray(x)[:, 1:] - np.asarray(x)[:, :1]).tolist()
    binary = _ref(_case("binary_sparsemax", d, [[0], [0], [1]]))
    assert np.array_equal(two.loss, binary.loss.reshape(-1))
    assert np.array_equal(two.grad[:, 1:], binary.grad) and np.array_equal(two.grad[:, :1], -binary.grad)
