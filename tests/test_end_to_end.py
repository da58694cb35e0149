"""End to end through `python -m harness`: real frameworks, crash and hang isolation, shard merging."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from harness.results.shards import read_rows
from tests.conftest import ROOT, have, run_cli

USER_CASES = """\
- id: user-sparse
  family: sparse_softmax_cross_entropy
  description: a user's own case
  logits: [[2.5, -1.0, 0.8, 4.1, -0.3], [0.0, 0.0, 0.0, 0.0, 0.0]]
  labels: [3, 1]
  params: {reduction: mean}
  dtypes: [float64, float32]
- id: user-dense
  family: softmax_cross_entropy
  description: soft labels
  logits: [[1.0, 2.0, 3.0]]
  labels: [[0.2, 0.3, 0.5]]
  dtypes: [float32]
- id: user-out-of-range
  family: sparse_softmax_cross_entropy
  description: label 5 of 5 classes
  logits: [[2.5, -1.0, 0.8, 4.1, -0.3]]
  labels: [5]
  dtypes: [float32]
  expect: {error: true}
"""

FRAMEWORKS = ("torch", "tensorflow", "jax")
needs_all = pytest.mark.skipif(not have("torch", "tensorflow", "jax", "optax"), reason="needs torch, tensorflow and jax installed")


@pytest.fixture(scope="module")
def user_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("user")
    (d / "cases.yaml").write_text(USER_CASES)
    r = run_cli("run", "--cases", str(d / "cases.yaml"), "--frameworks", ",".join(FRAMEWORKS), "--out", str(d / "out"), cwd=d)
    return d, r


PRIMARY = {"torch": "F.cross_entropy", "tensorflow": "tf.nn.", "jax": "optax.softmax_cross_entropy"}


@needs_all
def test_user_cases_get_the_verdicts_the_mathematics_says(user_run):
    d, r = user_run
    rows = read_rows(d / "out" / "results.jsonl")
    assert {(x.framework, x.device) for x in rows} >= {(f, "cpu") for f in FRAMEWORKS}
    by: dict = {}
    for x in rows:
        by.setdefault((x.case, x.framework), {}).setdefault(x.api, set()).add((x.dtype, x.verdict))
    for f in FRAMEWORKS:
        for case in ("user-sparse", "user-dense"):
            fused = {api: v for api, v in by[(case, f)].items() if api.startswith(PRIMARY[f])}
            assert fused, (case, f)
            for api, got in fused.items():  # the primary fused ops, eager and compiled, pass
                assert {v for _, v in got} == {"pass"}, (case, f, api, got)
    assert {v for got in by[("user-out-of-range", "torch")].values() for _, v in got} == {"expected_error"}
    assert by[("user-out-of-range", "tensorflow")]["tf.nn.sparse_softmax_cross_entropy_with_logits"] == {("float32", "expected_error")}
    # JAX returns a number for an out-of-range label: silent garbage, and no known-differences file here
    assert {v for got in by[("user-out-of-range", "jax")].values() for _, v in got} == {"missing_error"}
    assert r.returncode == 1, r.stdout + r.stderr
    assert "missing_error" in r.stdout and "verdicts by framework" in r.stdout


@needs_all
def test_rows_record_api_version_device_and_tolerance(user_run):
    d, _ = user_run
    rows = [x for x in read_rows(d / "out" / "results.jsonl") if x.case == "user-sparse"]
    for x in rows:
        assert x.framework_version and x.call and x.device == "cpu" and x.tolerance_source == "policy" and x.loss_allowance
        assert x.tolerance_source == "policy" and x.oracle_precision == "longdouble"
    csv = pd.read_csv(d / "out" / "results.csv")
    assert len(csv) == len(read_rows(d / "out" / "results.jsonl"))
    for col in ("case", "family", "framework", "framework_version", "api", "device", "dtype", "verdict", "flags",
                "loss", "ref_loss", "loss_abs_err", "loss_rel_err", "loss_ulp", "grad_max_abs_err",
                "grad_max_rel_err", "grad_ulp", "nan_count", "inf_count", "loss_allowed", "grad_allowed", "message"):
        assert col in csv.columns
    html = (d / "out" / "index.html").read_text()
    assert "user-sparse" in html and "http://" not in html.replace("http://www.w3.org", "")


@needs_all
def test_known_differences_file_turns_a_recorded_mismatch_into_known(user_run, tmp_path):
    d, _ = user_run
    known = tmp_path / "known.yaml"
    known.write_text("- case: user-out-of-range\n  framework: jax\n  verdict: missing_error\n  reason: r\n  link: https://e/1\n"
                     "- case: nothing-like-this\n  framework: jax\n  reason: elsewhere\n  link: https://e/2\n"
                     "- case: user-dense\n  framework: jax\n  api: optax.no-such-path\n  reason: stale\n  link: https://e/3\n")
    r = run_cli("run", "--cases", str(d / "cases.yaml"), "--frameworks", "jax", "--out", str(tmp_path / "o"),
                "--known", str(known), "-k", "out-of-range", cwd=d)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = read_rows(tmp_path / "o" / "results.jsonl")
    assert rows and all(x.case == "user-out-of-range" for x in rows)
    for row in rows:  # every JAX path returns a number here, and the entry names no api, so it covers all
        assert row.verdict == "known" and row.raw_verdict == "missing_error" and row.known_link == "https://e/1"
    r = run_cli("run", "--cases", str(d / "cases.yaml"), "--frameworks", "jax", "--out", str(tmp_path / "o2"),
                "--known", str(known), cwd=d)
    # neither could have matched a row of this run: one names a case it does not have, the other a path
    # that gave no row (names that exist nowhere are tests/test_known_differences.py's business)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "matches no row" not in r.stdout


CRASH_CASES = """\
- id: a-first
  family: sparse_softmax_cross_entropy
  description: before the crash
  logits: [[1.0, 2.0, 3.0]]
  labels: [0]
  dtypes: [float64]
- id: b-crash
  family: sparse_softmax_cross_entropy
  description: the adapter aborts its process here
  logits: [[1.0, 2.0, 3.0]]
  labels: [0]
  dtypes: [float64]
- id: c-hang
  family: sparse_softmax_cross_entropy
  description: the adapter hangs here
  logits: [[1.0, 2.0, 3.0]]
  labels: [0]
  dtypes: [float64]
- id: d-last
  family: sparse_softmax_cross_entropy
  description: after the crash and the hang
  logits: [[1.0, 2.0, 3.0]]
  labels: [1]
  dtypes: [float64, float32]
"""


def test_crash_and_hang_become_rows_and_every_other_result_is_kept(tmp_path):
    (tmp_path / "c.yaml").write_text(CRASH_CASES)
    r = run_cli("run", "--cases", str(tmp_path / "c.yaml"), "--frameworks", "crashy", "--out", str(tmp_path / "out"),
                "--trial-timeout", "5", env={"HARNESS_ADAPTERS": "crashy=tests.fake_adapters:CrashingAdapter"},
                cwd=tmp_path)
    rows = {x.case + x.dtype: x for x in read_rows(tmp_path / "out" / "results.jsonl")}
    assert rows["b-crashfloat64"].verdict == "crash" and "SIGABRT" in rows["b-crashfloat64"].message
    assert rows["c-hangfloat64"].verdict == "timeout"
    for k in ("a-firstfloat64", "d-lastfloat64", "d-lastfloat32"):
        assert rows[k].verdict == "pass", (k, rows[k].message)
    assert len(rows) == 5
    assert r.returncode == 1


def test_report_merges_shards_once_with_both_sources(tmp_path):
    (tmp_path / "c.yaml").write_text(CRASH_CASES.split("- id: b-crash")[0])
    for name in ("m1", "m2"):
        r = run_cli("run", "--cases", str(tmp_path / "c.yaml"), "--frameworks", "oracle,crashy", "--out", str(tmp_path / name),
                    env={"HARNESS_ADAPTERS": "crashy=tests.fake_adapters:CrashingAdapter"}, cwd=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
    r = run_cli("report", str(tmp_path / "m1" / "shards"), str(tmp_path / "m2" / "shards"), "--out", str(tmp_path / "merged"))
    assert r.returncode == 0, r.stdout + r.stderr
    merged = read_rows(tmp_path / "merged" / "results.jsonl")
    single = read_rows(tmp_path / "m1" / "results.jsonl")
    assert sorted(x.row_id for x in merged) == sorted(x.row_id for x in single)
    assert all("m1" not in x.shard or "," in x.shard for x in merged)
    assert (tmp_path / "merged" / "index.html").exists() and (tmp_path / "merged" / "summary.md").exists()


@pytest.mark.skipif(not have("torch"), reason="needs torch")
def test_pytest_k_selects_by_case_framework_and_dtype(tmp_path):
    (tmp_path / "cases.yaml").write_text(USER_CASES)
    r = subprocess.run([sys.executable, "-m", "pytest", str(tmp_path / "cases.yaml"), "-p", "harness.run.plugin",
                        "--framework", "torch", "-k", "user-sparse and float32 and F.cross_entropy and not naive", "-q",
                        "-p", "no:cacheprovider", "--collect-only"],
                       capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})
    ids = [ln for ln in r.stdout.splitlines() if "::" in ln]
    assert ids == ["cases.yaml::user-sparse[torch-F.cross_entropy-cpu-float32]"], r.stdout + r.stderr


def test_a_framework_that_fails_to_import_is_reported_not_dropped(tmp_path):
    (tmp_path / "c.yaml").write_text(CRASH_CASES.split("- id: b-crash")[0])
    r = run_cli("run", "--cases", str(tmp_path / "c.yaml"), "--frameworks", "ghost,crashy", "--out", str(tmp_path / "o"),
                env={"HARNESS_ADAPTERS": "ghost=no_such_module_xyz:Adapter,crashy=tests.fake_adapters:CrashingAdapter"},
                cwd=tmp_path)
    rows = {x.framework: x for x in read_rows(tmp_path / "o" / "results.jsonl")}
    assert rows["ghost"].verdict == "unavailable" and "no_such_module_xyz" in rows["ghost"].message
    assert rows["crashy"].verdict == "pass"
    assert r.returncode == 0 and "unavailable" in r.stdout


@needs_all
def test_rows_carry_the_inputs_the_report_shows(user_run):
    d, _ = user_run
    rows = [x for x in read_rows(d / "out" / "results.jsonl") if x.case == "user-sparse"]
    assert rows and all(x.inputs.startswith("logits: [[2.5, -1.0, 0.8, 4.1, -0.3], [0.0, 0.0, 0.0, 0.0, 0.0]]\n"
                                            "labels: [3, 1]\nparams: reduction=mean") for x in rows)
    assert all(x.logit_values is None for x in rows)  # only a gradient-field case keeps its logits
    assert "labels: [3, 1]" in (d / "out" / "index.html").read_text()
