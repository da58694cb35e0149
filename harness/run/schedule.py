"""Scheduling: the cost model of a trial, the split of a framework's trials into shards, and the workers per framework."""

from __future__ import annotations

from adapters.frameworks import DEFAULT_COST_NS, FRAMEWORKS
from harness.schema.model import Case
from harness.trials import Trial

ORACLE = "oracle"  # pseudo-framework: checks the oracle against the golden values written in cases

# Expected cost of one trial (case x dtype, every API path) in a framework's process, in nanoseconds: (fixed,
# per logits element). The frameworks' own are their rows of the framework table (adapters/frameworks.py).
SHARD_COST_NS: dict[str, tuple[int, int]] = {ORACLE: (1_000_000, 100), **{f.name: f.cost_ns for f in FRAMEWORKS}}
SHARD_COST_DEFAULT_NS = DEFAULT_COST_NS  # frameworks registered by plugins


def parse_shard(spec: str) -> tuple[int, int]:
    """'K/N' (1 <= K <= N) as (K, N); ValueError otherwise."""
    k, sep, n = str(spec).partition("/")
    try:
        ki, ni = int(k), int(n)
    except ValueError:
        ki = ni = 0
    if not sep or not 1 <= ki <= ni:
        raise ValueError(f"a shard is K/N with 1 <= K <= N, got {spec!r}")
    return ki, ni


def shard_costs(cases: list[Case], framework: str) -> dict[str, int]:
    """Expected cost of each of a framework's trials, keyed by trial id ('case[dtype]').

    Only stable data enters: case ids, dtypes and logits shapes. The oracle pseudo-framework's
    trials are the golden checks (float64, cases with `expect.loss`), split like any other.
    """
    fixed, per_element = SHARD_COST_NS.get(framework, SHARD_COST_DEFAULT_NS)
    out: dict[str, int] = {}
    for case in cases:
        elements = 1
        for s in case.predictions.shape:
            elements *= int(s)
        if framework == ORACLE:
            dtypes: tuple[str, ...] = ("float64",) if case.expect.loss is not None else ()
        else:
            dtypes = case.dtypes
        for dtype in dtypes:
            out[Trial(case, dtype).id] = fixed + per_element * elements
    return out


def split_by_cost(costs: dict[str, int], n: int) -> dict[str, int]:
    """Assign each key to one of n shards (0-based) by greedy longest-processing-time.

    Keys go in decreasing cost (ties by key) to the shard with the least cost so far (ties: the
    lowest index). Integer costs and total orders make it the same on every machine; the largest
    shard exceeds the mean by at most the largest single cost.
    """
    loads = [0] * n
    out: dict[str, int] = {}
    for key in sorted(costs, key=lambda k: (-costs[k], k)):
        i = min(range(n), key=lambda j: (loads[j], j))
        out[key] = i
        loads[i] += costs[key]
    return out


WORKER_START_NS = 3_000_000_000  # what one more pytest-xdist worker costs: a process that imports its framework
# the share of a framework's work that each further worker does again (JAX's per-process compile cache:
# a quarter of the suite cost 118 CPU-s in one process and 133 in two)
WORKER_REPEAT = 0.12


def makespan(works: list[float], cores: int) -> float:
    """Wall time of processes that start together and share `cores` equally, each using at most one core.

    Every running process advances at the same rate, so they finish in the order of their work."""
    t = done = 0.0
    left = sorted(works)
    for i, w in enumerate(left):
        rate = min(1.0, cores / (len(left) - i))
        t += (w - done) / rate
        done = w
    return t


def expected_wall(costs: dict[str, int], workers: dict[str, int], cores: int) -> float:
    """The makespan of the frameworks' processes: each worker does its share of its framework's work,
    plus what every further worker repeats (WORKER_REPEAT: compiles and caches are per process), plus
    its start-up."""
    return makespan([costs[f] * (1 + WORKER_REPEAT * (workers[f] - 1)) / workers[f] + WORKER_START_NS
                     for f in costs for _ in range(workers[f])], cores)


def plan_workers(costs: dict[str, int], cores: int) -> dict[str, int]:
    """pytest-xdist workers per framework process, from each framework's expected cost (ns).

    Every framework runs in its own process, in parallel, and the operating system shares the cores
    among them: a framework with much more work than the others is left running alone at the end,
    on one core. Starting from one process each, one more worker goes to the framework where it
    shortens the expected wall time (`expected_wall`) the most, while it shortens it by more than a
    start-up; never more workers than cores for one framework. The result depends on the case files,
    the shard and the number of cores only.
    """
    workers = {f: 1 for f in costs}
    best = expected_wall(costs, workers, cores)
    while True:
        options = {f: expected_wall(costs, {**workers, f: workers[f] + 1}, cores)
                   for f in sorted(costs) if workers[f] < cores}
        if not options:
            break
        f = min(options, key=lambda k: (options[k], k))
        if options[f] >= best - WORKER_START_NS:
            break
        workers[f] += 1
        best = options[f]
    return workers
