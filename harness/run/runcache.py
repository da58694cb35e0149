"""The cache of a run's output folder, on the runner's side: its layout, JAX's compilation cache, and a framework served whole.

    <out>/cache/rows/<framework>/   the cached rows (harness/results/cachefiles.py), served trial by trial in
                                    the framework's process (harness/run/trialcache.py), and manifest.json
    <out>/cache/jax/                JAX's persistent compilation cache, shared by the jax and keras-jax
                                    processes and their workers, in this run and the next ones

A framework's process pays for its framework's import and the collection of every item before it can
serve its first row (seconds, for TensorFlow and Keras), so a run with nothing changed would still cost
half a minute on two cores. After a framework's process ends cleanly and every row it wrote has a key
(none crashed, hung or is not cacheable), its manifest records the process's `identity` and the key of
each row. When the next run's identity for the framework is the same and every key still has its row,
the runner writes the shard from the cache without starting the process (the known differences applied
again, the environment as recorded), a process that had no row to write included. Each row is read once:
its shard line is the line stored with only what serving sets written anew, and the rows reach the run's
merge as they are, not read back from the shard (harness/results/merge.py). The identity is what the runner can see without importing the
framework: the harness's code, the case files (names and bytes), -k, --device, --shard, the precision
mode and the steering environment variables (harness/run/cachekeys.py), every installed distribution's
version, Python, the platform, the CPU and GPU models and the driver. It is not used for a plugin
adapter or where a user's own loss paths run (code the runner cannot see); those processes always
start, and serve what they can trial by trial.

JAX's compilation cache returns the executable compiled before for the same program and options, so the
numbers are the same bits; the XLA caches JAX would switch on beside it (GPU autotuning results) stay
off, so every compile option is the one a run without the cache uses. `--no-cache` reads neither cache:
every row is computed again and stored in place of the one cached, and every program is compiled afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

import adapters
from adapters.api import machine
from harness.core import settings
from harness.judge import expectations
from harness.results import merge
from harness.results.cachefiles import RowStore, _checksum, compact, run_keys
from harness.results.shards import atomic_write, read_rows
from harness.run.cachekeys import code_hash, digest, steering
from harness.run.schedule import ORACLE

MANIFEST = "manifest.json"
JAX_ENV = {  # JAX reads its configuration from these variables at import (jax_compilation_cache_dir, ...)
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",  # every program: on CPU most compile in milliseconds
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",  # and however small
    "JAX_PERSISTENT_CACHE_ENABLE_XLA_CACHES": "none",  # the compile options of a run without the cache
}


class RunCache:
    def __init__(self, folder: Path, *, read: bool = True):
        self.folder, self.read = Path(folder), read  # read False: --no-cache (compute every row, store them anew)
        self.run = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        self._machine: dict | None = None

    def rows(self, framework: str) -> Path:
        return self.folder / "rows" / framework

    def pytest_options(self) -> list[str]:
        return ["--row-cache", str(self.folder), "--row-cache-run", self.run, *(() if self.read else ("--row-cache-refresh",))]

    def process_env(self, env: dict[str, str]) -> None:
        """Point a framework process's JAX at the shared compilation cache (unless the user chose one); with
        --no-cache, turn JAX's off, the user's too."""
        if not self.read:
            env["JAX_ENABLE_COMPILATION_CACHE"] = "false"
            return
        env.setdefault("JAX_COMPILATION_CACHE_DIR", str(self.folder / "jax"))
        for k, v in JAX_ENV.items():
            env.setdefault(k, v)

    def identity(self, framework: str, case_paths: list[Path], environ: Mapping[str, str], *, keyword: str | None,
                 devices: list[str], shard: str | None) -> str | None:
        """What the framework's process would see, as far as the runner can tell without importing the framework;
        None where that is not enough (a plugin adapter, a user's own loss paths)."""
        if framework != ORACLE and framework not in adapters.BUILTIN or settings.custom_paths(environ):
            return None
        if self._machine is None:
            dists = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions())
            self._machine = {"distributions": dists, "python": sys.version, "platform": platform.platform(), **machine()}
        files = sorted({str(f): f for p in case_paths for f in _yaml_files(p)}.items())
        return digest({"framework": framework, "code": code_hash(), "steering": steering(environ),
                       "cases": [[name, _file_hash(f)] for name, f in files], "keyword": keyword or "",
                       "devices": list(devices), "shard": shard or "", **self._machine})

    def serve(self, framework: str, identity: str | None, shard: Path, entries) -> int | None:
        """Write the framework's shard from the cache when its manifest's identity is this one and every row is
        still cached; the number of rows, or None (the process must run)."""
        manifest = _read_json(self.rows(framework) / MANIFEST) if self.read else {}
        if identity is None or manifest.get("identity") != identity:
            return None
        try:  # row id -> [key, source: the case's file:line in the run recorded]
            listed = [(str(rid), str(key), str(source)) for rid, (key, source) in manifest["rows"].items()]
        except (KeyError, AttributeError, TypeError, ValueError):
            return None
        store = _Lines(self.rows(framework), self.run, "runner")
        rows = []
        for _, key, source in listed:
            text = store.line(key)
            if text is None:
                return None
            try:
                row = merge.stored(text)  # the row keeps its line: writing it encodes only what serving sets
            except (ValueError, TypeError):
                return None
            row.source = source  # a row stored by an earlier run of a case since moved, served then with its new place
            expectations.apply(row, entries)
            rows.append(row)
        atomic_write(shard, "".join(merge.line(r) + "\n" for r in rows))
        merge.keep(shard, rows)  # this process's merge takes them as they are, without reading the shard back
        shard.with_suffix(".env.json").write_text(json.dumps(manifest.get("environment", {}), indent=1, default=str))
        shard.with_suffix(".expected.json").write_text(json.dumps({"rows": len(rows), "cached": len(rows)}))
        for rid, key, _ in listed:
            store.mark(key, rid, "")
        store.close()
        return len(rows)

    def settle(self, framework: str, identity: str | None, shard: Path, clean: bool) -> None:
        """After the framework's process: record its manifest when every row it wrote has a key; else drop it."""
        folder = self.rows(framework)
        path = folder / MANIFEST
        keys = run_keys(folder, self.run)
        rows = read_rows(shard) if shard.exists() else []
        env = _read_json(shard.with_suffix(".env.json"))
        # a process with no rows to write (no case of the run has golden values for the oracle) is recorded too
        if identity is None or not clean or not shard.exists() or any(r.row_id not in keys for r in rows):
            path.unlink(missing_ok=True)
            return
        folder.mkdir(parents=True, exist_ok=True)  # a process with no rows stored none
        atomic_write(path, json.dumps({"identity": identity, "run": self.run, "environment": env,
                                       "rows": {r.row_id: [keys[r.row_id], r.source] for r in rows}}))

    def compact(self, frameworks: list[str]) -> None:
        for fw in frameworks:
            compact(self.rows(fw))


class _Lines(RowStore):
    """A framework's cached rows as their stored lines (harness/results/cachefiles.py): the runner serves them whole."""

    def line(self, key: str) -> str | None:
        """The line of the row stored under the key, or None: absent, torn or corrupt (its checksum does not match)."""
        found = self._load().get(key)
        return found[1] if found is not None and _checksum(found[1]) == found[0] else None


def served_count(shard: Path, reset: bool = False) -> int:
    """The rows a framework's process (its latest incarnation) served from the row cache, from its .expected.json;
    reset: count them once (the process has ended, and the next one may die before writing its own count)."""
    path = shard.with_suffix(".expected.json")
    try:
        owed = json.loads(path.read_text())
        n = int(owed.get("cached", 0))
    except (OSError, ValueError, TypeError, AttributeError):
        return 0
    if reset and n:
        path.write_text(json.dumps({**owed, "cached": 0}))
    return n


def _yaml_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    return [path]


def _file_hash(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
