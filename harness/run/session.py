"""The plugin's session state: the frameworks and their adapters, the shard and progress files, the references
and observations kept between items, and every row recorded, in each pytest process (an xdist worker or not)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

import adapters
from adapters.api import Adapter, Observation
from harness import oracle
from harness.judge import expectations, tolerances
from harness.oracle import orders
from harness.results.rows import Row
from harness.results.shards import ShardWriter, read_rows, shard_family, worker_path
from harness.run.schedule import ORACLE
from harness.run.trialcache import TrialCache
from harness.schema.model import Case
from harness.trials import Trial, direction, materialize

FIRST_WORKER = "gw0"  # under xdist, the worker that writes the shard's environment and expected row count


def worker_id(config) -> str:
    """The pytest-xdist worker id of this process ('gw0', ...), or '' outside a worker."""
    wi = getattr(config, "workerinput", None)
    return str(wi.get("workerid", "")) if wi else ""


def is_controller(config) -> bool:
    """True in the pytest-xdist controller process (-n N with N > 0), which runs no trial itself."""
    return not worker_id(config) and bool(getattr(config.option, "numprocesses", None))


class Session:
    def __init__(self, config):
        self.config = config
        names = [n for f in config.getoption("framework") for n in f.split(",") if n]
        self.frameworks = names or [ORACLE, *adapters.registry()]
        self.devices_filter = [d for f in config.getoption("device") for d in f.split(",") if d]
        self.adapters: dict[str, Adapter] = {}
        self.started = False  # the frameworks loaded and their environment recorded (plugin._start)
        self.unavailable: dict[str, str] = {}
        known = config.getoption("known") or str(Path(config.rootpath) / "known_differences.yaml")
        self.entries = expectations.load(known)
        self.used: set[int] = set()
        self.stale: list[expectations.Entry] = []  # entries in this run's scope that matched no row (session end)
        # under pytest-xdist each worker writes its own shard and progress file (<name>.<worker id>.jsonl);
        # the controller runs no trial and appends the workers' rows to the shard at the end
        self.worker, self.controller = worker_id(config), is_controller(config)
        out = config.getoption("shard_out")
        own = worker_path(Path(out), self.worker) if out and self.worker else out
        self.writer = ShardWriter(own) if own and not self.controller else None
        self.done: set[str] = set()
        if out and config.getoption("resume"):
            self.done = {r.row_id for f in shard_family(Path(out)) for r in read_rows(f)}
        prog = config.getoption("progress")
        own_prog = worker_path(Path(prog), self.worker) if prog and self.worker else prog
        self.progress = open(own_prog, "a", encoding="utf-8") if own_prog and not self.controller else None
        if self.progress and self.worker:
            self.progress.write(f"PID {os.getpid()}\n")  # the runner kills a hung worker alone
            self.progress.flush()
        cache = config.getoption("row_cache")
        run = (config.getoption("row_cache_run") or getattr(config, "workerinput", {}).get("testrunuid")
               or f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
        self.cache = (TrialCache(Path(cache), run, self.worker, self.worker in ("", FIRST_WORKER),
                                 read=not config.getoption("row_cache_refresh"))
                      if cache and not self.controller else None)
        self.ref_cache: dict[str, tuple] = {}
        # the observations of the case in progress, when it has relations: a relation item compares the
        # path's own observation (already made by the trial's item) with the partner's, computed anew
        self.obs_case: str = ""
        self.obs_cache: dict[tuple[str, str, str, str], Observation] = {}
        self.rows: list[Row] = []
        self.case_ids: dict[str, str] = {}
        self.precision: dict[str, str] = {}  # framework -> its precision mode and flags, for every row
        self.seen_devices: dict[str, list[str]] = {}  # framework -> the devices it sees

    def adapter(self, name: str) -> Adapter | None:
        if name == ORACLE or name in self.unavailable:
            return None
        if name not in self.adapters:
            missing = adapters.missing_modules(name)
            if missing:
                self.unavailable[name] = f"not installed: no module named {', '.join(missing)}"
                return None
            try:
                self.adapters[name] = adapters.load(name)
            except Exception as e:  # noqa: BLE001 - a framework that fails to import is a result
                self.unavailable[name] = f"failed to import: {type(e).__name__}: {e}"
                return None
        return self.adapters[name]

    def reference(self, trial: Trial):
        """(inputs, reference, tolerance) of a trial, computed once per process."""
        key = trial.id
        if key not in self.ref_cache:
            if len(self.ref_cache) > 4:
                self.ref_cache.clear()
            inputs = materialize(trial)
            ref = tol = None
            if not trial.case.expect.error:
                ref = oracle.compute(trial.case, inputs, trial.dtype)
                tol = tolerances.for_trial(trial.case, trial.dtype, ref, inputs)
            self.ref_cache[key] = (inputs, ref, tol)
        return self.ref_cache[key]

    def order_reference(self, trial: Trial, order: str):
        """(inputs, the order's reference, its tolerance, the direction v) of one derivative order of a trial
        (harness/oracle/orders.py); raises oracle.orders.NotJudged where the order has no single value."""
        inputs, ref, tol = self.reference(trial)
        v = direction(trial)
        oref = orders.derivative(trial.case, inputs, ref, order, v)
        return inputs, oref, tolerances.for_order(trial.case, trial.dtype, order, tol, ref, oref, inputs, v), v

    def remember(self, case: Case, key: tuple[str, str, str, str], obs: Observation) -> None:
        """Keep a trial's observation for the relation items of its case (only the case in progress)."""
        if not case.relations:
            return
        if self.obs_case != case.id:
            self.obs_case, self.obs_cache = case.id, {}
        self.obs_cache[key] = obs

    def recall(self, case: Case, key: tuple[str, str, str, str]) -> Observation | None:
        return self.obs_cache.get(key) if self.obs_case == case.id else None

    def record(self, row: Row, cache_key: str | None = None) -> None:
        """Settle the row's final verdict (the known differences) and append it to the shard; a row computed here
        goes to the row cache first, as it was before the known differences (harness/run/trialcache.py)."""
        if cache_key and self.cache is not None:
            self.cache.put(row, cache_key)
        e = expectations.apply(row, self.entries)
        if e is not None:
            self.used.add(id(e))
        if self.writer:
            self.writer.write(row)
        self.rows.append(row)

    def plan(self, trials: list[str]) -> None:
        """Say which trials (case x dtype) this process will run, once collected: the console's progress counts them."""
        if self.progress:
            self.progress.write(f"TRIALS {json.dumps(trials)}\n")
            self.progress.flush()

    def begin(self, rid: str) -> None:
        if self.progress:
            self.progress.write(f"BEGIN {rid}\n")
            self.progress.flush()

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()
        if self.writer:
            self.writer.close()
        if self.progress:
            self.progress.close()


STATE = pytest.StashKey[Session]()


def state(config) -> Session:
    return config.stash[STATE]
