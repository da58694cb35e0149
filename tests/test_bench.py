"""The benchmark runs and prints its table: growth and report parts in a tiny configuration (no timing asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from harness.bench.bench import TARGETS, Ratio, print_table
from tests.conftest import ROOT, have


def test_ratio_verdicts_follow_their_targets():
    assert Ratio("adapter", "x", 1.05).verdict() == "PASS" and Ratio("adapter", "x", 1.2).verdict() == "MISS"
    assert Ratio("suite", "x", 1.0).verdict() == "MISS"  # strictly below 1
    assert Ratio("", "x", 42.0).verdict() == "info" and Ratio("memory", "x", None, "boom").verdict() == "ERROR"
    assert set(TARGETS) == {"adapter", "oracle", "suite", "growth", "report", "memory"}
    lines: list[str] = []
    print_table([Ratio("oracle", "oracle / direct", 1.25), Ratio("memory", "memory torch", None, "it broke")], lines.append)
    text = "\n".join(lines)
    assert "<= 1.5" in text and "PASS" in text and "ERROR" in text and "it broke" in text


@pytest.mark.skipif(not have("torch"), reason="the growth part runs torch on tiny trials")
def test_growth_and_report_parts_run_and_print_the_table(tmp_path):
    out = tmp_path / "bench.json"
    r = subprocess.run([sys.executable, "-m", "harness.bench", "--parts", "growth,report", "--frameworks", "torch",
                        "--growth", "6,12", "--report-rows", "300", "--repeats", "1", "--json", str(out)],
                       capture_output=True, text=True, cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT)},
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "measure" in r.stdout and "target" in r.stdout
    assert "growth (torch): per-row cost at 12 / at 6 rows" in r.stdout
    assert "report of 300 rows / writing their JSONL" in r.stdout
    result = json.loads(out.read_text())
    labels = {x["label"]: x for x in result["ratios"]}
    assert all(x["result"] in ("PASS", "MISS") and x["value"] > 0 for x in labels.values()), labels


@pytest.mark.skipif(not have("torch"), reason="the oracle part pairs the oracle with torch's direct call")
def test_oracle_part_pairs_the_oracle_with_the_direct_call(tmp_path):
    out = tmp_path / "bench.json"
    r = subprocess.run([sys.executable, "-m", "harness.bench", "--parts", "oracle", "--frameworks", "torch",
                        "--shape", "32x50", "--repeats", "2", "--json", str(out)],
                       capture_output=True, text=True, cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT)},
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    result = json.loads(out.read_text())
    (ratio,) = [x for x in result["ratios"] if x["label"].startswith("oracle / fastest")]
    assert ratio["label"].endswith("(torch)") and ratio["value"] > 0, ratio
    raw = result["raw"]["overhead:torch"]
    assert raw["oracle_ratio"] == ratio["value"] and raw["oracle_s"] > 0
