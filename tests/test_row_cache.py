"""The row cache (<out>/cache/): a re-run serves the rows whose key is unchanged and computes the rest; each
ingredient of the key, changed, recomputes its rows; --no-cache computes everything; a torn or corrupt file is a miss."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.results import merge
from harness.results.cachefiles import COMPACT, RowStore, cacheable, compact
from harness.results.rows import Row
from harness.results.shards import read_rows
from harness.run.cachekeys import case_hash, steering
from harness.run.runcache import RunCache
from harness.schema.load import load_file
from harness.schema.model import Expect, ToleranceOverride
from tests.conftest import ROOT, have, run_cli

CASES = """\
- id: k-first
  family: sparse_softmax_cross_entropy
  description: its rows are cached
  logits: [[2.5, -1.0, 0.8, 4.1]]
  labels: [3]
  dtypes: [float64, float32]
  relations: [one_hot]
- id: k-second
  family: softmax_cross_entropy
  description: and so are these
  logits: [[0.5, 1.5, -2.0], [1.0, 1.0, 1.0]]
  labels: [[0.0, 1.0, 0.0], [0.2, 0.3, 0.5]]
  params: {reduction: mean}
  dtypes: [float64, float32]
  relations: [sum_mean]
"""
FAKE = {"HARNESS_ADAPTERS": "versioned=tests.fake_adapters:VersionedAdapter"}
FRAMEWORKS = "oracle,versioned"  # the oracle: a built-in (served whole when nothing changed); versioned: a plugin
ROWS = {"oracle": 2, "versioned": 8}  # 2 relation checks; 2 cases x 2 dtypes, each a trial and a relation check


def run(work: Path, *extra: str, env: dict | None = None, root: Path = ROOT):
    """`harness run` of work/cases.yaml into work/out; (the process, {framework: (rows, served from the cache)}, rows by
    id, the trials the versioned adapter evaluated)."""
    log = work / "evaluated.txt"
    log.unlink(missing_ok=True)
    r = run_cli("run", "--cases", str(work / "cases.yaml"), "--frameworks", FRAMEWORKS, "--out", str(work / "out"), *extra,
                env={**FAKE, "FAKE_ADAPTER_LOG": str(log), "PYTHONPATH": str(root), **(env or {})}, cwd=work)
    counts = {}
    for m in re.finditer(r"^  (\S+): (\d+) rows (?:from the cache|in [\d.]+ s(?: \((\d+) from the cache\))?)", r.stdout, re.M):
        n = int(m.group(2))
        counts[m.group(1)] = (n, n if "rows from the cache" in m.group(0) else int(m.group(3) or 0))
    assert r.returncode in (0, 1), r.stdout + r.stderr
    rows = {x.row_id: x for x in read_rows(work / "out" / "results.jsonl")}
    evaluated = sorted(set(log.read_text().splitlines())) if log.exists() else []
    return r, counts, rows, evaluated


def as_json(rows: dict[str, Row], **fields) -> dict[str, str]:
    """Rows as their JSON lines (NaN equal to NaN), with the given fields replaced."""
    return {rid: dataclasses.replace(x, **fields).to_json() for rid, x in rows.items()}


@pytest.fixture(scope="module")
def primed(tmp_path_factory) -> tuple[Path, dict[str, Row]]:
    """A folder whose out/ holds a first run's rows and cache."""
    work = tmp_path_factory.mktemp("primed")
    (work / "cases.yaml").write_text(CASES)
    r, counts, rows, evaluated = run(work)
    assert counts == {fw: (n, 0) for fw, n in ROWS.items()}, r.stdout + r.stderr
    assert evaluated and all(x.verdict in ("pass", "relation_pass") for x in rows.values()), rows
    return work, rows


def copy(primed, tmp_path: Path) -> tuple[Path, dict[str, Row]]:
    """A copy of the primed folder, and the primed rows as a run of the copy makes them (their case file is the copy's)."""
    work = tmp_path / "work"
    shutil.copytree(primed[0], work, ignore=shutil.ignore_patterns("evaluated.txt"))
    old, new = str(primed[0] / "cases.yaml"), str(work / "cases.yaml")
    return work, {rid: dataclasses.replace(x, source=x.source.replace(old, new)) for rid, x in primed[1].items()}


def _edit(work: Path, old: str, new: str) -> None:
    text = (work / "cases.yaml").read_text()
    assert old in text
    (work / "cases.yaml").write_text(text.replace(old, new, 1))


# each ingredient of the key: (how to change it, command-line args, environment, the rows computed again per framework,
# the cases whose trials the versioned adapter evaluates again)
K2 = "  dtypes: [float64, float32]\n  relations: [sum_mean]"
INGREDIENTS = {
    "case content": (lambda w: _edit(w, "labels: [3]", "labels: [2]"), (), {}, {"oracle": 1, "versioned": 4}, {"k-first"}),
    "tolerance": (lambda w: _edit(w, K2, K2 + "\n  tolerance: {loss_rtol: 1e-3, reason: a test's}"), (), {},
                  {"oracle": 1, "versioned": 4}, {"k-second"}),
    "dtype added": (lambda w: _edit(w, "dtypes: [float64, float32]", "dtypes: [float64, float32, float16]"), (), {},
                    {"oracle": 0, "versioned": 2}, {"k-first"}),
    "relation added": (lambda w: _edit(w, "relations: [one_hot]", "relations: [one_hot, {kind: move_axis, to: 0}]"), (), {},
                       {"oracle": 1, "versioned": 2}, {"k-first"}),
    "api path": (None, (), {"FAKE_ADAPTER_EXTRA_PATH": "1"}, {"oracle": 0, "versioned": 8}, {"k-first", "k-second"}),
    "device": (None, ("--device", "cuda:0"), {}, {"oracle": 0, "versioned": 4}, set()),  # not seen: nothing runs there
    "precision mode": (None, ("--as-deployed",), {}, {"oracle": 2, "versioned": 8}, {"k-first", "k-second"}),
    "framework version": (None, (), {"FAKE_ADAPTER_VERSION": "2"}, {"oracle": 0, "versioned": 8}, {"k-first", "k-second"}),
    "max elements": (None, ("--max-elements", "100000"), {}, {"oracle": 2, "versioned": 8}, {"k-first", "k-second"}),
    "steering variable": (None, (), {"XLA_FLAGS": "--xla_cpu_use_thunk_runtime=false"}, {"oracle": 2, "versioned": 8},
                          {"k-first", "k-second"}),
}


@pytest.mark.parametrize("ingredient", list(INGREDIENTS))
def test_changing_an_ingredient_of_the_key_recomputes_its_rows_and_serves_the_others(primed, tmp_path, ingredient):
    change, args, env, recomputed, evaluated_cases = INGREDIENTS[ingredient]
    work, _ = copy(primed, tmp_path)
    if change:
        change(work)
    r, counts, rows, evaluated = run(work, *args, env=env)
    assert {fw: n - served for fw, (n, served) in counts.items()} == recomputed, r.stdout + r.stderr
    assert {line.split()[0] for line in evaluated} == evaluated_cases, evaluated
    # and the changed run is now what a re-run serves, every row of it
    r, counts, again, evaluated = run(work, *args, env=env)
    assert all(served == n for n, served in counts.values()) and not evaluated, r.stdout
    assert as_json(again) == as_json(rows)


def test_a_rerun_with_nothing_changed_serves_every_row_as_it_was(primed, tmp_path):
    work, before = copy(primed, tmp_path)
    r, counts, rows, evaluated = run(work)
    assert counts == {fw: (n, n) for fw, n in ROWS.items()} and not evaluated, r.stdout + r.stderr
    assert as_json(rows) == as_json(before)  # every field, the recorded durations included


def test_a_moved_case_is_served_with_its_new_place_and_a_fresh_run_differs_only_in_durations(primed, tmp_path):
    work, before = copy(primed, tmp_path)
    (work / "cases.yaml").write_text("# a comment moves every case one line down\n" + CASES)
    r, counts, rows, evaluated = run(work)
    assert all(served == n for n, served in counts.values()) and not evaluated, r.stdout
    for rid, x in rows.items():
        file, line, col = before[rid].source.rsplit(":", 2)
        assert x.source == f"{file}:{int(line) + 1}:{col}", (x.source, before[rid].source)
    assert as_json({rid: dataclasses.replace(x, source=before[rid].source) for rid, x in rows.items()}) == as_json(before)
    r, counts, fresh, evaluated = run(work, "--no-cache")
    assert all(served == 0 for _, served in counts.values()) and evaluated, r.stdout
    assert as_json(fresh, duration_s=None) == as_json(rows, duration_s=None)
    r, counts, again, _ = run(work)  # --no-cache stored what it computed: served from now on
    assert all(served == n for n, served in counts.values()) and as_json(again) == as_json(fresh), r.stdout


def test_the_known_differences_are_applied_again_to_a_served_row(primed, tmp_path):
    work, _ = copy(primed, tmp_path)
    (work / "known.yaml").write_text("- case: k-first\n  framework: versioned\n  verdict: '*'\n"
                                     "  reason: a test records a failure that does not happen\n  link: https://example.org\n")
    r, counts, rows, evaluated = run(work, "--known", str(work / "known.yaml"))
    assert all(served == n for n, served in counts.values()) and not evaluated, r.stdout
    first = [x for x in rows.values() if x.case == "k-first" and x.framework == "versioned"]
    assert first and {(x.verdict, x.raw_verdict) for x in first} == {("fixed", "pass")}
    assert {x.verdict for x in rows.values() if x not in first} == {"pass", "relation_pass"}


@pytest.mark.parametrize("edited, recomputed", [("harness/oracle/core.py", True), ("adapters/api.py", True),
                                                ("harness/report/page.py", False), ("harness/run/runner.py", False)])
def test_an_edit_of_the_harness_code_recomputes_every_row_unless_it_only_presents_rows(primed, tmp_path, edited, recomputed):
    root = tmp_path / "project"
    for part in ("harness", "adapters"):
        shutil.copytree(ROOT / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "tests").mkdir()
    for name in ("__init__.py", "fake_adapters.py"):
        shutil.copy(ROOT / "tests" / name, root / "tests" / name)
    work, _ = copy(primed, tmp_path)
    r, counts, _, _ = run(work, root=root)  # the copy's code is the same: served
    assert all(served == n for n, served in counts.values()), r.stdout + r.stderr
    with open(root / edited, "a", encoding="utf-8") as f:
        f.write("\n# an edit\n")
    r, counts, _, evaluated = run(work, root=root)
    assert all(served == (0 if recomputed else n) for n, served in counts.values()), r.stdout + r.stderr
    assert bool(evaluated) == recomputed


def test_a_torn_or_corrupt_cache_line_is_a_miss_and_is_computed_again(primed, tmp_path):
    work, before = copy(primed, tmp_path)
    path = work / "out" / "cache" / "rows" / "versioned" / COMPACT
    lines = path.read_text().splitlines(keepends=True)
    lines[0] = lines[0].replace('"pass"', '"fail"', 1)  # its checksum no longer matches
    lines[-1] = lines[-1][: len(lines[-1]) // 2]  # torn
    path.write_text("".join(lines))
    r, counts, rows, evaluated = run(work)
    assert counts["versioned"] == (8, 6) and evaluated, r.stdout + r.stderr
    assert as_json(rows, duration_s=None) == as_json(before, duration_s=None)
    (work / "out" / "cache" / "rows" / "versioned" / COMPACT).write_bytes(b"\x00\xff not a cache file \n\t\t\t\t\n")
    r, counts, rows, evaluated = run(work)
    assert counts["versioned"] == (8, 0) and len(rows) == 10, r.stdout + r.stderr


def test_the_built_in_oracle_is_served_whole_until_what_its_process_would_see_changes(tmp_path):
    work = tmp_path
    (work / "cases.yaml").write_text(CASES)
    run(work)
    env = json.loads((work / "out" / "shards" / "oracle.env.json").read_text())
    r, counts, _, _ = run(work)
    assert "oracle: 2 rows from the cache" in r.stdout and counts["versioned"] == (8, 8), r.stdout
    # without starting its process: the environment its rows were computed in is the one recorded
    assert json.loads((work / "out" / "shards" / "oracle.env.json").read_text()) == env
    assert not (work / "out" / "shards" / "oracle.log").exists()
    for args, variables in ((("-k", "k-first"), {}), (("--as-deployed",), {}), ((), {"HARNESS_TF_OP_DETERMINISM": "1"})):
        r, counts, _, _ = run(work, *args, env=variables)
        assert "oracle: 2 rows from the cache" not in r.stdout and "oracle: " in r.stdout, (args, r.stdout)


def test_the_rows_of_a_users_own_loss_are_computed_on_every_run(primed, tmp_path):
    work, _ = copy(primed, tmp_path)
    (work / "team_losses.py").write_text("def ce(logits, labels):\n    return logits.sum(axis=-1)\n")
    (work / "pyproject.toml").write_text('[[tool.harness.custom]]\ncallable = "team_losses:ce"\n'
                                         'family = "sparse_softmax_cross_entropy"\nframework = "versioned"\nname = "team:ce"\n')
    run(work)  # a new set of paths: the environment changed
    r, counts, rows, evaluated = run(work)
    assert {line.split()[1] for line in evaluated} == {"team:ce"}, evaluated  # its code is the user's, outside any key
    assert counts["versioned"] == (12, 8) and len([x for x in rows.values() if x.api == "team:ce"]) == 4, r.stdout


CRASHY = {"HARNESS_ADAPTERS": "crashy=tests.fake_adapters:CrashingAdapter"}


def test_a_crash_is_not_cached(tmp_path):
    from tests.test_end_to_end import CRASH_CASES

    (tmp_path / "c.yaml").write_text(CRASH_CASES.split("- id: c-hang")[0])
    out = tmp_path / "out"
    for served in (0, 1):
        r = run_cli("run", "--cases", str(tmp_path / "c.yaml"), "--frameworks", "crashy", "--out", str(out), env=CRASHY,
                    cwd=tmp_path)
        assert {x.case: x.verdict for x in read_rows(out / "results.jsonl")} == {"a-first": "pass", "b-crash": "crash"}
        assert re.search(rf"crashy: 2 rows in [\d.]+ s{' [(]1 from the cache[)]' if served else ''}$", r.stdout, re.M), r.stdout


@pytest.mark.skipif(not have("xdist"), reason="pytest-xdist is not installed")
def test_workers_serve_each_cached_row_once(primed, tmp_path):
    work, _ = copy(primed, tmp_path)
    _edit(work, "labels: [3]", "labels: [1]")
    r, counts, rows, _ = run(work, "--workers", "2")
    assert counts["versioned"] == (8, 4), r.stdout + r.stderr
    shard = read_rows(work / "out" / "shards" / "versioned.jsonl")
    assert len(shard) == len({x.row_id for x in shard}) == 8
    r, counts, again, evaluated = run(work, "--workers", "2")
    assert counts["versioned"] == (8, 8) and not evaluated and as_json(again) == as_json(rows), r.stdout + r.stderr


# ------------------------------------------------------------------------------------------- the parts, without a run


def test_a_case_hash_ignores_where_the_case_is_written_and_which_rows_it_has_and_tells_every_other_change(tmp_path):
    (tmp_path / "a.yaml").write_text(CASES)
    (tmp_path / "b.yaml").write_text("\n\n" + CASES)
    a, b = load_file(tmp_path / "a.yaml")[0], load_file(tmp_path / "b.yaml")[0]
    assert a.location != b.location and case_hash(a) == case_hash(b)
    assert case_hash(dataclasses.replace(a, dtypes=("float64",))) == case_hash(dataclasses.replace(a, relations=())) == case_hash(a)
    changed = [dataclasses.replace(a, description="another"), dataclasses.replace(a, tags=("x",)),
               dataclasses.replace(a, expect=Expect(loss=(0.5,))), dataclasses.replace(a, logit_scale=10.0),
               dataclasses.replace(a, logit_scale=10.000000000000002), dataclasses.replace(a, sweep="scale"),
               dataclasses.replace(a, tolerance=ToleranceOverride(reason="r", loss_rtol=1e-3)),
               dataclasses.replace(a, tolerance=ToleranceOverride(reason="r", loss_rtol=2e-3)),
               dataclasses.replace(a, params=dataclasses.replace(a.params, label_smoothing=0.1)),
               dataclasses.replace(a, params=dataclasses.replace(a.params, reduction="sum")),
               dataclasses.replace(a, labels=dataclasses.replace(a.labels, values=[2])),
               dataclasses.replace(a, predictions=dataclasses.replace(a.predictions, values=[[2.5, -1.0, 0.8, 4.0]])),
               dataclasses.replace(a, id="k-other"), load_file(tmp_path / "a.yaml")[1]]
    hashes = {case_hash(c) for c in changed}
    assert len(hashes) == len(changed) and case_hash(a) not in hashes


def test_what_is_not_cacheable():
    def row(**kw):
        return Row(**{"row_id": "c[f-a-cpu-float32]", "case": "c", "family": "", "framework": "f", "api": "a", "device": "cpu",
                      "dtype": "float32", "verdict": "pass", **kw})
    assert cacheable(row()) and cacheable(row(verdict="error", message="ValueError: labels out of range"))
    for r in (row(verdict="crash"), row(verdict="timeout"), row(verdict="unavailable"),
              row(verdict="error", flags=["harness_error"]), row(verdict="error", message="RuntimeError: CUDA out of memory"),
              row(verdict="error", message="ResourceExhaustedError: OOM when allocating tensor")):
        assert not cacheable(r), r
    assert not cacheable(row(api="custom:my.losses:ce"), frozenset({"custom:my.losses:ce"}))


def test_a_store_reads_earlier_runs_only_and_compacting_keeps_the_newest_row_of_each_trial(tmp_path):
    def row(verdict):
        return Row(row_id="c[f-a-cpu-float32]", case="c", family="", framework="f", api="a", device="cpu", dtype="float32",
                   verdict=verdict)
    first = RowStore(tmp_path, "run1", "main")
    first.put("k1", row("pass"), "env")
    first.close()
    second = RowStore(tmp_path, "run2", "main")
    assert second.get("k1") == row("pass") and second.get("k2") is None
    second.put("k2", row("loss_mismatch"), "env")  # the case was edited: a new key for the same row
    assert RowStore(tmp_path, "run2", "gw1").get("k2") is None  # another worker of run2 does not see it
    second.close()
    compact(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [COMPACT]
    later = RowStore(tmp_path, "run3", "main")
    assert later.get("k2") == row("loss_mismatch") and later.get("k1") is None


JAX_CASE = """\
- id: j-one
  family: sparse_softmax_cross_entropy
  description: one small trial for JAX
  logits: [[2.5, -1.0, 0.8, 4.1], [0.0, 1.0, 2.0, 3.0]]
  labels: [3, 0]
  dtypes: [float32]
"""


@pytest.mark.skipif(not have("jax", "optax"), reason="JAX is not installed")
def test_a_jax_run_gives_the_same_bits_with_programs_from_the_compilation_cache_and_without(tmp_path):
    out = tmp_path / "out"

    def jax_run(*extra: str) -> dict[str, Row]:
        r = run_cli("run", "--cases", str(tmp_path / "c.yaml"), "--frameworks", "jax", "--workers", "0", "--out", str(out),
                    *extra, cwd=tmp_path)
        assert r.returncode in (0, 1), r.stdout + r.stderr
        return {x.row_id: dataclasses.replace(x, duration_s=None, description="") for x in read_rows(out / "results.jsonl")}

    (tmp_path / "c.yaml").write_text(JAX_CASE)
    first = jax_run()
    programs = sorted(p.name for p in (out / "cache" / "jax").glob("*-cache*"))
    assert programs, "JAX kept no program"
    (tmp_path / "c.yaml").write_text(JAX_CASE.replace("one small trial", "the same small trial"))
    second = jax_run()  # the rows are computed again (their case changed), the same programs loaded
    assert sorted(p.name for p in (out / "cache" / "jax").glob("*-cache*")) == programs
    third = jax_run("--no-cache")  # every program compiled afresh
    assert as_json(second) == as_json(first) == as_json(third) and len(first) > 3


@pytest.mark.skipif(not have("jax"), reason="JAX is not installed")
def test_the_environment_of_a_framework_process_turns_on_jaxs_cache_for_small_programs_and_changes_no_key(tmp_path):
    env, off = dict(os.environ), dict(os.environ)
    before = steering(env)
    RunCache(tmp_path / "cache").process_env(env)
    RunCache(tmp_path / "cache", read=False).process_env(off)  # --no-cache
    assert steering(env) == steering(off) == before and env["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path / "cache" / "jax")
    script = ("import jax, jax.numpy as jnp, jax.monitoring as m\n"
              "hits = []\n"
              "m.register_event_listener(lambda e, **kw: hits.append(e))\n"
              "f = jax.jit(lambda x: jnp.sum(jax.nn.log_softmax(x)))\n"
              "print(float(f(jnp.arange(4.0))).hex(), hits.count('/jax/compilation_cache/cache_hits'))\n")
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300) for _ in (1, 2)]
    (v1, hits1), (v2, hits2) = (r.stdout.split() for r in runs)
    assert hits1 == "0" and int(hits2) > 0 and v1 == v2, [r.stderr[-2000:] for r in runs]  # the same bits, from the cache
    r = subprocess.run([sys.executable, "-c", script], env={**off, "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "cache" / "jax")},
                       capture_output=True, text=True, timeout=300)
    assert r.stdout.split() == [v1, "0"], r.stderr[-2000:]  # --no-cache: not even a cache of the user's own


def test_a_served_rows_line_is_its_stored_line_with_only_what_serving_and_merging_set_encoded_anew(primed):
    nasty = 'a "quoted", "source": "x", \\ back, new\nline, é, ✓ </script>'
    for stored_row in primed[1].values():
        for case in (stored_row, dataclasses.replace(stored_row, description=nasty, tags=["verdict", "source"], loss=float("nan"),
                                                     grad_values=[1.5, float("inf"), -0.0], message=nasty)):
            text = dataclasses.replace(case, source="", shard="", raw_verdict="").to_json()
            row = merge.stored(text)
            assert merge.line(row) == text  # nothing set since: the line as stored
            row.source, row.verdict, row.raw_verdict = f"{nasty}:3:1", "known", row.verdict
            row.known_reason, row.known_link, row.known_entry, row.shard = nasty, "https://example.org/é", "k.yaml:9", "shards/v.jsonl"
            assert merge.line(row) == row.to_json() and merge.line(row) != text
            assert Row.from_json(merge.line(row)).known_reason == nasty
            assert merge.line(dataclasses.replace(row, message="another")) == dataclasses.replace(row, message="another").to_json()


def test_the_rows_a_runner_served_reach_its_merge_without_a_second_reading_while_their_shard_is_unchanged(primed, tmp_path):
    rows = [merge.stored(x.to_json()) for x in primed[1].values()]
    shard = tmp_path / "shards" / "versioned.jsonl"
    shard.parent.mkdir()
    shard.write_text("".join(merge.line(x) + "\n" for x in rows))
    merge.keep(shard, rows)
    merged, _, _ = merge.merge([shard])
    assert all(a is b for a, b in zip(merged, rows, strict=True))
    again, _, _ = merge.merge([shard])  # handed once: read from the file now
    assert as_json({x.row_id: x for x in again}) == as_json({x.row_id: x for x in merged}) and again[0] is not rows[0]
    merge.keep(shard, rows)
    with open(shard, "a", encoding="utf-8") as f:
        f.write(dataclasses.replace(rows[0], row_id="extra[versioned-a-cpu-float32]").to_json() + "\n")
    assert len(merge.merge([shard])[0]) == len(rows) + 1  # the file changed since: read


def test_a_framework_process_with_no_rows_to_write_is_not_started_again(primed, tmp_path):
    work, _ = copy(primed, tmp_path)
    run(work, "-k", "versioned")  # the oracle's checks are all deselected
    r, counts, rows, evaluated = run(work, "-k", "versioned")
    assert "oracle: 0 rows from the cache" in r.stdout and counts["versioned"] == (8, 8) and not evaluated, r.stdout
    assert not (work / "out" / "shards" / "oracle.log").exists() and len(rows) == 8
