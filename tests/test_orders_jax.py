"""JAX's derivatives beyond the gradient (adapters/jax_orders.py): each method of each order, run through the JAX
adapter under jax.jit and eagerly, judged against the oracle's analytic value (harness/oracle/orders.py) with the
judge's own allowances; and optax.safe_softmax_cross_entropy's forward mode at -inf logits (known_differences.yaml)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("jax")
pytest.importorskip("optax")

from adapters.api import run_order  # noqa: E402
from adapters.jax_adapter import JaxAdapter  # noqa: E402
from adapters.jax_orders import METHODS  # noqa: E402
from harness import oracle  # noqa: E402
from harness.judge import tolerances  # noqa: E402
from harness.judge.trial import against_oracle  # noqa: E402
from harness.oracle import orders  # noqa: E402
from harness.schema import load_file, load_text  # noqa: E402
from harness.trials import Trial, direction, materialize  # noqa: E402
from tests.conftest import ROOT  # noqa: E402

CASES = """\
- id: jo-dense
  family: softmax_cross_entropy
  description: soft labels, one mean
  logits: [[2.5, -1.0, 0.8, 4.1], [0.1, 0.2, -0.3, 1.0], [-2.0, 3.0, 0.5, 0.0]]
  labels: [[0.1, 0.2, 0.1, 0.6], [0.0, 0.0, 1.0, 0.0], [0.25, 0.25, 0.25, 0.25]]
  params: {reduction: mean}
  orders: [jvp, hvp, label_grad, mixed]
  direction_seed: 11
- id: jo-sigmoid
  family: sigmoid_cross_entropy
  description: soft targets, per element
  logits: [[2.5, -1.0, 0.8], [0.1, 12.0, -0.3]]
  labels: [[1.0, 0.0, 0.5], [0.0, 1.0, 0.3]]
  params: {reduction: none}
  orders: [jvp, hvp, label_grad, mixed]
"""
ADAPTER = JaxAdapter()
PATHS = {p.name: p for p in ADAPTER.paths()}


def _rows(case, dtype: str, api: str, order: str):
    """(outcome, observation, reference) of each method of one order, as harness/run/items.py's OrderItem judges."""
    trial = Trial(case, dtype)
    inputs = materialize(trial)
    ref = oracle.compute(case, inputs, dtype)
    v = direction(trial)
    oref = orders.derivative(case, inputs, ref, order, v)
    tol = tolerances.for_order(case, dtype, order, tolerances.for_trial(case, dtype, ref, inputs), ref, oref, inputs, v)
    for method in METHODS[order]:
        obs = run_order(ADAPTER, PATHS[api], case, inputs, dtype, "cpu", order, method, v)
        yield method, against_oracle(case, dtype, inputs, oref, tol, obs), obs, oref


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case_id,api", [("jo-dense", "optax.softmax_cross_entropy"),
                                         ("jo-dense", "optax.softmax_cross_entropy@eager"),
                                         ("jo-sigmoid", "optax.sigmoid_binary_cross_entropy")])
def test_every_method_of_every_order_agrees_with_the_oracle_under_jit_and_eagerly(case_id, api, dtype):
    case = {c.id: c for c in load_text(CASES, "jo.yaml")}[case_id]
    for order in case.orders:
        for method, out, obs, oref in _rows(case, dtype, api, order):
            assert out.verdict == "pass", (order, method, out.message, obs.error)
            assert np.shape(obs.grad) == np.shape(oref.grad) and obs.device == "cpu"
            # the call chain names the composition around the path's own call, inside jax.jit unless eager
            assert obs.call.startswith("jax.jit(") != api.endswith("@eager"), obs.call
            assert ("jax.jvp(" if method in ("fwd", "fwd-rev") else "jax.linearize(" if method == "linearize"
                    else "jax.grad(") in obs.call and "optax." in obs.call, obs.call


def test_a_wrong_order_fails_the_judge():
    """The comparison is not vacuous: the right derivative of the wrong order (the gradient in the Hessian-vector
    product's place) is out of its allowance."""
    case = load_text(CASES, "jo.yaml")[0]
    trial = Trial(case, "float64")
    inputs, v = materialize(trial), direction(trial)
    ref = oracle.compute(case, inputs, "float64")
    oref = orders.derivative(case, inputs, ref, "hvp", v)
    tol = tolerances.for_order(case, "float64", "hvp", tolerances.for_trial(case, "float64", ref, inputs), ref, oref,
                               inputs, v)
    wrong = run_order(ADAPTER, PATHS["optax.softmax_cross_entropy"], case, inputs, "float64", "cpu", "mixed", "rev-rev", v)
    assert against_oracle(case, "float64", inputs, oref, tol, wrong).verdict == "grad_mismatch"


def test_safe_softmax_forward_mode_is_nan_on_rows_with_a_minus_inf_logit():
    """optax 0.2.8's weighted_logsoftmax custom JVP multiplies the labels' (zero) tangent by log_softmax = -inf:
    jax.jvp and jax.linearize give NaN on exactly the masked rows, where the oracle is finite; the label gradient
    (reverse mode transposes that term away) is right, +inf on the masked classes included."""
    (case,) = load_file(ROOT / "cases" / "orders_jax.yaml")
    masked = np.isneginf(materialize(Trial(case, "float64")).logits).any(-1)
    assert masked.tolist() == [True, True, False]
    for method, out, obs, oref in _rows(case, "float64", "optax.safe_softmax_cross_entropy", "jvp"):
        assert out.verdict == "nonfinite", (method, out.message)
        assert np.isfinite(oref.grad).all()
        assert np.isnan(obs.grad).tolist() == masked.tolist(), (method, obs.grad)
        np.testing.assert_allclose(obs.grad[~masked], oref.grad[~masked], rtol=1e-12)
    ((method, out, obs, oref),) = _rows(case, "float64", "optax.safe_softmax_cross_entropy", "label_grad")
    assert out.verdict == "pass", out.message
    assert np.isposinf(obs.grad).sum() == 3
