"""Keras 3 on each backend: one framework process per backend, the same paths, the backend's own autodiff."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import adapters
from adapters.api import Observation
from harness.judge.tolerances import Tolerance
from harness.judge.verdicts import judge
from harness.oracle import Reference
from harness.results.shards import read_rows
from harness.run.runner import FrameworkRun, _failure_row
from harness.schema import load_text
from tests.conftest import ROOT, have, run_cli

BACKENDS = ("keras-tensorflow", "keras-jax", "keras-torch", "keras-numpy")
INSTALLED = [f for f in BACKENDS if not adapters.missing_modules(f)]
AUTODIFF = {"keras-tensorflow": "tf.GradientTape", "keras-jax": "jax.value_and_grad",
            "keras-torch": "torch.autograd.grad", "keras-numpy": ""}

CASES = """\
- id: keras-sparse
  family: sparse_softmax_cross_entropy
  description: integer labels, mean over rows
  logits: [[2.5, -1.0, 0.8, 4.1, -0.3], [0.0, 0.0, 0.0, 0.0, 0.0]]
  labels: [3, 1]
  params: {reduction: mean}
  dtypes: [float64, float32]
- id: keras-sigmoid
  family: sigmoid_cross_entropy
  description: multi-label, weighted mean over samples
  logits: [[1.5, -2.0], [0.3, 0.7]]
  labels: [[1.0, 0.0], [0.0, 1.0]]
  params: {reduction: weighted_mean, sample_weights: [2.0, 0.5]}
  dtypes: [float32]
"""


@pytest.mark.skipif(not INSTALLED, reason="keras is not installed")
def test_each_backend_runs_the_same_keras_paths_in_its_own_process(tmp_path):
    (tmp_path / "cases.yaml").write_text(CASES)
    r = run_cli("run", "--cases", str(tmp_path / "cases.yaml"), "--frameworks", ",".join(INSTALLED),
                "--out", str(tmp_path / "o"), cwd=tmp_path)
    rows = read_rows(tmp_path / "o" / "results.jsonl")
    assert {x.framework for x in rows} == set(INSTALLED), r.stdout + r.stderr
    apis = {fw: {x.api for x in rows if x.framework == fw} for fw in INSTALLED}
    assert all(a == {"keras.losses(from_logits=True)", "keras.losses(from_logits=False)"} for a in apis.values()), apis
    for x in rows:
        assert x.device == "cpu" and x.framework_version.startswith("3."), x
        assert x.call.startswith(AUTODIFF[x.framework]) and "keras.losses." in x.call, x.call
        if x.dtype == "float32":  # the Keras call computes in floatx: float32 trials agree with the oracle
            assert x.verdict == "pass", (x.row_id, x.verdict, x.message)
        else:  # float64 inputs get float32 accuracy on every backend (no known-differences file here)
            assert x.verdict == "loss_mismatch", (x.row_id, x.verdict, x.message)
        if x.framework == "keras-numpy":  # no autodiff: the loss is judged, no gradient is reported
            assert "loss_only" in x.flags and x.grad_values is None and "no autodiff" in x.message
        else:
            assert "loss_only" not in x.flags and x.grad_values is not None
    sigmoid = [x for x in rows if x.case == "keras-sigmoid"]
    assert {x.call.split("keras.losses.")[1].split("(")[0] for x in sigmoid} == {"BinaryCrossentropy"}
    assert any("keras.ops.sigmoid(logits)" in x.call for x in sigmoid)


@pytest.mark.skipif(not have("keras"), reason="keras is not installed")
def test_a_process_refuses_a_second_keras_backend():
    code = ("from adapters.keras_adapter import KerasNumpyAdapter, KerasTensorFlowAdapter\n"
            "KerasNumpyAdapter()\n"
            "try:\n    KerasTensorFlowAdapter()\nexcept RuntimeError as e:\n    print('refused:', e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT), timeout=300)
    assert "refused: Keras is already imported with the numpy backend" in r.stdout, r.stdout + r.stderr


def _trial():
    case = load_text(CASES, "k.yaml")[1]
    ref_loss = np.array(0.5)
    ref = Reference(loss=ref_loss, grad=np.array([[0.1, -0.2], [0.3, 0.4]]), precision="longdouble", saturated=False,
                    rows=2, classes=2)
    tol = Tolerance.fixed(1e-6, 0.0, 1e-6, 0.0, "test")
    return case, ref, tol


def test_a_framework_without_autodiff_is_judged_on_the_loss_alone():
    case, ref, tol = _trial()
    why = "loss only: no autodiff"
    ok = judge(case, ref, Observation(dtype="float32", loss=np.float32(0.5), no_grad=why), tol)
    assert (ok.verdict, ok.flags, ok.message) == ("pass", ["loss_only"], why)
    assert not any(k.startswith("grad") for k in ok.metrics)
    bad = judge(case, ref, Observation(dtype="float32", loss=np.float32(0.6), no_grad=why), tol)
    assert bad.verdict == "loss_mismatch" and bad.message.endswith(why)
    # without the reason, a missing gradient is an error (as Adapter.run makes it), never a pass
    out = judge(case, ref, Observation(dtype="float32", loss=np.float32(0.5)), tol)
    assert out.verdict == "error" and "returned no gradient" in out.message


def test_a_crash_row_keeps_a_hyphenated_framework_name(tmp_path):
    fr = FrameworkRun("keras-jax", tmp_path / "s.jsonl", tmp_path / "p", tmp_path / "l")
    fr.current = "seed-a[keras-jax-keras.losses(from_logits=True)-cpu-float32]"
    row = _failure_row(fr, "crash", "died", [])
    assert (row.framework, row.api, row.device, row.dtype) == ("keras-jax", "keras.losses(from_logits=True)", "cpu", "float32")
