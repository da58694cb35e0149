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
import sys
import tempfile
import time
from pathlib import Path

from harness.bench import workers
from harness.bench.bench import PROJECT_ROOT, Bench, print_table
from harness.bench.measure import busy_cpu_s, own_cpu_s
from harness.bench.workloads import FRAMEWORKS

PARTS = ("overhead", "oracle", "suite", "growth", "report", "memory")


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
        return workers.run(args)

    print(f"harness benchmark ({args.parts}): large trial {args.shape} float32 sparse softmax cross-entropy "
          f"(mean); medians of {args.repeats}; {os.cpu_count()} CPUs")
    busy0, own0, t0 = busy_cpu_s(), own_cpu_s(), time.monotonic()
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        ratios = bench.run()
    print_table(ratios)
    busy1 = busy_cpu_s()
    if busy0 is not None and busy1 is not None:
        others = max(0.0, (busy1 - busy0) - (own_cpu_s() - own0)) / ((time.monotonic() - t0) * (os.cpu_count() or 1))
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
