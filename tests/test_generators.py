"""Generators: named, seeded, within the memory budget; imbalance ratios and masked classes as documented."""

from __future__ import annotations

import numpy as np
import pytest

from harness.schema import CaseFileError, generators, load_text
from harness.trials import Trial, materialize

CASE = """\
- id: g
  family: {family}
  description: generated
  logits: {logits}
  labels: {labels}
  params: {params}
"""


def case(logits, labels, family="sparse_softmax_cross_entropy", params="{}"):
    (c,) = load_text(CASE.format(family=family, logits=logits, labels=labels, params=params), "g.yaml")
    return c


def test_same_seed_same_arrays_other_seed_other_arrays():
    a = generators.generate("imbalanced", {"seed": 1, "ratio": 1000}, (500, 8))
    assert np.array_equal(a, generators.generate("imbalanced", {"seed": 1, "ratio": 1000}, (500, 8)))
    assert not np.array_equal(a, generators.generate("imbalanced", {"seed": 2, "ratio": 1000}, (500, 8)))


def test_imbalanced_labels_follow_the_ratio():
    labels = generators.generate("imbalanced", {"seed": 3, "ratio": 1000}, (200_000, 4))
    counts = np.bincount(labels, minlength=4)
    assert counts[0] > counts[1] > counts[2] > counts[3] > 0
    assert 700 < counts[0] / counts[3] < 1400  # p = 1000^(-k/3): 1, 0.1, 0.01, 0.001 (a random draw)
    dense = generators.generate("imbalanced_one_hot", {"seed": 3, "ratio": 1000}, (200_000, 4))
    assert np.array_equal(dense.argmax(-1), labels) and (dense.sum(-1) == 1).all()


def test_imbalanced_class_weights_span_the_ratio_exactly():
    c = case("[[1.0, 2.0, 3.0, 4.0]]", "[0]", params="{class_weights: {generate: imbalanced_weights, ratio: 1000}}")
    w = c.params.class_weights
    assert w[0] == 1.0 and w[-1] == pytest.approx(1000.0, rel=1e-15) and list(w) == sorted(w)
    assert w[1] == pytest.approx(10.0, rel=1e-14)


def test_labels_never_land_on_masked_classes_unless_asked():
    logits = "{generate: masked, shape: [400, 6], seed: 5, classes: [0, 4], value: -.inf}"
    for labels, family in (("{generate: randint, seed: 6}", "sparse_softmax_cross_entropy"),
                           ("{generate: imbalanced, seed: 6, ratio: 50}", "sparse_softmax_cross_entropy"),
                           ("{generate: one_hot, seed: 6}", "softmax_cross_entropy"),
                           ("{generate: soft, seed: 6}", "softmax_cross_entropy")):
        inputs = materialize(Trial(case(logits, labels, family), "float64"))
        assert np.isneginf(inputs.logits[:, [0, 4]]).all() and np.isfinite(inputs.logits[:, [1, 2, 3, 5]]).all()
        mass = np.bincount(inputs.labels, minlength=6) if inputs.labels.ndim == 1 else inputs.labels.sum(0)
        assert mass[0] == 0 and mass[4] == 0 and (mass[[1, 2, 3, 5]] > 0).all(), (labels, mass)
    inputs = materialize(Trial(case(logits, "{generate: randint, seed: 6, on_masked: true}"), "float64"))
    assert np.bincount(inputs.labels, minlength=6)[[0, 4]].min() > 0


def test_a_finite_mask_rounds_to_inf_where_the_dtype_cannot_hold_it():
    c = case("{generate: masked, shape: [2, 3], seed: 5, classes: [1], value: -1.0e9}", "[0, 2]")
    assert materialize(Trial(c, "float32")).logits[0, 1] == np.float32(-1e9)
    assert np.isneginf(materialize(Trial(c, "float16")).logits[0, 1])


@pytest.mark.parametrize("logits,labels,params,expected", [
    ("{generate: masked, shape: [2, 3], seed: 1, classes: [0, 1, 2]}", "[0, 0]", "{}", "leaving at least one class"),
    ("{generate: masked, shape: [2, 3], seed: 1, classes: [3]}", "[0, 0]", "{}", "indices below 3"),
    ("{generate: masked, shape: [2, 3], seed: 1, classes: [1, 1]}", "[0, 0]", "{}", "distinct class indices"),
    ("{generate: normal, shape: [2, 3], seed: 1}", "{generate: imbalanced, seed: 1, ratio: 0.5}", "{}", "finite number >= 1"),
    ("[[1.0, 2.0]]", "[0]", "{class_weights: {generate: imbalanced_weights}}", "expected a finite number >= 1, got None"),
    ("[[1.0, 2.0]]", "[0]", "{class_weights: {generate: balanced}}", "unknown weights generator 'balanced'"),
    ("{generate: masked, shape: [50000, 50000], seed: 1, classes: [0]}", "[0]", "{}", "over the budget"),
])
def test_generator_problems_name_the_field(logits, labels, params, expected):
    with pytest.raises(CaseFileError) as e:
        case(logits, labels, params=params)
    assert expected in str(e.value) and "g.yaml:" in str(e.value), str(e.value)
