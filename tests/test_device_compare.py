"""The report's CPU-against-GPU comparison, from rows built with numpy alone (no GPU needed)."""

from __future__ import annotations

import math

import numpy as np

from harness.report import device_pairs as device_compare
from harness.report import write_report
from harness.results.rows import Row, row_id


def _row(case: str, device: str, verdict: str, loss, grad, dtype: str = "float32", **kw) -> Row:
    return Row(row_id=row_id(case, "torch", "F.cross_entropy", device, dtype), case=case, family="sparse_softmax_cross_entropy",
               framework="torch", api="F.cross_entropy", device=device, device_requested=device, dtype=dtype,
               verdict=verdict, loss_values=loss, grad_values=grad, **kw)


def _steps(values: np.ndarray, n: int) -> np.ndarray:
    """values moved n float32 ULPs up."""
    out = values.astype(np.float32)
    for _ in range(n):
        out = np.nextafter(out, np.float32(np.inf))
    return out


def _rows() -> list[Row]:
    rng = np.random.default_rng(3)
    loss = rng.random(4).astype(np.float32)
    grad = rng.standard_normal(12).astype(np.float32)
    far = grad.copy()
    far[5] = _steps(grad[5:6], 7)[0]  # one element 7 ULPs away on the GPU
    nan_grad = grad.copy()
    nan_grad[0] = np.nan
    f = [float(v) for v in loss]
    return [
        _row("same", "cpu", "pass", f, [float(v) for v in grad], grad_ulp=1.0),
        _row("same", "cuda:0", "pass", f, [float(v) for v in grad], grad_ulp=1.0),
        _row("apart", "cpu", "pass", f, [float(v) for v in grad], grad_ulp=2.0),
        _row("apart", "cuda:0", "grad_mismatch", [float(v) for v in _steps(loss, 2)], [float(v) for v in far], grad_ulp=9.0),
        _row("nan-on-gpu", "cpu", "pass", f, [float(v) for v in grad]),
        _row("nan-on-gpu", "cuda:0", "nonfinite", f, [float(v) for v in nan_grad]),
        _row("large", "cpu", "pass", None, None),  # values not stored: compared at nothing
        _row("large", "cuda:0", "pass", None, None),
        _row("cpu-only", "cpu", "pass", f, None),
    ]


def test_pairs_measure_the_gpu_against_the_cpu_in_ulps_of_the_trial_dtype():
    ps = {p.case: p for p in device_compare.pairs(_rows())}
    assert set(ps) == {"same", "apart", "nan-on-gpu", "large"}  # cpu-only has no GPU row
    assert ps["same"].loss_ulp == 0 and ps["same"].grad_ulp == 0 and not ps["same"].verdicts_differ
    assert ps["apart"].loss_ulp == 2 and ps["apart"].grad_ulp == 7  # the nextafter steps taken above
    assert ps["apart"].verdicts_differ and (ps["apart"].cpu_verdict, ps["apart"].device_verdict) == ("pass", "grad_mismatch")
    assert math.isnan(ps["nan-on-gpu"].grad_ulp) and ps["nan-on-gpu"].loss_ulp == 0
    assert not ps["large"].compared
    order = [p.case for p in device_compare.pairs(_rows())]
    assert order.index("apart") < order.index("same") and order.index("nan-on-gpu") < order.index("same")


def test_the_report_shows_cpu_against_gpu(tmp_path):
    rows = _rows()
    write_report(rows, [], tmp_path)
    html = (tmp_path / "index.html").read_text()
    assert "CPU against GPU (4 trials; 2 with different verdicts)" in html
    assert 'class="devpairs"' in html and 'class="devdiff"' in html and 'class="devices"' in html
    assert "gradient error: CPU against GPU" in html  # the scatter plot
    md = (tmp_path / "summary.md").read_text()
    assert "## CPU against GPU (4 trials)" in md and "1 identical on both devices; 2 with different verdicts." in md
    assert "- apart [torch F.cross_entropy float32]: cpu pass, cuda:0 grad_mismatch" in md


def test_no_gpu_rows_no_section(tmp_path):
    write_report([r for r in _rows() if r.device == "cpu"], [], tmp_path)
    assert "CPU against GPU" not in (tmp_path / "index.html").read_text()


def test_a_framework_that_sees_fewer_gpus_than_the_machine_is_warned_about(tmp_path):
    envs = [{"harness": {"gpus": ["NVIDIA H200"]},
             "frameworks": {"jax": {"devices": ["cpu"]}, "torch": {"devices": ["cpu", "cuda:0"]}}}]
    assert len(device_compare.unseen_gpus(envs)) == 1 and device_compare.unseen_gpus(envs)[0].startswith("jax sees 0 of the 1 GPU")
    write_report(_rows(), envs, tmp_path)
    assert "jax sees 0 of the 1 GPU(s) nvidia-smi lists" in (tmp_path / "summary.md").read_text()
