"""The GPU path: rows on each CUDA device, labelled with the device that actually ran. Skips without CUDA."""

from __future__ import annotations

import pytest

from harness.results.shards import read_rows
from tests.conftest import have, run_cli

CASE = """\
- id: gpu-sparse
  family: sparse_softmax_cross_entropy
  description: the tutorial example on every device
  logits: [[2.5, -1.0, 0.8, 4.1, -0.3], [1.0e4, -1.0e4, 0.0, 0.0, 0.0]]
  labels: [3, 0]
  dtypes: [float64, float32, float16, bfloat16]
"""


def _torch_cuda() -> bool:
    if not have("torch"):
        return False
    import torch

    return torch.cuda.is_available()


def _jax_gpu() -> bool:
    if not have("jax"):
        return False
    import jax

    try:
        return bool(jax.devices("gpu"))
    except RuntimeError:
        return False


@pytest.mark.parametrize("framework,available", [("torch", _torch_cuda), ("jax", _jax_gpu)])
def test_gpu_rows_record_the_cuda_device_and_agree_with_the_oracle(framework, available, tmp_path):
    if not available():
        pytest.skip(f"no CUDA device visible to {framework}")
    (tmp_path / "c.yaml").write_text(CASE)
    r = run_cli("run", "--cases", str(tmp_path / "c.yaml"), "--frameworks", framework, "--out", str(tmp_path / "o"),
                "--device", "cuda:0", cwd=tmp_path)
    rows = read_rows(tmp_path / "o" / "results.jsonl")
    assert rows, r.stdout + r.stderr
    for x in rows:
        assert x.device == "cuda:0" and x.device_requested == "cuda:0", (x.row_id, x.device)
        assert x.verdict == "pass", (x.row_id, x.message)


@pytest.mark.parametrize("framework,available", [("torch", _torch_cuda), ("jax", _jax_gpu)])
def test_cpu_and_gpu_rows_of_a_trial_are_compared_in_the_report(framework, available, tmp_path):
    if not available():
        pytest.skip(f"no CUDA device visible to {framework}")
    from harness.report import device_pairs as device_compare

    (tmp_path / "c.yaml").write_text(CASE)
    r = run_cli("run", "--cases", str(tmp_path / "c.yaml"), "--frameworks", framework, "--out", str(tmp_path / "o"),
                "--device", "cpu", "--device", "cuda:0", cwd=tmp_path)
    rows = read_rows(tmp_path / "o" / "results.jsonl")
    gpu = [x for x in rows if x.device == "cuda:0"]
    pairs = device_compare.pairs(rows)
    assert gpu and len(pairs) == len(gpu), r.stdout + r.stderr
    assert all(p.compared for p in pairs)  # the case is small: every value is stored and compared
    html = (tmp_path / "o" / "index.html").read_text()
    assert f"CPU against GPU ({len(pairs)} trials;" in html
