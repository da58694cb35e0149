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

from harness.schema import Case
from harness.trials import Inputs


@dataclass
class Observation:
    dtype: str
    call: str = ""  # the call chain that ran, e.g. "torch.nn.functional.cross_entropy(reduction='mean')"
    device: str = ""  # the device that actually ran the computation
    loss: np.ndarray | None = None  # any float dtype (the framework's own); the judge upcasts
    grad: np.ndarray | None = None  # d(sum of loss)/d(logits), likewise
    error: str = ""  # "ExceptionType: message" when the framework raised
    traceback: str = ""
    # when it raised: the exception's classes, qualified, most derived first ("builtins.TypeError", ...),
    # and the frames it came through as "module:function", innermost last (see error_trace)
    error_types: tuple[str, ...] = ()
    error_frames: tuple[str, ...] = ()
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
    # (family, path name) pairs: the path of the same framework that computes another family the way this one
    # computes its own, for a relation's partner (harness/judge/relations.py) where the names do not say it
    partners: tuple[tuple[str, str], ...] = ()

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
    no_grad: str = ""  # set by a framework without autodiff: evaluate() returns grad None, and this says why
    # the derivatives beyond the gradient (harness/schema/orders.py) and the ways the framework's users compute each,
    # e.g. {"hvp": ("rev-rev", "fwd-rev")}: one row per way; `evaluate_order` computes them
    order_methods: dict[str, tuple[str, ...]] = {}

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

    def evaluate_order(self, path: ApiPath, case: Case, inputs: Inputs, dtype: str, device: str, order: str,
                       method: str, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, str, str]:
        """One derivative order of the path by one method, along the direction v (already in the trial dtype):
        (loss, the order's value, call chain, actual device)."""
        raise NotImplementedError

    def order_refusal(self, path: ApiPath, case: Case, order: str, method: str) -> str | None:
        """Why the path cannot compute the order (a path without autodiff, a building block), or None."""
        return self.no_grad or None

    # -- what a user's own loss (adapters/custom.py) needs of the framework's tensors; the defaults are NumPy's
    # (and suit tensors with NumPy's methods, as torch's): a framework whose tensors differ overrides them
    def tensor_like(self, values: np.ndarray, like) -> Any:
        """Values already in the trial dtype as a tensor of the framework, on the device of `like` (the logits)."""
        return values

    def sum_or_mean(self, losses, reduction: str, chain: str) -> tuple[Any, str]:
        """Per-row losses summed or averaged ('sum', 'mean') as the framework's users do after calling a loss,
        and the call chain that says so."""
        return getattr(losses, reduction)(), f"{chain}.{reduction}()"

    # -- shared
    def run(self, path: ApiPath, case: Case, inputs: Inputs, dtype: str, device: str) -> Observation:
        reason = path.supports(case, dtype)
        if reason:
            return Observation(dtype=dtype, unsupported=reason, device=device)
        try:
            loss, grad, call, actual = self.evaluate(path, case, inputs, dtype, device)
        except Exception as e:  # noqa: BLE001 - a framework's exception is a result, not a harness failure
            msg = f"{type(e).__name__}: {str(e).strip()}"
            types, frames = error_trace(e)
            return Observation(
                dtype=dtype, device=device, error=_shorten(msg), traceback=traceback.format_exc(limit=8), call=path.name,
                error_types=types, error_frames=frames,
            )
        if grad is None and not self.no_grad:
            raise RuntimeError(f"{self.name} returned no gradient for {path.name} and declares no reason")
        return Observation(dtype=dtype, call=call, device=actual, loss=loss, grad=grad,
                           no_grad=self.no_grad if grad is None else "")


def run_order(adapter: Adapter, path: ApiPath, case: Case, inputs: Inputs, dtype: str, device: str, order: str,
              method: str, v: np.ndarray) -> Observation:
    """`Adapter.run` for a derivative order: the path's limits, then the order; a framework's exception (an order
    it does not implement: "derivative ... is not implemented") is a result."""
    reason = path.supports(case, dtype) or adapter.order_refusal(path, case, order, method)
    if reason:
        return Observation(dtype=dtype, unsupported=reason, device=device)
    try:
        loss, value, call, actual = adapter.evaluate_order(path, case, inputs, dtype, device, order, method, v)
    except Exception as e:  # noqa: BLE001 - a framework's exception is a result, not a harness failure
        types, frames = error_trace(e)
        return Observation(dtype=dtype, device=device, error=_shorten(f"{type(e).__name__}: {str(e).strip()}"),
                           traceback=traceback.format_exc(limit=8), call=f"{order}:{method} of {path.name}",
                           error_types=types, error_frames=frames)
    if value is None:
        return Observation(dtype=dtype, device=device, call=call, loss=loss, error=(
            f"NoGradient: {path.name} returned no {order} (the framework's autodiff found no dependence on the "
            f"{'labels' if order in ('label_grad', 'mixed') else 'input'})"))
    return Observation(dtype=dtype, call=call, device=actual, loss=loss, grad=value)


def error_trace(e: BaseException, keep: int = 64) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Where an exception came from, for the judge to tell a framework's refusal of invalid input from a bug:
    its classes (qualified names, most derived first, up to Exception) and the frames it passed through as
    "module:function", outermost first, innermost last (the last `keep`). A framework that catches an
    exception and raises it again as the same class (TensorFlow's autograph in tf.function, JAX's tracers)
    leaves the original as __context__ or __cause__, whose traceback holds the inner frames the copy's
    lacks (TensorFlow filters its own frames out): those follow. Module names, not file paths: the frames of
    code that autograph rewrote keep the module of the function it was rewritten from."""
    types = tuple(f"{k.__module__}.{k.__qualname__}" for k in type(e).__mro__
                  if issubclass(k, Exception) and k is not Exception)
    frames: list[str] = []
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        tb = cur.__traceback__
        while tb is not None:
            f = tb.tb_frame
            frames.append(f"{f.f_globals.get('__name__', '?')}:{f.f_code.co_name}")
            tb = tb.tb_next
        inner = cur.__cause__ or cur.__context__
        cur = inner if inner is not None and type(inner) is type(cur) else None
    return types, tuple(frames[-keep:])


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
