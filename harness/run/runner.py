"""Run orchestration: one pytest process per framework, in parallel, surviving crashes and hangs.

Each framework process appends rows to its own JSONL shard and writes 'BEGIN <row id>' to a
progress file before each trial. When a process dies (segfault, abort, OOM kill) or a trial runs
past its time limit, the trial that had begun becomes a `crash` or `timeout` row and the process
is started again with --resume, so the framework's remaining trials still run and nothing already
written is lost. The shards are then merged into one report. With the row cache (harness/run/runcache.py)
each process serves the rows cached for its trials, and a framework none of whose inputs changed since the
last run is served from the cache without a process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import adapters
from harness.core import settings
from harness.judge import assemble, expectations
from harness.results.rows import Row, row_id
from harness.results.shards import ShardWriter, consolidate, read_rows, shard_family
from harness.run.runcache import RunCache, served_count
from harness.run.schedule import ORACLE

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MAX_RESTARTS = 50


@dataclass
class FrameworkRun:
    name: str
    shard: Path
    progress: Path
    log: Path
    proc: subprocess.Popen | None = None
    restarts: int = 0
    started: float = 0.0
    current: str = ""  # row id of the trial in flight
    current_since: float = 0.0
    progress_pos: int = 0
    rows_at_start: int = -1
    rows_now: int = 0
    done: bool = False
    events: list[str] = field(default_factory=list)
    workers: int = 0  # pytest-xdist workers (-n); 0 or 1: the trials run in the process itself
    worker_progress: dict[Path, dict] = field(default_factory=dict)  # per worker file: pos, pid, current, since
    on_line: Callable[[str, str], None] | None = None  # (progress file, line): every line read, for the console
    served: int = 0  # rows served from the row cache by the process's earlier incarnations in this run


def pytest_command(fr: FrameworkRun, case_paths: list[Path], known: Path | None, keyword: str | None,
                   devices: list[str], resume: bool, ini: Path, shard: str | None = None, workers: int = 0,
                   strict_known: bool = False, cache: RunCache | None = None) -> list[str]:
    cmd = [
        sys.executable, "-m", "pytest", *map(str, case_paths),
        "-c", str(ini), "--rootdir", str(ini.parent), "--noconftest",
        "-p", "harness.run.plugin", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:logging",
        "--framework", fr.name, "--shard-out", str(fr.shard), "--progress", str(fr.progress),
        "-q", "--no-header", "-rN", "--tb=no",
    ]
    if known is not None:
        cmd += ["--known", str(known)]
    if strict_known:
        cmd.append("--strict-known")
    if keyword:
        cmd += ["-k", keyword]
    for d in devices:
        cmd += ["--device", d]
    if resume:
        cmd.append("--resume")
    if shard:
        cmd += ["--harness-shard", shard]
    if cache is not None:
        cmd += cache.pytest_options()
    if workers > 1:  # pytest-xdist; a crashed or killed worker is replaced and the others go on
        cmd += ["-n", str(workers), "--max-worker-restart", str(MAX_RESTARTS)]
    return cmd


def _env(precision_mode: str | None = None, cache: RunCache | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if cache is not None:
        cache.process_env(env)
    if precision_mode:
        settings.set_precision(precision_mode, env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _read_progress(fr: FrameworkRun) -> None:
    if not fr.progress.exists():
        return
    lines, fr.progress_pos = _new_lines(fr.progress, fr.progress_pos)
    for line in lines:
        if fr.on_line:
            fr.on_line(str(fr.progress), line)
        if line.startswith("BEGIN "):
            fr.current = line[6:].strip()
            fr.current_since = time.monotonic()


def _new_lines(path: Path, pos: int) -> tuple[list[str], int]:
    """The complete lines written to a progress file since byte `pos`, and the position after them (a line
    still being written is read next time)."""
    with open(path, "rb") as f:
        f.seek(pos)
        chunk = f.read()
    chunk = chunk[: chunk.rfind(b"\n") + 1]
    return chunk.decode("utf-8", errors="replace").splitlines(), pos + len(chunk)


def _failure_row(fr: FrameworkRun, verdict: str, message: str, entries) -> Row:
    row = assemble.process_failure(fr.current or row_id(f"{fr.name}-process", fr.name, "*", "*", "*"), fr.name, verdict, message)
    expectations.apply(row, entries)
    return row


def _tail(path: Path, n: int = 1500) -> str:
    try:
        data = path.read_bytes()[-n:]
    except OSError:
        return ""
    return data.decode("utf-8", errors="replace").strip()


def run_frameworks(frameworks: list[str], case_paths: list[Path], out_dir: Path, *, known: Path | None,
                   keyword: str | None = None, devices: list[str] = (), trial_timeout: float = 600.0,
                   resume: bool = False, shard: str | None = None, precision_mode: str | None = None,
                   workers: int | dict[str, int] = 0, strict_known: bool = False, cache: Path | None = None,
                   read_cache: bool = True, echo=print, progress=None) -> list[Path]:
    """Run every framework's process to completion; return the shard paths.

    workers: pytest-xdist workers of every framework's process, or per framework (see plan_workers).
    cache: the row cache's folder (harness/run/runcache.py); None: every row is computed and nothing stored;
    read_cache False: every row is computed and stored anew (--no-cache).
    progress: told every line of the progress files and, each poll, the frameworks done (harness/run/progress.py)."""
    shard_dir = out_dir / "shards"
    shard_dir.mkdir(parents=True, exist_ok=True)
    ini = shard_dir / "pytest.ini"
    ini.write_text("[pytest]\nharness_cases =\n" + "".join(f"    {p}\n" for p in case_paths))
    entries = expectations.load(known)
    rc = RunCache(cache, read=read_cache) if cache is not None else None
    env = _env(precision_mode, rc)
    identity: dict[str, str | None] = {}
    runs: list[FrameworkRun] = []
    for name in frameworks:
        fr = FrameworkRun(name, shard_dir / f"{name}.jsonl", shard_dir / f"{name}.progress", shard_dir / f"{name}.log",
                          workers=workers.get(name, 0) if isinstance(workers, dict) else workers,
                          on_line=partial(progress.line, name) if progress else None)
        if not resume:
            for p in (fr.shard, fr.progress, fr.log, fr.shard.with_suffix(".env.json"), *_worker_files(fr)):
                p.unlink(missing_ok=True)
        missing = adapters.missing_modules(name) if name != ORACLE else []
        if missing:
            row = assemble.unavailable(name, f"not installed: no module named {', '.join(missing)}")
            expectations.apply(row, entries)
            w = ShardWriter(fr.shard)
            w.write(row)
            w.close()
            echo(f"  {name}: not installed ({', '.join(missing)})")
            fr.done = True
        if rc is not None and not fr.done and not resume:
            identity[name] = rc.identity(name, case_paths, env, keyword=keyword, devices=list(devices), shard=shard)
            served = rc.serve(name, identity[name], fr.shard, entries)
            if served is not None:
                echo(f"  {name}: {served} rows from the cache (nothing they depend on changed)")
                fr.done = True
                identity.pop(name)
        runs.append(fr)

    def start(fr: FrameworkRun, resume_now: bool) -> None:
        cmd = pytest_command(fr, case_paths, known, keyword, list(devices), resume_now, ini, shard, fr.workers, strict_known,
                             rc)
        log = open(fr.log, "a", encoding="utf-8")
        fr.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(out_dir),
                                   start_new_session=True)
        log.close()
        fr.started = fr.started or time.monotonic()
        fr.current = ""
        fr.rows_at_start = fr.rows_now

    for fr in runs:
        if not fr.done:
            start(fr, resume)

    while not all(fr.done for fr in runs):
        time.sleep(0.1)
        if progress:
            progress.tick([fr.name for fr in runs if fr.done])
        for fr in runs:
            if fr.done or fr.proc is None:
                continue
            if fr.workers > 1:
                _poll_workers(fr, trial_timeout, entries, echo)
                if fr.proc.poll() is None:
                    continue
            _read_progress(fr)
            code = fr.proc.poll()
            if code is None:
                if fr.current and time.monotonic() - fr.current_since > trial_timeout:
                    _kill(fr.proc)
                    fr.proc.wait()
                    _read_progress(fr)
                    _record_failure(fr, "timeout", f"no result after {trial_timeout:.0f} s; the process was killed", entries)
                    _restart(fr, start, echo)
                continue
            _read_progress(fr)
            finished = _finished(fr)
            if fr.workers > 1:
                _workers_ended(fr, finished, entries)
                finished = _finished(fr)
            fr.rows_now = len(finished)
            in_flight = fr.current and fr.current not in finished
            if code in (0, 1, 5) and not in_flight:
                if fr.workers > 1:  # the controller has appended its workers' rows; unless it was killed first
                    consolidate(fr.shard)
                fr.done = True
                served = fr.served + served_count(fr.shard)
                echo(f"  {fr.name}: {len(finished)} rows in {time.monotonic() - fr.started:.1f} s"
                     + (f" ({served} from the cache)" if served else ""))
                continue
            how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
            if not in_flight:
                fr.current = ""
            _record_failure(fr, "crash", f"the {fr.name} process died ({how}); last output: {_tail(fr.log, 600)}", entries)
            _restart(fr, start, echo)
    if progress:
        progress.tick([fr.name for fr in runs])
    if rc is not None:
        for fr in runs:
            if fr.name in identity:
                rc.settle(fr.name, identity[fr.name], fr.shard, clean=not fr.events)
        rc.compact([fr.name for fr in runs])
    return [fr.shard for fr in runs]


def _worker_files(fr: FrameworkRun) -> list[Path]:
    """The per-worker shards and progress files of a framework (<name>.gw0.jsonl, <name>.gw0.progress, ...)."""
    return sorted(p for f in (fr.shard, fr.progress) for p in shard_family(f) if p != f)


def _finished(fr: FrameworkRun) -> set[str]:
    files = [fr.shard, *(p for p in _worker_files(fr) if p.suffix == ".jsonl")]
    return {r.row_id for f in files if f.exists() for r in read_rows(f)}


def _poll_workers(fr: FrameworkRun, trial_timeout: float, entries, echo) -> None:
    """Follow each xdist worker's progress file: a worker that starts while its previous trial has no row
    crashed there (xdist replaced it); a trial past its time limit gets its worker killed, and xdist
    replaces it and goes on with the remaining trials."""
    now = time.monotonic()
    for path in (p for p in _worker_files(fr) if p.suffix == ".progress"):
        w = fr.worker_progress.setdefault(path, {"pos": 0, "pid": 0, "current": "", "since": 0.0})
        lines, w["pos"] = _new_lines(path, w["pos"])
        for line in lines:
            if fr.on_line:
                fr.on_line(str(path), line)
            if line.startswith("PID "):
                if w["current"] and w["current"] not in _finished(fr):
                    _worker_failure(fr, w["current"], "crash", f"the {fr.name} worker {path.stem.split('.')[-1]} died "
                                    f"during this trial; xdist replaced it. Last output: {_tail(fr.log, 600)}", entries)
                w.update(pid=int(line[4:].strip() or 0), current="")
            elif line.startswith("BEGIN "):
                w.update(current=line[6:].strip(), since=now)
        if w["current"] and w["pid"] and not alive(w["pid"]):
            if w["current"] not in _finished(fr):
                _worker_failure(fr, w["current"], "crash", f"the {fr.name} worker {path.stem.split('.')[-1]} died "
                                f"during this trial; xdist replaces it. Last output: {_tail(fr.log, 600)}", entries)
            w["current"] = ""
        if w["current"] and now - w["since"] > trial_timeout and w["current"] in _finished(fr):
            w["current"] = ""  # finished long ago; the worker is idle
        if w["current"] and now - w["since"] > trial_timeout:
            try:
                os.kill(w["pid"], signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            _worker_failure(fr, w["current"], "timeout", f"no result after {trial_timeout:.0f} s; the worker was killed", entries)
            echo(f"  {fr.name}: {fr.events[-1]}; xdist replaces the worker")
            w["current"] = ""


def _workers_ended(fr: FrameworkRun, finished: set[str], entries) -> None:
    """The process has exited: a trial a worker began and never finished crashed its worker."""
    for path, w in fr.worker_progress.items():
        if w["current"] and w["current"] not in finished:
            _worker_failure(fr, w["current"], "crash", f"the {fr.name} worker {path.stem.split('.')[-1]} died during "
                            f"this trial. Last output: {_tail(fr.log, 600)}", entries)
        w["current"] = ""


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie (a dead worker its controller has not reaped yet)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def _worker_failure(fr: FrameworkRun, rid: str, verdict: str, message: str, entries) -> None:
    current = fr.current
    fr.current = rid
    _record_failure(fr, verdict, message, entries)
    fr.current = current


def _record_failure(fr: FrameworkRun, verdict: str, message: str, entries) -> None:
    w = ShardWriter(fr.shard)
    w.write(_failure_row(fr, verdict, message, entries))
    w.close()
    fr.events.append(f"{verdict}: {fr.current or 'outside any trial'}")


def _restart(fr: FrameworkRun, start, echo) -> None:
    progressed = bool(fr.current) or fr.rows_now > fr.rows_at_start
    if not progressed or fr.restarts >= MAX_RESTARTS:
        # died outside a trial (import, collection) or too often: nothing more can be run
        fr.done = True
        echo(f"  {fr.name}: stopped after {fr.restarts} restarts ({'; '.join(fr.events[-3:])})")
        return
    fr.restarts += 1
    fr.served += served_count(fr.shard, reset=True)
    echo(f"  {fr.name}: {fr.events[-1]}; restarting to finish the remaining trials")
    start(fr, True)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
