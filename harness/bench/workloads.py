"""What the benchmark runs: its trials, the path each framework is compared on, a pytest item's arguments, synthetic rows."""

from __future__ import annotations

from pathlib import Path

FRAMEWORKS = ("torch", "tensorflow", "jax")
PATH_NAMES = {  # the sparse path each framework's direct call is compared with
    "torch": "F.cross_entropy",
    "tensorflow": "tf.nn.sparse_softmax_cross_entropy_with_logits",
    "jax": "optax.softmax_cross_entropy_with_integer_labels",
}
LARGE_CASE = """\
- id: bench-large
  family: sparse_softmax_cross_entropy
  description: a large training-sized trial
  logits: {{generate: normal, shape: [{rows}, {classes}], seed: 0}}
  labels: {{generate: randint, seed: 1}}
  params: {{reduction: mean}}
  dtypes: [float32]
"""
TINY_CASE = """\
- id: bench-tiny-{i}
  family: sparse_softmax_cross_entropy
  description: a tiny trial
  logits: [[{a}, -1.0, 0.5, 2.0, -0.25], [0.0, 1.0, {b}, -2.0, 0.75]]
  labels: [{la}, {lb}]
  dtypes: [float32]
"""


def large_case(shape: tuple[int, int]):
    from harness.schema.load import load_text

    (case,) = load_text(LARGE_CASE.format(rows=shape[0], classes=shape[1]), "bench-large.yaml")
    return case


def tiny_cases(n: int) -> str:
    return "".join(TINY_CASE.format(i=i, a=round(1.0 + i % 7 * 0.5, 2), b=round(-1.5 + i % 5, 2), la=i % 5, lb=(i // 5) % 5)
                   for i in range(n))


def large_inputs(data: Path):
    import numpy as np

    from harness.trials import Inputs

    return Inputs(logits=np.load(data / "logits.npy"), labels=np.load(data / "labels.npy"))


def compared_path(adapter, framework: str):
    return next(p for p in adapter.paths() if p.name == PATH_NAMES[framework])


def pytest_args(case_files: list[Path], framework: str, work: Path, node: str = "") -> list[str]:
    """The arguments harness/run/runner.py gives a framework's pytest process (node: one item of the one file)."""
    ini = work / "pytest.ini"
    ini.write_text("[pytest]\n")
    files = [str(case_files[0].parent / node)] if node else [str(f) for f in case_files]
    args = [*files, "-c", str(ini), "--rootdir", str(work), "--noconftest", "-p", "harness.run.plugin",
            "-p", "no:cacheprovider", "--framework", framework, "--shard-out", str(work / f"{framework}.jsonl"),
            "--progress", str(work / f"{framework}.progress"), "-q", "--no-header", "-rN", "--tb=no"]
    return args


def parse_shape(s: str) -> tuple[int, int]:
    a, b = s.lower().split("x")
    return int(a), int(b)


def parse_sizes(s: str) -> list[int]:
    return [int(x) for x in s.split(",") if x]


def synthetic_rows(n: int) -> list:
    """Rows shaped like a real run's: every verdict, messages, calls, small value arrays."""
    from harness.results.rows import Row, row_id

    verdicts = ("pass", "pass", "pass", "pass", "known", "unsupported", "expected_error", "loss_mismatch",
                "grad_mismatch", "nonfinite")
    fws = (("torch", "F.cross_entropy"), ("torch", "nn.CrossEntropyLoss"), ("tensorflow", "tf.nn.sparse_softmax_cross_entropy_with_logits"),
           ("jax", "optax.softmax_cross_entropy_with_integer_labels"))
    dtypes = ("float64", "float32", "float16", "bfloat16")
    rows = []
    for i in range(n):
        fw, api = fws[i % 4]
        dtype = dtypes[(i // 4) % 4]
        case = f"case-{i // 16:05d}"
        v = verdicts[i % len(verdicts)]
        vals = [0.1 * (i % 13) + k for k in range(8)]
        rows.append(Row(
            row_id=row_id(case, fw, api, "cpu", dtype), case=case, family="sparse_softmax_cross_entropy", framework=fw,
            api=api, device="cpu", device_requested="cpu", dtype=dtype, verdict=v, raw_verdict=v, framework_version="1.0",
            call=f"{api}(reduction='none')", tags=["generated", "bench"], description="a synthetic row for the benchmark",
            source=f"cases/bench.yaml:{i // 16 * 7 + 1}:3", reduction="none", loss=vals[0], ref_loss=vals[0] + 1e-7,
            loss_abs_err=1e-7, loss_rel_err=1e-7, loss_ulp=1.0, loss_worst_index=[i % 2], grad=0.25, ref_grad=0.25,
            grad_max_abs_err=1e-8, grad_max_rel_err=1e-8, grad_ulp=2.0, grad_worst_index=[i % 2, i % 5],
            loss_allowed=1e-7, loss_allowance="1e-07 (mostly log S)", grad_allowed=1e-7,
            grad_allowance="1e-07 (mostly A p - a)", tolerance_source="policy", oracle_precision="longdouble",
            message="" if v == "pass" else f"{v}: loss[0]={vals[0]} but should be {vals[0] + 1e-7} (3.0 ULP)",
            duration_s=0.001, loss_values=vals[:2], ref_loss_values=vals[:2], grad_values=vals, ref_grad_values=vals,
            shape=[2, 4]))
    return rows

