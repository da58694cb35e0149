"""A run's console: progress per framework while it runs, and quiet about the known differences it does not cover."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from harness.judge import expectations
from harness.run import progress
from harness.schema import load_paths
from tests.conftest import ROOT, have, run_cli

needs_torch = pytest.mark.skipif(not have("torch"), reason="needs torch")

# A user's own small case file: 3 cases, 5 trials (case x dtype); the relation rows of the first belong to its trials.
USER_CASES = """\
- id: mine-sparse
  family: sparse_softmax_cross_entropy
  description: two moderate rows, with integer labels against their one-hot form
  logits: [[2.5, -1.0, 0.8], [0.1, 0.4, -0.3]]
  labels: [0, 2]
  dtypes: [float64, float32]
  relations: [one_hot]
- id: mine-dense
  family: softmax_cross_entropy
  description: a soft label row
  logits: [[2.5, -1.0, 0.8, 4.1, -0.3]]
  labels: [[0.1, 0.2, 0.3, 0.2, 0.2]]
  dtypes: [float64, float32]
- id: mine-out-of-range
  family: sparse_softmax_cross_entropy
  description: label 3 of 3 classes, which PyTorch refuses
  logits: [[2.5, -1.0, 0.8]]
  labels: [3]
  dtypes: [float32]
  expect: {error: true}
"""
TRIALS = 2 + 2 + 1  # the dtypes listed above

# in this run's scope (its case ran on torch's F.cross_entropy), and stale: F.cross_entropy raises there, as expected
STALE_IN_SCOPE = """
- case: mine-out-of-range
  framework: torch
  api: F.cross_entropy
  verdict: missing_error
  reason: stale, in this run's scope
  link: https://example.org/stale
"""

COUNT = re.compile(r"torch (\d+)/(\d+) trials")


@needs_torch
def test_plain_progress_lines_and_no_warnings_about_the_built_in_known_differences(tmp_path):
    cases = tmp_path / "my.yaml"
    cases.write_text(USER_CASES)
    r = run_cli("run", "--cases", str(cases), "--frameworks", "torch", "--out", str(tmp_path / "out"),
                env={"HARNESS_PROGRESS_INTERVAL": "0.05"})  # the project's known_differences.yaml, from its folder
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("progress: ")]
    assert lines and lines[0].startswith("progress: torch starting"), r.stdout  # importing torch, collecting
    counts = [tuple(map(int, m.groups())) for ln in lines if (m := COUNT.search(ln))]
    assert counts, r.stdout
    assert {total for _, total in counts} == {TRIALS}
    done = [d for d, _ in counts]
    assert done == sorted(done) and done[-1] <= TRIALS
    # not one warning about the built-in cases' entries; one line counts them
    assert "matches no row" not in r.stdout
    entries = expectations.load(ROOT / "known_differences.yaml")
    summary = [ln for ln in r.stdout.splitlines() if ln.startswith("known differences: ")]
    assert len(summary) == 1 and f" of {len(entries)} entries not covered by this run" in summary[0], r.stdout


@needs_torch
def test_strict_known_fails_on_a_stale_entry_in_scope_and_not_on_the_others(tmp_path):
    cases = tmp_path / "my.yaml"
    cases.write_text(USER_CASES)
    known = tmp_path / "known.yaml"
    known.write_text((ROOT / "known_differences.yaml").read_text() + STALE_IN_SCOPE)
    r = run_cli("run", "--cases", str(cases), "--frameworks", "torch", "--out", str(tmp_path / "out"),
                "--known", str(known), "--strict-known", cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    stale = [ln for ln in r.stdout.splitlines() if "matches no row" in ln]
    assert len(stale) == 1 and "mine-out-of-range" in stale[0], r.stdout
    assert "--strict-known: 0 fixed row(s) and 1 known difference(s) matching no row" in r.stdout


def _lines(p: progress.RunProgress, framework: str, trials: list[str], rows: list[str]) -> None:
    p.line(framework, f"{framework}.progress", "TRIALS " + str(trials).replace("'", '"'))
    for rid in rows:
        p.line(framework, f"{framework}.progress", f"BEGIN {rid}")


def test_trials_are_counted_once_each_and_the_one_in_flight_is_not_done():
    clock = [0.0]
    shown: list[str] = []
    p = progress.RunProgress({"torch": {"a[float32]": 1, "a[float64]": 1, "b[float32]": 3}},
                             progress.PlainView(0, shown.append), clock=lambda: clock[0])
    _lines(p, "torch", ["a[float32]", "a[float64]", "b[float32]"],
           ["a[torch-F.cross_entropy-cpu-float32]", "a[torch-nn.CrossEntropyLoss-cpu-float32]"])
    clock[0] = 5.0
    _lines(p, "torch", [], ["a[torch-F.cross_entropy-cpu-float64]", "a~one_hot[torch-F.cross_entropy-cpu-float32]"])
    tally = p.tallies["torch"]
    # a[float32] and a[float64] are done (the relation row of a[float32] followed the last one); b is not begun
    assert tally.done() == {"a[float32]", "a[float64]"} and len(tally.planned) == 3
    clock[0] = 8.0
    _lines(p, "torch", [], ["b[torch-F.cross_entropy-cpu-float32]"])
    assert tally.done() == {"a[float32]", "a[float64]"}  # b is in flight
    # 2 cost units done in the 8 s since the first trial began: b's 3 units take 12 s more
    assert tally.left(8.0) == pytest.approx(3 / (2 / 8.0))
    assert p.summary(8.0) == "progress: torch 2/3 trials; ~15s left"
    p.tick(["torch"])
    assert tally.done() == set(tally.planned) and p.summary(8.0) == "progress: torch 3/3 trials; finished"
    assert shown == []  # interval 0: no lines


def test_a_framework_is_starting_until_it_has_collected_and_one_with_no_trials_holds_nothing_up():
    clock = [0.0]
    p = progress.RunProgress({"torch": {"a[float32]": 1, "b[float32]": 1}, "keras-numpy": {"a[float32]": 1}},
                             progress.PlainView(0, print), clock=lambda: clock[0])
    assert p.summary(0.0) == "progress: torch starting, keras-numpy starting; time left: estimating"
    _lines(p, "keras-numpy", [], [])  # none of its paths takes these cases' families
    _lines(p, "torch", ["a[float32]", "b[float32]"], ["a[torch-F.cross_entropy-cpu-float32]"])
    clock[0] = 4.0
    _lines(p, "torch", [], ["b[torch-F.cross_entropy-cpu-float32]"])
    # one unit of cost in 4 s; one unit left
    assert p.summary(4.0) == "progress: torch 1/2 trials, keras-numpy no trials; ~5s left"
    assert p.left(4.0) == pytest.approx(4.0)


def test_the_live_display_renders_on_a_terminal():
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, force_interactive=True, width=100)
    cases = load_paths([ROOT / "examples" / "cases.yaml"])
    trials = sorted(f"{c.id}[{d}]" for c in cases for d in c.dtypes)
    with progress.watch(cases, ["torch", "jax"], 30, console=console) as p:
        assert isinstance(p.view, progress.LiveView)
        _lines(p, "torch", trials, [f"{c.id}[torch-F.cross_entropy-cpu-{d}]" for c in cases for d in c.dtypes])
        p.tick()
    out = buf.getvalue()
    # every trial begun but the last, which is in flight; jax has not collected yet
    assert f"{len(trials) - 1}/{len(trials)} trials" in out and "starting" in out, out
    assert "torch" in out and "jax" in out and "\x1b[" in out  # drawn with terminal codes
    buf.seek(0)
    buf.truncate()
    with progress.watch(cases, ["torch"], 30, console=console) as p:
        _lines(p, "torch", trials, [f"{c.id}[torch-F.cross_entropy-cpu-{d}]" for c in cases for d in c.dtypes])
        p.tick(["torch"])
    last = buf.getvalue().rsplit("torch", 1)[-1]  # the final drawing: every trial done, nothing left
    assert f"{len(trials)}/{len(trials)} trials" in last and "done" in last and "left" not in last, last


def test_without_a_terminal_the_view_is_plain_lines():
    with progress.watch([], ["torch"], 30, console=Console(file=io.StringIO(), force_terminal=False)) as p:
        assert isinstance(p.view, progress.PlainView)
