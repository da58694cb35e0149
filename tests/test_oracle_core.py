"""The oracle's shared core: one reduction rule and one Reference for every family."""

from __future__ import annotations

import numpy as np
import pytest

from harness.oracle import core
from harness.trials import Inputs


@pytest.mark.parametrize("wd", [np.longdouble, np.float64])
def test_reductions_none_sum_mean_weighted_mean(wd):
    loss = np.array([1.0, 2.0, 4.0], dtype=wd)
    grad = np.array([[1.0, -1.0], [0.5, -0.5], [2.0, -2.0]], dtype=wd)
    out, g, scale = core.reduce(loss, grad, "none", 3, lambda: wd(7), wd)
    assert out is loss and np.array_equal(g, grad) and scale == 1
    out, g, scale = core.reduce(loss, grad, "sum", 3, lambda: wd(7), wd)
    assert out == 7 and np.array_equal(g, grad) and scale == 1
    out, g, scale = core.reduce(loss, grad, "mean", 3, lambda: wd(7), wd)
    assert out == wd(7) / wd(3) and np.array_equal(g, grad * (1 / wd(3))) and scale == 1 / wd(3)
    out, g, scale = core.reduce(loss, grad, "weighted_mean", 3, lambda: wd(8), wd)
    assert out == wd(7) / wd(8) and np.array_equal(g, grad / 8) and scale == wd(1) / 8
    assert all(np.asarray(v).dtype == wd for v in (out, g, scale))


@pytest.mark.parametrize("red", ["mean", "weighted_mean"])
def test_a_mean_over_nothing_is_nan_and_its_gradient_zero(red):
    loss = np.zeros(2)
    grad = np.ones((2, 3))
    out, g, scale = core.reduce(loss, grad, red, 0, lambda: 0.0, np.float64)
    assert np.isnan(out) and scale == 0 and np.array_equal(g, np.zeros((2, 3)))


def test_only_weighted_mean_computes_the_total_weight():
    def boom():
        raise AssertionError("computed")

    for red in ("none", "sum", "mean"):
        core.reduce(np.ones(2), np.ones(2), red, 2, boom, np.float64)
    with pytest.raises(AssertionError, match="computed"):
        core.reduce(np.ones(2), np.ones(2), "weighted_mean", 2, boom, np.float64)


def test_reference_is_float64_and_names_its_precision():
    ref = core.reference(np.longdouble(1) / 3, np.ones(2, dtype=np.longdouble), np.longdouble, saturated=False,
                         rows=1, classes=2, unreduced=np.ones(1, dtype=np.longdouble), scale=np.longdouble(0.5))
    assert ref.loss.dtype == ref.grad.dtype == ref.unreduced.dtype == np.float64
    assert ref.precision == "longdouble" and type(ref.scale) is float and ref.softmax is None
    assert core.reference(1.0, np.ones(2), np.float64, saturated=True, rows=1, classes=2, unreduced=np.ones(1),
                          scale=1).precision == "float64"


def test_rows_round_trip_and_weights():
    x = np.arange(24.0).reshape(2, 3, 4)
    rows, batch, C = core.to_rows(x, 1, np.float64)
    assert rows.shape == (8, 3) and batch == (2, 4) and C == 3
    assert np.array_equal(core.from_rows(rows, batch, C, 1, x.ndim), x)
    inputs = Inputs(logits=x, labels=np.zeros((2, 4), dtype=np.int64), sample_weights=np.array([1.0, 3.0]))
    assert np.array_equal(core.sample_weights(inputs, 8, np.float64), [1, 1, 1, 1, 3, 3, 3, 3])
    w = core.elementwise_weights(Inputs(logits=np.zeros((2, 3)), labels=np.zeros((2, 3)), class_weights=np.array([1.0, 2.0, 0.0]),
                                        sample_weights=np.array([0.5, 2.0])), (2, 3), np.float64)
    assert np.array_equal(w, [[0.5, 1.0, 0.0], [2.0, 4.0, 0.0]])
    kept, safe = core.kept_labels(Inputs(logits=np.zeros((3, 2)), labels=np.array([1, -100, 0])), 3, -100)
    assert kept.tolist() == [True, False, True] and safe.tolist() == [1, 0, 0]


def test_the_extended_limit_is_read_when_a_trial_is_computed(monkeypatch):
    assert core.working_dtype(10) is (np.longdouble if core.EXTENDED_OK else np.float64)
    monkeypatch.setattr(core, "EXTENDED_MAX_ELEMENTS", 0)
    assert core.working_dtype(10) is np.float64
