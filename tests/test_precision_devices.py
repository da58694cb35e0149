"""Precision knobs pinned (or left as deployed) and recorded in every row and the report header; a
requested device that a framework does not see is a problem row, never a CPU result labelled as it."""

from __future__ import annotations

import json

import pytest

from harness.core import precision
from harness.report.markup import esc
from harness.results.rows import FAILING
from harness.results.shards import read_rows
from tests.conftest import have, run_cli

CASE = """\
- id: precision-sparse
  family: sparse_softmax_cross_entropy
  description: the tutorial example
  logits: [[2.5, -1.0, 0.8, 4.1, -0.3], [0.0, 1.0, -2.0, 0.5, 3.0]]
  labels: [3, 4]
  dtypes: [float32]
"""
# one fused path per framework keeps the runs short
FUSED = "F.cross_entropy-cpu or tf.nn.sparse_softmax_cross_entropy_with_logits-cpu or optax.softmax_cross_entropy_with_integer_labels-cpu"
# the flag each framework reports, with its value when pinned; as deployed it is the framework's own default
PINNED_FLAGS = {
    "torch": ["cudnn.allow_tf32=False", "cuda.matmul.allow_tf32=False", "float32_matmul_precision=highest"],
    # op determinism stays off: it swaps TF's fused softmax cross-entropy kernels for a composite
    "tensorflow": ["tensor_float_32_execution=False", "op_determinism=False"],
    "jax": ["jax_default_matmul_precision=highest", "XLA_PYTHON_CLIENT_PREALLOCATE=false"],
}
INSTALLED = [fw for fw, mods in (("torch", ("torch",)), ("tensorflow", ("tensorflow",)), ("jax", ("jax", "optax")))
             if have(*mods)]


def test_describe_puts_the_mode_first_and_refuses_an_unknown_mode(monkeypatch):
    assert precision.describe({"a": 1, "mode": "pinned", "b": False}) == "pinned: a=1, b=False"
    assert precision.describe(None) == ""
    monkeypatch.setenv(precision.ENV, "fast")
    with pytest.raises(ValueError, match="HARNESS_PRECISION='fast'"):
        precision.mode()
    monkeypatch.setenv(precision.ENV, "")
    assert precision.mode() == precision.PINNED


@pytest.mark.skipif(not INSTALLED, reason="no framework installed")
@pytest.mark.parametrize("as_deployed", [False, True], ids=["pinned", "as-deployed"])
def test_every_row_and_the_header_record_the_precision_mode_and_flags(as_deployed, tmp_path):
    (tmp_path / "c.yaml").write_text(CASE)
    out = tmp_path / "o"
    r = run_cli("run", "--cases", str(tmp_path / "c.yaml"), "--frameworks", ",".join(INSTALLED), "--out", str(out),
                "--device", "cpu", "-k", FUSED, *(["--as-deployed"] if as_deployed else []), cwd=tmp_path)
    mode = "as-deployed" if as_deployed else "pinned"
    assert f"precision {mode}" in r.stdout, r.stdout + r.stderr
    rows = read_rows(out / "results.jsonl")
    assert {x.framework for x in rows} == set(INSTALLED), r.stdout + r.stderr
    for x in rows:
        assert x.precision.startswith(f"{mode}: "), f"precision={x.precision!r}, but should start with {mode!r} [{x.row_id}]"
        if not as_deployed:
            for flag in PINNED_FLAGS[x.framework]:
                assert flag in x.precision, f"precision={x.precision!r}, but should hold {flag} [{x.row_id}]"
    envs = [json.loads(p.read_text()) for p in (out / "shards").glob("*.env.json")]
    modes = {fw: e["precision"]["mode"] for env in envs for fw, e in env["frameworks"].items()}
    assert modes == dict.fromkeys(INSTALLED, mode)
    html = (out / "index.html").read_text()
    # the header states exactly what the rows record, each distinct value once
    for value in {x.precision for x in rows}:
        assert f"<dd>{esc(value)}</dd>" in html, value
    if as_deployed and "torch" in INSTALLED:
        # torch's own default for cuDNN is TF32 on: as deployed, the row says so (read back from torch)
        assert all("cudnn.allow_tf32=True" in x.precision for x in rows if x.framework == "torch")


def _jax_sees_a_gpu() -> bool:
    import jax

    try:
        return bool(jax.devices("gpu"))
    except RuntimeError:
        return False


@pytest.mark.skipif(not have("jax", "optax"), reason="jax is not installed")
def test_a_requested_gpu_that_jax_does_not_see_is_an_error_row_not_a_cpu_result(tmp_path):
    if _jax_sees_a_gpu():
        pytest.skip("jax sees a GPU here: nothing falls back")
    (tmp_path / "c.yaml").write_text(CASE)
    r = run_cli("run", "--cases", str(tmp_path / "c.yaml"), "--frameworks", "jax", "--out", str(tmp_path / "o"),
                "--device", "cuda:0", "-k", "with_integer_labels", cwd=tmp_path)
    rows = read_rows(tmp_path / "o" / "results.jsonl")
    assert rows and r.returncode == 1, r.stdout + r.stderr
    for x in rows:
        assert x.device == x.device_requested == "cuda:0", (x.row_id, x.device)
        assert x.verdict == "error" and x.verdict in FAILING and "device_unavailable" in x.flags, (x.row_id, x.verdict)
        assert "sees only cpu" in x.message and x.loss is None, x.message
