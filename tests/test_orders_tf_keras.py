"""Derivative orders beyond the gradient on TensorFlow and on Keras over each backend (adapters/tensorflow_orders.py,
adapters/keras_orders.py): each order through the framework's own autodiff, the call chain that says so, the
verdicts, and TensorFlow's known failure: its fused softmax cross-entropy drops the second-order gradient for the
labels, so the mixed derivative comes out 0 (tensorflow#26495), in every execution mode."""

from __future__ import annotations

import numpy as np
import pytest

import adapters
from harness.results.shards import read_rows
from tests.conftest import ROOT, run_cli

FRAMEWORKS = ("tensorflow", "keras-tensorflow", "keras-torch", "keras-jax")
INSTALLED = [f for f in FRAMEWORKS if not adapters.missing_modules(f)]
LOGITS = [[2.5, -1.0, 0.8, 4.1, -0.3], [0.1, 0.2, -0.3, 1.0, 0.0]]
LABELS = [[0.1, 0.2, 0.0, 0.6, 0.1], [0.0, 0.0, 1.0, 0.0, 0.0]]
CASES = f"""\
- id: tfk-orders-soft
  family: softmax_cross_entropy
  description: soft labels, no smoothing (tf.nn.softmax_cross_entropy_with_logits runs)
  logits: {LOGITS}
  labels: {LABELS}
  params: {{reduction: sum}}
  dtypes: [float32]
  orders: [jvp, hvp, label_grad, mixed]
- id: tfk-orders-sigmoid
  family: sigmoid_cross_entropy
  description: multi-label, mean over elements
  logits: [[2.5, -1.0, 0.8], [0.1, 3.0, -0.3]]
  labels: [[1.0, 0.0, 0.5], [0.0, 1.0, 1.0]]
  params: {{reduction: mean}}
  dtypes: [float32]
  orders: [jvp, hvp, label_grad, mixed]
"""
# the autodiff each framework's call chain must name, per order and method
AUTODIFF = {
    "tf": {"jvp:fwd": "tf.autodiff.ForwardAccumulator(logits, v).jvp(",
           "hvp:rev-rev": "tf.GradientTape.gradient(tf.GradientTape.gradient(",
           "hvp:fwd-rev": "tf.autodiff.ForwardAccumulator(logits, v).jvp(tf.GradientTape.gradient(",
           "label_grad:rev": "tf.GradientTape.gradient(", "mixed:rev-rev": "), labels, output_gradients=v, ZERO)"},
    "keras-torch": {"jvp:fwd": "torch.func.jvp(", "jvp:double-vjp": "torch.autograd.functional.jvp(",
                    "hvp:rev-rev": "torch.autograd.grad(torch.autograd.grad(", "hvp:fwd-rev": "torch.func.jvp(torch.func.grad(",
                    "label_grad:rev": "torch.autograd.grad(", "mixed:rev-rev": "), labels, grad_outputs=v)"},
    "keras-jax": {"jvp:fwd": "jax.jvp(", "hvp:rev-rev": "jax.grad(lambda x, y: jnp.vdot(jax.grad(",
                  "hvp:fwd-rev": "jax.jvp(jax.grad(", "label_grad:rev": "jax.grad(jnp.sum(",
                  "mixed:rev-rev": "argnums=1)(logits, labels)"},
}
FUSED = "tf.nn.softmax_cross_entropy_with_logits"


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    if not INSTALLED:
        pytest.skip("neither TensorFlow nor Keras is installed")
    d = tmp_path_factory.mktemp("orders")
    (d / "cases.yaml").write_text(CASES)
    r = run_cli("run", "--cases", str(d / "cases.yaml"), "--frameworks", ",".join(INSTALLED), "--out", str(d / "o"),
                "--known", str(ROOT / "known_differences.yaml"), "--workers", "0", "-k", "not naive", cwd=d)
    out = [x for x in read_rows(d / "o" / "results.jsonl") if x.order]
    assert {x.framework for x in out} == set(INSTALLED), r.stdout + r.stderr
    return out


def _autodiff(framework: str) -> dict[str, str]:
    return AUTODIFF["tf" if framework in ("tensorflow", "keras-tensorflow") else framework]


def test_every_order_goes_through_the_frameworks_own_autodiff_in_the_paths_mode(rows):
    for fw in INSTALLED:
        assert {x.order for x in rows if x.framework == fw} == set(_autodiff(fw)), fw
    for x in rows:
        if x.verdict == "unsupported":
            continue
        assert _autodiff(x.framework)[x.order] in x.call, (x.row_id, x.call)
        if x.framework == "tensorflow":  # the order runs in the path's mode, as the loss and gradient do
            mode = x.api.partition("@")[2]
            assert x.call.startswith("tf.function(") == (mode in ("tf.function", "xla")), (x.row_id, x.call)
            assert x.call.endswith(", jit_compile=True)") == (mode == "xla"), (x.row_id, x.call)
        else:
            assert "keras.losses." in x.call, x.call


def test_the_right_orders_pass_on_the_fused_ops_and_the_keras_logits_paths(rows):
    judged = [x for x in rows if x.verdict != "unsupported" and not x.api.startswith("naive:")
              and x.api != "keras.losses(from_logits=False)"]
    assert judged
    for x in judged:
        tf_mixed = x.order == "mixed:rev-rev" and x.case.startswith("tfk-orders-soft/") and x.framework in (
            "tensorflow", "keras-tensorflow")
        if not tf_mixed:
            assert x.verdict == "pass", (x.row_id, x.verdict, x.message)


@pytest.mark.skipif("tensorflow" not in INSTALLED, reason="tensorflow is not installed")
def test_tensorflow_mixed_derivative_of_the_fused_softmax_cross_entropy_is_zero_and_known(rows):
    """d/dlabels <v, dL/dlogits> = p.v - v_c per entry (reduction sum, no smoothing, no weights); TensorFlow's
    gradient function of the fused op drops it: 0 everywhere, in eager, tf.function and XLA alike."""
    x = np.asarray(LOGITS)
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    v = np.random.default_rng(0).standard_normal(x.shape).astype(np.float32).astype(np.float64)  # direction_seed 0
    want = (p * v).sum(1, keepdims=True) - v
    mixed = [r for r in rows if r.framework == "tensorflow" and r.order == "mixed:rev-rev" and r.api.startswith(FUSED)
             and r.case.startswith("tfk-orders-soft/")]
    assert {r.api for r in mixed} == {FUSED, f"{FUSED}@tf.function", f"{FUSED}@xla"}
    for r in mixed:
        assert (r.raw_verdict, r.verdict) == ("grad_mismatch", "known"), (r.row_id, r.verdict, r.message)
        assert "26495" in r.known_link
        assert r.grad_values == [0.0] * 10
        np.testing.assert_allclose(r.ref_grad_values, want.reshape(-1), rtol=1e-6)
    # the label gradient and the Hessian-vector products of the same op are right
    same_op = [r for r in rows if r.framework == "tensorflow" and r.api.startswith(FUSED) and r.order != "mixed:rev-rev"]
    assert {r.order for r in same_op} == {"jvp:fwd", "hvp:rev-rev", "hvp:fwd-rev", "label_grad:rev"}
    assert all(r.verdict == "pass" for r in same_op), [(r.row_id, r.message) for r in same_op if r.verdict != "pass"]


@pytest.mark.skipif("keras-tensorflow" not in INSTALLED, reason="keras with tensorflow is not installed")
def test_keras_categorical_crossentropy_on_tensorflow_goes_through_the_same_op(rows):
    """from_logits=True calls tf.nn.softmax_cross_entropy_with_logits; so does from_logits=False in float32, where
    keras.ops.softmax's logits tag survives: both return 0 for the mixed derivative. The other backends do not."""
    for api in ("keras.losses(from_logits=True)", "keras.losses(from_logits=False)"):
        (r,) = [r for r in rows if r.framework == "keras-tensorflow" and r.api == api and r.order == "mixed:rev-rev"
                and r.case.startswith("tfk-orders-soft/")]
        assert r.raw_verdict == "grad_mismatch" and r.grad_values == [0.0] * 10, (r.row_id, r.message)
    others = [r for r in rows if r.framework in ("keras-torch", "keras-jax") and r.order == "mixed:rev-rev"
              and r.case.startswith("tfk-orders-soft/")]
    assert all(r.verdict == "pass" for r in others), [(r.row_id, r.message) for r in others if r.verdict != "pass"]
