"""Device against device: a framework's result for one trial and API path on the CPU and on each GPU.

The oracle judges every row; this compares a framework with itself across devices, which is what
someone moving a model from a laptop to a GPU box asks: does the same call give the same numbers
there? The distance is in ULPs of the trial dtype at the CPU's value, over every stored element
(rows keep up to MAX_VALUES values); rows too large to store their values are compared at nothing
and say so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.core.dtypes import FLOAT_DTYPES, ulp_distance
from harness.results.rows import Row


@dataclass(frozen=True)
class DevicePair:
    case: str
    framework: str
    api: str
    dtype: str
    device: str  # the other device (a GPU)
    cpu_verdict: str
    device_verdict: str
    loss_ulp: float | None  # largest distance of the device's loss values from the CPU's, in ULPs of dtype
    grad_ulp: float | None
    cpu_grad_ulp: float | None  # each one's worst gradient error against the oracle (from the rows)
    device_grad_ulp: float | None
    cpu_row: str
    device_row: str

    @property
    def verdicts_differ(self) -> bool:
        return self.cpu_verdict != self.device_verdict

    @property
    def compared(self) -> bool:
        return self.loss_ulp is not None or self.grad_ulp is not None


def _distance(device_values: list[float] | None, cpu_values: list[float] | None, dtype: str) -> float | None:
    """Largest ULP distance (NaN where exactly one side is NaN, 0 where both are; Inf unless equal)."""
    if device_values is None or cpu_values is None or len(device_values) != len(cpu_values):
        return None
    if not device_values:
        return 0.0
    a = np.asarray(device_values, dtype=np.float64)
    b = np.asarray(cpu_values, dtype=np.float64)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    if same.all():
        return 0.0
    if (np.isnan(a) != np.isnan(b)).any():
        return float("nan")
    with np.errstate(invalid="ignore"):
        d = np.where(same, 0.0, ulp_distance(a, b, dtype if dtype in FLOAT_DTYPES else "float64"))
    return float(np.nanmax(d))


def pairs(rows: list[Row]) -> list[DevicePair]:
    """One pair per (case, framework, api, dtype) and non-CPU device that also has a CPU row."""
    cpu = {(r.case, r.framework, r.api, r.dtype): r for r in rows if r.device == "cpu"}
    out = []
    for r in rows:
        if r.device in ("cpu", "*", "") or r.framework == "oracle":
            continue
        c = cpu.get((r.case, r.framework, r.api, r.dtype))
        if c is None:
            continue
        out.append(DevicePair(
            case=r.case, framework=r.framework, api=r.api, dtype=r.dtype, device=r.device,
            cpu_verdict=c.verdict, device_verdict=r.verdict,
            loss_ulp=_distance(r.loss_values, c.loss_values, r.dtype),
            grad_ulp=_distance(r.grad_values, c.grad_values, r.dtype),
            cpu_grad_ulp=c.grad_ulp, device_grad_ulp=r.grad_ulp, cpu_row=c.row_id, device_row=r.row_id))
    return sorted(out, key=lambda p: (not p.verdicts_differ, -_key(p.grad_ulp), -_key(p.loss_ulp), p.case, p.framework,
                                      p.api, p.device, p.dtype))


def _key(v: float | None) -> float:
    if v is None:
        return -1.0
    return float("inf") if np.isnan(v) else v


def unseen_gpus(envs: list[dict]) -> list[str]:
    """Warnings for frameworks that see fewer GPUs than the machine has (nvidia-smi in the shard's
    environment): their rows are CPU rows only, which a framework without a GPU backend gives silently."""
    out = []
    for env in envs:
        if not isinstance(env, dict):
            continue
        machine_gpus = (env.get("harness") or {}).get("gpus") or []
        for name, fw in (env.get("frameworks") or {}).items():
            if not isinstance(fw, dict):
                continue
            seen = [d for d in fw.get("devices") or [] if str(d).startswith("cuda")]
            if len(machine_gpus) > len(seen):
                out.append(f"{name} sees {len(seen)} of the {len(machine_gpus)} GPU(s) nvidia-smi lists on this machine "
                           f"({', '.join(map(str, machine_gpus))}): its rows there ran on the CPU only; install its GPU build "
                           "to test the GPU")
    return sorted(set(out))
