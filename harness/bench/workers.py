"""The benchmark's workers: one measurement in a process of its own, one framework per process, its result as JSON."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from harness.bench.direct import direct_call
from harness.bench.measure import maxrss_bytes, median_time
from harness.bench.workloads import (
    LARGE_CASE,
    compared_path,
    large_case,
    large_inputs,
    parse_shape,
    parse_sizes,
    pytest_args,
    synthetic_rows,
    tiny_cases,
)


def worker_overhead(framework: str, data: Path, repeats: int, item_repeats: int, shape: tuple[int, int],
                    oracle_pairs: bool = False) -> dict:
    import gc

    import adapters
    from harness import oracle

    adapter = adapters.load(framework)
    path = compared_path(adapter, framework)
    direct = direct_call(framework)
    case = large_case(shape)
    inputs = large_inputs(data)
    d_times, a_times, o_times = [], [], []
    direct(inputs.logits, inputs.labels)  # warm-up: first-call costs and JAX's compile, for both
    obs = adapter.run(path, case, inputs, "float32", "cpu")
    assert obs.loss is not None, obs.error or obs.unsupported
    for _ in range(repeats):  # interleaved, so that drift affects both alike
        gc.collect()
        d_times.append(median_time(lambda: direct(inputs.logits, inputs.labels), 1))
        gc.collect()
        a_times.append(median_time(lambda: adapter.run(path, case, inputs, "float32", "cpu"), 1))
        if oracle_pairs:
            gc.collect()
            o_times.append(median_time(lambda: oracle.compute(case, inputs, "float32"), 1))
    out = {"direct_s": statistics.median(d_times), "adapter_s": statistics.median(a_times),
           # the median of paired ratios: a neighbour process slowing one pair slows both of its halves
           "adapter_ratio": statistics.median(a / d for a, d in zip(a_times, d_times, strict=True))}
    if o_times:
        out["oracle_s"] = statistics.median(o_times)
        out["oracle_ratio"] = statistics.median(o / d for o, d in zip(o_times, d_times, strict=True))
    if item_repeats:
        import pytest

        from harness.results.rows import row_id
        from harness.results.shards import read_rows

        item_times = []
        for i in range(item_repeats):
            work = data / f"item-{framework}-{i}"
            work.mkdir()
            (work / "large.yaml").write_text(LARGE_CASE.format(rows=shape[0], classes=shape[1]))
            gc.collect()
            rid = row_id(case.id, framework, path.name, "cpu", "float32")
            pytest.main(pytest_args([work / "large.yaml"], framework, work, node=f"large.yaml::{rid}"))
            (row,) = read_rows(work / f"{framework}.jsonl")
            item_times.append(row.duration_s)
        out["item_s"] = statistics.median(item_times)
    return out


def worker_memory(framework: str, data: Path, shape: tuple[int, int], direct: bool) -> dict:
    import adapters
    from harness.schema.load import load_text
    from harness.trials import Trial, materialize

    adapter = adapters.load(framework)
    path = compared_path(adapter, framework)
    run_direct = direct_call(framework) if direct else None
    (tiny,) = load_text(tiny_cases(1))
    tiny_inputs = materialize(Trial(tiny, "float32"))
    adapter.run(path, tiny, tiny_inputs, "float32", "cpu")  # runtime start-up belongs to the baseline
    if run_direct:
        run_direct(tiny_inputs.logits.copy(), tiny_inputs.labels.copy())
    base = maxrss_bytes()
    inputs = large_inputs(data)
    if run_direct:
        run_direct(inputs.logits, inputs.labels)
    else:
        obs = adapter.run(path, large_case(shape), inputs, "float32", "cpu")
        assert obs.loss is not None, obs.error or obs.unsupported
    return {"peak_minus_base": maxrss_bytes() - base, "bytes": 2 * inputs.logits.nbytes + inputs.labels.nbytes}


def worker_oracle(data: Path, repeats: int, shape: tuple[int, int]) -> dict:
    from harness import oracle

    case = large_case(shape)
    base = maxrss_bytes()
    inputs = large_inputs(data)
    t = median_time(lambda: oracle.compute(case, inputs, "float32"), repeats)
    return {"oracle_s": t, "peak_minus_base": maxrss_bytes() - base,
            "bytes": 2 * inputs.logits.nbytes + inputs.labels.nbytes}


def worker_raw(framework: str, cases_dir: Path, shard: str) -> dict:
    """What a framework itself needs for the suite: its import, then every row's loss and gradient.

    A row's framework work is timed as the adapter's `evaluate` hook (tensors in the trial dtype,
    the API path in its execution mode, autodiff, results back), without the harness's checks,
    oracle, judging and row writing. A relation row (harness/judge/relations.py) adds the call of its
    partner formulation (other shapes or labels, so for JAX another compile); the case's own call
    is the trial row's, counted once. For the suite's small trials the hook's conversions cost
    microseconds: the time is the framework's per-call overhead and, for compiled modes, compiling.
    """
    t0 = time.perf_counter()
    if framework == "torch":
        import torch  # noqa: F401
    elif framework == "tensorflow":
        import tensorflow  # noqa: F401
    elif framework == "jax":
        import jax  # noqa: F401
        import optax  # noqa: F401
    import_s = time.perf_counter() - t0

    import adapters
    from harness.judge import relations
    from harness.run.schedule import parse_shard, shard_costs, split_by_cost
    from harness.schema.load import load_paths
    from harness.trials import Trial, materialize

    adapter = adapters.load(framework)
    cases = load_paths([cases_dir])
    k, n = parse_shard(shard)
    split = split_by_cost(shard_costs(cases, framework), n)  # the trials `harness run --shard` runs
    calls_s, rows = 0.0, 0
    for case in cases:
        for dtype in case.dtypes:
            if split[Trial(case, dtype).id] != k - 1:
                continue
            for path in adapter.paths():
                if case.family not in path.families or path.supports(case, dtype):
                    continue  # unsupported: the framework does nothing
                inputs = materialize(Trial(case, dtype))
                calls_s += _evaluate_s(adapter, path, case, inputs, dtype)
                rows += 1
                for rel in case.relations:  # a relation row: the partner formulation's call (the case's is above)
                    try:
                        pt = relations.partner(case, rel, inputs, dtype)
                    except relations.NothingToCount:
                        continue
                    path_b = relations.partner_path(path, pt.case.family, adapter.paths())
                    if path_b is not None and not path_b.supports(pt.case, dtype):
                        calls_s += _evaluate_s(adapter, path_b, pt.case, pt.inputs, dtype)
                        rows += 1
    return {"import_s": import_s, "calls_s": calls_s, "rows": rows}


def _evaluate_s(adapter, path, case, inputs, dtype: str) -> float:
    t = time.perf_counter()
    try:
        adapter.evaluate(path, case, inputs, dtype, "cpu")
    except Exception:  # noqa: BLE001 - raising on an invalid label is work the framework does too
        pass
    return time.perf_counter() - t


def worker_growth(framework: str, data: Path, sizes: list[int], repeats: int) -> dict:
    """Per-row cost of one pytest process (the runner's arguments) at each size, in-process."""
    import gc

    import pytest

    from harness.results.shards import read_rows

    paths = len(_sparse_paths(framework))
    out: dict[str, float] = {}
    runs = 0
    for n in [sizes[0], *sizes]:  # the first run warms up imports and first calls
        cases = max(1, round(n / paths))
        text = tiny_cases(cases)
        per_row = []
        for _ in range(repeats if n <= 1000 else 1):
            work = data / f"growth-{runs}"
            runs += 1
            work.mkdir()
            (work / "cases.yaml").write_text(text)
            gc.collect()
            t0 = time.perf_counter()
            pytest.main(pytest_args([work / "cases.yaml"], framework, work))
            dt = time.perf_counter() - t0
            per_row.append(dt / len(read_rows(work / f"{framework}.jsonl")))
        out[str(n)] = statistics.median(per_row)
    return out


def _sparse_paths(framework: str) -> list:
    import adapters

    return [p for p in adapters.load(framework).paths() if "sparse_softmax_cross_entropy" in p.families]


def worker_report(rows_n: int, data: Path, repeats: int) -> dict:
    from harness import report
    from harness.results.shards import write_rows

    rows = synthetic_rows(rows_n)
    repeats = min(repeats, 2)  # seconds each: the rest of the benchmark needs the time more
    jsonl = median_time(lambda: write_rows(data / "rows.jsonl", rows), repeats)
    rep = median_time(lambda: report.write_report(rows, [], data / "report"), repeats)
    return {"jsonl_s": jsonl, "report_s": rep}


def run(args) -> int:
    """Run the worker the options name (`python -m harness.bench --worker KIND`) and write its result as JSON."""
    data, shape = Path(args.data), parse_shape(args.shape)
    if args.worker == "overhead":
        res = worker_overhead(args.framework, data, args.repeats, args.item_repeats, shape, args.oracle_pairs)
    elif args.worker in ("memory", "memory-direct"):
        res = worker_memory(args.framework, data, shape, direct=args.worker == "memory-direct")
    elif args.worker == "oracle":
        res = worker_oracle(data, args.repeats, shape)
    elif args.worker == "raw":
        res = worker_raw(args.framework, Path(args.cases), args.suite_shard)
    elif args.worker == "growth":
        res = worker_growth(args.framework, data, parse_sizes(args.growth), args.repeats)
    elif args.worker == "report":
        res = worker_report(args.report_rows, data, args.repeats)
    else:
        raise SystemExit(f"unknown worker {args.worker}")
    Path(args.result).write_text(json.dumps(res))
    return 0
