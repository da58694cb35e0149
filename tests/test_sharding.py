"""Sharding: `--shard K/N` splits the trials by expected cost, and the merged shards equal one run."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.results.shards import read_rows
from harness.run.schedule import ORACLE, SHARD_COST_NS, parse_shard, shard_costs, split_by_cost
from harness.schema import load_paths
from tests.conftest import ROOT, run_cli

CRASHY = {"HARNESS_ADAPTERS": "crashy=tests.fake_adapters:CrashingAdapter"}

# A crash in the middle of a shard restarts its process with --resume: the split must not change.
EXTRA_CASES = """\
- id: shard-a-large
  family: sparse_softmax_cross_entropy
  description: a larger trial, so that costs differ
  logits: {generate: normal, shape: [128, 500], seed: 0}
  labels: {generate: randint, seed: 1}
  dtypes: [float64, float32]
- id: shard-b-crash
  family: sparse_softmax_cross_entropy
  description: the adapter aborts its process here
  logits: [[1.0, 2.0, 3.0]]
  labels: [0]
  dtypes: [float32]
"""


def _loads(costs: dict[str, int], split: dict[str, int], n: int) -> list[int]:
    loads = [0] * n
    for key, shard in split.items():
        loads[shard] += costs[key]
    return loads


def test_parse_shard_accepts_k_of_n_and_rejects_the_rest():
    assert parse_shard("1/4") == (1, 4) and parse_shard("4/4") == (4, 4)
    for bad in ("0/4", "5/4", "4", "a/b", "1/0", "", "-1/2"):
        with pytest.raises(ValueError, match=rf"a shard is K/N with 1 <= K <= N, got {re.escape(repr(bad))}"):
            parse_shard(bad)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7])
def test_split_covers_every_key_once_is_deterministic_and_balanced(n):
    rng = random.Random(n)
    costs = {f"case-{i}[float32]": rng.choice([1, 10, 100, 10_000]) * rng.randint(1, 9) for i in range(300)}
    split = split_by_cost(costs, n)
    assert set(split) == set(costs) and set(split.values()) <= set(range(n))
    shuffled = dict(sorted(costs.items(), key=lambda kv: rng.random()))
    assert split_by_cost(shuffled, n) == split  # independent of the order the keys arrive in
    loads = _loads(costs, split, n)
    # greedy longest-processing-time: no shard exceeds the mean by more than one trial's cost
    assert max(loads) <= sum(loads) / n + max(costs.values())
    assert max(loads) - min(loads) <= max(costs.values())


def test_split_balances_cost_not_count():
    costs = {"big[float32]": 1000, **{f"small-{i}[float32]": 10 for i in range(100)}}
    split = split_by_cost(costs, 2)
    big_shard = split["big[float32]"]
    assert sum(1 for k, s in split.items() if s == big_shard) == 1  # the big trial alone, the rest elsewhere
    assert _loads(costs, split, 2) == [1000, 1000]


def test_built_in_library_splits_evenly_for_every_framework():
    cases = load_paths([ROOT / "cases"])
    for fw in [*SHARD_COST_NS, "some-plugin"]:
        costs = shard_costs(cases, fw)
        expected = sum(1 for c in cases if c.expect.loss is not None) if fw == ORACLE else sum(len(c.dtypes) for c in cases)
        assert len(costs) == expected
        split = split_by_cost(costs, 4)
        loads = _loads(costs, split, 4)
        assert max(loads) <= sum(loads) / 4 + max(costs.values()), (fw, loads)


def _collect(case_file: Path, cwd: Path, *extra: str) -> list[str]:
    r = subprocess.run([sys.executable, "-m", "pytest", str(case_file), "-p", "harness.run.plugin", "-p", "no:cacheprovider",
                        "--noconftest", "--framework", "oracle,crashy", "--collect-only", "-q", *extra],
                       capture_output=True, text=True, cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT), **CRASHY})
    assert r.returncode in (0, 5), r.stdout + r.stderr
    return sorted(ln for ln in r.stdout.splitlines() if "::" in ln)


def test_pytest_option_partitions_the_items_and_rejects_a_bad_spec(tmp_path):
    cases = tmp_path / "cases.yaml"
    cases.write_text((ROOT / "cases" / "seeds.yaml").read_text() + EXTRA_CASES)
    everything = _collect(cases, tmp_path)
    parts = [_collect(cases, tmp_path, "--harness-shard", f"{k}/3") for k in (1, 2, 3)]
    assert sorted(x for p in parts for x in p) == everything  # each item in exactly one shard
    assert all(parts)
    r = subprocess.run([sys.executable, "-m", "pytest", str(cases), "-p", "harness.run.plugin", "--noconftest",
                        "-p", "no:cacheprovider", "--framework", "oracle", "--collect-only", "--harness-shard", "3/2"],
                       capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 4 and "1 <= K <= N" in r.stderr


def test_four_shards_merged_equal_one_run(tmp_path):
    extra = tmp_path / "extra.yaml"
    extra.write_text(EXTRA_CASES)
    common = ["--cases", str(ROOT / "cases"), "--cases", str(extra), "--frameworks", "oracle,crashy", "--trial-timeout", "60"]
    single = run_cli("run", *common, "--out", str(tmp_path / "single"), env=CRASHY, cwd=tmp_path)
    assert single.returncode == 1, single.stdout + single.stderr  # crash and missing_error rows
    for k in range(1, 5):
        r = run_cli("run", *common, "--shard", f"{k}/4", "--out", str(tmp_path / f"s{k}"), env=CRASHY, cwd=tmp_path)
        assert f"shard {k}/4" in r.stdout and r.returncode in (0, 1), r.stdout + r.stderr
    r = run_cli("report", *[str(tmp_path / f"s{k}" / "shards") for k in range(1, 5)], "--out", str(tmp_path / "merged"))
    assert r.returncode == 1, r.stdout + r.stderr

    def verdicts(path: Path) -> dict[str, str]:
        return {x.row_id: x.verdict for x in read_rows(path)}

    merged, one = verdicts(tmp_path / "merged" / "results.jsonl"), verdicts(tmp_path / "single" / "results.jsonl")
    assert merged == one
    assert one["shard-b-crash[crashy-fake.loss-cpu-float32]"] == "crash"
    per_shard = [verdicts(tmp_path / f"s{k}" / "results.jsonl") for k in range(1, 5)]
    assert sum(len(s) for s in per_shard) == len(one)  # no trial ran twice, even across the crash restart
    assert all(per_shard)
