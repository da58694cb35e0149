"""The oracle's float64 path for large sparse trials agrees with its extended-precision path.

Large trials (over EXTENDED_MAX_ELEMENTS) of integer labels without smoothing take a blocked,
threaded float64 path. Here the threshold is lowered so that the same small inputs go through both
paths; the extended path is held to 1 ULP of mpmath by test_oracle.py. The bounds are the fast
path's error analysis: the loss is log1p(tail) - (x_label - max) with no cancellation, so its error
is the tail sum's (pairwise summation: about log2(C) ULPs at worst) plus the log1p; a probability is
exp(x - max) * exp(-log1p(tail)), a few ULPs more.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from harness import oracle
from harness.oracle import core as oracle_core
from harness.schema import load_text
from harness.trials import Inputs


def _case(shape: list[int], **params):
    text = (f"- id: t\n  family: sparse_softmax_cross_entropy\n  description: t\n"
            f"  logits: {{generate: normal, shape: {json.dumps(shape)}, seed: 0}}\n"
            f"  labels: {{generate: randint, seed: 1}}\n  params: {json.dumps(params)}\n")
    (case,) = load_text(text, "t.yaml")
    return case


def _both(case, inputs: Inputs, dtype: str, monkeypatch):
    monkeypatch.setattr(oracle_core, "EXTENDED_MAX_ELEMENTS", 1 << 20)
    extended = oracle.compute(case, inputs, dtype)
    monkeypatch.setattr(oracle_core, "EXTENDED_MAX_ELEMENTS", 0)
    fast = oracle.compute(case, inputs, dtype)
    return extended, fast


def _ulps(got: np.ndarray, want: np.ndarray) -> float:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert np.array_equal(np.isnan(got), np.isnan(want)), "NaN in different places"
    assert np.array_equal(got[np.isinf(want)], want[np.isinf(want)]), "infinities differ"
    finite = np.isfinite(want)
    got, want = got[finite], want[finite]
    if not got.size:
        return 0.0
    return float(np.max(np.abs(got - want) / np.maximum(np.spacing(np.abs(want)), np.finfo(np.float64).smallest_subnormal)))


def _logits(rng, shape, scale, dtype=np.float32) -> np.ndarray:
    x = (rng.standard_normal(shape) * scale).astype(dtype)
    flat = x.reshape(-1, shape[-1]) if len(shape) > 1 else x.reshape(1, -1)
    flat[0, min(1, shape[-1] - 1)] = -np.inf  # a masked class
    if flat.shape[0] > 4:
        flat[1, :] = -np.inf  # every class masked: undefined
        flat[2, 0] = np.nan
        flat[3, -1] = np.inf
    return x


@pytest.mark.parametrize("rows,classes,scale,reduction", list(itertools.product(
    [3, 40], [2, 7, 1000], [1.0, 30.0, 300.0], ["none", "sum", "mean", "weighted_mean"])))
def test_fast_path_matches_the_extended_path(rows, classes, scale, reduction, monkeypatch):
    rng = np.random.default_rng(rows * classes)
    case = _case([rows, classes], reduction=reduction)
    inputs = Inputs(logits=_logits(rng, (rows, classes), scale), labels=rng.integers(0, classes, rows),
                    class_weights=(rng.random(classes) + 0.5).astype(np.float32),
                    sample_weights=(rng.random(rows) + 0.5).astype(np.float32))
    extended, fast = _both(case, inputs, "float32", monkeypatch)
    assert (extended.precision, fast.precision) == ("longdouble", "float64")
    bits = math.ceil(math.log2(classes))
    lu, gu = _ulps(fast.loss, extended.loss), _ulps(fast.grad, extended.grad)
    assert lu <= 2 + bits, f"loss {lu:.1f} ULP from the extended path, but should be <= {2 + bits} [{rows}x{classes}, {reduction}]"
    assert gu <= 4 + 2 * bits, f"grad {gu:.1f} ULP from the extended path, but should be <= {4 + 2 * bits} [{rows}x{classes}, {reduction}]"
    for k in ("saturated", "rows", "classes", "scale"):
        assert getattr(fast, k) == pytest.approx(getattr(extended, k), rel=4 * np.finfo(np.float64).eps), k
    # the row quantities the error analysis reads (harness/judge/tolerances/) agree too
    a, b = fast.softmax, extended.softmax
    for k in ("m", "log_s", "factor", "weight", "label_coef"):
        np.testing.assert_allclose(getattr(a, k), getattr(b, k), rtol=8 * np.finfo(np.float64).eps, atol=1e-300, err_msg=k)
    np.testing.assert_allclose(fast.unreduced, extended.unreduced, rtol=(2 + bits) * np.finfo(np.float64).eps)


@pytest.mark.parametrize("reduction", ["none", "mean", "weighted_mean"])
def test_fast_path_class_axis_first_ignore_index_and_bfloat16(reduction, monkeypatch):
    rng = np.random.default_rng(7)
    from harness.core.dtypes import cast

    case = _case([5, 6, 3], axis=0, ignore_index=2, reduction=reduction)
    x = cast(rng.standard_normal((5, 6, 3)) * 20, "bfloat16")
    labels = rng.integers(0, 5, (6, 3))
    labels[0, 0] = 2
    extended, fast = _both(case, Inputs(logits=x, labels=labels), "bfloat16", monkeypatch)
    assert fast.grad.shape == extended.grad.shape == (5, 6, 3)
    assert _ulps(fast.loss, extended.loss) <= 5 and _ulps(fast.grad, extended.grad) <= 10
    assert fast.rows == extended.rows and fast.saturated == extended.saturated


def test_fast_path_mean_over_nothing_is_nan_with_zero_gradient(monkeypatch):
    case = _case([2, 4], ignore_index=1, reduction="mean")
    inputs = Inputs(logits=np.zeros((2, 4), np.float32), labels=np.array([1, 1]))
    extended, fast = _both(case, inputs, "float32", monkeypatch)
    assert np.isnan(fast.loss) and np.isnan(extended.loss)
    assert np.array_equal(fast.grad, extended.grad) and not fast.grad.any()
