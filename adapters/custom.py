"""Custom loss paths: a user's own callable, run as one more API path of a framework, beside its built-in ones.

A custom path is named by a `Spec`: the callable ("module:attr"), the family it claims to implement
and the frameworks whose tensors it takes. Specs travel to the framework processes in the
environment variable HARNESS_CUSTOM_PATHS (JSON), and `attach()` (called by `adapters.load`) adds
them to the adapter's paths there, so the pytest plugin, the runner, the judge and the report treat
them as any other path. The callable is called as

    fn(logits, labels, **options)          # or fn(y_true, y_pred, ...) when so named (Keras' order)

with the framework's own tensors, and with those of the case's options (`reduction`, `class_weights`,
`sample_weights`, `label_smoothing`, `ignore_index`, `axis`, `pos_weight`, ...) that it declares as
parameters of its signature. A case that sets an option the callable does not declare is
`unsupported` for it, with that reason. `reduction` is passed to a callable that declares it (a
`Literal[...]` annotation narrows the values it accepts). A callable without it returns one loss
per row, which the path sums or averages the way a user does after calling it
(`tf.reduce_mean(loss(...))`, recorded in the call chain), so that `weighted_mean` is unsupported;
or, with `returns`, it returns their sum or mean itself. The gradient comes from the framework's autodiff.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import sys
import typing
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from adapters.api import Adapter, ApiPath, Call
from harness.core import settings
from harness.core.dtypes import cast
from harness.schema import FAMILIES, REDUCTIONS, Params

ENV = settings.CUSTOM_PATHS  # JSON list of Spec dicts
BESIDE = ("all", "fused", "none")  # which built-in paths stay beside the custom ones (settings.CUSTOM_BESIDE)
RETURNS = ("none", "sum", "mean")
OPTIONS = tuple(f.name for f in fields(Params))  # every case option, the reduction included
TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
KERAS_ORDER = ("y_true", "y_pred")


class SpecError(ValueError):
    """A custom path that cannot be run as written (bad target, family, framework or `returns`)."""


@dataclass(frozen=True)
class Spec:
    target: str  # "package.module:callable"
    family: str  # the family the callable claims to implement
    frameworks: tuple[str, ...]  # whose tensors it takes
    returns: str = "none"  # what it returns when it has no `reduction` parameter: none (per row), sum or mean
    name: str = ""  # the api name in the report; default "custom:<target>"
    path: str = ""  # the folder to import the module from (put first on sys.path in the framework process)

    @property
    def api(self) -> str:
        return self.name or f"custom:{self.target}"

    def problems(self, known_frameworks=None) -> list[str]:
        out = []
        if not TARGET.match(self.target):
            out.append(f"callable: expected 'module:function' (e.g. my_pkg.losses:clipped_ce), got {self.target!r}")
        if self.family not in FAMILIES:
            out.append(f"family: unknown family {self.family!r}; known: {', '.join(FAMILIES)}")
        if not self.frameworks:
            out.append("framework: name the framework whose tensors the callable takes")
        for f in self.frameworks:
            if known_frameworks is not None and f not in known_frameworks:
                out.append(f"framework: unknown framework {f!r}; known: {', '.join(known_frameworks)}")
        if self.returns not in RETURNS:
            out.append(f"returns: expected one of {', '.join(RETURNS)}, got {self.returns!r}")
        if any(c in self.api for c in "[] ,"):
            out.append(f"name: {self.api!r} may not contain spaces, commas or brackets (it is part of each row id)")
        return [f"{self.target}: {p}" for p in out]


def encode(specs: list[Spec]) -> str:
    return json.dumps([asdict(s) for s in specs])


def from_env(environ=None) -> list[Spec]:
    text = settings.custom_paths(environ)
    if not text:
        return []
    return [Spec(target=d["target"], family=d["family"], frameworks=tuple(d["frameworks"]),
                 returns=d.get("returns", "none"), name=d.get("name", ""), path=d.get("path", "")) for d in json.loads(text)]


# --------------------------------------------------------------------------- in the framework process


def attach(adapter: Adapter) -> Adapter:
    """The adapter with the custom paths claimed for its framework added to its paths.

    With HARNESS_CUSTOM_BESIDE=fused only the built-in paths of the claimed families that are not
    naive stay (the `check` command's default); with `none`, only the custom paths.
    """
    specs = [s for s in from_env() if adapter.name in s.frameworks]
    beside = settings.custom_beside()
    if not specs and beside == "all":
        return adapter
    builtin = adapter.paths()
    families = {s.family for s in specs}
    if beside == "fused":
        builtin = [p for p in builtin if p.families & families and not p.name.startswith("naive:")]
    elif beside == "none":
        builtin = []
    paths = [*builtin, *(custom_path(s, adapter) for s in specs)]
    adapter.paths = lambda: paths  # the instance's own list shadows the class's method
    return adapter


def _import_first_from(folder: str, top: str) -> None:
    """Put the folder first on sys.path, so that a user's `tests.losses` is not looked for in another
    `tests` package (this project's own, which the framework processes have on their path)."""
    if folder in sys.path:
        sys.path.remove(folder)
    sys.path.insert(0, folder)
    loaded = sys.modules.get(top)
    where = [*getattr(loaded, "__path__", []), getattr(loaded, "__file__", None) or ""]
    if loaded is not None and not any(str(w).startswith(os.path.join(folder, "")) for w in where):
        for name in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
            del sys.modules[name]


def resolve(target: str):
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"{target} is not callable")
    return obj


@dataclass(frozen=True)
class Declared:
    """What a callable's signature says it accepts."""

    first: tuple[str, str]  # names of its two tensor parameters
    keras_order: bool  # (y_true, y_pred): labels first
    options: frozenset[str]  # case options it takes as keyword parameters
    reductions: tuple[str, ...]  # the values of `reduction` it accepts (all, unless narrowed by Literal[...])


def declared(fn) -> Declared:
    try:
        sig = inspect.signature(fn, eval_str=True)
    except (NameError, TypeError, SyntaxError):
        sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) < 2 and not any(p.kind == p.VAR_POSITIONAL for p in params):
        raise TypeError(f"a custom loss takes (logits, labels, **options); its signature is {sig}")
    first = tuple(p.name for p in positional[:2]) if len(positional) >= 2 else ("logits", "labels")
    named = {p.name: p for p in params[2:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    options = frozenset(n for n in named if n in OPTIONS)
    reductions: tuple[str, ...] = REDUCTIONS
    if "reduction" in named:
        ann = named["reduction"].annotation
        if typing.get_origin(ann) is typing.Literal:
            reductions = tuple(r for r in REDUCTIONS if r in typing.get_args(ann))
    return Declared(first=first, keras_order=first == KERAS_ORDER, options=options, reductions=reductions)


_RETURNS_TEXT = {"none": "one loss per row", "sum": "the sum of the losses", "mean": "the mean of the losses"}


def custom_path(spec: Spec, adapter: Adapter | None = None) -> ApiPath:
    """An ApiPath that calls the user's callable with the adapter's tensors; the adapter also turns the case's
    per-class values into its tensors and sums or averages per-row losses (`Adapter.tensor_like`,
    `Adapter.sum_or_mean`; without one, NumPy's way). A callable that cannot be imported gives `error` rows
    (with the import error), not a crashed process or a silently missing path."""
    tensors = adapter if adapter is not None else Adapter()
    try:
        if spec.path:
            _import_first_from(spec.path, spec.target.partition(":")[0].split(".")[0])
        fn = resolve(spec.target)
        decl = declared(fn)
        problem = ""
    except Exception as e:  # noqa: BLE001 - the user's module failing to import is a result to show
        fn, decl, problem = None, Declared(("logits", "labels"), False, frozenset(OPTIONS), REDUCTIONS), f"{type(e).__name__}: {e}"

    def call(c: Call):
        if problem:
            raise ImportError(f"cannot load {spec.target}: {problem}")
        kw = _options(c, decl, tensors)
        shown = ", ".join(f"{k}={_show(v)}" for k, v in kw.items())
        a, b = (c.labels, c.logits) if decl.keras_order else (c.logits, c.labels)
        out = fn(a, b, **kw)
        chain = f"{spec.target}({decl.first[0]}, {decl.first[1]}{', ' + shown if shown else ''})"
        red = c.params.reduction
        if "reduction" not in decl.options and spec.returns == "none" and red != "none":
            return tensors.sum_or_mean(out, red, chain)
        return out, chain

    def check(case, dtype: str) -> str | None:
        if problem:
            return None  # run it, so the row shows the import error
        red = case.params.reduction
        if "reduction" not in decl.options:
            can = ("none", "sum", "mean") if spec.returns == "none" else (spec.returns,)
            if red not in can:
                return (f"{spec.target} takes no reduction parameter and returns {_RETURNS_TEXT[spec.returns]}; "
                        f"the case asks for reduction={red!r}")
        elif red not in decl.reductions:
            return f"{spec.target} declares reduction: Literal[{', '.join(map(repr, decl.reductions))}]; the case asks for {red!r}"
        extra = sorted(set(case.params.non_default()) - decl.options)
        if extra:
            has = ", ".join(sorted(decl.options)) or "none"
            return f"{spec.target} does not accept {', '.join(extra)} (the options it declares: {has})"
        return None

    return ApiPath(spec.api, frozenset({spec.family}), call, options=frozenset(OPTIONS),
                   reductions=frozenset(REDUCTIONS) | {spec.returns}, check=check,
                   doc=f"the user's {spec.target}, claimed to implement {spec.family}")


def _options(c: Call, decl: Declared, tensors: Adapter) -> dict[str, Any]:
    """The keyword arguments of one call: `reduction` when declared, and the options the case sets."""
    kw: dict[str, Any] = {}
    if "reduction" in decl.options:
        kw["reduction"] = c.params.reduction
    for name, value in c.params.non_default().items():
        if name not in decl.options:
            continue
        if name == "class_weights" and c.class_weights is not None:
            kw[name] = c.class_weights
        elif name == "sample_weights" and c.sample_weights is not None:
            kw[name] = c.sample_weights
        elif isinstance(value, tuple):  # weights and per-class values: a tensor in the trial dtype
            # float64 values rounded to the dtype of the logits (once, as the oracle's inputs are)
            kw[name] = tensors.tensor_like(cast(np.asarray(value, dtype=np.float64), _dtype_name(c.logits)), c.logits)
        else:
            kw[name] = value
    return kw


def _dtype_name(x) -> str:
    d = x.dtype
    return str(getattr(d, "name", d)).rsplit(".", 1)[-1]


def _show(v: Any) -> str:
    if isinstance(v, (str, int, float, type(None))):
        return repr(v)
    return "<tensor>"
