"""pytest-xdist workers inside one framework's process (`run --workers N`): the same verdicts as one
process, one shard per worker merged into the framework's shard, and crash and hang rows still written."""

from __future__ import annotations

import pytest

from harness.results.shards import read_rows
from harness.run.schedule import WORKER_START_NS, expected_wall, makespan, plan_workers
from tests.conftest import have, run_cli
from tests.test_end_to_end import CRASH_CASES

FAKE = {"HARNESS_ADAPTERS": "crashy=tests.fake_adapters:CrashingAdapter"}
MORE = "".join(f"""\
- id: e-more-{i}
  family: sparse_softmax_cross_entropy
  description: enough trials for two workers
  logits: [[{i}.0, 2.0, -1.5, 0.25]]
  labels: [{i % 4}]
  dtypes: [float64, float32]
""" for i in range(6))

pytestmark = pytest.mark.skipif(not have("xdist"), reason="pytest-xdist is not installed")


def _run(tmp_path, name: str, cases: str, *extra: str, env: dict | None = None):
    (tmp_path / f"{name}.yaml").write_text(cases)
    r = run_cli("run", "--cases", str(tmp_path / f"{name}.yaml"), "--frameworks", "crashy", "--out", str(tmp_path / name),
                *extra, env={**FAKE, **(env or {})}, cwd=tmp_path)
    return r, {x.row_id: x for x in read_rows(tmp_path / name / "results.jsonl")}


def test_two_workers_give_the_same_verdicts_as_one_process_and_survive_a_crash_and_a_hang(tmp_path):
    cases = CRASH_CASES + MORE
    r1, one = _run(tmp_path, "one", cases, "--trial-timeout", "5", "--workers", "0")
    r2, two = _run(tmp_path, "two", cases, "--trial-timeout", "5", "--workers", "2")
    assert {k: v.verdict for k, v in two.items()} == {k: v.verdict for k, v in one.items()}, r2.stdout + r2.stderr
    verdicts = {x.case: x.verdict for x in two.values()}
    assert verdicts["b-crash"] == "crash" and verdicts["c-hang"] == "timeout", verdicts
    assert sum(v == "pass" for v in verdicts.values()) == len(verdicts) - 2
    assert len(two) == 3 + 2 + 6 * 2  # every trial has exactly one row
    assert r1.returncode == r2.returncode == 1
    shards = tmp_path / "two" / "shards"
    # the workers' rows were moved into the framework's shard; each worker kept its own progress file
    assert not list(shards.glob("crashy.gw*.jsonl")) and len(list(shards.glob("crashy.gw*.progress"))) >= 2
    assert {x.row_id for x in read_rows(shards / "crashy.jsonl")} == set(two)
    assert "partial" not in r2.stdout


def test_a_run_with_workers_resumes_like_one_without(tmp_path):
    cases = CRASH_CASES.split("- id: b-crash")[0] + MORE
    r, first = _run(tmp_path, "w", cases, "--workers", "2")
    assert r.returncode == 0 and all(x.verdict == "pass" for x in first.values()), r.stdout + r.stderr
    r, again = _run(tmp_path, "w", cases, "--workers", "2", "--resume")
    assert r.returncode == 0 and set(again) == set(first)
    assert len(read_rows(tmp_path / "w" / "shards" / "crashy.jsonl")) == len(first)  # nothing ran twice


S = WORKER_START_NS


def test_makespan_shares_the_cores_equally():
    assert makespan([3.0, 1.0, 2.0], 1) == 6.0  # one core: one after another
    assert makespan([5.0, 5.0, 5.0, 5.0], 2) == 10.0
    assert makespan([1.0, 3.0], 2) == 3.0  # each process uses one core at most
    assert makespan([1.0, 1.0, 4.0], 2) == 1.5 + 3.0  # three share two cores, then the last runs alone


def test_auto_workers_go_to_the_framework_that_would_outlast_the_others():
    costs = {"oracle": S // 10, "torch": 2 * S, "tensorflow": 3 * S, "jax": 40 * S}
    assert plan_workers(costs, 2) == {"oracle": 1, "torch": 1, "tensorflow": 1, "jax": 2}
    many = plan_workers(costs, 16)
    assert many["oracle"] == many["torch"] == many["tensorflow"] == 1 and 2 < many["jax"] < 16


@pytest.mark.parametrize("seed", range(8))
def test_the_plan_is_no_slower_than_one_process_each_and_no_single_worker_more_would_save_a_start_up(seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    names = ["oracle", "torch", "tensorflow", "jax", "keras-jax"][: 2 + seed % 4]
    costs = {n: int(S * rng.uniform(0.1, 200.0)) for n in names}
    cores = int(rng.choice([1, 2, 4, 16]))
    plan = plan_workers(costs, cores)
    ones = {n: 1 for n in names}
    assert expected_wall(costs, plan, cores) <= expected_wall(costs, ones, cores)
    assert all(1 <= w <= max(cores, 1) for w in plan.values())
    for n in names:
        if plan[n] < cores:
            assert expected_wall(costs, {**plan, n: plan[n] + 1}, cores) >= expected_wall(costs, plan, cores) - S, (n, plan)


def test_auto_workers_stay_one_each_when_the_work_is_balanced_small_or_the_machine_has_one_core():
    balanced = {"torch": 30 * S, "tensorflow": 30 * S, "jax": 30 * S}
    assert set(plan_workers(balanced, 2).values()) == {1}
    assert set(plan_workers({"torch": S, "jax": 2 * S}, 8).values()) == {1}  # a worker would cost more than it saves
    assert set(plan_workers({"torch": S, "jax": 400 * S}, 1).values()) == {1}
    assert plan_workers({}, 4) == {}


def test_workers_takes_a_number_or_auto(tmp_path):
    (tmp_path / "c.yaml").write_text(MORE)
    for bad in ("-1", "two"):
        r = run_cli("run", "--cases", str(tmp_path / "c.yaml"), "--frameworks", "crashy", "--workers", bad,
                    "--out", str(tmp_path / "o"), env=FAKE, cwd=tmp_path)
        assert r.returncode == 2 and "--workers is a number >= 0 or 'auto'" in r.stderr, r.stderr
