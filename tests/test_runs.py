"""Interrupted and concurrent runs: a killed run keeps its rows, says it is partial, and --resume finishes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.results.shards import read_rows
from tests.conftest import ROOT, run_cli
from tests.test_end_to_end import CRASH_CASES

FAKE = {"HARNESS_ADAPTERS": "crashy=tests.fake_adapters:CrashingAdapter"}


def _kill_everything_writing_to(out: Path) -> None:
    """SIGKILL every process whose command line names the output folder (the orchestrator and its children)."""
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if str(out) in (d / "cmdline").read_bytes().decode(errors="replace"):
                    os.kill(int(d.name), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass


@pytest.mark.skipif(not Path("/proc").exists(), reason="finds the run's processes through /proc")
def test_killed_run_keeps_rows_reports_partial_and_resumes_to_a_clean_runs_result(tmp_path):
    (tmp_path / "c.yaml").write_text(CRASH_CASES)
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT), **FAKE, "FAKE_ADAPTER_HANG": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run", "--cases", str(tmp_path / "c.yaml"),
                             "--frameworks", "crashy", "--out", str(out)], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shard = out / "shards" / "crashy.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until it hangs on c-hang: a-first and the b-crash row are written
        if shard.exists() and len(read_rows(shard)) >= 2 and "c-hang" in (out / "shards" / "crashy.progress").read_text():
            break
        time.sleep(0.2)
    _kill_everything_writing_to(out)
    proc.wait(timeout=30)
    before = read_rows(shard)
    assert {r.case for r in before} >= {"a-first", "b-crash"}  # every finished row is readable

    r = run_cli("report", str(out / "shards"), "--out", str(tmp_path / "rep"))
    assert "partial" in r.stdout, r.stdout + r.stderr
    assert "PARTIAL" in (tmp_path / "rep" / "index.html").read_text().upper()

    r = run_cli("run", "--cases", str(tmp_path / "c.yaml"), "--frameworks", "crashy", "--out", str(out), "--resume",
                env={**FAKE, "FAKE_ADAPTER_HANG": "0"}, cwd=tmp_path)
    resumed = read_rows(out / "results.jsonl")
    assert len(read_rows(shard)) == len({x.row_id for x in read_rows(shard)})  # nothing was run twice
    assert "partial" not in r.stdout

    r = run_cli("run", "--cases", str(tmp_path / "c.yaml"), "--frameworks", "crashy", "--out", str(tmp_path / "clean"),
                env={**FAKE, "FAKE_ADAPTER_HANG": "0"}, cwd=tmp_path)
    clean = read_rows(tmp_path / "clean" / "results.jsonl")
    assert sorted((x.row_id, x.verdict) for x in resumed) == sorted((x.row_id, x.verdict) for x in clean)


def test_a_second_run_into_the_same_folder_refuses_while_the_first_holds_it(tmp_path):
    (tmp_path / "c.yaml").write_text(CRASH_CASES.split("- id: b-crash")[0])
    out = tmp_path / "o"
    out.mkdir()
    (out / ".harness.lock").write_text(str(os.getpid()))  # a live run (this test process) holds it
    r = run_cli("run", "--cases", str(tmp_path / "c.yaml"), "--frameworks", "oracle", "--out", str(out), cwd=tmp_path)
    assert r.returncode == 2 and "another run" in r.stderr and not (out / "results.jsonl").exists()
    (out / ".harness.lock").write_text("999999999")  # left by a run that died
    r = run_cli("run", "--cases", str(tmp_path / "c.yaml"), "--frameworks", "oracle", "--out", str(out), cwd=tmp_path)
    assert r.returncode == 0 and (out / "results.jsonl").exists() and not (out / ".harness.lock").exists()


def test_an_exception_in_the_harness_is_a_row_with_its_traceback_and_the_run_goes_on(tmp_path):
    text = CRASH_CASES.split("- id: b-crash")[0] + CRASH_CASES.split("- id: b-crash")[0].replace("a-first", "b-malformed")
    (tmp_path / "c.yaml").write_text(text + CRASH_CASES.split("- id: c-hang")[0].split("- id: b-crash")[0].replace("a-first", "z-last"))
    r = run_cli("run", "--cases", str(tmp_path / "c.yaml"), "--frameworks", "malformed", "--out", str(tmp_path / "o"),
                env={"HARNESS_ADAPTERS": "malformed=tests.fake_adapters:MalformedAdapter"}, cwd=tmp_path)
    rows = {x.case: x for x in read_rows(tmp_path / "o" / "results.jsonl")}
    bad = rows["b-malformed"]
    assert bad.verdict == "error" and "harness_error" in bad.flags and bad.message.startswith("harness error:")
    assert "Traceback" in bad.traceback
    assert rows["a-first"].verdict == "pass" and rows["z-last"].verdict == "pass"
    assert r.returncode == 1
