"""`--strict-known` and the pytest option behind it, on the oracle's golden checks: a `fixed` row and an entry
that could have matched a row of the run but matches none fail the run; without the flag they are warnings,
and an entry about cases the run does not include is not reported at all.
"""

from __future__ import annotations

import os
import subprocess
import sys

from harness.rows import read_rows
from tests.conftest import ROOT, run_cli

STRICT_KNOWN = """\
- case: seed-sparse-example
  framework: oracle
  verdict: loss_mismatch
  reason: recorded as failing, but the oracle reproduces this golden value
  link: https://example.org/fixed
- case: seed-sparse-example
  framework: oracle
  api: no-such-path
  reason: stale, in this run's scope
  link: https://example.org/stale
- case: masked-*
  framework: oracle
  reason: about cases this run does not include
  link: https://example.org/elsewhere
"""


def _strict_setup(tmp_path):
    known = tmp_path / "known.yaml"
    known.write_text(STRICT_KNOWN)
    return known, ROOT / "cases" / "seeds.yaml"


def test_strict_known_fails_the_run_on_a_fixed_row_and_a_stale_entry(tmp_path):
    known, cases = _strict_setup(tmp_path)
    common = ["run", "--cases", str(cases), "--frameworks", "oracle", "--known", str(known)]
    r = run_cli(*common, "--out", str(tmp_path / "warn"), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr  # without the flag: warnings
    rows = [x for x in read_rows(tmp_path / "warn" / "results.jsonl") if x.case == "seed-sparse-example"]
    assert [x.verdict for x in rows] == ["fixed"]
    stale = [ln for ln in r.stdout.splitlines() if "matches no row" in ln]
    assert len(stale) == 1 and "no-such-path" in stale[0], r.stdout  # the masked-* entry is not this run's business
    r = run_cli(*common, "--strict-known", "--out", str(tmp_path / "strict"), cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "--strict-known: 1 fixed row(s) and 1 known difference(s) matching no row" in r.stdout
    assert "seed-sparse-example[oracle-golden-cpu-float64]" in r.stdout


def test_the_pytest_option_behind_strict_known(tmp_path):
    known, cases = _strict_setup(tmp_path)
    cmd = [sys.executable, "-m", "pytest", str(cases), "-p", "harness.pytest_plugin", "-p", "no:cacheprovider", "--noconftest",
           "--framework", "oracle", "--known", str(known), "-q", "-W", "ignore::UserWarning"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "warning: known difference" in r.stdout and "no-such-path" in r.stdout and "masked-*" not in r.stdout
    r = subprocess.run([*cmd, "--strict-known"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "1 failed" in r.stdout and "fixed (--strict-known)" in r.stdout and "error (--strict-known)" in r.stdout
