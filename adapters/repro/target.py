"""What a reproducer reproduces (a Target: one trial on one framework path), and the numbers and arrays written as Python.

The framework modules beside this one turn a Target into the framework's part of a script (a `Code`), or
raise `NoScript` with the reason a path cannot be written as a standalone script. Nothing here imports a
framework: a script is text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from harness.schema import Case

MODES = ("tf.function", "xla", "eager")  # the `@mode` suffixes of api names (adapters/api.py ApiPath.variant)


class NoScript(Exception):
    """The row's path cannot be written as a standalone script; the message says why."""


def unknown_path(t: Target) -> NoScript:
    """A path the framework's module has no lines for: a user's own loss (a custom path), or one added to the adapter
    and not here (tests/test_repro.py runs a row of every built-in path)."""
    return NoScript(f"{t.api!r} is not a built-in {t.framework} path that a script can call (a user's own loss, from "
                    "harness.yaml or `harness check`, is the user's code: share that instead)")


@dataclass(frozen=True)
class Target:
    """One trial on one framework path, as a row records it."""

    framework: str
    api: str  # the row's api column, `@mode` suffix included
    device: str  # 'cpu', 'cuda:N'
    dtype: str
    case: Case
    precision: str = ""  # the row's precision column: "pinned: flag=value, ..." (harness/core/precision.py)
    order: str = ""  # the row's order column: a derivative beyond the gradient, "<order>:<method>"; "" for the gradient

    @property
    def path(self) -> str:
        """The api name without its execution mode."""
        name, _, mode = self.api.rpartition("@")
        return name if name and mode in MODES else self.api

    @property
    def mode(self) -> str:
        """The execution mode of the path: '' (the framework's default), 'tf.function', 'xla' or 'eager'."""
        name, _, mode = self.api.rpartition("@")
        return mode if name and mode in MODES else ""

    @property
    def mode_name(self) -> str:
        """The precision mode the run used: 'pinned' (also when the row does not say) or 'as-deployed'."""
        head = self.precision.split(":", 1)[0].strip() if ":" in self.precision else self.precision.strip()
        return head or "pinned"

    @property
    def flags(self) -> dict[str, str]:
        """The precision flags the row records, by name ('cuda.matmul.allow_tf32': 'False', ...)."""
        text = self.precision.split(":", 1)[1] if ":" in self.precision else ""
        return {m.group(1): m.group(2).strip() for m in re.finditer(r"([\w.]+)=(.*?)(?=, [\w.]+=|$)", text)}


@dataclass(frozen=True)
class Code:
    """A framework's part of a script."""

    prelude: list[str]  # environment, imports and precision settings, at the top of the script
    body: list[str]  # the body of `observe()`: from the numpy inputs to (loss, grad) as float64 numpy (grad may be None)
    requires: str  # what the script imports besides numpy, for its docstring ("torch", "jax and optax", ...)
    version: str  # a Python expression of the framework's version, in the form of the row's framework_version


def num(v: float, dtype: str = "float64") -> str:
    """A float as Python text that reads back (through float64, then the dtype) as exactly the same value: the
    shortest text in the dtype where that holds, else the float64 repr; nan, inf and -inf by name."""
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if dtype in ("float32", "float16"):
        kind = np.float32 if dtype == "float32" else np.float16
        short = str(kind(v))
        back = float(np.array(float(short), dtype=kind))
        if back == v and math.copysign(1, back) == math.copysign(1, v):
            return short
    return repr(v)


def python(v) -> str:
    """A parameter value (number, tuple of numbers, string, bool, None) as Python text."""
    if isinstance(v, float):
        return num(v)
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(python(x) for x in v) + "]"
    return repr(v)


def nested(a: np.ndarray, dtype: str, indent: int = 0) -> str:
    """An array's values as nested Python lists, one innermost row per line (continued `indent` + depth columns in)."""
    a = np.asarray(a)
    item = (lambda x: str(int(x))) if a.dtype.kind in "iub" else (lambda x: num(float(x), dtype))
    if a.ndim == 0:
        return item(a)

    def rows(x: np.ndarray, depth: int) -> str:
        if x.ndim == 1:
            return "[" + ", ".join(item(v) for v in x) + "]"
        pad = " " * (indent + depth + 1)
        return "[" + (",\n" + pad).join(rows(s, depth + 1) for s in x) + "]"
    return rows(a, 0)


def literal(name: str, a: np.ndarray, dtype: str, numpy_dtype: str) -> str:
    """`name = np.array(<values>, dtype=np.<numpy_dtype>)` for an array of the trial (or label) dtype."""
    head = f"{name} = np.array("
    return f"{head}{nested(a, dtype, len(head))}, dtype=np.{numpy_dtype})"


def indent(lines: list[str], by: int = 4) -> list[str]:
    """Lines indented by `by` spaces (empty ones left empty)."""
    return [" " * by + line if line else "" for line in lines]


def device_index(device: str) -> int:
    return 0 if device == "cpu" else int(device.split(":")[1])


def classes(case: Case) -> int:
    """The size of the class axis (the naive one-hot and optax's label smoothing take it from the tensor's shape)."""
    return int(case.predictions.shape[case.params.axis])
