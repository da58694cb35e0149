"""pytest plugin: YAML case files become test items, one per (case, dtype, framework, api, device).

Each item materializes its trial's inputs, asks the oracle, runs one adapter path, judges the
result, applies the known-differences file and appends one row to the JSONL shard. A new
disagreement fails the item; a known one is xfail; an unsupported path is a skip.
"""

from __future__ import annotations

import json
import os
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import pytest

import adapters
from adapters.api import Adapter, ApiPath, Observation
from harness import oracle
from harness.core import precision
from harness.judge import expectations, relations, tolerances
from harness.judge.verdicts import clipped, judge
from harness.oracle import families
from harness.results.rows import FAILING, MAX_VALUES, Row, row_id, values
from harness.results.shards import ShardWriter, consolidate, read_rows, shard_family, worker_path
from harness.run.schedule import ORACLE, parse_shard, shard_costs, split_by_cost
from harness.schema.cases import Case, CaseFileError, load_file
from harness.trials import Trial, materialize


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
    g.addoption("--device", action="append", default=[], help="only these devices (cpu, cuda:0, ...)")
    g.addoption("--harness-shard", default=None, metavar="K/N",
                help="run only shard K of N (1-based): trials split by expected cost, the same on every machine")
    parser.addini("harness_cases", "directories whose YAML files are case files", type="paths", default=[])


# --------------------------------------------------------------------------- session state


class _State:
    def __init__(self, config):
        self.config = config
        names = [n for f in config.getoption("framework") for n in f.split(",") if n]
        self.frameworks = names or [ORACLE, *adapters.registry()]
        self.devices_filter = [d for f in config.getoption("device") for d in f.split(",") if d]
        self.adapters: dict[str, Adapter] = {}
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

    def remember(self, case: Case, key: tuple[str, str, str, str], obs: Observation) -> None:
        """Keep a trial's observation for the relation items of its case (only the case in progress)."""
        if not case.relations:
            return
        if self.obs_case != case.id:
            self.obs_case, self.obs_cache = case.id, {}
        self.obs_cache[key] = obs

    def recall(self, case: Case, key: tuple[str, str, str, str]) -> Observation | None:
        return self.obs_cache.get(key) if self.obs_case == case.id else None

    def record(self, row: Row) -> None:
        e = expectations.apply(row, self.entries)
        if e is not None:
            self.used.add(id(e))
        if self.writer:
            self.writer.write(row)
        self.rows.append(row)

    def begin(self, rid: str) -> None:
        if self.progress:
            self.progress.write(f"BEGIN {rid}\n")
            self.progress.flush()


_STATE = pytest.StashKey[_State]()
FIRST_WORKER = "gw0"  # under xdist, the worker that writes the shard's environment and expected row count


def worker_id(config) -> str:
    """The pytest-xdist worker id of this process ('gw0', ...), or '' outside a worker."""
    wi = getattr(config, "workerinput", None)
    return str(wi.get("workerid", "")) if wi else ""


def is_controller(config) -> bool:
    """True in the pytest-xdist controller process (-n N with N > 0), which runs no trial itself."""
    return not worker_id(config) and bool(getattr(config.option, "numprocesses", None))


def pytest_configure(config):
    config.stash[_STATE] = _State(config)


def pytest_unconfigure(config):
    st = config.stash.get(_STATE, None)
    if st is None:
        return
    if st.writer:
        st.writer.close()
    if st.progress:
        st.progress.close()


def _state(config) -> _State:
    return config.stash[_STATE]


# --------------------------------------------------------------------------- collection


def _is_case_file(file_path: Path, config) -> bool:
    if file_path.suffix not in (".yaml", ".yml"):
        return False
    root = Path(config.rootpath).resolve()
    fp = file_path.resolve()
    roots = [Path(p).resolve() for p in config.getini("harness_cases")]
    for a in config.args:
        p = Path(a.split("::")[0])
        p = (Path(config.invocation_params.dir) / p).resolve()
        if p != root:
            roots.append(p)
    return any(fp == r or r in fp.parents for r in roots)


def pytest_collect_file(file_path: Path, parent):
    if _is_case_file(file_path, parent.config):
        return CaseFile.from_parent(parent, path=file_path)
    return None


class CaseFileProblem(Exception):
    pass


class CaseFile(pytest.File):
    def collect(self):
        st = _state(self.config)
        try:
            cases = load_file(self.path)
        except CaseFileError as e:
            raise CaseFileProblem(str(e)) from None
        for case in cases:
            first = st.case_ids.setdefault(case.id, str(case.location))
            if first != str(case.location):
                raise CaseFileProblem(f"{case.location}: id: duplicate id {case.id!r}; first defined at {first}")
        for case in cases:
            yield from self._items(st, case)
            yield from _relation_items(self, st, case)

    def _items(self, st: _State, case: Case):
        for fw in st.frameworks:
            if fw == ORACLE:
                if case.expect.loss is not None:
                    yield TrialItem.from_parent(self, name=row_id(case.id, ORACLE, "golden", "cpu", "float64"),
                                                case=case, dtype="float64", framework=ORACLE, api_path=None, device="cpu")
                continue
            ad = st.adapter(fw)
            if ad is None:
                continue
            seen = st.seen_devices.setdefault(fw, ad.devices())
            devices = [d for d in seen if not st.devices_filter or d in st.devices_filter]
            # a device asked for that the framework does not see still gets its rows: they say so
            devices += [d for d in st.devices_filter if d not in seen and d not in devices]
            for dtype in case.dtypes:
                for device in devices:
                    for path in ad.paths():
                        if case.family not in path.families:
                            continue
                        rid = row_id(case.id, fw, path.name, device, dtype)
                        if rid in st.done:
                            continue
                        yield TrialItem.from_parent(self, name=rid, case=case, dtype=dtype, framework=fw,
                                                    api_path=path, device=device)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CaseFileProblem):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)


class ConformanceFailure(AssertionError):
    pass


class TrialItem(pytest.Item):
    def __init__(self, *, case: Case, dtype: str, framework: str, api_path: ApiPath | None, device: str, **kw):
        super().__init__(**kw)
        self.case, self.dtype, self.framework, self.api_path, self.device = case, dtype, framework, api_path, device
        for kwd in (framework, dtype, device, case.family, *case.tags):
            self.extra_keyword_matches.add(kwd)

    def reportinfo(self):
        return self.path, self.case.location.line, self.name

    def repr_failure(self, excinfo, style=None):
        """A conformance failure or a known difference reads like the report, with no traceback to build
        (pytest formats one for every failing or xfail item otherwise: ~0.2 s each)."""
        if isinstance(excinfo.value, (ConformanceFailure, pytest.xfail.Exception)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def runtest(self):
        st = _state(self.config)
        st.begin(self.name)
        t0 = time.perf_counter()
        try:
            row = self._row(st)
        except Exception as e:  # noqa: BLE001 - a harness bug becomes a row, and the run goes on
            row = self._base_row(st, "error")
            row.message = f"harness error: {type(e).__name__}: {e}"
            row.traceback = traceback.format_exc()
            row.flags = ["harness_error"]
        row.duration_s = round(time.perf_counter() - t0, 6)
        st.record(row)
        self.user_properties.append(("verdict", row.verdict))
        if row.verdict == "unsupported":
            pytest.skip(f"unsupported: {row.message}")
        if row.verdict == "known":
            pytest.xfail(f"known {row.raw_verdict}: {row.known_reason} ({row.known_link})")
        if row.verdict == "fixed":
            msg = f"{self.name}: recorded as {row.known_reason!r} but now passes: update known_differences"
            if self.config.getoption("strict_known"):
                raise ConformanceFailure(f"fixed (--strict-known): {msg}")
            warnings.warn(msg, stacklevel=1)
        if row.verdict in FAILING:
            raise ConformanceFailure(f"{row.verdict}: {row.message} [{self.name}; {row.call}]")

    def _base_row(self, st: _State, verdict: str) -> Row:
        c = self.case
        return Row(
            row_id=self.name, case=c.id, family=c.family, framework=self.framework,
            api=self.api_path.name if self.api_path else "golden", device=self.device, device_requested=self.device,
            dtype=self.dtype, verdict=verdict, tags=list(c.tags), description=c.description, source=str(c.location),
            reduction=c.params.reduction, sweep=c.sweep, sweep_value=c.logit_scale if c.sweep else None,
            framework_version=(st.adapters[self.framework].version() if self.framework in st.adapters else ""),
            precision=st.precision.get(self.framework, ""),
        )

    def _row(self, st: _State) -> Row:
        trial = Trial(self.case, self.dtype)
        inputs, ref, tol = st.reference(trial)
        if self.framework == ORACLE:
            obs = Observation(dtype="float64", call="harness.oracle.compute", device="cpu",
                              loss=ref.loss.reshape(-1), grad=ref.grad)
            golden = np.asarray(self.case.expect.loss, dtype=np.float64)
            ref_for_golden = oracle.Reference(
                loss=golden if golden.shape == obs.loss.shape else golden.reshape(-1), grad=ref.grad,
                precision="golden", saturated=False, rows=ref.rows, classes=ref.classes)
            # the oracle must reproduce the golden values to 1 float64 ULP
            tol = tolerances.Tolerance.fixed(np.finfo(np.float64).eps, 0.0, 0.0, 0.0, "golden values: 1 float64 ULP")
            out = judge(self.case, ref_for_golden, obs, tol)
        else:
            ad = st.adapters[self.framework]
            missing = _device_missing(ad.name, st.seen_devices.setdefault(self.framework, ad.devices()), self.device)
            if missing:
                row = self._base_row(st, "error")
                row.flags, row.message, row.call = ["device_unavailable"], missing, self.api_path.name
                return row
            obs = st.adapters[self.framework].run(self.api_path, self.case, inputs, self.dtype, self.device)
            st.remember(self.case, (self.framework, self.api_path.name, self.dtype, self.device), obs)
            out = judge(self.case, ref, obs, tol)
            if out.verdict in ("loss_mismatch", "nonfinite"):
                guard = clipped(obs, ref, tol, families.clipped_losses(self.case, inputs, self.dtype))
                if guard:
                    out.flags.append("clipped")
                    out.message = f"{out.message} [clipped: matches the loss with {guard}]"
        row = self._base_row(st, out.verdict)
        row.call = obs.call or (self.api_path.name if self.api_path else "")
        row.device = obs.device or self.device
        row.flags = out.flags
        row.message = out.message
        row.traceback = obs.traceback
        for k, v in out.metrics.items():
            setattr(row, k, v)
        row.shape = list(self.case.logits.shape)
        row.loss_values, row.grad_values = values(obs.loss), values(obs.grad)
        if ref is not None:
            row.oracle_precision = ref.precision
            row.ref_loss_values, row.ref_grad_values = values(ref.loss), values(ref.grad)
        if tol is not None:
            row.tolerance_source = tol.source
            if ref is not None and self.framework != ORACLE and obs.loss is not None:
                row.loss_allowed_values = values(tol.loss_allowed(ref.loss))
                if row.grad_values is not None and ref.grad.size <= MAX_VALUES:
                    row.grad_allowed_values = values(tol.grad_full(ref.grad))
        if row.device != self.device and out.verdict not in ("unsupported", "error"):
            row.flags.append("wrong_device")
            row.verdict = "error"
            row.message = f"ran on {row.device}, but should run on {self.device}. {row.message}".strip()
        return row


# --------------------------------------------------------------------------- relations (harness/judge/relations.py)


def _relation_items(parent: CaseFile, st: _State, case: Case):
    """One item per (relation, framework, api, dtype, device); the oracle checks each relation once, in float64."""
    for rel in case.relations:
        cid = relations.relation_case_id(case, rel)
        for fw in st.frameworks:
            if fw == ORACLE:
                dtype = "float64" if "float64" in case.dtypes else case.dtypes[0]
                rid = row_id(cid, ORACLE, "oracle", "cpu", dtype)
                if rid not in st.done:
                    yield RelationItem.from_parent(parent, name=rid, case=case, dtype=dtype, framework=ORACLE,
                                                   api_path=None, device="cpu", relation=rel)
                continue
            ad = st.adapter(fw)
            if ad is None:
                continue
            devices = [d for d in ad.devices() if not st.devices_filter or d in st.devices_filter]
            for dtype in case.dtypes:
                for device in devices:
                    for path in ad.paths():
                        if case.family not in path.families:
                            continue
                        rid = row_id(cid, fw, path.name, device, dtype)
                        if rid not in st.done:
                            yield RelationItem.from_parent(parent, name=rid, case=case, dtype=dtype, framework=fw,
                                                           api_path=path, device=device, relation=rel)


class RelationItem(TrialItem):
    """A relation checked on one framework path: the case and its partner formulation must agree."""

    def __init__(self, *, relation, **kw):
        super().__init__(**kw)
        self.relation = relation
        for kwd in ("relation_check", relation.kind, relation.name):  # -k relation_check: only relation items
            self.extra_keyword_matches.add(kwd)

    def _base_row(self, st: _State, verdict: str) -> Row:
        row = super()._base_row(st, verdict)
        row.case = relations.relation_case_id(self.case, self.relation)
        row.api = self.api_path.name if self.api_path else "oracle"
        row.relation = self.relation.kind
        row.source = str(self.relation.location)
        return row

    def _row(self, st: _State) -> Row:
        trial = Trial(self.case, self.dtype)
        inputs, ref, tol = st.reference(trial)
        try:
            pt = relations.partner(self.case, self.relation, inputs, self.dtype)
        except relations.NothingToCount as e:
            row = self._base_row(st, "unsupported")
            row.message = str(e)
            return row
        ref_b = oracle.compute(pt.case, pt.inputs, self.dtype)
        tol_b = tolerances.for_trial(pt.case, self.dtype, ref_b, pt.inputs)
        if self.framework == ORACLE:
            obs_a = Observation(dtype=self.dtype, call="harness.oracle.compute", device="cpu", loss=ref.loss, grad=ref.grad)
            obs_b = Observation(dtype=self.dtype, call="harness.oracle.compute", device="cpu", loss=ref_b.loss, grad=ref_b.grad)
        else:
            ad = st.adapters[self.framework]
            path_b = relations.partner_path(self.api_path, pt.case.family, ad.paths())
            # the trial's own item made this observation just before (same process, same case); else anew
            obs_a = (st.recall(self.case, (self.framework, self.api_path.name, self.dtype, self.device))
                     or ad.run(self.api_path, self.case, inputs, self.dtype, self.device))
            if path_b is None:
                obs_b = Observation(dtype=self.dtype, unsupported=f"no {self.framework} path computes {pt.case.family} "
                                    f"the way {self.api_path.name} does")
            elif obs_a.unsupported:  # nothing to relate: the partner is not run, only asked whether it could be
                obs_b = Observation(dtype=self.dtype, unsupported=path_b.supports(pt.case, self.dtype) or "")
            else:
                obs_b = ad.run(path_b, pt.case, pt.inputs, self.dtype, self.device)
        loss_bound, grad_bound = relations.bound(tol, ref, tol_b, ref_b, pt)
        out = relations.judge(obs_a, obs_b, pt, loss_bound, grad_bound, self.dtype)
        row = self._base_row(st, out.verdict)
        row.call = obs_a.call or row.api
        row.partner = pt.what + (f"; computed by {obs_b.call}" if obs_b.call else "")
        row.device = obs_a.device or self.device
        row.flags = list(out.flags or [])
        row.message = out.message
        row.traceback = obs_a.traceback or obs_b.traceback
        for k, v in out.metrics.items():
            setattr(row, k, v)
        row.shape = list(np.shape(inputs.logits))
        row.loss_values, row.grad_values = values(obs_a.loss), values(obs_a.grad)
        if obs_b.loss is not None:
            gb_raw = np.zeros(np.shape(pt.inputs.logits)) if obs_b.grad is None else np.asarray(obs_b.grad, dtype=np.float64)
            lb, gb = pt.to_case(np.asarray(obs_b.loss, dtype=np.float64), gb_raw)
            row.ref_loss_values, row.ref_grad_values = values(lb), (None if obs_b.grad is None else values(gb))
        row.oracle_precision = ref.precision
        row.tolerance_source = ("relation: the case's per-element allowance plus the partner's, mapped back "
                                f"({tol.source}; partner {tol_b.source})")
        if row.device != self.device and out.verdict not in ("unsupported", "error"):
            row.flags.append("wrong_device")
            row.verdict = "error"
            row.message = f"ran on {row.device}, but should run on {self.device}. {row.message}".strip()
        return row


def _device_missing(framework: str, seen: list[str], device: str) -> str:
    """Why a requested device cannot run this framework's trials ('' when it can).

    Nothing runs on another device instead: a framework without a usable GPU backend computes on the
    CPU (JAX with only a warning), and such a row would be a CPU result labelled as the GPU's.
    """
    if device in seen:
        return ""
    return (f"{device} was requested, but {framework} sees only {', '.join(seen)}: it has no usable backend for it "
            f"(a framework without one falls back to the CPU, JAX with only a warning), so nothing ran")


# --------------------------------------------------------------------------- session end


def pytest_sessionstart(session):
    st = _state(session.config)
    if st.controller:
        return  # the workers load the framework; the controller only schedules
    env = {"harness": _harness_env(), "frameworks": {}}
    for fw in st.frameworks:
        ad = st.adapter(fw)
        if ad is not None:
            env["frameworks"][fw] = ad.environment()
            st.precision[fw] = precision.describe(env["frameworks"][fw].get("precision"))
        elif fw in st.unavailable and not session.config.getoption("resume") and st.worker in ("", FIRST_WORKER):
            # a framework that is missing or fails to import is a row of the report, not a silent gap
            st.record(Row(row_id=row_id("*", fw, "*", "*", "*"), case="*", family="*", framework=fw, api="*",
                          device="*", dtype="*", verdict="unavailable", message=st.unavailable[fw]))
    out = session.config.getoption("shard_out")
    if out and st.worker in ("", FIRST_WORKER):
        Path(out).with_suffix(".env.json").write_text(json.dumps(env, indent=1, default=str))


def pytest_collection_finish(session):
    """Write how many rows this process owes, so a merge can tell a finished shard from a killed one.
    Under xdist every worker collects every item; the first one writes the count."""
    st = _state(session.config)
    out = session.config.getoption("shard_out")
    if out and not st.controller and st.worker in ("", FIRST_WORKER):
        trials = sum(1 for i in session.items if isinstance(i, TrialItem))
        unavailable = sum(1 for fw in st.unavailable)
        expected = trials + len(st.done) + (0 if session.config.getoption("resume") else unavailable)
        Path(out).with_suffix(".expected.json").write_text(json.dumps({"rows": expected}))


def _harness_env() -> dict:
    import platform
    import subprocess
    import sys

    from harness.core.settings import VERSION as __version__

    commit = ""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                timeout=5, cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    from adapters.api import machine

    return {"version": __version__, "commit": commit, "python": sys.version.split()[0],
            "platform": platform.platform(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "pid": os.getpid(), **machine()}


def pytest_sessionfinish(session):
    st = session.config.stash.get(_STATE, None)
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
    st = config.stash.get(_STATE, None)
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


def _shard_cases(config, items) -> list[Case]:
    """Every case of the collected case files, including those whose rows --resume skipped, so
    that a restarted process computes the same split."""
    files = {str(it.path) for it in items if isinstance(it, TrialItem)}
    st = config.stash.get(_STATE, None)
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
    cases = _shard_cases(config, items)
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
