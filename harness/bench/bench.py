"""Benchmark the harness against the frameworks themselves, and print ratios (never bare times).

    python -m harness.bench                      # everything (make bench); about 5 minutes on 2 cores
    python -m harness.bench --parts growth,report --growth 100,1000 --report-rows 2000

What each ratio divides, and its target:

overhead   the harness's adapter path (Adapter.run on the materialized trial, numpy in and float64
           numpy out, as a pytest item calls it; oracle excluded) / the framework's direct call on
           the same numpy arrays (tensor from numpy, loss, gradient, both back as numpy in the trial
           dtype). Trial: sparse softmax cross-entropy, 2048 x 32000 float32, mean. Target <= 1.10.
           Also, for information: one whole pytest item (inputs, oracle, adapter, judge, row) / direct.
oracle     harness.oracle.compute on that trial / the fastest framework's direct call, timed in pairs
           interleaved with each framework's direct call in that framework's process (the median of
           the paired ratios, so that load from other processes slows both halves of a pair alike);
           the fastest framework is the one with the largest ratio. Target <= 1.5.
suite      wall time of `python -m harness run --device cpu --shard 1/4` on cases/ (the oracle and
           torch, TensorFlow and JAX where installed, one process each, in parallel, with the
           pytest-xdist workers `--workers auto` gives a framework that would outlast the others) /
           the sum over frameworks of what the framework itself needs for the same rows: its import
           time plus each row's loss and autodiff (the adapter's `evaluate` hook: for these small
           trials, the framework's call overhead and compiling; unsupported rows cost nothing; a
           relation row adds its partner formulation's call), each framework measured alone.
           A quarter of the suite by expected cost keeps the benchmark short; --suite-shard 1/1
           runs all of it. Below 1 means the harness's own work hides behind running the frameworks
           in parallel. Target < 1.0.
growth     per-row cost of one pytest process running N tiny trials (collection included) / the same
           at the smallest N: flat means <= 1.25. And write_report (HTML, CSV, Markdown) of 20,000
           rows / write_rows of their JSONL: target <= 5.
memory     peak RSS of a process running only the adapter path on the large trial, minus its RSS
           after imports and a tiny warm-up / the bytes of its inputs and gradient in the trial dtype.
           Target <= 3. Also, for information: the same for the direct call and for the oracle.

Every framework is measured in its own subprocess, one framework per process; times are medians of
--repeats runs (the overhead ratio is the median of interleaved direct/adapter pairs). The machine
should be otherwise idle: other processes on its cores show up as noise. Exit status 0, or 1 with
--strict when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = ("torch", "tensorflow", "jax")
PATH_NAMES = {  # the sparse path each framework's direct call is compared with
    "torch": "F.cross_entropy",
    "tensorflow": "tf.nn.sparse_softmax_cross_entropy_with_logits",
    "jax": "optax.softmax_cross_entropy_with_integer_labels",
}
PARTS = ("overhead", "oracle", "suite", "growth", "report", "memory")
TARGETS = {  # measure -> (comparison, bound)
    "adapter": ("<=", 1.10),
    "oracle": ("<=", 1.5),
    "suite": ("<", 1.0),
    "growth": ("<=", 1.25),
    "report": ("<=", 5.0),
    "memory": ("<=", 3.0),
}
LARGE_CASE = """\
- id: bench-large
  family: sparse_softmax_cross_entropy
  description: a large training-sized trial
  logits: {{generate: normal, shape: [{rows}, {classes}], seed: 0}}
  labels: {{generate: randint, seed: 1}}
  params: {{reduction: mean}}
  dtypes: [float32]
"""
TINY_CASE = """\
- id: bench-tiny-{i}
  family: sparse_softmax_cross_entropy
  description: a tiny trial
  logits: [[{a}, -1.0, 0.5, 2.0, -0.25], [0.0, 1.0, {b}, -2.0, 0.75]]
  labels: [{la}, {lb}]
  dtypes: [float32]
"""


# --------------------------------------------------------------------------- helpers


def _median_time(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _maxrss_bytes() -> int:
    """This process's peak resident memory, in bytes.

    Linux: VmHWM of /proc/self/status. ru_maxrss (getrusage) is the same high-water mark, except
    that a child started by vfork + exec inherits its parent's peak in it (the kernel folds the
    parent's memory map into it at exec), which would hide a worker's own peak.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _busy_cpu_s() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (Linux), or None."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    return env


def _large_case(shape: tuple[int, int]):
    from harness.schema import load_text

    (case,) = load_text(LARGE_CASE.format(rows=shape[0], classes=shape[1]), "bench-large.yaml")
    return case


def _tiny_cases(n: int) -> str:
    return "".join(TINY_CASE.format(i=i, a=round(1.0 + i % 7 * 0.5, 2), b=round(-1.5 + i % 5, 2), la=i % 5, lb=(i // 5) % 5)
                   for i in range(n))


def _inputs(data: Path):
    import numpy as np

    from harness.trials import Inputs

    return Inputs(logits=np.load(data / "logits.npy"), labels=np.load(data / "labels.npy"))


def _path(adapter, framework: str):
    return next(p for p in adapter.paths() if p.name == PATH_NAMES[framework])


def _pytest_args(case_files: list[Path], framework: str, work: Path, node: str = "") -> list[str]:
    """The arguments harness/run/runner.py gives a framework's pytest process (node: one item of the one file)."""
    ini = work / "pytest.ini"
    ini.write_text("[pytest]\n")
    files = [str(case_files[0].parent / node)] if node else [str(f) for f in case_files]
    args = [*files, "-c", str(ini), "--rootdir", str(work), "--noconftest", "-p", "harness.run.plugin",
            "-p", "no:cacheprovider", "--framework", framework, "--shard-out", str(work / f"{framework}.jsonl"),
            "--progress", str(work / f"{framework}.progress"), "-q", "--no-header", "-rN", "--tb=no"]
    return args


# --------------------------------------------------------------------------- direct framework calls


def _direct(framework: str) -> Callable[[Any, Any], tuple[Any, Any]]:
    """The framework's own fused call, written as a user writes it: numpy in, loss and gradient out as numpy."""
    if framework == "torch":
        import torch
        import torch.nn.functional as F

        def run_torch(logits, labels):
            x = torch.from_numpy(logits).requires_grad_(True)
            loss = F.cross_entropy(x, torch.from_numpy(labels))
            loss.backward()
            return loss.detach().numpy(), x.grad.numpy()

        return run_torch
    if framework == "tensorflow":
        import tensorflow as tf

        def run_tf(logits, labels):
            x, y = tf.constant(logits), tf.constant(labels)
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=x))
            g = tape.gradient(loss, x)
            return loss.numpy(), g.numpy()

        return run_tf
    if framework == "jax":
        import jax
        import numpy as np
        import optax

        f = jax.jit(jax.value_and_grad(lambda x, y: optax.softmax_cross_entropy_with_integer_labels(x, y).mean()))

        def run_jax(logits, labels):
            loss, g = f(jax.device_put(logits), jax.device_put(labels))
            return np.asarray(loss), np.asarray(g.block_until_ready())

        return run_jax
    raise ValueError(f"no direct call for {framework}")


# --------------------------------------------------------------------------- workers (one framework per process)


def worker_overhead(framework: str, data: Path, repeats: int, item_repeats: int, shape: tuple[int, int],
                    oracle_pairs: bool = False) -> dict:
    import gc

    import adapters
    from harness import oracle

    adapter = adapters.load(framework)
    path = _path(adapter, framework)
    direct = _direct(framework)
    case = _large_case(shape)
    inputs = _inputs(data)
    d_times, a_times, o_times = [], [], []
    direct(inputs.logits, inputs.labels)  # warm-up: first-call costs and JAX's compile, for both
    obs = adapter.run(path, case, inputs, "float32", "cpu")
    assert obs.loss is not None, obs.error or obs.unsupported
    for _ in range(repeats):  # interleaved, so that drift affects both alike
        gc.collect()
        d_times.append(_median_time(lambda: direct(inputs.logits, inputs.labels), 1))
        gc.collect()
        a_times.append(_median_time(lambda: adapter.run(path, case, inputs, "float32", "cpu"), 1))
        if oracle_pairs:
            gc.collect()
            o_times.append(_median_time(lambda: oracle.compute(case, inputs, "float32"), 1))
    out = {"direct_s": statistics.median(d_times), "adapter_s": statistics.median(a_times),
           # the median of paired ratios: a neighbour process slowing one pair slows both of its halves
           "adapter_ratio": statistics.median(a / d for a, d in zip(a_times, d_times, strict=True))}
    if o_times:
        out["oracle_s"] = statistics.median(o_times)
        out["oracle_ratio"] = statistics.median(o / d for o, d in zip(o_times, d_times, strict=True))
    if item_repeats:
        import pytest

        from harness.results.rows import read_rows, row_id

        item_times = []
        for i in range(item_repeats):
            work = data / f"item-{framework}-{i}"
            work.mkdir()
            (work / "large.yaml").write_text(LARGE_CASE.format(rows=shape[0], classes=shape[1]))
            gc.collect()
            rid = row_id(case.id, framework, path.name, "cpu", "float32")
            pytest.main(_pytest_args([work / "large.yaml"], framework, work, node=f"large.yaml::{rid}"))
            (row,) = read_rows(work / f"{framework}.jsonl")
            item_times.append(row.duration_s)
        out["item_s"] = statistics.median(item_times)
    return out


def worker_memory(framework: str, data: Path, shape: tuple[int, int], direct: bool) -> dict:
    import adapters
    from harness.schema import load_text
    from harness.trials import Trial, materialize

    adapter = adapters.load(framework)
    path = _path(adapter, framework)
    run_direct = _direct(framework) if direct else None
    (tiny,) = load_text(_tiny_cases(1))
    tiny_inputs = materialize(Trial(tiny, "float32"))
    adapter.run(path, tiny, tiny_inputs, "float32", "cpu")  # runtime start-up belongs to the baseline
    if run_direct:
        run_direct(tiny_inputs.logits.copy(), tiny_inputs.labels.copy())
    base = _maxrss_bytes()
    inputs = _inputs(data)
    if run_direct:
        run_direct(inputs.logits, inputs.labels)
    else:
        obs = adapter.run(path, _large_case(shape), inputs, "float32", "cpu")
        assert obs.loss is not None, obs.error or obs.unsupported
    return {"peak_minus_base": _maxrss_bytes() - base, "bytes": 2 * inputs.logits.nbytes + inputs.labels.nbytes}


def worker_oracle(data: Path, repeats: int, shape: tuple[int, int]) -> dict:
    from harness import oracle

    case = _large_case(shape)
    base = _maxrss_bytes()
    inputs = _inputs(data)
    t = _median_time(lambda: oracle.compute(case, inputs, "float32"), repeats)
    return {"oracle_s": t, "peak_minus_base": _maxrss_bytes() - base,
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
    from harness.schema import load_paths
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

    from harness.results.rows import read_rows

    paths = len(_sparse_paths(framework))
    out: dict[str, float] = {}
    runs = 0
    for n in [sizes[0], *sizes]:  # the first run warms up imports and first calls
        cases = max(1, round(n / paths))
        text = _tiny_cases(cases)
        per_row = []
        for _ in range(repeats if n <= 1000 else 1):
            work = data / f"growth-{runs}"
            runs += 1
            work.mkdir()
            (work / "cases.yaml").write_text(text)
            gc.collect()
            t0 = time.perf_counter()
            pytest.main(_pytest_args([work / "cases.yaml"], framework, work))
            dt = time.perf_counter() - t0
            per_row.append(dt / len(read_rows(work / f"{framework}.jsonl")))
        out[str(n)] = statistics.median(per_row)
    return out


def _sparse_paths(framework: str) -> list:
    import adapters

    return [p for p in adapters.load(framework).paths() if "sparse_softmax_cross_entropy" in p.families]


def worker_report(rows_n: int, data: Path, repeats: int) -> dict:
    from harness.report import html as report
    from harness.results.rows import write_rows

    rows = _synthetic_rows(rows_n)
    repeats = min(repeats, 2)  # seconds each: the rest of the benchmark needs the time more
    jsonl = _median_time(lambda: write_rows(data / "rows.jsonl", rows), repeats)
    rep = _median_time(lambda: report.write_report(rows, [], data / "report"), repeats)
    return {"jsonl_s": jsonl, "report_s": rep}


def _synthetic_rows(n: int) -> list:
    """Rows shaped like a real run's: every verdict, messages, calls, small value arrays."""
    from harness.results.rows import Row, row_id

    verdicts = ("pass", "pass", "pass", "pass", "known", "unsupported", "expected_error", "loss_mismatch",
                "grad_mismatch", "nonfinite")
    fws = (("torch", "F.cross_entropy"), ("torch", "nn.CrossEntropyLoss"), ("tensorflow", "tf.nn.sparse_softmax_cross_entropy_with_logits"),
           ("jax", "optax.softmax_cross_entropy_with_integer_labels"))
    dtypes = ("float64", "float32", "float16", "bfloat16")
    rows = []
    for i in range(n):
        fw, api = fws[i % 4]
        dtype = dtypes[(i // 4) % 4]
        case = f"case-{i // 16:05d}"
        v = verdicts[i % len(verdicts)]
        vals = [0.1 * (i % 13) + k for k in range(8)]
        rows.append(Row(
            row_id=row_id(case, fw, api, "cpu", dtype), case=case, family="sparse_softmax_cross_entropy", framework=fw,
            api=api, device="cpu", device_requested="cpu", dtype=dtype, verdict=v, raw_verdict=v, framework_version="1.0",
            call=f"{api}(reduction='none')", tags=["generated", "bench"], description="a synthetic row for the benchmark",
            source=f"cases/bench.yaml:{i // 16 * 7 + 1}:3", reduction="none", loss=vals[0], ref_loss=vals[0] + 1e-7,
            loss_abs_err=1e-7, loss_rel_err=1e-7, loss_ulp=1.0, loss_worst_index=[i % 2], grad=0.25, ref_grad=0.25,
            grad_max_abs_err=1e-8, grad_max_rel_err=1e-8, grad_ulp=2.0, grad_worst_index=[i % 2, i % 5],
            loss_allowed=1e-7, loss_allowance="1e-07 (mostly log S)", grad_allowed=1e-7,
            grad_allowance="1e-07 (mostly A p - a)", tolerance_source="policy", oracle_precision="longdouble",
            message="" if v == "pass" else f"{v}: loss[0]={vals[0]} but should be {vals[0] + 1e-7} (3.0 ULP)",
            duration_s=0.001, loss_values=vals[:2], ref_loss_values=vals[:2], grad_values=vals, ref_grad_values=vals,
            shape=[2, 4]))
    return rows


def _worker_main(args) -> int:
    data, shape = Path(args.data), _shape(args.shape)
    if args.worker == "overhead":
        res = worker_overhead(args.framework, data, args.repeats, args.item_repeats, shape, args.oracle_pairs)
    elif args.worker in ("memory", "memory-direct"):
        res = worker_memory(args.framework, data, shape, direct=args.worker == "memory-direct")
    elif args.worker == "oracle":
        res = worker_oracle(data, args.repeats, shape)
    elif args.worker == "raw":
        res = worker_raw(args.framework, Path(args.cases), args.suite_shard)
    elif args.worker == "growth":
        res = worker_growth(args.framework, data, _sizes(args.growth), args.repeats)
    elif args.worker == "report":
        res = worker_report(args.report_rows, data, args.repeats)
    else:
        raise SystemExit(f"unknown worker {args.worker}")
    Path(args.result).write_text(json.dumps(res))
    return 0


# --------------------------------------------------------------------------- the parent: run workers, print ratios


@dataclass
class Ratio:
    measure: str  # key of TARGETS, or "" for information only
    label: str
    value: float | None
    error: str = ""

    def verdict(self) -> str:
        if self.value is None:
            return "ERROR"
        if not self.measure:
            return "info"
        op, bound = TARGETS[self.measure]
        ok = self.value <= bound if op == "<=" else self.value < bound
        return "PASS" if ok else "MISS"

    def target(self) -> str:
        if not self.measure:
            return "-"
        op, bound = TARGETS[self.measure]
        return f"{op} {bound:g}"


class Bench:
    def __init__(self, args, work: Path, echo: Callable[[str], None] = print):
        self.args, self.work, self.echo = args, work, echo
        self.raw: dict[str, Any] = {}
        self.ratios: list[Ratio] = []
        self.shape = _shape(args.shape)

    def worker(self, kind: str, framework: str = "", timeout: float = 900, **extra: Any) -> dict:
        result = self.work / f"{kind}-{framework or 'harness'}.json"
        cmd = [sys.executable, "-m", "harness.bench", "--worker", kind, "--data", str(self.work), "--result", str(result),
               "--repeats", str(extra.get("repeats", self.args.repeats)), "--item-repeats", str(extra.get("item_repeats", 0)),
               "--shape", self.args.shape, "--growth", self.args.growth, "--report-rows", str(self.args.report_rows),
               "--cases", str(self.args.cases), "--suite-shard", self.args.suite_shard]
        if framework:
            cmd += ["--framework", framework]
        if extra.get("oracle_pairs"):
            cmd.append("--oracle-pairs")
        self.echo(f"  {kind} {framework}".rstrip())
        p = subprocess.run(cmd, capture_output=True, text=True, env=_env(), cwd=str(self.work), timeout=timeout)
        if p.returncode != 0 or not result.exists():
            tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
            raise RuntimeError(f"{kind} {framework} worker failed (exit {p.returncode}): {' | '.join(tail)}")
        res = json.loads(result.read_text())
        self.raw[f"{kind}:{framework}" if framework else kind] = res
        return res

    def add(self, measure: str, label: str, fn: Callable[[], float]) -> None:
        try:
            self.ratios.append(Ratio(measure, label, fn()))
        except Exception as e:  # noqa: BLE001 - one failed measurement must not hide the others
            self.ratios.append(Ratio(measure, label, None, f"{type(e).__name__}: {e}"))

    def prepare_large(self) -> None:
        import numpy as np

        from harness.trials import Trial, materialize

        if (self.work / "logits.npy").exists():
            return
        inputs = materialize(Trial(_large_case(self.shape), "float32"))
        np.save(self.work / "logits.npy", inputs.logits)
        np.save(self.work / "labels.npy", inputs.labels)
        materialize.cache_clear()

    def run(self) -> list[Ratio]:
        parts = [p for p in self.args.parts.split(",") if p]
        fws = self.frameworks()
        if any(p in parts for p in ("overhead", "oracle", "memory")):
            self.echo(f"preparing the {self.args.shape} float32 trial")
            self.prepare_large()
        direct: dict[str, float] = {}
        if "overhead" in parts or "oracle" in parts:
            item_fws = fws if self.args.item_frameworks == "all" else [f for f in self.args.item_frameworks.split(",") if f in fws]
            for fw in fws:
                items = self.args.item_repeats if fw in item_fws and "overhead" in parts else 0
                try:
                    r = self.worker("overhead", fw, item_repeats=items, oracle_pairs="oracle" in parts)
                except Exception as e:  # noqa: BLE001
                    self.ratios.append(Ratio("adapter", f"overhead {fw}: adapter path / direct", None, str(e)))
                    continue
                direct[fw] = r["direct_s"]
                if "overhead" in parts:
                    self.add("adapter", f"overhead {fw}: adapter path / direct", lambda r=r: r["adapter_ratio"])
                    if "item_s" in r:
                        self.add("", f"overhead {fw}: whole item / direct", lambda r=r: r["item_s"] / r["direct_s"])
        if "oracle" in parts:
            try:
                o = self.worker("oracle", repeats=1)  # its memory; its time is paired with each framework's above
                paired = {fw: self.raw[f"overhead:{fw}"]["oracle_ratio"] for fw in direct
                          if "oracle_ratio" in self.raw.get(f"overhead:{fw}", {})}
                fastest = max(paired, key=paired.get) if paired else "?"
                self.add("oracle", f"oracle / fastest framework's direct call ({fastest})", lambda: paired[fastest])
                self.ratios.append(Ratio("", "memory oracle: peak / (inputs + grad)", o["peak_minus_base"] / o["bytes"]))
            except Exception as e:  # noqa: BLE001
                self.ratios.append(Ratio("oracle", "oracle / fastest framework's direct call", None, str(e)))
        if "suite" in parts:
            self.add("suite", f"suite (shard {self.args.suite_shard}): harness wall / frameworks' own need", lambda: self.suite(fws))
        if "growth" in parts:
            self.growth(fws)
        if "report" in parts:
            def report_ratio() -> float:
                r = self.worker("report")
                return r["report_s"] / r["jsonl_s"]

            self.add("report", f"report of {self.args.report_rows:,} rows / writing their JSONL", report_ratio)
        if "memory" in parts:
            for fw in fws:
                def mem(fw: str = fw, kind: str = "memory") -> float:
                    r = self.worker(kind, fw)
                    return r["peak_minus_base"] / r["bytes"]

                self.add("memory", f"memory {fw}: adapter path peak / (inputs + grad)", mem)
                if self.args.memory_direct:
                    self.add("", f"memory {fw}: direct call peak / (inputs + grad)", lambda fw=fw: mem(fw, "memory-direct"))
        return self.ratios

    def frameworks(self) -> list[str]:
        import adapters

        wanted = [f for f in self.args.frameworks.split(",") if f]
        return [f for f in wanted if f in PATH_NAMES and not adapters.missing_modules(f)]

    def suite(self, fws: list[str]) -> float:
        out = self.work / "suite"
        cmd = [sys.executable, "-m", "harness", "run", "--cases", str(self.args.cases), "--device", "cpu", "--out", str(out),
               "--frameworks", ",".join(["oracle", *fws]), "--shard", self.args.suite_shard]
        self.echo("  suite: python -m harness run")
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, env=_env(), cwd=str(PROJECT_ROOT), timeout=1800)
        wall = time.perf_counter() - t0
        if p.returncode not in (0, 1):
            raise RuntimeError(f"harness run failed (exit {p.returncode}): {p.stderr.strip()[-300:]}")
        need = 0.0
        for fw in fws:
            r = self.worker("raw", fw)
            need += r["import_s"] + r["calls_s"]
        self.raw["suite"] = {"wall_s": wall, "need_s": need}
        return wall / need

    def growth(self, fws: list[str]) -> None:
        sizes = _sizes(self.args.growth)
        fw = "torch" if "torch" in fws else (fws[0] if fws else "")
        if not fw:
            self.ratios.append(Ratio("growth", "growth", None, "no framework installed"))
            return
        try:
            r = self.worker("growth", fw)
        except Exception as e:  # noqa: BLE001
            self.ratios.append(Ratio("growth", f"growth ({fw})", None, str(e)))
            return
        for n in sizes[1:]:
            self.ratios.append(Ratio("growth", f"growth ({fw}): per-row cost at {n:,} / at {sizes[0]:,} rows",
                                     r[str(n)] / r[str(sizes[0])]))


def _shape(s: str) -> tuple[int, int]:
    a, b = s.lower().split("x")
    return int(a), int(b)


def _sizes(s: str) -> list[int]:
    return [int(x) for x in s.split(",") if x]


def print_table(ratios: list[Ratio], echo: Callable[[str], None] = print) -> None:
    width = max([len(r.label) for r in ratios] + [7])
    echo("")
    echo(f"{'measure'.ljust(width)}  {'ratio':>8}  {'target':>7}  result")
    echo(f"{'-' * width}  {'-' * 8}  {'-' * 7}  ------")
    for r in ratios:
        value = "-" if r.value is None else f"{r.value:8.3g}"
        echo(f"{r.label.ljust(width)}  {value:>8}  {r.target():>7}  {r.verdict()}")
    for r in ratios:
        if r.error:
            echo(f"error: {r.label}: {r.error}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of: {', '.join(PARTS)}")
    ap.add_argument("--frameworks", default=",".join(FRAMEWORKS), help="frameworks to measure (installed ones)")
    ap.add_argument("--repeats", type=int, default=5, help="repeats behind each median")
    ap.add_argument("--item-repeats", type=int, default=1, help="repeats of the whole-item measurement (about 40 s each)")
    ap.add_argument("--item-frameworks", default="torch", help="frameworks whose whole item is measured, or 'all'")
    ap.add_argument("--memory-direct", action=argparse.BooleanOptionalAction, default=True,
                    help="also measure the direct call's memory, for comparison")
    ap.add_argument("--shape", default="2048x32000", help="rows x classes of the large trial")
    ap.add_argument("--growth", default="100,1000,10000", help="numbers of tiny trials; the first is the reference")
    ap.add_argument("--report-rows", type=int, default=20000)
    ap.add_argument("--cases", default=str(PROJECT_ROOT / "cases"), help="the suite for the suite ratio")
    ap.add_argument("--suite-shard", default="1/4", metavar="K/N",
                    help="run this shard of the suite for the suite ratio (1/1: all of it; default 1/4, split by cost)")
    ap.add_argument("--json", default=None, help="also write the ratios and the raw measurements here")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--oracle-pairs", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--framework", default="", help=argparse.SUPPRESS)
    ap.add_argument("--data", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--result", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return _worker_main(args)

    print(f"harness benchmark ({args.parts}): large trial {args.shape} float32 sparse softmax cross-entropy "
          f"(mean); medians of {args.repeats}; {os.cpu_count()} CPUs")
    busy0, own0, t0 = _busy_cpu_s(), _own_cpu_s(), time.monotonic()
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        ratios = bench.run()
    print_table(ratios)
    busy1 = _busy_cpu_s()
    if busy0 is not None and busy1 is not None:
        others = max(0.0, (busy1 - busy0) - (_own_cpu_s() - own0)) / ((time.monotonic() - t0) * (os.cpu_count() or 1))
        bench.raw["other_processes_cpu_share"] = others
        print(f"\nother processes used {others:.0%} of the machine's CPU time during the benchmark"
              + ("; ratios of times measured apart (suite) are the most affected" if others > 0.1 else ""))
    print("\ndefinitions of every ratio: python -m harness.bench --help")
    if args.json:
        Path(args.json).write_text(json.dumps({"ratios": [{"label": r.label, "value": r.value, "target": r.target(),
                                                           "result": r.verdict(), "error": r.error} for r in ratios],
                                               "raw": bench.raw}, indent=1))
    missed = [r for r in ratios if r.verdict() in ("MISS", "ERROR")]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
