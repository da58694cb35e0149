"""The losses only one framework ships (poly-1, generalized cross-entropy): their options' validation, the limits of
the hand-written poly-1 paths, and the identities their definitions give with the cross-entropy oracles."""

from __future__ import annotations

import numpy as np
import pytest

from adapters import single_checks
from harness import oracle
from harness.schema import CaseFileError, load_text
from harness.trials import Trial, materialize

POLY = """\
- id: p
  family: poly1_cross_entropy
  description: poly-1
  logits: [[1.0, 2.0, 3.0], [0.5, -1.0, 4.0]]
  labels: [[0.0, 0.0, 1.0], [0.5, 0.5, 0.0]]
"""
GCE = """\
- id: g
  family: generalized_cross_entropy
  description: generalized cross-entropy
  probabilities: [[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]]
  labels: [2, 0]
"""


def problems(text: str) -> str:
    with pytest.raises(CaseFileError) as e:
        load_text(text, "f.yaml")
    return str(e.value)


def test_the_defaults_are_the_libraries_own():
    (poly,) = load_text(POLY, "f.yaml")
    (gce,) = load_text(GCE, "f.yaml")
    assert (poly.params.epsilon, gce.params.q) == (2.0, 0.5)  # optax's epsilon=2.0, Keras' q=0.5
    assert poly.params.non_default() == {} and gce.params.non_default() == {}
    (p2,) = load_text(POLY + "  params: {epsilon: -1.0}\n", "f.yaml")
    assert p2.params.non_default() == {"epsilon": -1.0}


@pytest.mark.parametrize("text, where, why", [
    (GCE + "  params: {q: 1.0}\n", "params.q", "(0, 1)"),
    (GCE + "  params: {q: 0}\n", "params.q", "(0, 1)"),
    (GCE + "  params: {epsilon: 1.0}\n", "params.epsilon", "does not take epsilon"),
    (POLY + "  params: {q: 0.3}\n", "params.q", "does not take q"),
    (POLY + "  params: {class_weights: [1.0, 2.0, 3.0]}\n", "params.class_weights", "does not take class_weights"),
    (POLY + "  params: {label_smoothing: 0.1}\n", "params.label_smoothing", "does not take label_smoothing"),
    (GCE + "  params: {ignore_index: -1}\n", "params.ignore_index", "does not take ignore_index"),
])
def test_options_are_checked_where_they_are_written(text, where, why):
    msg = problems(text)
    assert where in msg and why in msg, msg


def test_the_hand_written_listing_refuses_labels_it_would_compute_differently():
    (ok,) = load_text(POLY, "f.yaml")
    assert single_checks.poly_manual(ok, "float32") is None
    (two,) = load_text(POLY.replace("[0.5, 0.5, 0.0]", "[1.0, 1.0, 0.0]"), "f.yaml")
    assert "sum to 1" in single_checks.poly_manual(two, "float32")


def _compute(text: str):
    (case,) = load_text(text, "f.yaml")
    return oracle.compute(case, materialize(Trial(case, "float64")), "float64")


def test_poly1_at_epsilon_0_is_the_softmax_cross_entropy():
    poly = _compute(POLY + "  params: {epsilon: 0.0, reduction: sum}\n")
    ce = _compute(POLY.replace("poly1_cross_entropy", "softmax_cross_entropy") + "  params: {reduction: sum}\n")
    np.testing.assert_allclose(poly.loss, ce.loss, rtol=1e-15)
    np.testing.assert_allclose(poly.grad, ce.grad, rtol=1e-14, atol=1e-16)


def test_poly1_adds_epsilon_times_the_missing_probability():
    """One-hot labels: l = CE + epsilon (1 - p_y), so l(eps) - l(0) = eps (1 - p_y) with p_y from numpy's softmax."""
    x = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 4.0]])
    text = POLY.replace("[0.5, 0.5, 0.0]", "[1.0, 0.0, 0.0]")
    l3 = _compute(text + "  params: {epsilon: 3.0}\n").loss
    l0 = _compute(text + "  params: {epsilon: 0.0}\n").loss
    p = np.exp(x) / np.exp(x).sum(-1, keepdims=True)
    np.testing.assert_allclose(l3 - l0, 3.0 * (1 - p[[0, 1], [2, 0]]), rtol=1e-13)


def test_generalized_loss_tends_to_the_cross_entropy_as_q_goes_to_0():
    """(1 - P^q) / q -> -log P: at q = 1e-6 the two differ by about q log(P)^2 / 2."""
    g = _compute(GCE + "  params: {q: 1.0e-6}\n")
    want = -np.log([0.5, 0.6])
    np.testing.assert_allclose(g.loss, want, rtol=1e-6)
    np.testing.assert_allclose(g.grad[[0, 1], [2, 0]], -1 / np.array([0.5, 0.6]), rtol=1e-5)
    assert np.count_nonzero(g.grad) == 2  # only the label's probability moves the loss
