"""The oracle against the independent mpmath reference (tests/mp_reference.py), loss and gradient, on every
built-in case in every dtype it declares, on the inputs the harness materializes for that dtype.

Agreement means, per element: NaN where the reference is NaN, the same infinity where it is infinite, and
otherwise |oracle - exact| <= k float64 ULPs of the exact value + K_CANCEL * eps * (the magnitude its terms
cancel). The second term is float64's resolution of a difference: a value formed as P - N in any arithmetic
of float64's resolution carries an error of order eps * min(P, N) that is no ULP of the result (soft labels
and signed cotangents make such differences in the gradient); where nothing cancels it is 0 and the bound is
purely relative, down to the subnormal spacing (float64's resolution at 0). k is K_LOSS for returned values,
whose exact value is a sum of one-signed terms that the oracle adds in 64-bit-mantissa arithmetic and rounds
once, and K_GRAD for gradient entries, which take one more exponential (measured on the library: 0.5 and
0.73 ULPs at most).

Trials over SAMPLE_ABOVE elements are checked on a seeded sample of rows: each sampled row's value
(the oracle with reduction none) and gradient row (the oracle with the case's reduction, the reference
scaled by the reduction's factor over the whole batch); the reduction itself, loss and gradient, on a
batch made of the sampled rows; and the whole batch's reduced value against the reference's reduction of
the oracle's per-row values.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import replace

import mpmath as mp
import numpy as np
import pytest

from harness import oracle
from harness.oracle import core as oracle_core
from harness.schema import load_paths, load_text
from harness.trials import Inputs, Trial, expand, materialize
from tests import mp_reference
from tests.conftest import ROOT
from tests.mp_reference import Val

F64 = np.finfo(np.float64)
K_LOSS = 1
K_GRAD = 2
K_CANCEL = 1
# float64 values round to +-inf from here on (max + half an ULP)
OVERFLOW = mp.mpf(2) ** 1024 * (1 - mp.mpf(2) ** -54)

def ulp64(e) -> float:
    """float64's spacing at |e| (the subnormal spacing below the normal range; 2^971 beyond the largest float)."""
    a = min(float(abs(e)), F64.max)
    return math.ldexp(1.0, max(math.frexp(a)[1] - 53, -1074)) if a else math.ldexp(1.0, -1074)


def disagreement(got: float, want: Val, k: float) -> str | None:
    """None if the float64 `got` is within k ULPs (and the cancellation allowance) of the exact value, else why not."""
    e = want.value
    got = float(got)
    if mp.isnan(e):
        return None if np.isnan(got) else "should be NaN"
    if mp.isinf(e):
        return None if got == float(e) else f"should be {'+' if e > 0 else '-'}inf"
    if np.isnan(got):
        return "NaN where the exact value is finite"
    if np.isinf(got):
        return None if abs(e) >= OVERFLOW and (got > 0) == (e > 0) else "infinite where the exact value is finite"
    spacing = ulp64(e)
    err = abs(mp.mpf(got) - e)
    tol = k * mp.mpf(spacing) + K_CANCEL * mp.mpf(F64.eps) * want.cancelled
    if err <= tol:
        return None
    return f"{float(err / spacing):.3g} ULPs off (allowed {float(tol / spacing):.3g})"


def _float(v) -> float:
    return float("nan") if mp.isnan(v) else float(v)


def mismatches(what: str, got: np.ndarray, want, k: float, index_of=None) -> list[str]:
    """Every element of `got` (float64) that disagrees with `want` (Vals, same order when flattened)."""
    got = np.asarray(got, dtype=np.float64).reshape(-1)
    want = list(np.asarray(want, dtype=object).reshape(-1))
    if got.size != len(want):
        return [f"{what}: {got.size} elements, the reference has {len(want)}"]
    # a fast pass: the float64 nearest the exact value (within half an ULP of it, or the same infinity or NaN)
    # needs no exact arithmetic
    nearest = np.array([_float(w.value) for w in want], dtype=np.float64)
    same = (got == nearest) | (np.isnan(got) & np.isnan(nearest))
    out = []
    for i in np.flatnonzero(~same):
        g, w = got[i], want[i]
        why = disagreement(g, w, k)
        if why:
            where = index_of(int(i)) if index_of else int(i)
            out.append(f"{what}{list(where) if isinstance(where, tuple) else [where]}: oracle {g!r}, "
                       f"exact {mp.nstr(w.value, 20)} ({why})")
    return out


def _unravel(shape):
    return lambda k: tuple(int(i) for i in np.unravel_index(k, shape)) if shape else ()


def check_full(case, inputs: Inputs, dtype: str) -> list[str]:
    ref = oracle.compute(case, inputs, dtype)
    ex = mp_reference.exact(case, inputs)
    loss = np.asarray(ref.loss)
    out = []
    if loss.shape != ex.loss_shape:
        out.append(f"loss shape {loss.shape}, the reference's {ex.loss_shape}")
    out += mismatches("loss", loss, ex.loss, K_LOSS, _unravel(loss.shape))
    grad = np.asarray(ref.grad)
    if grad.shape != np.asarray(inputs.logits).shape:
        out.append(f"gradient shape {grad.shape}, the logits' {np.asarray(inputs.logits).shape}")
    return out + mismatches("grad", grad, ex.grad, K_GRAD, _unravel(grad.shape))


# --------------------------------------------------------------------------- the comparison, every family and option


def one_case(logits, labels, family="sparse_softmax_cross_entropy", **params):
    text = (f"- id: t\n  family: {family}\n  description: t\n  logits: {json.dumps(logits)}\n"
            f"  labels: {json.dumps(labels)}\n  params: {json.dumps(params)}\n")
    (case,) = load_text(text.replace("-Infinity", "-.inf").replace("Infinity", ".inf").replace("NaN", ".nan"), "t.yaml")
    return case


def test_the_comparison_rejects_what_is_an_ulp_or_two_off():
    exact = Val.of(mp.log1p(mp.exp(-1)))  # 0.3132616875182228...
    nearest = float(exact.value)
    assert disagreement(nearest, exact, K_LOSS) is None
    assert disagreement(nearest + 2 * np.spacing(nearest), exact, K_LOSS) is not None
    assert disagreement(nearest + 3 * np.spacing(nearest), exact, K_GRAD) is not None
    assert mismatches("loss", np.array([nearest, nearest + 2 * np.spacing(nearest)]), [exact, exact], K_LOSS) != []
    assert disagreement(-nearest, exact, K_GRAD) is not None
    assert disagreement(float("nan"), exact, K_GRAD) is not None
    assert disagreement(nearest, Val.nan(), K_GRAD) is not None
    assert disagreement(float("inf"), Val.of(mp.mpf(10) ** 400), K_LOSS) is None  # beyond float64: inf is right
    assert disagreement(F64.max, Val.of(mp.mpf(10) ** 400), K_LOSS) is not None
    assert disagreement(0.0, Val.of(mp.mpf(10) ** -330), K_LOSS) is None  # below float64's resolution at 0
    assert disagreement(0.0, Val.of(mp.mpf(10) ** -300), K_LOSS) is not None
    # a difference of two terms of order 1 is allowed float64's resolution of the terms, no more
    diff = Val(mp.mpf(1) + mp.mpf(10) ** -20, mp.mpf(1))
    assert disagreement(1e-20 + 1e-16, diff, K_GRAD) is None
    assert disagreement(1e-20 + 1e-15, diff, K_GRAD) is not None


# small inputs for every family and option (some the library lacks: sample weights on a sequence, per-class
# pos_weight with class and sample weights, focal losses with smoothing and weights)
OPTION_CASES = [
    one_case([[1.0, -2.0, 0.5], [0.3, 0.0, 4.0]], [[0.2, 0.5, 0.3], [0.0, 1.0, 0.0]], "softmax_cross_entropy",
             class_weights=[1.0, 3.0, 0.5], sample_weights=[2.0, 0.5], label_smoothing=0.1, reduction="weighted_mean"),
    one_case([[1.0, float("-inf"), 0.5], [0.3, 0.0, 4.0], [2.0, 1.0, 0.0]], [0, -100, 2], ignore_index=-100,
             class_weights=[1.0, 3.0, 0.5], reduction="mean"),
    one_case([[[1.0, -1.0], [0.5, 2.0], [0.0, 3.0]], [[2.0, 0.0], [1.0, 1.0], [-1.0, 0.5]]], [[2, 0], [1, 2]],
             axis=1, sample_weights=[1.5, 0.5], label_smoothing=0.2, reduction="sum"),
    one_case([[1.0, -2.0, 0.5], [0.3, 0.0, 4.0]], [[1.0, 0.0, 0.25], [0.5, 0.5, 1.0]], "weighted_sigmoid_cross_entropy",
             pos_weight=[2.0, 0.5, 3.0], class_weights=[1.0, 2.0, 0.5], sample_weights=[1.0, 3.0],
             label_smoothing=0.1, reduction="weighted_mean"),
    one_case([[1.0, -2.0], [0.3, 4.0]], [[1.0, 0.0], [0.5, 1.0]], "weighted_sigmoid_cross_entropy", pos_weight=4.0,
             reduction="mean"),
    one_case([[2.0, 0.5, -1.0], [0.1, 0.2, 9.0]], [[1, 0, 0], [0.2, 0.1, 0.7]], "categorical_focal_crossentropy",
             gamma=2.0, alpha=0.25, sample_weights=[2.0, 1.0], label_smoothing=0.1, reduction="weighted_mean"),
    one_case([[2.0, 0.5, -1.0], [0.1, 0.2, 9.0]], [[0, 1, 0], [0, 0, 1]], "categorical_focal_crossentropy", gamma=0.5),
    one_case([[2.0, -1.0, 0.5], [-3.0, 0.0, 12.0]], [[1, 0, 0.3], [0, 1, 1]], "binary_focal_crossentropy",
             gamma=2.0, alpha=0.25, label_smoothing=0.1, class_weights=[1.0, 2.0, 0.5], reduction="weighted_mean"),
    one_case([[2.0, -1.0, 0.5], [-3.0, 0.0, 12.0]], [[1, 0, 0.3], [0, 1, 1]], "binary_focal_crossentropy", gamma=0.5),
    one_case([[1.0, -2.0, 0.5], [30.0, 0.0, float("-inf")]], [[0.5, -1.0, 2.0], [1.0, 0.5, 0.0]], "log_softmax"),
    one_case([[1.0, -2.0, 0.5], [30.0, 0.0, 1.0]], [[0.5, -1.0, 2.0], [1.0, 0.0, 3.0]], "softmax"),
    one_case([[[1.0, -2.0], [0.5, 3.0]], [[30.0, 0.0], [1.0, 2.0]]], [[2.0, -0.5], [1.0, 0.25]], "logsumexp", axis=0),
    # the multi-class hinges, with a kink (a margin of exactly 0, a tie of two) and a masked class in each
    one_case([[1.0, -2.0, 0.25, 2.0], [0.3, 0.0, 4.0, -1.0], [1.0, 0.0, float("-inf"), 0.25]], [0, 2, 1],
             "weston_watkins_hinge", class_weights=[1.0, 2.0, 0.5, 3.0], sample_weights=[1.0, 0.5, 2.0],
             margin=0.75, reduction="mean"),
    one_case([[1.0, -2.0, 0.5], [0.3, 0.0, 4.0], [0.5, -0.5, 0.25]], [0, 2, 1], "weston_watkins_hinge", p=2,
             class_weights=[1.0, 2.0, 0.5], reduction="weighted_mean"),
    one_case([[1.0, 3.0, 3.0], [0.3, 0.0, 4.0], [1.0, 0.0, float("-inf")]], [0, 2, 0], "crammer_singer_hinge",
             sample_weights=[2.0, 1.0, 0.5], class_weights=[1.0, 0.5, 2.0], margin=1.5, reduction="sum"),
    one_case([[-3.0, -5.0], [2.0, 0.5], [0.0, 1.0]], [[1, 0], [0, 1], [1, 0]], "categorical_hinge",
             sample_weights=[1.0, 2.0, 0.5], reduction="weighted_mean"),
    one_case([[0.5, 1.0, -1.0], [0.5, 0.5, 0.0]], [[1, 0, 1], [0, 0, 1]], "categorical_hinge", margin=0.25),
]


def _probs_case(probabilities, labels, family, **params):
    text = (f"- id: t\n  family: {family}\n  description: t\n  probabilities: {json.dumps(probabilities)}\n"
            f"  labels: {json.dumps(labels)}\n  params: {json.dumps(params)}\n")
    (case,) = load_text(text, "t.yaml")
    return case


OPTION_CASES += [
    _probs_case([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]], [[0.1, 0.6, 0.2], [0.5, 0.3, 0.4]], "categorical_crossentropy",
                class_weights=[1.0, 2.0, 0.5], sample_weights=[1.0, 3.0], reduction="weighted_mean", label_smoothing=0.1),
    _probs_case([[0.3, 0.8], [0.6, 0.05]], [[0.25, 0.9], [0.5, 0.0]], "binary_crossentropy",
                class_weights=[2.0, 0.5], sample_weights=[1.0, 4.0], reduction="mean", label_smoothing=0.2),
]
# the margin families: kinks (margins of exactly 0), both label conventions, weights, every reduction
MARGIN_CASES = [
    one_case([[1.0, -1.0, 0.5], [-1.0, 3.0, float("inf")]], [[1, -1, 1], [-1, -1, 1]], "hinge",
             class_weights=[1.0, 2.0, 0.5], sample_weights=[3.0, 0.5], reduction="weighted_mean"),
    one_case([[1.0, -1.0, 0.5], [-1.0, 3.0, float("-inf")]], [[1, 0, 1], [0, 0, 0]], "hinge", label_convention="01",
             reduction="mean"),
    one_case([[1.0, -1.0, 0.5], [-1.0, 3.0, 100.0]], [[1, 0, 1], [0, 0, 1]], "squared_hinge", label_convention="01",
             sample_weights=[2.0, 0.25], reduction="sum"),
    one_case([[0.5, -40.0, 2.0], [-0.25, 3.0, 800.0]], [[1, -1, -1], [1, 1, -1]], "soft_margin",
             class_weights=[1.0, 2.0, 0.5]),
    one_case([[0.5, -40.0, 2.0], [-0.25, 3.0, 800.0]], [[1, 0, 0], [1, 1, 0]], "soft_margin", label_convention="01",
             reduction="mean"),
    one_case([[0.5, -40.0, 2.0], [-0.25, 3.0, 0.0]], [[1, 0, 0.25], [1, 1, 0]], "multilabel_soft_margin",
             class_weights=[1.0, 2.0, 0.5], sample_weights=[2.0, 0.5], reduction="weighted_mean"),
    one_case([[0.5, -1.0, 2.0], [-0.25, 3.0, 0.0]], [[1, 0, 0], [1, 1, 0.5]], "multilabel_soft_margin"),
]
OPTION_CASES += MARGIN_CASES

# the losses only one framework ships (tests/mp_single.py): poly-1 with soft, unnormalised and masked targets,
# sample weights and each reduction; generalized cross-entropy at small, certain and NaN probabilities
OPTION_CASES += [
    one_case([[1.0, -2.0, 0.5], [0.3, 0.0, 4.0]], [[0.2, 0.5, 0.3], [0.0, 1.0, 0.0]], "poly1_cross_entropy",
             epsilon=2.0, sample_weights=[2.0, 0.5], reduction="weighted_mean"),
    one_case([[1.0, float("-inf"), 0.5], [30.0, 0.0, -5.0]], [[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]], "poly1_cross_entropy",
             epsilon=-1.0, reduction="sum"),
    one_case([[[1.0, -1.0], [0.5, 2.0], [0.0, 3.0]], [[2.0, 0.0], [1.0, 1.0], [-1.0, 0.5]]],
             [[[1, 0], [0, 0.5], [0, 0.5]], [[0, 0.25], [1, 0.25], [0, 0.5]]], "poly1_cross_entropy",
             axis=1, epsilon=5.45, reduction="mean"),
    _probs_case([[0.2, 0.5, 0.3], [1e-30, 0.0, 1.0], [0.0, 0.0, 1.0]], [1, 0, 2], "generalized_cross_entropy",
                q=0.3, sample_weights=[1.0, 3.0, 0.5], reduction="weighted_mean"),
    _probs_case([[0.2, 0.5, 0.3], [1e-20, 0.25, 0.75]], [2, 0], "generalized_cross_entropy", q=0.9),
]

# the losses only optax ships (tests/mp_sparsemax.py): the perceptrons at their kinks (a score of 0, ties in the
# max, the label tied), weights and both label conventions; the sparsemax losses on every piece of sparse_plus,
# at support boundaries, with a masked class, weights and classes at axis 0
OPTION_CASES += [
    one_case([[0.5, -1.0, 0.0], [-3.0, 0.0, float("inf")]], [[1, -1, 1], [-1, 1, 1]], "perceptron",
             class_weights=[1.0, 2.0, 0.5], sample_weights=[3.0, 0.5], reduction="weighted_mean"),
    one_case([[0.5, -1.0, 0.0], [-3.0, 0.0, 2.0]], [[1, 0, 1], [0, 0, 1]], "perceptron", label_convention="01",
             reduction="mean"),
    one_case([[1.0, 3.0, 3.0, -1.0], [2.0, 2.0, 0.5, float("-inf")], [0.25, -0.5, 4.0, 1.0]], [0, 1, 2],
             "multiclass_perceptron", class_weights=[1.0, 2.0, 0.5, 3.0], sample_weights=[1.0, 0.5, 2.0], reduction="sum"),
    one_case([[1.5, 0.0], [-0.5, 3.0], [0.25, 1.25]], [0, 2], "multiclass_perceptron", axis=0, reduction="mean"),
    one_case([[-0.5, 0.25, 0.75, 1.5], [-2.0, 1.0, -1.0, float("-inf")]], [[0, 1, 1, 0], [0, 0, 1, 0]],
             "binary_sparsemax", class_weights=[1.0, 2.0, 0.5, 4.0], sample_weights=[3.0, 0.25], reduction="weighted_mean"),
    one_case([[-0.5, 0.25, 0.75, 1.5], [-2.0, 0.0, -0.3, float("inf")]], [[0, 1, 1, 0], [0, 1, 0, 1]],
             "binary_sparsemax"),
    one_case([[1.5, -0.5, 0.25, 2.0], [1.0, 0.0, -1.0, -1.0], [2.0, 2.0, 2.0, float("-inf")],
              [0.5, 0.0, -0.5, float("-inf")]], [1, 2, 0, 2], "multiclass_sparsemax",
             class_weights=[1.0, 2.0, 0.5, 3.0], sample_weights=[1.0, 0.5, 2.0, 1.0], reduction="weighted_mean"),
    one_case([[1.5, 0.0], [-0.5, 3.0], [0.25, 1.25]], [0, 2], "multiclass_sparsemax", axis=0, reduction="sum"),
]


def _log_probs_case(log_probabilities, labels, family, **params):
    text = (f"- id: t\n  family: {family}\n  description: t\n  log_probabilities: {json.dumps(log_probabilities)}\n"
            f"  labels: {json.dumps(labels)}\n  params: {json.dumps(params)}\n")
    (case,) = load_text(text.replace("-Infinity", "-.inf"), "t.yaml")
    return case


NEG_INF = float("-inf")
OPTION_CASES += [
    _log_probs_case([[-0.5, -1.2, NEG_INF], [-0.1, -3.0, -2.0], [-0.3, -0.4, -0.5]], [0, 2, -100], "nll_loss",
                    class_weights=[1.0, 2.0, 3.0], ignore_index=-100, reduction="weighted_mean"),
    _log_probs_case([[[-0.5, -2.0], [-1.5, -0.1], [-3.0, -4.0]], [[-0.2, -0.7], [-1.0, -1.0], [-2.0, -0.3]]],
                    [[2, 0], [1, 1]], "nll_loss", axis=1, reduction="mean"),
    _log_probs_case([[-0.6, -1.3, -2.2], [-0.01, -5.0, -7.0]], [[0.2, 0.5, 0.3], [1.0, 0.0, 0.0]], "kl_divergence",
                    sample_weights=[2.0, 0.5], reduction="weighted_mean"),
    _log_probs_case([[-0.6, NEG_INF, -2.2], [-0.01, -5.0, -7.0]], [[-1.2, NEG_INF, -0.4], [-0.5, -1.0, -2.0]],
                    "kl_divergence", log_target=True, reduction="none"),
    _log_probs_case([[[-0.5, -2.0], [-1.5, -0.1]], [[-0.2, -0.7], [-1.0, -1.0]]],
                    [[[0.3, 1.0], [0.7, 0.0]], [[0.5, 0.25], [0.5, 0.75]]], "kl_divergence", axis=1, reduction="sum"),
]


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
@pytest.mark.parametrize("case", OPTION_CASES, ids=lambda c: f"{c.family}-{c.params.reduction}")
def test_oracle_matches_mpmath_on_every_family_and_option(case, dtype):
    problems = check_full(case, materialize(Trial(case, dtype)), dtype)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("case", OPTION_CASES, ids=lambda c: f"{c.family}-{c.params.reduction}")
def test_the_references_gradient_is_the_derivative_of_its_loss(case):
    """The reference's gradient is derived by hand; hold it to numerical differentiation of its own values
    (d(sum of cotangent * values)/dx for the building blocks) at 40 digits."""
    inputs = materialize(Trial(case, "float64"))
    x0 = np.asarray(inputs.logits, dtype=np.float64)
    cot = np.asarray(inputs.labels, dtype=np.float64).reshape(-1) if case.block else None
    with mp.workdps(40):
        grad = mp_reference.exact(case, inputs, dps=None).grad

        def f(idx, h):
            xx = x0.astype(object)
            xx[idx] = mp.mpf(float(x0[idx])) + h
            vals = [v.value for v in mp_reference.exact(case, replace(inputs, logits=xx), dps=None).loss]
            weighted = zip(vals, cot, strict=True) if cot is not None else ((v, 1) for v in vals)
            return mp.fsum(v * c for v, c in weighted if c != 0)  # a masked output (-inf) has cotangent 0 here

        for idx in np.ndindex(x0.shape):
            if not np.isfinite(x0[idx]):
                continue
            d = mp.diff(lambda h, idx=idx: f(idx, h), 0)
            g = grad[idx].value
            assert abs(g - d) <= mp.mpf(10) ** -25 * max(1, abs(d)), (idx, g, d)


# --------------------------------------------------------------------------- every built-in case, in every dtype it declares


SAMPLE_ABOVE = 4096  # elements of the logits; larger trials are checked on a sample of rows
SAMPLE_ELEMENTS = 2000  # about this many elements per sample (at least one row)

TRIALS = expand(load_paths([ROOT / "cases"]))
assert len(TRIALS) != 0


def _rows_view(a: np.ndarray, axis: int) -> np.ndarray:
    """Class axis last, batch flattened: [rows, C]."""
    m = np.moveaxis(np.asarray(a), axis, -1)
    return m.reshape(-1, m.shape[-1])


def sample_rows(trial: Trial, R: int, C: int) -> np.ndarray:
    rng = np.random.default_rng(zlib.crc32(trial.id.encode()))
    k = min(R, max(1, SAMPLE_ELEMENTS // max(C, 1)))
    return np.sort(rng.choice(R, size=k, replace=False))


def sub_inputs(case, inputs: Inputs, rows: np.ndarray) -> Inputs:
    """The sampled rows as a batch of their own (class axis last)."""
    axis = case.params.axis % np.asarray(inputs.logits).ndim
    x = _rows_view(inputs.logits, axis)
    batch_shape = np.moveaxis(np.asarray(inputs.logits), axis, -1).shape[:-1]
    if case.sparse:
        labels = np.asarray(inputs.labels).reshape(-1)[rows]
    else:
        labels = _rows_view(inputs.labels, axis)[rows]
    sw = None
    if inputs.sample_weights is not None:
        first = np.indices(batch_shape)[0].reshape(-1)  # a row's weight is its sample's (first batch axis)
        sw = np.asarray(inputs.sample_weights)[first[rows]]
    return Inputs(logits=x[rows], labels=labels, class_weights=inputs.class_weights, sample_weights=sw)


def check_sampled(trial: Trial, inputs: Inputs) -> list[str]:
    case, dtype, p = trial.case, trial.dtype, trial.case.params
    assert not case.block and not case.elementwise, "sampling covers the row families (one value per row)"
    axis = p.axis % np.asarray(inputs.logits).ndim
    R, C = _rows_view(inputs.logits, axis).shape
    rows = sample_rows(trial, R, C)
    sub = sub_inputs(case, inputs, rows)
    # the sampled rows' values and unreduced gradient rows
    ex_rows = mp_reference.exact(replace(case, params=replace(p, axis=-1, reduction="none")), sub)
    full = oracle.compute(case, inputs, dtype)
    per_row = oracle.compute(replace(case, params=replace(p, reduction="none")), inputs, dtype) if p.reduction != "none" else full
    values = np.asarray(per_row.loss).reshape(-1)
    out = mismatches("row loss", values[rows], ex_rows.loss, K_LOSS, lambda k: int(rows[k]))
    # the rows' gradient times the whole batch's reduction factor; the whole batch's reduction of the
    # oracle's per-row values (the sampled ones checked above)
    whole = mp_reference.reduce(case, inputs, values.tolist(), ex_rows.grad)
    out += mismatches("row grad", _rows_view(full.grad, axis)[rows], whole.grad, K_GRAD,
                      lambda k: (int(rows[k // C]), k % C))
    if p.reduction != "none":
        # of float64 per-row values: their roundings add up to at most an ULP of the total (one-signed terms)
        out += mismatches("reduction of the per-row values", np.asarray(full.loss), whole.loss, K_LOSS + 1)
        # the reduction in full, loss and gradient, on the sampled rows as a batch
        sub_case = replace(case, params=replace(p, axis=-1))
        sub_ref = oracle.compute(sub_case, sub, dtype)
        sub_ex = mp_reference.reduce(sub_case, sub, ex_rows.loss, ex_rows.grad)
        out += mismatches("sampled rows as a batch: loss", np.asarray(sub_ref.loss), sub_ex.loss, K_LOSS)
        out += mismatches("sampled rows as a batch: grad", np.asarray(sub_ref.grad), sub_ex.grad, K_GRAD,
                          _unravel(sub_ref.grad.shape))
    return out


@pytest.mark.parametrize("trial", TRIALS, ids=lambda t: t.id)
def test_oracle_matches_mpmath_on_every_case_and_dtype(trial):
    case = trial.case
    if case.expect.error:
        pytest.skip(f"the case expects an error: {case.expect.reason}")
    inputs = materialize(trial)
    if np.asarray(inputs.logits).size > SAMPLE_ABOVE:
        problems = check_sampled(trial, inputs)
    else:
        problems = check_full(case, inputs, trial.dtype)
    assert not problems, f"{trial.id}: {len(problems)} disagreements with mpmath:\n" + "\n".join(problems[:20])


def test_large_trials_are_sampled_and_small_ones_are_not():
    """The sampling threshold sits between the library's sizes, so the sample covers only the few large cases."""
    sizes = {t.case.id: int(np.prod(t.case.predictions.shape)) for t in TRIALS if not t.case.expect.error}
    sampled = {k for k, n in sizes.items() if n > SAMPLE_ABOVE}
    assert "large-vocabulary-32000" in sampled
    assert 0 < len(sampled) < len(sizes) // 10


# --------------------------------------------------------------------------- ignored rows and zero weights on masked classes


IGNORED_ROWS = {
    "nan": [float("nan"), 0.0],
    "plus-inf": [float("inf"), 0.0],
    "all-minus-inf": [float("-inf"), float("-inf")],
    "one-minus-inf": [float("-inf"), 0.0],
}


@pytest.mark.parametrize("path", ["extended", "float64"])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean", "weighted_mean"])
@pytest.mark.parametrize("row", IGNORED_ROWS, ids=str)
def test_an_ignored_row_contributes_nothing_whatever_its_logits(row, reduction, path, monkeypatch):
    """ignore_index: the row has loss 0 and gradient 0 and no mean counts it, even when its logits are NaN, +inf
    or -inf. The reference agrees with itself on the batch without that row, and the oracle with the reference."""
    logits = [IGNORED_ROWS[row], [1.0, 2.0]]
    case = one_case(logits, [-100, 1], ignore_index=-100, reduction=reduction)
    inputs = materialize(Trial(case, "float64"))
    ex = mp_reference.exact(case, inputs)
    kept_only = mp_reference.exact(one_case([[1.0, 2.0]], [1], reduction=reduction), Inputs(
        logits=np.array([[1.0, 2.0]]), labels=np.array([1])))
    assert [v.value for v in ex.loss[-1:]] == [v.value for v in kept_only.loss]
    assert all(v.value == 0 for v in ex.grad[0]) and all(v.value == 0 for v in ex.loss[:-1])
    if path == "float64":
        monkeypatch.setattr(oracle_core, "EXTENDED_MAX_ELEMENTS", 0)
    problems = check_full(case, inputs, "float64")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", ["extended", "float64"])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean", "weighted_mean"])
def test_a_zero_class_weight_on_a_masked_label_contributes_nothing(reduction, path, monkeypatch):
    """A class weight of 0 makes the label's coefficient 0, and a term with coefficient 0 contributes 0 even
    where log p is -inf: 0, not 0 * -inf = NaN. Against the reference, which agrees with itself on the
    batch without that row (the weighted mean's denominator counts the row's weight, 0)."""
    case = one_case([[float("-inf"), 0.0], [1.0, 2.0]], [0, 1], class_weights=[0.0, 1.0], reduction=reduction)
    inputs = materialize(Trial(case, "float64"))
    ex = mp_reference.exact(case, inputs)
    if reduction != "mean":  # the mean counts the zero-weight row; the others cannot tell it from absent
        alone = one_case([[1.0, 2.0]], [1], class_weights=[0.0, 1.0], reduction=reduction)
        ref_alone = mp_reference.exact(alone, materialize(Trial(alone, "float64")))
        assert ex.loss[-1].value == ref_alone.loss[-1].value
    assert all(v.value == 0 for v in ex.grad[0])
    if path == "float64":
        monkeypatch.setattr(oracle_core, "EXTENDED_MAX_ELEMENTS", 0)
    problems = check_full(case, inputs, "float64")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", [c for c in MARGIN_CASES if c.family == "hinge"], ids=lambda c: c.params.reduction)
def test_the_hinges_subgradient_spans_both_slopes_at_its_kinks(case, dtype, monkeypatch):
    """At margins of exactly 0 the oracle's Subgradient holds the gradients with the kink's slope 0 (at0) and 1
    (at1); the reference with KINK_SLOPE 0 and 1 gives each, and they differ exactly at the kinks."""
    inputs = materialize(Trial(case, dtype))
    ref = oracle.compute(case, inputs, dtype)
    assert ref.subgradient is not None
    kinks = ref.subgradient.at0 != ref.subgradient.at1
    assert kinks.sum() == 3, kinks  # the scores of exactly +-1 against labels of their sign
    for slope, got in ((0, ref.subgradient.at0), (1, ref.subgradient.at1)):
        monkeypatch.setattr(mp_reference._Hinge, "KINK_SLOPE", mp.mpf(slope))
        problems = mismatches("grad", got, mp_reference.exact(case, inputs).grad, K_GRAD)
        assert not problems, "\n".join(problems)

# --------------------------------------------------------------------------- CTC: the forward-backward oracle against enumerated alignments


_CTC_X = [[[1.0, 0.5, -1.0], [0.2, 0.1, 2.0], [0.0, 1.0, 0.5], [1.5, -0.5, 0.3], [0.4, 2.5, -2.0]],
          [[0.3, 0.5, -1.0], [0.2, 1.1, 2.0], [0.0, 1.0, 0.5], [1.5, -0.5, 0.3], [-3.0, 0.0, 7.0]]]
CTC_CASES = [
    one_case(_CTC_X, [[1, 2, 0], [2, 2, 1]], "ctc", input_lengths=[5, 4]),  # a repeated label needs a blank between
    one_case(_CTC_X, [[1, 1, 0], [0, 0, 0]], "ctc", reduction="label_length_mean"),  # an empty sequence
    one_case(_CTC_X, [[0, 1, 2], [1, 2, 2]], "ctc", blank=2, reduction="sum", input_lengths=[3, 5]),
    one_case(_CTC_X, [[1, 1, 2], [2, 1, 0]], "ctc", reduction="mean", input_lengths=[4, 2]),  # item 0 infeasible
    one_case(_CTC_X, [[1, 1, 2], [2, 1, 0]], "ctc", reduction="sum", input_lengths=[4, 2], zero_infinity=True),
    one_case([[[0.0, float("-inf"), 1.0], [2.0, 0.5, 0.0], [1.0, 1.0, 1.0]]], [[1, 2]], "ctc"),  # a masked class
    one_case([[[0.0, 3.0, 1.0], [2.0, 0.5, float("nan")], [1.0, 1.0, 1.0]]], [[1, 2]], "ctc"),
]


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
@pytest.mark.parametrize("case", CTC_CASES, ids=lambda c: f"ctc-{c.params.reduction}")
def test_ctc_oracle_matches_the_enumeration_of_alignments(case, dtype):
    problems = check_full(case, materialize(Trial(case, dtype)), dtype)
    assert not problems, "\n".join(problems)


def test_ctc_infeasible_alignments_are_inf_with_nan_gradient_or_zero_with_zero_infinity():
    """Item 0 has labels [1, 1, 2] (4 frames needed with the blank between the repeats) in 4 frames: feasible;
    in 3 it is not. The oracle's +inf (and NaN gradient on the item's frames, 0 beyond) and zero_infinity's 0."""
    for zero_infinity in (False, True):
        case = one_case(_CTC_X, [[1, 1, 2], [2, 1, 0]], "ctc", input_lengths=[3, 2], zero_infinity=zero_infinity)
        ref = oracle.compute(case, materialize(Trial(case, "float64")), "float64")
        assert ref.loss[0] == (0.0 if zero_infinity else np.inf) and np.isfinite(ref.loss[1])
        g = ref.grad[0]
        assert (np.all(g[:3] == 0) if zero_infinity else np.all(np.isnan(g[:3]))) and np.all(g[3:] == 0)


@pytest.mark.parametrize("case", CTC_CASES[:3], ids=lambda c: f"ctc-{c.params.reduction}")
def test_the_ctc_references_gradient_is_the_derivative_of_its_loss(case):
    """The enumeration's gradient is derived by hand; hold it to numerical differentiation of its loss at 40 digits."""
    inputs = materialize(Trial(case, "float64"))
    x0 = np.asarray(inputs.logits, dtype=np.float64)
    with mp.workdps(40):
        grad = mp_reference.exact(case, inputs, dps=None).grad

        def f(idx, h):
            xx = x0.astype(object)
            xx[idx] = mp.mpf(float(x0[idx])) + h
            return mp.fsum(v.value for v in mp_reference.exact(case, replace(inputs, logits=xx), dps=None).loss)

        for idx in np.ndindex(x0.shape):
            d = mp.diff(lambda h, idx=idx: f(idx, h), 0)
            g = grad[idx].value
            assert abs(g - d) <= mp.mpf(10) ** -25 * max(1, abs(d)), (idx, g, d)
