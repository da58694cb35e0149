"""nll_loss and kl_divergence: what a case file may say of them, and the oracle's edges stated in
harness/oracle/logprob.py, each value derived by hand from the definition."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness import oracle
from harness.schema import CaseFileError, load_text
from harness.trials import Trial, materialize


def _case(family: str, body: str):
    (case,) = load_text(f"- id: t\n  family: {family}\n  description: a log-probability case\n{body}", "f.yaml")
    return case


def _problems(family: str, body: str) -> list[str]:
    with pytest.raises(CaseFileError) as e:
        _case(family, body)
    return [str(p) for p in e.value.problems]


def _ref(case, dtype="float64"):
    return oracle.compute(case, materialize(Trial(case, dtype)), dtype)


def test_the_first_input_is_written_as_log_probabilities_and_is_at_most_0():
    assert any("nll_loss takes log_probabilities: write 'log_probabilities:'" in p
               for p in _problems("nll_loss", "  logits: [[-0.5, -1.0]]\n  labels: [0]\n"))
    assert any("log-probabilities must be <= 0" in p
               for p in _problems("nll_loss", "  log_probabilities: [[0.5, -1.0]]\n  labels: [0]\n"))


def test_each_family_takes_only_its_own_options():
    (p,) = _problems("nll_loss", "  log_probabilities: [[-0.5, -1.0]]\n  labels: [0]\n  params: {label_smoothing: 0.1}\n")
    assert "f.yaml:6:" in p and "t.params.label_smoothing: nll_loss does not take label_smoothing" in p
    (p,) = _problems("kl_divergence", "  log_probabilities: [[-0.5, -1.0]]\n  labels: [[0.5, 0.5]]\n"
                                      "  params: {class_weights: [1.0, 2.0]}\n")
    assert "kl_divergence does not take class_weights" in p
    (p,) = _problems("softmax_cross_entropy", "  logits: [[0.5, -1.0]]\n  labels: [[0.5, 0.5]]\n  params: {log_target: true}\n")
    assert "t.params.log_target: applies to kl_divergence only" in p


def test_kl_targets_are_probabilities_or_with_log_target_log_probabilities():
    (p,) = _problems("kl_divergence", "  log_probabilities: [[-0.5, -1.0]]\n  labels: [[-0.5, 1.0]]\n")
    assert "the labels are probabilities in [0, 1]" in p
    (p,) = _problems("kl_divergence", "  log_probabilities: [[-0.5, -1.0]]\n  labels: [[0.5, 0.5]]\n"
                                      "  params: {log_target: true}\n")
    assert "the labels are log-probabilities: <= 0" in p
    (p,) = _problems("kl_divergence", "  log_probabilities: [[-0.5, -1.0]]\n  labels: {generate: log_soft, seed: 1}\n")
    assert "log_soft makes log-targets" in p


def test_nll_is_minus_the_weighted_log_probability_at_the_label_and_reads_nothing_else():
    case = _case("nll_loss", "  log_probabilities: [[.nan, -0.25, -.inf], [-0.5, -2.0, -4.0]]\n  labels: [1, 2]\n"
                             "  params: {class_weights: [1.0, 2.0, 0.5]}\n  allow_nan: true\n")
    ref = _ref(case)
    assert ref.loss.tolist() == [0.5, 2.0]  # 2 * 0.25 and 0.5 * 4: the NaN and the -inf elsewhere are never read
    assert ref.grad.tolist() == [[0.0, -2.0, 0.0], [0.0, 0.0, -0.5]]


def test_nll_at_a_masked_label_is_infinite_with_a_finite_gradient_unless_its_weight_is_0():
    case = _case("nll_loss", "  log_probabilities: [[-.inf, -0.25], [-.inf, -0.5]]\n  labels: [0, 0]\n"
                             "  params: {class_weights: [1.0, 3.0]}\n")
    assert _ref(case).loss.tolist() == [math.inf, math.inf]
    assert _ref(case).grad.tolist() == [[-1.0, 0.0], [-1.0, 0.0]]
    zero = _case("nll_loss", "  log_probabilities: [[-.inf, -0.25]]\n  labels: [0]\n"
                             "  params: {class_weights: [0.0, 3.0], reduction: sum}\n")
    assert float(_ref(zero).loss) == 0.0


def test_nll_weighted_mean_divides_by_the_weights_of_the_kept_labels():
    case = _case("nll_loss", "  log_probabilities: [[-1.0, -2.0], [-3.0, -4.0], [-5.0, -6.0]]\n  labels: [0, 1, -1]\n"
                             "  params: {class_weights: [1.0, 3.0], ignore_index: -1, reduction: weighted_mean}\n")
    ref = _ref(case)
    assert float(ref.loss) == (1.0 + 3.0 * 4.0) / 4.0
    assert ref.grad.tolist() == [[-0.25, 0.0], [0.0, -0.75], [0.0, 0.0]]


def test_kl_counts_a_zero_target_as_nothing_even_against_a_zero_prediction():
    case = _case("kl_divergence", "  log_probabilities: [[-.inf, -0.25, -3.0]]\n  labels: [[0.0, 1.0, 0.0]]\n")
    ref = _ref(case)
    assert ref.loss.tolist() == [0.25]  # 1 (log 1 + 0.25); 0 log 0 = 0, and 0 * -(-inf) counts for nothing
    assert ref.grad.tolist() == [[0.0, -1.0, 0.0]]
    logt = _case("kl_divergence", "  log_probabilities: [[-0.5, -1.0]]\n  labels: [[-.inf, 0.0]]\n  params: {log_target: true}\n")
    assert _ref(logt).loss.tolist() == [1.0]  # exp(-inf) (-inf + 0.5) is 0; exp(0) (0 + 1) is 1
    positive = _case("kl_divergence", "  log_probabilities: [[-.inf, -0.1]]\n  labels: [[0.25, 0.75]]\n")
    assert _ref(positive).loss.tolist() == [math.inf]


def test_kl_mean_divides_by_rows_and_weighted_mean_by_the_sample_weights():
    body = "  log_probabilities: [[-1.0, -2.0], [-3.0, -0.5]]\n  labels: [[1.0, 0.0], [0.0, 1.0]]\n"
    mean = _ref(_case("kl_divergence", body + "  params: {sample_weights: [2.0, 4.0], reduction: mean}\n"))
    weighted = _ref(_case("kl_divergence", body + "  params: {sample_weights: [2.0, 4.0], reduction: weighted_mean}\n"))
    assert float(mean.loss) == (2.0 * 1.0 + 4.0 * 0.5) / 2
    assert float(weighted.loss) == (2.0 * 1.0 + 4.0 * 0.5) / 6
    assert np.array_equal(weighted.grad, [[-2.0 / 6, 0.0], [0.0, -4.0 / 6]])
