"""pytest plugin: YAML case files become test items, one per (case, dtype, framework, api, device); its hooks and options.

Each item materializes its trial's inputs, asks the oracle, runs one adapter path, judges the
result, applies the known-differences file and appends one row to the JSONL shard. A new
disagreement fails the item; a known one is xfail; an unsupported path is a skip. The items are in
harness/run/items.py, the session's state in harness/run/session.py, the environment it records in
harness/run/environment.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.judge import assemble, expectations
from harness.results.shards import consolidate
from harness.run import environment
from harness.run.items import CaseFile, TrialItem, is_case_file
from harness.run.schedule import parse_shard, shard_costs, split_by_cost
from harness.run.session import FIRST_WORKER, STATE, Session, state
from harness.schema.load import load_file
from harness.schema.model import Case
from harness.trials import Trial


def pytest_addoption(parser):
    g = parser.getgroup("harness", "loss conformance harness")
    g.addoption("--framework", action="append", default=[], help="framework(s) to run (repeat or comma-separate); default: all installed, plus the oracle's golden checks")
    g.addoption("--shard-out", default=None, help="append result rows to this JSONL shard")
    g.addoption("--known", default=None, help="known-differences file (default: known_differences.yaml in the rootdir)")
    g.addoption("--strict-known", action="store_true",
                help="a `fixed` row (a strict known difference that now passes) fails its item, and a known difference "
                     "that could have matched a row of this run but matches none fails the session, as xfail_strict "
                     "does; without it both are warnings")
    g.addoption("--progress", default=None, help="write 'BEGIN <row id>' here before each trial (crash detection)")
    g.addoption("--resume", action="store_true", help="skip rows already present in --shard-out")
    g.addoption("--row-cache", default=None, metavar="DIR",
                help="serve rows cached in DIR instead of running their trials, and cache the rows computed (the runner's)")
    g.addoption("--row-cache-run", default=None, metavar="ID",
                help="this run's name in the row cache, the same in all its processes, which read the rows of earlier runs "
                     "only (default: the pytest-xdist run's id, else one of this process's own)")
    g.addoption("--row-cache-refresh", action="store_true", help="serve nothing from --row-cache; store every row computed")
    g.addoption("--device", action="append", default=[], help="only these devices (cpu, cuda:0, ...)")
    g.addoption("--harness-shard", default=None, metavar="K/N",
                help="run only shard K of N (1-based): trials split by expected cost, the same on every machine")
    parser.addini("harness_cases", "directories whose YAML files are case files", type="paths", default=[])


def pytest_configure(config):
    config.stash[STATE] = Session(config)


def pytest_unconfigure(config):
    st = config.stash.get(STATE, None)
    if st is not None:
        st.close()


def pytest_collect_file(file_path: Path, parent):
    if is_case_file(file_path, parent.config):
        return CaseFile.from_parent(parent, path=file_path)
    return None


def _start(session, st: Session, items) -> None:
    """Once the items are known, load this process's frameworks and record their environment (the row cache's keys
    include it) and a row for each one that cannot load. A session with no case item and no shard (the project's
    own tests) loads none; the xdist controller neither: its workers run the trials."""
    out = session.config.getoption("shard_out")
    if st.started or st.controller or not (out or any(isinstance(i, TrialItem) for i in items)):
        return
    st.started = True
    env = environment.capture(st)
    if not session.config.getoption("resume") and st.worker in ("", FIRST_WORKER):
        # a framework that is missing or fails to import is a row of the report, not a silent gap
        for fw in st.frameworks:
            if fw in st.unavailable:
                st.record(assemble.unavailable(fw, st.unavailable[fw]))
    if st.cache is not None:
        for fw in st.frameworks:
            st.cache.environment(fw, env["frameworks"].get(fw), st.adapters.get(fw))
    if out and st.worker in ("", FIRST_WORKER):
        environment.write(out, env)


def pytest_collection_finish(session):
    """Write how many rows this process owes, so a merge can tell a finished shard from a killed one.
    Under xdist every worker collects every item; the first one writes the count. Each process's progress
    file names the trials it will run (the console's progress)."""
    st = state(session.config)
    if st.progress:
        st.plan(sorted({Trial(i.case, i.dtype).id for i in session.items if isinstance(i, TrialItem)}))
    out = session.config.getoption("shard_out")
    trials = sum(1 for i in session.items if isinstance(i, TrialItem))
    _start(session, st, session.items)  # when the row cache did not start them already
    if out and not st.controller and st.worker in ("", FIRST_WORKER):
        unavailable = sum(1 for fw in st.unavailable)
        cached = st.cache.served if st.cache is not None else 0
        expected = trials + cached + len(st.done) + (0 if session.config.getoption("resume") else unavailable)
        Path(out).with_suffix(".expected.json").write_text(json.dumps({"rows": expected, "cached": cached}))


def pytest_sessionfinish(session):
    st = session.config.stash.get(STATE, None)
    out = session.config.getoption("shard_out")
    if st is not None and st.controller and out:
        st.rows.extend(consolidate(Path(out)))
    config = session.config
    if st is None or st.worker or config.getoption("resume") or config.getoption("keyword") or config.getoption("markexpr"):
        return  # a worker sees part of the rows; -k, -m and --resume select rows by more than an entry's scope
    st.stale = expectations.unused(st.entries, st.rows)
    if st.stale and config.getoption("strict_known") and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    st = config.stash.get(STATE, None)
    if st is None:
        return
    tr = terminalreporter
    for fw, why in st.unavailable.items():
        tr.write_line(f"harness: framework {fw} unavailable: {why}", yellow=True)
    if st.rows:
        counts: dict[str, int] = {}
        for r in st.rows:
            counts[r.verdict] = counts.get(r.verdict, 0) + 1
        tr.write_line("harness verdicts: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        strict = config.getoption("strict_known")
        for e in st.stale:
            tr.write_line(f"harness: {'error (--strict-known)' if strict else 'warning'}: {expectations.stale(e)}",
                          red=strict, yellow=not strict)


@pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
def pytest_collection_modifyitems_cached(session, config, items):
    """--row-cache: the items chosen (by -k, --harness-shard) whose rows are cached are served, not run."""
    st = config.stash.get(STATE, None)
    if st is not None and st.cache is not None:
        _start(session, st, items)  # a row's cache key includes its framework's environment
        items[:] = st.cache.take(items, st.record)


def _shard_cases(st: Session | None, items) -> list[Case]:
    """Every case of the collected case files, including those whose rows --resume skipped, so
    that a restarted process computes the same split."""
    files = {str(it.path) for it in items if isinstance(it, TrialItem)}
    for loc in getattr(st, "case_ids", {}).values():
        files.add(str(loc).rsplit(":", 2)[0])
    cases: dict[str, Case] = {}
    for f in sorted(files):
        for c in load_file(f):
            cases.setdefault(c.id, c)
    return list(cases.values())


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    """--harness-shard K/N: keep this shard's trials, deselect the rest (before -k applies).

    Each framework's trials are split by its own cost model, so the split of a framework's rows
    does not depend on which other frameworks share the process, on the devices present, on -k or
    on --resume. Items that are not trials (the project's own tests) run in shard 1 only.
    """
    spec = config.getoption("harness_shard")
    if not spec:
        return
    try:
        k, n = parse_shard(spec)
    except ValueError as e:
        raise pytest.UsageError(f"--harness-shard: {e}") from None
    cases = _shard_cases(config.stash.get(STATE, None), items)
    splits: dict[str, dict[str, int]] = {}
    keep, drop = [], []
    for item in items:
        if not isinstance(item, TrialItem):
            (keep if k == 1 else drop).append(item)
            continue
        if item.framework not in splits:
            splits[item.framework] = split_by_cost(shard_costs(cases, item.framework), n)
        shard = splits[item.framework].get(Trial(item.case, item.dtype).id, 0)
        (keep if shard == k - 1 else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
