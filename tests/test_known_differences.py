"""The project's own known_differences.yaml: every entry is well-formed and names things that exist.

An entry that names a case, framework or api path that does not exist matches nothing and hides
nothing today, but it records a difference nobody can check, and a later rename can make it match rows
it was never about. Entries run loose (`strict: false`, a row may pass or fail) only on the naive and
manual paths, which fail by design; on a framework's own paths every entry is strict, so a row that
starts to pass is `fixed` and the entry must be narrowed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fnmatch import fnmatchcase

import pytest

import adapters
from harness.judge import expectations, relations
from harness.results.rows import FAILING
from harness.results.shards import read_rows
from harness.schema import load_paths
from tests.conftest import ROOT, have, run_cli

ENTRIES = expectations.load(ROOT / "known_differences.yaml")
CASES = load_paths([ROOT / "cases"])
# every id a row's case column can hold: the cases (sweeps expanded, `<id>@scale=<v>`) and their relations
CASE_IDS = {c.id for c in CASES} | {relations.relation_case_id(c, r) for c in CASES for r in c.relations}
LOOSE_PREFIXES = ("naive:", "manual:")


def _matches(value: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatchcase(value, p) for p in patterns)


def test_the_file_has_entries_and_each_is_well_formed():
    assert len(ENTRIES) >= 10
    for e in ENTRIES:
        assert len(e.reason.split()) >= 12, f"{e.location}: the reason should say the mechanism, not just name it"
        assert e.link.startswith("https://") and " " not in e.link, f"{e.location}: link {e.link!r}"
        assert all(v == "*" or v in FAILING for v in e.verdict), f"{e.location}: verdicts {e.verdict}"


def test_every_case_pattern_names_a_case_that_exists():
    for e in ENTRIES:
        for p in e.case:
            assert any(fnmatchcase(c, p) for c in CASE_IDS), f"{e.location}: case pattern {p!r} matches no case in cases/"


def test_every_dtype_pattern_names_a_dtype_its_cases_run():
    for e in ENTRIES:
        dtypes = {d for c in CASES for d in c.dtypes if _matches(c.id, e.case)
                  or any(_matches(relations.relation_case_id(c, r), e.case) for r in c.relations)}
        for p in e.dtype:
            assert any(fnmatchcase(d, p) for d in dtypes), f"{e.location}: dtype {p!r} is not a dtype of its cases ({sorted(dtypes)})"


def test_every_framework_pattern_names_a_framework():
    names = [*adapters.BUILTIN, "oracle"]
    for e in ENTRIES:
        for p in e.framework:
            assert any(fnmatchcase(f, p) for f in names), f"{e.location}: framework pattern {p!r} matches no framework"


def test_strict_false_only_on_naive_and_manual_paths():
    for e in ENTRIES:
        if not e.strict:
            assert all(a.startswith(LOOSE_PREFIXES) for a in e.api), (
                f"{e.location}: strict: false on {e.api}; only naive: and manual: paths may pass or fail by design, "
                "an entry on a framework's own path names the cases, paths and dtypes it covers and stays strict")


_LIST_PATHS = "import adapters, json, sys; print(json.dumps([p.name for p in adapters.load(sys.argv[1]).paths()]))"


@pytest.fixture(scope="module")
def declared_paths() -> dict[str, list[str]]:
    """The api paths each installed built-in framework declares, listed by its own adapter (one process per
    framework: Keras takes one backend per process)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = {}
    for name in adapters.BUILTIN:
        if adapters.missing_modules(name):
            continue
        r = subprocess.run([sys.executable, "-c", _LIST_PATHS, name], capture_output=True, text=True, env=env,
                           cwd=str(ROOT), timeout=900)
        assert r.returncode == 0, r.stderr[-2000:]
        out[name] = json.loads(r.stdout.strip().splitlines()[-1])
    if not out:
        pytest.skip("no framework installed")
    return out


def test_every_api_pattern_names_a_path_of_its_frameworks(declared_paths):
    checked = 0
    for e in ENTRIES:
        for fp in e.framework:
            frameworks = [f for f in adapters.BUILTIN if fnmatchcase(f, fp)]
            if not all(f in declared_paths for f in frameworks):
                continue  # a framework that is not installed here cannot be checked
            for ap in e.api:
                names = [n for f in frameworks for n in declared_paths[f]]
                assert any(fnmatchcase(n, ap) for n in names), (
                    f"{e.location}: api {ap!r} is no path of {fp!r} ({', '.join(frameworks)})")
                checked += 1
    assert checked


# --------------------------------------------------------------------------- --strict-known, on real PyTorch rows

STRICT_CASES = """\
- id: tiny
  family: sparse_softmax_cross_entropy
  description: one plain row that every fused path gets right
  logits: [[2.5, -1.0, 0.8]]
  labels: [0]
  dtypes: [float32]
- id: tiny-out-of-range
  family: sparse_softmax_cross_entropy
  description: label 3 of 3 classes, which PyTorch refuses
  logits: [[2.5, -1.0, 0.8]]
  labels: [3]
  dtypes: [float32]
  expect: {error: true}
"""

STRICT_KNOWN = """\
- case: tiny
  framework: torch
  api: F.cross_entropy
  verdict: nonfinite
  reason: recorded as failing, but F.cross_entropy gets this row right
  link: https://example.org/fixed
- case: tiny-out-of-range
  framework: torch
  api: F.cross_entropy
  verdict: missing_error
  reason: stale, in this run's scope (F.cross_entropy raises here, as the case expects)
  link: https://example.org/stale
- case: masked-*
  framework: torch
  reason: about cases this run does not include
  link: https://example.org/elsewhere
- case: tiny
  framework: torch
  api: no-such-path
  reason: about a path that gives no row here
  link: https://example.org/nowhere
"""
needs_torch = pytest.mark.skipif(not have("torch"), reason="needs torch")


def _strict_setup(tmp_path):
    (tmp_path / "known.yaml").write_text(STRICT_KNOWN)
    (tmp_path / "cases.yaml").write_text(STRICT_CASES)
    return tmp_path / "known.yaml", tmp_path / "cases.yaml"


@needs_torch
def test_strict_known_fails_the_run_on_a_fixed_row_and_a_stale_entry(tmp_path):
    known, cases = _strict_setup(tmp_path)
    common = ["run", "--cases", str(cases), "--frameworks", "torch", "--known", str(known)]
    r = run_cli(*common, "--out", str(tmp_path / "warn"), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr  # without the flag: warnings
    rows = {(x.case, x.api): x for x in read_rows(tmp_path / "warn" / "results.jsonl")}
    assert rows[("tiny", "F.cross_entropy")].verdict == "fixed"
    assert rows[("tiny-out-of-range", "F.cross_entropy")].verdict == "expected_error"
    stale = [ln for ln in r.stdout.splitlines() if "matches no row" in ln]
    # the entries about masked-* cases and about no-such-path could not have matched a row of this run
    assert len(stale) == 1 and "tiny-out-of-range" in stale[0], r.stdout
    r = run_cli(*common, "--strict-known", "--out", str(tmp_path / "strict"), cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "--strict-known: 1 fixed row(s) and 1 known difference(s) matching no row" in r.stdout
    assert "tiny[torch-F.cross_entropy-cpu-float32]" in r.stdout


@needs_torch
def test_the_pytest_option_behind_strict_known(tmp_path):
    known, cases = _strict_setup(tmp_path)
    cmd = [sys.executable, "-m", "pytest", str(cases), "-p", "harness.run.plugin", "-p", "no:cacheprovider", "--noconftest",
           "--framework", "torch", "--known", str(known), "-q", "-W", "ignore::UserWarning"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    stale = [ln for ln in r.stdout.splitlines() if "matches no row" in ln]
    assert len(stale) == 1 and "warning:" in stale[0] and "tiny-out-of-range" in stale[0], r.stdout
    r = subprocess.run([*cmd, "--strict-known"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "1 failed" in r.stdout and "fixed (--strict-known)" in r.stdout and "error (--strict-known)" in r.stdout
