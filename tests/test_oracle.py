"""The oracle against exact values: hand-derived goldens, mpmath to 1 ULP, and finite-difference gradients."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import oracle
from harness.schema import load_paths, load_text
from harness.trials import Trial, expand, materialize
from tests import mp_reference
from tests.conftest import ROOT

F64 = np.finfo(np.float64)


def ulps64(a: float, b: float) -> float:
    if np.isnan(a) and np.isnan(b) or (np.isinf(a) and a == b):
        return 0.0
    return abs(a - b) / max(np.spacing(abs(b)), F64.smallest_subnormal)


def one_case(logits, labels, family="sparse_softmax_cross_entropy", **params):
    import json
    text = (f"- id: t\n  family: {family}\n  description: t\n  logits: {json.dumps(logits)}\n"
            f"  labels: {json.dumps(labels)}\n  params: {json.dumps(params)}\n")
    (case,) = load_text(text.replace("Infinity", ".inf").replace("NaN", ".nan"), "t.yaml")
    return case


def test_tutorial_example_is_the_float64_nearest():
    case = one_case([[2.5, -1.0, 0.8, 4.1, -0.3]], [3])
    ref = oracle.compute(case, materialize(Trial(case, "float64")), "float64")
    exact, _ = mp_reference.loss(case, [[2.5, -1.0, 0.8, 4.1, -0.3]], [3])
    assert float(ref.loss[0]) == float(exact[0])  # correctly rounded, not just close


def test_tail_of_logsumexp_is_kept():
    case = one_case([[0.0, -40.0]], [0])
    ref = oracle.compute(case, materialize(Trial(case, "float64")), "float64")
    exact = mp.log1p(mp.exp(-40))
    assert ulps64(float(ref.loss[0]), float(exact)) <= 1
    assert ref.loss[0] > 0  # a textbook log(sum(exp)) gives 0 here


def _check_against_mp(case, dtype: str) -> None:
    inputs = materialize(Trial(case, dtype))
    ref = oracle.compute(case, inputs, dtype)
    exact, _ = mp_reference.loss(case, inputs.logits, inputs.labels, inputs.class_weights, inputs.sample_weights)
    got = np.asarray(ref.loss, dtype=np.float64).reshape(-1)
    assert got.size == len(exact)
    cancelled = _kl_cancelled(case, inputs) if case.family == "kl_divergence" else [0.0] * len(exact)
    for i, (g, e) in enumerate(zip(got, exact, strict=False)):
        ev = mp_reference.to_float(e)
        u = ulps64(float(g), ev)
        if cancelled[i] and u > 1.0:  # the divergence is a difference: float64's resolution of its terms
            u = max(abs(float(g) - ev) - F64.eps * cancelled[i], 0.0) / max(np.spacing(abs(ev)), F64.smallest_subnormal)
        assert u <= 1.0, f"oracle loss[{i}]={g!r}, but should be {ev!r} ({u:.2f} ULP) [{case.id}, {dtype}]"


def _kl_cancelled(case, inputs) -> list[float]:
    """The magnitude that cancels in each returned KL value: sum_c t_c log t_c against sum_c t_c q_c (targets
    close to the predictions give a divergence far below its terms, which no rounding of the result accounts
    for: tests/test_oracle_mpmath.py's K_CANCEL). The other families' losses add one-signed terms: 0 there."""
    with mp.workdps(50):
        return [float(v.cancelled) for v in mp_reference.exact(case, inputs).loss]


LIBRARY = [t for t in expand(load_paths([ROOT / "cases"])) if t.case.predictions.shape and np.prod(t.case.predictions.shape) <= 64
           and not t.case.expect.error]
assert len(LIBRARY) != 0


@pytest.mark.parametrize("trial", LIBRARY, ids=lambda t: t.id)
def test_oracle_matches_mpmath_on_the_case_library(trial):
    _check_against_mp(trial.case, trial.dtype)


finite = st.floats(min_value=-800, max_value=800, allow_nan=False, width=64)  # tails down to exp(-1600)


@settings(max_examples=60, deadline=None)
@given(
    x=st.lists(st.lists(finite, min_size=3, max_size=3), min_size=1, max_size=4),
    seed=st.integers(0, 2**16),
    reduction=st.sampled_from(["none", "sum", "mean"]),
    dense=st.booleans(),
    smoothing=st.sampled_from([0.0, 0.1]),
)
def test_oracle_matches_mpmath_on_random_inputs(x, seed, reduction, dense, smoothing):
    rng = np.random.default_rng(seed)
    lab = rng.integers(0, 3, size=len(x)).tolist()
    if dense:
        y = rng.dirichlet(np.ones(3), size=len(x)).round(3).tolist()
        case = one_case(x, y, "softmax_cross_entropy", reduction=reduction, label_smoothing=smoothing)
    else:
        case = one_case(x, lab, reduction=reduction, label_smoothing=smoothing)
    _check_against_mp(case, "float64")


@pytest.mark.parametrize("logits,labels,family,params", [
    ([[2.5, -1.0, 0.8, 4.1, -0.3]], [3], "sparse_softmax_cross_entropy", {}),
    ([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [[0, 0, 1], [1, 0, 0]], "softmax_cross_entropy", {"reduction": "mean"}),
    ([[0.3, -2.0, 1.0]], [[0.2, 0.5, 0.3]], "softmax_cross_entropy", {"reduction": "sum", "label_smoothing": 0.2}),
    ([[1.0, 3.0, -1.0], [0.5, 0.5, 2.0]], [1, 2], "sparse_softmax_cross_entropy", {"reduction": "mean", "class_weights": [1.0, 3.0, 0.5]}),
])
def test_gradient_matches_high_precision_central_differences(logits, labels, family, params):
    case = one_case(logits, labels, family, **params)
    inputs = materialize(Trial(case, "float64"))
    ref = oracle.compute(case, inputs, "float64")
    x0 = np.asarray(inputs.logits, dtype=np.float64)

    def f_at(idx, h):
        xx = x0.astype(object)
        xx[idx] = mp.mpf(float(x0[idx])) + h
        vals, _ = mp_reference.loss(case, xx, inputs.labels, inputs.class_weights)
        return mp.fsum(vals)

    for idx in np.ndindex(x0.shape):
        d = mp.diff(lambda h, idx=idx: f_at(idx, h), 0)  # central differences at 400 digits
        assert abs(float(ref.grad[idx]) - float(d)) <= 2 * F64.eps * max(1.0, abs(float(d))), (idx, ref.grad[idx], d)


GOLDEN = [c for c in load_paths([ROOT / "cases"]) if c.expect.loss is not None]
assert len(GOLDEN) != 0


@pytest.mark.parametrize("case", GOLDEN, ids=lambda c: c.id)
def test_golden_values_in_the_case_library_are_the_float64_nearest(case):
    inputs = materialize(Trial(case, "float64"))
    exact, _ = mp_reference.loss(case, inputs.logits, inputs.labels, inputs.class_weights, inputs.sample_weights)
    assert len(exact) == len(case.expect.loss)
    for g, e in zip(case.expect.loss, exact, strict=False):
        assert ulps64(g, mp_reference.to_float(e)) <= 0.5, f"golden {g!r}, but should be {mp_reference.to_float(e)!r} [{case.id}]"


def probs_case(probabilities, labels, family, **params):
    import json
    text = (f"- id: t\n  family: {family}\n  description: t\n  probabilities: {json.dumps(probabilities)}\n"
            f"  labels: {json.dumps(labels)}\n  params: {json.dumps(params)}\n")
    (case,) = load_text(text, "t.yaml")
    return case


@pytest.mark.parametrize("case", [
    probs_case([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]], [[0.1, 0.6, 0.2], [0.5, 0.3, 0.4]], "categorical_crossentropy",
               class_weights=[1.0, 2.0, 0.5], sample_weights=[1.0, 3.0], reduction="weighted_mean", label_smoothing=0.1),
    probs_case([[0.3, 0.8], [0.6, 0.05]], [[0.25, 0.9], [0.5, 0.0]], "binary_crossentropy",
               class_weights=[2.0, 0.5], reduction="mean", label_smoothing=0.2),
    one_case([[2.0, 0.5, -1.0], [0.1, 0.2, 9.0]], [[1, 0, 0], [0.2, 0.1, 0.7]], "categorical_focal_crossentropy",
             gamma=2.0, alpha=0.25, sample_weights=[2.0, 1.0], reduction="sum"),
    one_case([[2.0, 0.5, -1.0], [0.1, 0.2, 9.0]], [[1, 0, 0], [0, 0, 1]], "categorical_focal_crossentropy", gamma=0.5),
    one_case([[2.0, -1.0, 0.5], [-3.0, 0.0, 12.0]], [[1, 0, 0.3], [0, 1, 1]], "binary_focal_crossentropy",
             gamma=2.0, alpha=0.25, label_smoothing=0.1, reduction="mean"),
    one_case([[2.0, -1.0, 0.5], [-3.0, 0.0, 12.0]], [[1, 0, 0.3], [0, 1, 1]], "binary_focal_crossentropy", gamma=0.5),
    one_case([[1.0, -2.0, 0.5], [30.0, 0.0, 1.0]], [[0.5, -1.0, 2.0], [1.0, 0.0, 3.0]], "log_softmax"),
    one_case([[1.0, -2.0, 0.5], [30.0, 0.0, 1.0]], [[0.5, -1.0, 2.0], [1.0, 0.0, 3.0]], "softmax"),
    one_case([[1.0, -2.0, 0.5], [30.0, 0.0, 1.0]], [2.0, -0.5], "logsumexp"),
], ids=lambda c: f"{c.family}-{c.params.reduction}-{c.params.gamma}")
def test_gradients_of_the_other_families_match_central_differences(case):
    """d(sum of cotangent * outputs)/d(input) against 400-digit central differences of mp_reference."""
    inputs = materialize(Trial(case, "float64"))
    ref = oracle.compute(case, inputs, "float64")
    x0 = np.asarray(inputs.logits, dtype=np.float64)
    cot = np.asarray(inputs.labels, dtype=np.float64).reshape(-1) if case.block else None

    def f_at(idx, h):
        xx = x0.astype(object)
        xx[idx] = mp.mpf(float(x0[idx])) + h
        vals, _ = mp_reference.loss(case, xx, inputs.labels, inputs.class_weights, inputs.sample_weights)
        return mp.fsum(v * mp.mpf(float(c)) for v, c in zip(vals, cot, strict=True)) if cot is not None else mp.fsum(vals)

    for idx in np.ndindex(x0.shape):
        d = mp.diff(lambda h, idx=idx: f_at(idx, h), 0)
        assert abs(float(ref.grad[idx]) - float(d)) <= 4 * F64.eps * max(1.0, abs(float(d))), (idx, ref.grad[idx], d)
