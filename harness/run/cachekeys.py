"""Cache keys: the hash of everything a row depends on (the harness's code, the framework's environment, the case, the trial).

A row is taken to be a function of

- the case's content: its frozen dataclass without where it is written (`case_hash`; a sweep case's
  value, its tolerance and its expectations are part of it), so moving a case within a file or to
  another file keeps its rows, and editing it, or its tolerance, recomputes them; its list of dtypes
  and of relations only says which rows exist, so adding a dtype or a relation computes only their rows;
- the trial, as its row id names it: dtype, API path (by name; what the path does is the adapters'
  code), device, and for a relation check the relation's name;
- the framework process's environment (`env_key`): what the report header records of the framework
  (its version, and keras' backend's or optax's beside it; the precision mode and the flags read back;
  the devices it sees; Python, the platform, the CPU and GPU models and the driver), the versions of numpy
  and ml_dtypes (the oracle's and the inputs' arithmetic), the environment variables that steer the
  frameworks or the harness (`STEERING`: HARNESS_MAX_ELEMENTS, HARNESS_PRECISION, XLA_FLAGS,
  CUDA_VISIBLE_DEVICES, ...), and the file of a plugin adapter's class (built-in adapters are code);
- the harness's own code (`code_hash`): every module of harness/ and adapters/ but those that cannot
  change a stored row (NOT_ROW_CODE): the report, the command line and the console, make bench, the
  `check` command, the known differences (applied again to every row served), merging, and the runner's
  side of a run (scheduling, starting and watching processes, the manifests): what it hands a framework
  process is in the key already, as the steering variables and the row ids the options choose.

The known differences are not part of a key: a cached row is stored as it was before they were
applied, and they are applied again to every row a run serves (harness/judge/expectations.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from collections.abc import Mapping
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from harness.core import settings

ROOT = Path(__file__).resolve().parents[2]
# modules that cannot change a stored row (the module's docstring says why); a user's loss rows are never cached
NOT_ROW_CODE = ("harness/report/", "harness/bench/", "harness/custom/", "harness/cli.py", "harness/__main__.py",
                "harness/run/console.py", "harness/judge/expectations.py", "harness/results/merge.py",
                "harness/run/runner.py", "harness/run/schedule.py", "harness/run/runcache.py")
STEERING = ("HARNESS_", "XLA_", "TF_", "JAX_", "KERAS_", "TORCH", "PYTORCH_", "CUDA_", "NVIDIA_", "CUBLAS_",
            "CUDNN_", "OMP_", "MKL_", "OPENBLAS_", "ONEDNN_", "DNNL_")
# variables with those prefixes that name a place, steer a cache of compiled programs, a log or the console, and
# change no number
NOT_STEERING = frozenset({settings.CASE_CACHE, settings.PROGRESS_INTERVAL, settings.ORDERS, "JAX_COMPILATION_CACHE_DIR", "JAX_ENABLE_COMPILATION_CACHE", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
                          "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "JAX_PERSISTENT_CACHE_ENABLE_XLA_CACHES",
                          "JAX_LOG_COMPILES", "JAX_EXPLAIN_CACHE_MISSES", "JAX_LOGGING_LEVEL", "TF_CPP_MIN_LOG_LEVEL",
                          "TF_CPP_MAX_VLOG_LEVEL"})
LIBRARIES = ("numpy", "ml_dtypes")


def digest(doc: Any) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:32]


@cache
def code_hash() -> str:
    """The harness's code a row can depend on: every .py file under harness/ and adapters/ but NOT_ROW_CODE."""
    h = hashlib.sha256()
    for top in ("harness", "adapters"):
        for p in sorted((ROOT / top).rglob("*.py")):
            rel = p.relative_to(ROOT).as_posix()
            if not rel.startswith(NOT_ROW_CODE):
                h.update(rel.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:32]


def steering(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment variables that can change what a framework or the harness computes."""
    return {k: v for k, v in sorted(environ.items()) if k.startswith(STEERING) and k not in NOT_STEERING}


def library_versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = ""
    return out


def plugin_files(obj: object | None) -> dict[str, str]:
    """The hash of the file of each class of a plugin adapter (one not under harness/ or adapters/)."""
    out = {}
    for klass in type(obj).__mro__ if obj is not None else ():
        mod = sys.modules.get(klass.__module__)
        f = getattr(mod, "__file__", None)
        if f and not Path(f).resolve().is_relative_to(ROOT / "harness") and not Path(f).resolve().is_relative_to(ROOT / "adapters"):
            try:
                out[klass.__module__] = hashlib.sha256(Path(f).read_bytes()).hexdigest()
            except OSError:
                out[klass.__module__] = "unreadable"
    return out


def env_key(framework: str, environment: Mapping[str, Any] | None, adapter: object | None = None,
            environ: Mapping[str, str] | None = None) -> str:
    """The key of a framework process's environment: the part of every row's key that the trial does not set."""
    return digest({"framework": framework, "environment": environment or {}, "code": code_hash(),
                   "steering": steering(os.environ if environ is None else environ), "libraries": library_versions(),
                   "python": sys.version, "plugin": plugin_files(adapter)})


def _canonical(v: Any) -> Any:
    """A JSON-able form of a case's value that tells every distinct value apart (floats exactly, NaN included)."""
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return [type(v).__name__, {f.name: _canonical(getattr(v, f.name)) for f in dataclasses.fields(v)
                                   if f.name != "location"}]
    if isinstance(v, dict):
        return {"dict": sorted([repr(k), _canonical(x)] for k, x in v.items())}
    if isinstance(v, (list, tuple)):
        return [_canonical(x) for x in v]
    if isinstance(v, np.ndarray):
        return {"array": str(v.dtype), "shape": list(v.shape), "sha": hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()}
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return {"float": v.hex()}
    if v is None or isinstance(v, (bool, int, str)):
        return v
    return {"repr": repr(v)}


# what a case holds that no row of it depends on: where it is written, and which trials, relation checks and derivative
# orders it has (each row's own dtype, relation and order are in its key instead)
NOT_ROW_CONTENT = ("dtypes", "relations", "orders")


def case_hash(case: Any) -> str:
    """The hash of a case's content, but where it is written, its dtypes and its relations (NOT_ROW_CONTENT)."""
    name, content = _canonical(case)
    return digest([name, {k: v for k, v in content.items() if k not in NOT_ROW_CONTENT}])


def relation_hash(relation: Any) -> str:
    """The hash of a relation check's content (its kind, name and arguments), for the key of its rows."""
    return digest(_canonical(relation))


def row_key(env: str, case: str, rid: str, relation: str = "") -> str:
    """The key of one row: the environment's key, the case's hash, the row id (which names the framework, the API
    path, the device, the dtype and, for a relation check, the relation's name) and the relation's hash."""
    return digest([env, case, rid, relation])
