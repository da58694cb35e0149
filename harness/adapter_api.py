"""The adapter interface: what a framework adapter declares, and what it hands back (an Observation).

An adapter lives in one framework's process. It receives numpy inputs already in the trial dtype,
calls public framework APIs the way a user would (one `ApiPath` per way of writing the loss),
takes the gradient with the framework's own autodiff, and returns numpy arrays in the framework's
output dtype (bfloat16 as ml_dtypes'). Nothing framework-specific leaves the adapter.
"""

from __future__ import annotations

import platform
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.oracle import Inputs
from harness.schema import Case


@dataclass
class Observation:
    dtype: str
    call: str = ""  # the call chain that ran, e.g. "torch.nn.functional.cross_entropy(reduction='mean')"
    device: str = ""  # the device that actually ran the computation
    loss: np.ndarray | None = None  # any float dtype (the framework's own); the judge upcasts
    grad: np.ndarray | None = None  # d(sum of loss)/d(logits), likewise
    error: str = ""  # "ExceptionType: message" when the framework raised
    traceback: str = ""
    unsupported: str = ""  # why the path cannot express the case
    no_grad: str = ""  # why there is no gradient (a framework without autodiff); only the loss is judged


@dataclass(frozen=True)
class ApiPath:
    """One way users write a loss with a framework.

    `fn(ctx)` receives a `Call` holding framework tensors and returns (loss tensor, call chain).
    What the path cannot express is declared here, so that it becomes `unsupported` with a reason.
    """

    name: str
    families: frozenset[str]
    fn: Callable[[Call], tuple[Any, str]]
    options: frozenset[str] = frozenset()  # non-default params it can express
    reductions: frozenset[str] = frozenset({"none", "sum", "mean"})
    dtypes: dict[str, str] = field(default_factory=dict)  # dtype -> reason it is unsupported
    check: Callable[[Case, str], str | None] | None = None  # further limits of the path: a reason, or None
    mode: str = ""  # how the adapter executes it: "" (eager), or a framework's compiled mode ("tf.function", "xla", "jit")
    doc: str = ""

    def variant(self, mode: str) -> ApiPath:
        """The same path run in another execution mode, named `<name>@<mode>`."""
        from dataclasses import replace

        return replace(self, name=f"{self.name}@{mode}", mode=mode)

    def supports(self, case: Case, dtype: str) -> str | None:
        """None when the path can express the trial, else the reason it cannot."""
        if case.family not in self.families:
            return f"{self.name} does not implement {case.family}"
        if case.params.reduction not in self.reductions:
            return f"{self.name} has no reduction {case.params.reduction!r} (has: {', '.join(sorted(self.reductions))})"
        extra = set(case.params.non_default()) - set(self.options)
        if extra:
            return f"{self.name} cannot express {', '.join(sorted(extra))}"
        if dtype in self.dtypes:
            return self.dtypes[dtype]
        return self.check(case, dtype) if self.check else None


@dataclass
class Call:
    """What a path function receives: framework tensors plus the case's options."""

    logits: Any
    labels: Any
    case: Case
    class_weights: Any = None
    sample_weights: Any = None

    @property
    def params(self):
        return self.case.params


class Adapter:
    """Base class of framework adapters. Subclasses implement the hooks below."""

    name: str = ""
    module: str = ""  # the import that must succeed for this framework to be 'installed'
    no_grad: str = ""  # set by a framework without autodiff: evaluate() returns grad None, and this says why

    def version(self) -> str:
        raise NotImplementedError

    def devices(self) -> list[str]:
        """Every device the framework sees, as 'cpu' or 'cuda:N'."""
        raise NotImplementedError

    def paths(self) -> list[ApiPath]:
        raise NotImplementedError

    def environment(self) -> dict[str, Any]:
        """Versions, devices and pinned precision flags, for the report header."""
        return {
            "framework": self.name,
            "version": self.version(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "machine": platform.machine(),
            "devices": self.devices(),
            **machine(),
        }

    # -- the hooks a framework implements
    def evaluate(self, path: ApiPath, case: Case, inputs: Inputs, dtype: str, device: str) -> tuple[np.ndarray, np.ndarray, str, str]:
        """Run the path with autodiff; return (loss, grad, call chain, actual device); grad is None only
        in a framework that declares `no_grad`."""
        raise NotImplementedError

    # -- shared
    def run(self, path: ApiPath, case: Case, inputs: Inputs, dtype: str, device: str) -> Observation:
        reason = path.supports(case, dtype)
        if reason:
            return Observation(dtype=dtype, unsupported=reason, device=device)
        try:
            loss, grad, call, actual = self.evaluate(path, case, inputs, dtype, device)
        except Exception as e:  # noqa: BLE001 - a framework's exception is a result, not a harness failure
            msg = f"{type(e).__name__}: {str(e).strip()}"
            return Observation(
                dtype=dtype, device=device, error=_shorten(msg), traceback=traceback.format_exc(limit=8), call=path.name
            )
        if grad is None and not self.no_grad:
            raise RuntimeError(f"{self.name} returned no gradient for {path.name} and declares no reason")
        return Observation(dtype=dtype, call=call, device=actual, loss=loss, grad=grad,
                           no_grad=self.no_grad if grad is None else "")


def machine() -> dict[str, Any]:
    """The CPU model and, where nvidia-smi answers, each GPU's name and the driver version."""
    import subprocess

    out: dict[str, Any] = {"cpu": platform.processor() or platform.machine()}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    out["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        r = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                           capture_output=True, text=True, timeout=10)
        gpus = [ln.split(",") for ln in r.stdout.strip().splitlines() if "," in ln]
        if gpus:
            out["gpus"] = [g[0].strip() for g in gpus]
            out["driver"] = gpus[0][1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def _shorten(msg: str, limit: int = 600) -> str:
    msg = " ".join(msg.split())
    return msg if len(msg) <= limit else msg[: limit - 3] + "..."
