"""The benchmark's parent process: runs each measurement's worker and turns the results into ratios against targets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.bench.workloads import PATH_NAMES, large_case, parse_shape, parse_sizes

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TARGETS = {  # measure -> (comparison, bound)
    "adapter": ("<=", 1.10),
    "oracle": ("<=", 1.5),
    "suite": ("<", 1.0),
    "growth": ("<=", 1.25),
    "report": ("<=", 5.0),
    "memory": ("<=", 3.0),
}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    return env


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
        self.shape = parse_shape(args.shape)

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
        inputs = materialize(Trial(large_case(self.shape), "float32"))
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
        sizes = parse_sizes(self.args.growth)
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

