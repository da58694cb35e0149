"""The margin families (hinge, squared hinge, soft margin, multilabel soft margin): their case checks, the hinge's
kinks as the judge sees them from real frameworks, and the soft margin against the sigmoid cross-entropy."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.api import Observation
from harness import oracle
from harness.judge import tolerances
from harness.judge.verdicts import judge
from harness.schema import CaseFileError, load_text
from harness.trials import Trial, materialize
from tests.conftest import have


def _case(family: str, labels: str, params: str = "{}", logits: str = "[[1.0, -1.0, 0.5], [-1.0, 3.0, 0.0]]") -> str:
    return (f"- id: m\n  family: {family}\n  description: d\n  logits: {logits}\n  labels: {labels}\n"
            f"  params: {params}\n")


@pytest.mark.parametrize("text,fragment", [
    (_case("hinge", "[[1, 0, 1], [-1, 1, 1]]"), "label 0 with label_convention pm1: labels are -1 or 1"),
    (_case("squared_hinge", "[[1, 0, 1], [-1, 1, 1]]", '{label_convention: "01"}'),
     "label -1 with label_convention 01: labels are 0 or 1"),
    (_case("hinge", "[[1, -1, 1], [-1, 1, 1]]", "{label_convention: signed}"), "expected one of pm1, 01"),
    (_case("sigmoid_cross_entropy", "[[1, 0, 1], [0, 1, 1]]", '{label_convention: "01"}'),
     "applies to the binary margin families only"),
    (_case("soft_margin", "[[1, -1, 1], [-1, 1, 1]]", "{label_smoothing: 0.1}"), "does not apply to soft_margin"),
    (_case("multilabel_soft_margin", "[[1, 0, 1], [0, 1, 1]]", '{label_convention: "01"}'),
     "applies to the binary margin families only"),
    (_case("multilabel_soft_margin", "[[[1, 0]], [[0, 1]]]", logits="[[[1.0, 2.0]], [[0.5, 0.0]]]"),
     "multilabel_soft_margin takes [rows, classes]"),
])
def test_margin_cases_are_checked_at_their_field(text, fragment):
    with pytest.raises(CaseFileError) as e:
        load_text(text, "f.yaml")
    assert any(fragment in str(p) for p in e.value.problems), [str(p) for p in e.value.problems]


def test_both_label_conventions_give_the_same_hinge():
    pm1 = load_text(_case("hinge", "[[1, -1, 1], [-1, -1, 1]]", "{reduction: sum}"), "a.yaml")[0]
    zo = load_text(_case("hinge", "[[1, 0, 1], [0, 0, 1]]", '{reduction: sum, label_convention: "01"}'), "b.yaml")[0]
    a = oracle.compute(pm1, materialize(Trial(pm1, "float64")), "float64")
    b = oracle.compute(zo, materialize(Trial(zo, "float64")), "float64")
    assert float(a.loss) == float(b.loss) == 0.5 + 4.0 + 1.0  # margins 0, 0, 0.5 and 0, 4, 1 (the 1 at x = 0)
    assert np.array_equal(a.subgradient.at0, b.subgradient.at0) and np.array_equal(a.subgradient.at1, b.subgradient.at1)


def test_soft_margin_is_the_sigmoid_cross_entropy_at_labels_y_plus_1_over_2():
    """Two oracles, two formulas: log(1 + e^(-y x)) and z sp(-x) + (1 - z) sp(x) with z = (y + 1) / 2."""
    x = "[[0.5, -40.0, 2.0], [-0.25, 3.0, 700.0]]"
    sm = load_text(_case("soft_margin", "[[1, -1, -1], [1, 1, -1]]", logits=x), "a.yaml")[0]
    sg = load_text(_case("sigmoid_cross_entropy", "[[1, 0, 0], [1, 1, 0]]", logits=x), "b.yaml")[0]
    a = oracle.compute(sm, materialize(Trial(sm, "float64")), "float64")
    b = oracle.compute(sg, materialize(Trial(sg, "float64")), "float64")
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-15)
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-15)


# --------------------------------------------------------------------------- kinks, from real torch

KINKS = _case("hinge", "[[1, -1, 1], [-1, -1, 1]]", "{reduction: sum}")


@pytest.mark.skipif(not have("torch"), reason="torch is not installed")
@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
def test_each_torch_hinge_takes_its_own_derivative_at_the_kink_and_each_passes(dtype):
    """relu'(0) = 0 (threshold_backward passes where x > 0), clamp(min=0) passes the gradient where x >= min
    (1), torch.maximum splits a tie (1/2): three different correct gradients, all accepted and recorded."""
    from adapters import torch_adapter

    (case,) = load_text(KINKS, "k.yaml")
    inputs = materialize(Trial(case, dtype))
    ref = oracle.compute(case, inputs, dtype)
    tol = tolerances.for_trial(case, dtype, ref, inputs)
    adapter = torch_adapter.TorchAdapter()
    paths = {p.name: p for p in adapter.paths()}
    for name, slope in (("manual:F.relu(1-y*x)", "0"), ("manual:torch.clamp(1-y*x, min=0)", "1"),
                        ("manual:torch.maximum(1-y*x, 0)", "0.5")):
        obs = adapter.run(paths[name], case, inputs, dtype, "cpu")
        out = judge(case, ref, obs, tol)
        assert out.verdict == "pass", (name, out.message)
        assert out.metrics["kinks"] == 3 and out.metrics["subgradient"] == slope, (name, out.metrics)


def test_a_gradient_outside_the_subdifferential_is_rejected_in_every_dtype():
    """The kink widens nothing else: the wrong slope where the margin is not 0 is a grad_mismatch."""
    (case,) = load_text(KINKS, "k.yaml")
    for dtype in ("float64", "float32", "float16", "bfloat16"):
        inputs = materialize(Trial(case, dtype))
        ref = oracle.compute(case, inputs, dtype)
        tol = tolerances.for_trial(case, dtype, ref, inputs)
        good = ref.subgradient.at1.copy()
        assert judge(case, ref, Observation(dtype=dtype, loss=ref.loss, grad=good), tol).verdict == "pass"
        bad = good.copy()
        bad[1, 1] = 0.0  # margin 4: the slope is -y = 1 there, nothing else
        assert judge(case, ref, Observation(dtype=dtype, loss=ref.loss, grad=bad), tol).verdict == "grad_mismatch"
        past = good.copy()
        past[0, 0] = -1.5  # a kink's interval is [-1, 0] (y = 1): past its end
        assert judge(case, ref, Observation(dtype=dtype, loss=ref.loss, grad=past), tol).verdict == "grad_mismatch"


def test_the_kink_side_term_is_zero_for_every_label_the_schema_allows():
    """A rounding keeps a sign: with |y'| = 1 the computed margin is on the exact margin's side, so the term that
    allows the other side is 0 (it is there for labels of other magnitudes, which the schema refuses)."""
    (case,) = load_text(_case("hinge", "[[1, -1, 1], [-1, -1, 1]]", "{reduction: sum}",
                              logits="[[1.0000001, -0.9999999, 0.5], [-1.0, 3.0, 0.0]]"), "k.yaml")
    for dtype in ("float64", "float32"):
        inputs = materialize(Trial(case, dtype))
        ref = oracle.compute(case, inputs, dtype)
        tol = tolerances.for_trial(case, dtype, ref, inputs)
        terms = tol.grad_terms(0, 6)
        assert "kink side" in terms and not np.any(terms["kink side"])


# --------------------------------------------------------------------------- the relation sigmoid_form

RELATED = [
    _case("soft_margin", "[[1, -1, 1], [-1, -1, 1]]", '{reduction: mean}', logits="[[0.5, -30.0, 2.0], [-0.25, 3.0, 90.0]]"),
    _case("soft_margin", "[[1, 0, 1], [0, 0, 1]]", '{reduction: none, label_convention: "01"}'),
    _case("multilabel_soft_margin", "[[1, 0, 0.25], [1, 1, 0]]", "{reduction: none, class_weights: [1.0, 2.0, 0.5]}"),
    _case("multilabel_soft_margin", "[[1, 0, 0.25], [1, 1, 0]]", "{reduction: mean}"),
    _case("multilabel_soft_margin", "[[1, 0, 0.25], [1, 1, 0]]",
          "{reduction: weighted_mean, sample_weights: [2.0, 0.5], class_weights: [1.0, 2.0, 0.5]}"),
]


@pytest.mark.parametrize("text", RELATED)
def test_the_sigmoid_partner_mapped_back_is_the_soft_margin(text):
    """The relation's mapping, with the oracle on both sides (two formulas): the sigmoid cross-entropy of the
    partner, mapped back onto the case, is the soft margin loss and gradient."""
    from harness.judge import relations

    (case,) = load_text(text.replace("params:", "relations: [sigmoid_form]\n  params:"), "r.yaml")
    inputs = materialize(Trial(case, "float64"))
    ref = oracle.compute(case, inputs, "float64")
    pt = relations.partner(case, case.relations[0], inputs, "float64")
    assert pt.case.family == "sigmoid_cross_entropy"
    other = oracle.compute(pt.case, pt.inputs, "float64")
    loss, grad = pt.to_case(other.loss, other.grad)
    np.testing.assert_allclose(loss, ref.loss, rtol=4e-16)
    np.testing.assert_allclose(grad, ref.grad, rtol=4e-16)


def test_sigmoid_form_applies_to_the_soft_margins_only():
    with pytest.raises(CaseFileError, match="sigmoid_form relates the soft margin families"):
        load_text(_case("hinge", "[[1, -1, 1], [-1, -1, 1]]").replace("params:", "relations: [sigmoid_form]\n  params:"),
                  "r.yaml")
    with pytest.raises(CaseFileError, match="takes sigmoid_form only"):
        load_text(_case("soft_margin", "[[1, -1, 1], [-1, -1, 1]]", "{reduction: mean}").replace(
            "params:", "relations: [sum_mean]\n  params:"), "r.yaml")
