"""Settings: the harness's version, the CPUs it may use, and the HARNESS_* environment variables (their one reader and writer).

The command line and the runner hand settings to the framework processes they start through the
environment, which those processes inherit. Each variable has its name here, a function that reads
it and, where the harness sets it, one that writes it (into os.environ, or into the environment of a
process about to start).

    HARNESS_ADAPTERS            frameworks whose adapters are not packaged: "name=module:Class,..."
    HARNESS_CASE_CACHE          the folder where a run's processes share the parsed case files
    HARNESS_MAX_ELEMENTS        the largest input a case may generate, in elements (`run --max-elements`)
    HARNESS_PRECISION           the precision mode of the framework processes (harness/core/precision.py)
    HARNESS_TF_OP_DETERMINISM   1: TensorFlow op determinism on (harness/core/precision.py)
    HARNESS_CUSTOM_PATHS        a user's own loss paths, as JSON (adapters/custom.py)
    HARNESS_CUSTOM_BESIDE       which built-in paths run beside them: all (default), fused, none
    HARNESS_PROGRESS_INTERVAL   seconds between `progress:` lines when the output is not a terminal (default 30; 0: none)
    HARNESS_ORDERS              derivative orders every case is asked for where they apply (`run --orders`): "jvp,hvp"
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping

VERSION = "0.1.0"

ADAPTERS = "HARNESS_ADAPTERS"
CASE_CACHE = "HARNESS_CASE_CACHE"
MAX_ELEMENTS = "HARNESS_MAX_ELEMENTS"
PRECISION = "HARNESS_PRECISION"
TF_OP_DETERMINISM = "HARNESS_TF_OP_DETERMINISM"
CUSTOM_PATHS = "HARNESS_CUSTOM_PATHS"
CUSTOM_BESIDE = "HARNESS_CUSTOM_BESIDE"
PROGRESS_INTERVAL = "HARNESS_PROGRESS_INTERVAL"
ORDERS = "HARNESS_ORDERS"


def available_cores() -> int:
    """The CPUs this process may run on (its affinity where the OS tells it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _env(environ):
    """The environment given (a process's about to start), or this process's own."""
    return os.environ if environ is None else environ


def extra_adapters() -> list[tuple[str, str]]:
    """HARNESS_ADAPTERS as (name, "module:Class") pairs, in order."""
    out = []
    for item in filter(None, os.environ.get(ADAPTERS, "").split(",")):
        name, _, target = item.partition("=")
        out.append((name.strip(), target.strip()))
    return out


def case_cache() -> str:
    """HARNESS_CASE_CACHE: the folder of the shared parsed case files ('' when none)."""
    return os.environ.get(CASE_CACHE, "")


def set_case_cache(folder: str) -> None:
    os.environ[CASE_CACHE] = folder


def max_elements(default: int) -> int:
    """HARNESS_MAX_ELEMENTS, or the default where it is not set."""
    return int(os.environ.get(MAX_ELEMENTS, default))


def set_max_elements(n: int) -> None:
    os.environ[MAX_ELEMENTS] = str(n)


def precision() -> str:
    """HARNESS_PRECISION as given, stripped ('' when not set)."""
    return os.environ.get(PRECISION, "").strip()


def set_precision(mode: str, environ: MutableMapping[str, str] | None = None) -> None:
    _env(environ)[PRECISION] = mode


def tf_op_determinism() -> bool:
    """HARNESS_TF_OP_DETERMINISM=1."""
    return os.environ.get(TF_OP_DETERMINISM, "").strip() == "1"


def custom_paths(environ: Mapping[str, str] | None = None) -> str:
    """HARNESS_CUSTOM_PATHS (JSON; '' when not set), of this process or of the environment given."""
    return _env(environ).get(CUSTOM_PATHS, "").strip()


def set_custom_paths(text: str, environ: MutableMapping[str, str] | None = None) -> None:
    _env(environ)[CUSTOM_PATHS] = text


def custom_beside() -> str:
    """HARNESS_CUSTOM_BESIDE (default: all)."""
    return os.environ.get(CUSTOM_BESIDE, "all")


def set_custom_beside(beside: str, environ: MutableMapping[str, str] | None = None) -> None:
    _env(environ)[CUSTOM_BESIDE] = beside


def progress_interval(default: float = 30.0) -> float:
    """HARNESS_PROGRESS_INTERVAL in seconds, or the default where it is not set."""
    return float(os.environ.get(PROGRESS_INTERVAL, "").strip() or default)


def orders() -> tuple[str, ...]:
    """HARNESS_ORDERS as a tuple of order names (empty when not set)."""
    return tuple(o.strip() for o in os.environ.get(ORDERS, "").split(",") if o.strip())


def set_orders(names: tuple[str, ...]) -> None:
    os.environ[ORDERS] = ",".join(names)
