"""Named, seeded input generators: the only way a case file makes arrays without writing them out.

Generators are looked up by name in a fixed table; nothing in a case file is evaluated. Each
one declares its parameters, so a case is validated (and its shape known) before any array is
allocated. Values are produced in float64 (or int64 for sparse labels) and cast to the trial
dtype afterwards, so every framework and the oracle see the same rounded inputs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# Refuse shapes beyond this many elements per input before allocating anything
# (2**27 float64 elements = 1 GiB). `harness run --max-elements` overrides it.
DEFAULT_MAX_ELEMENTS = 2**27
# `harness run` hands its budget to the framework processes through the environment.
_max_elements = int(os.environ.get("HARNESS_MAX_ELEMENTS", DEFAULT_MAX_ELEMENTS))


def set_max_elements(n: int) -> None:
    global _max_elements
    _max_elements = int(n)
    os.environ["HARNESS_MAX_ELEMENTS"] = str(_max_elements)  # inherited by the framework processes


def max_elements() -> int:
    """The memory budget in elements per input (also what relations may build from a case's inputs)."""
    return _max_elements


class GeneratorError(ValueError):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Param:
    kind: str  # "int", "number", "shape"
    required: bool = False
    default: Any = None
    doc: str = ""


@dataclass(frozen=True)
class Generator:
    name: str
    kind: str  # "logits", "sparse" (integer labels), "dense" (float labels)
    doc: str
    params: dict[str, Param]
    fn: Callable[..., np.ndarray]
    shape_of: Callable[[dict[str, Any]], tuple[int, ...]] | None = None  # logits generators without 'shape'


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _normal(shape, seed, scale=1.0, loc=0.0, **_):
    return loc + scale * _rng(seed).standard_normal(shape)


def _uniform(shape, seed, low=-1.0, high=1.0, **_):
    return _rng(seed).uniform(low, high, size=shape)


def _full(shape, value, **_):
    return np.full(shape, float(value))


def _grid2d(n, low=-4.0, high=4.0, **_):
    """An n x n grid over the two-class logit plane, one row per point, z1 varying fastest."""
    z = np.linspace(low, high, n)
    z1, z2 = np.meshgrid(z, z)  # z1 varies along the last axis, so row-major order has z1 fastest
    return np.stack([z1.reshape(-1), z2.reshape(-1)], axis=-1)


def _constant_label(logits_shape, value, axis=-1, **_):
    ax = _class_axis(logits_shape, axis)
    batch = tuple(s for i, s in enumerate(logits_shape) if i != ax)
    return np.full(batch, int(value), dtype=np.int64)


def _class_axis(logits_shape, axis):
    return axis % len(logits_shape)


def _randint(logits_shape, seed, axis=-1, **_):
    ax = _class_axis(logits_shape, axis)
    classes = logits_shape[ax]
    batch = tuple(s for i, s in enumerate(logits_shape) if i != ax)
    return _rng(seed).integers(0, classes, size=batch, dtype=np.int64)


def _one_hot(logits_shape, seed, axis=-1, **_):
    ax = _class_axis(logits_shape, axis)
    idx = _randint(logits_shape, seed, axis)
    out = np.moveaxis(np.eye(logits_shape[ax])[idx], -1, ax)
    return np.ascontiguousarray(out)


def _soft(logits_shape, seed, axis=-1, concentration=1.0, **_):
    ax = _class_axis(logits_shape, axis)
    classes = logits_shape[ax]
    batch = tuple(s for i, s in enumerate(logits_shape) if i != ax)
    out = _rng(seed).dirichlet(np.full(classes, float(concentration)), size=batch)
    return np.ascontiguousarray(np.moveaxis(out, -1, ax))


def _softmax_normal(shape, seed, scale=1.0, axis=-1, **_):
    """Probabilities as a softmax layer outputs them: softmax (in float64) of normal logits at a scale.
    At large scales most of them round to exactly 0 or 1 in the trial dtype."""
    z = scale * _rng(seed).standard_normal(shape)
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _uniform_probabilities(shape, seed, low=0.0, high=1.0, **_):
    return _rng(seed).uniform(low, high, size=shape)


_SHAPE = Param("shape", required=True, doc="array shape, e.g. [64, 1000]")
_SEED = Param("int", required=True, doc="seed of numpy's default_rng")

TABLE: dict[str, Generator] = {
    g.name: g
    for g in (
        Generator("normal", "logits", "loc + scale * standard normal", {
            "shape": _SHAPE, "seed": _SEED,
            "scale": Param("number", default=1.0), "loc": Param("number", default=0.0)}, _normal),
        Generator("uniform", "logits", "uniform on [low, high)", {
            "shape": _SHAPE, "seed": _SEED,
            "low": Param("number", default=-1.0), "high": Param("number", default=1.0)}, _uniform),
        Generator("full", "logits", "every element equal to value (ties)", {
            "shape": _SHAPE, "value": Param("number", required=True)}, _full),
        Generator("grid2d", "logits", "n*n rows of two-class logits on a grid over [low, high]^2, z1 fastest", {
            "n": Param("int", required=True), "low": Param("number", default=-4.0),
            "high": Param("number", default=4.0)}, _grid2d, shape_of=lambda a: (a["n"] * a["n"], 2)),
        Generator("softmax_normal", "probabilities", "softmax over the last axis of scale * standard normal logits", {
            "shape": _SHAPE, "seed": _SEED, "scale": Param("number", default=1.0)}, _softmax_normal),
        Generator("uniform_probabilities", "probabilities", "independent probabilities uniform on [low, high) (rows need not sum to 1)", {
            "shape": _SHAPE, "seed": _SEED, "low": Param("number", default=0.0),
            "high": Param("number", default=1.0)}, _uniform_probabilities),
        Generator("constant", "sparse", "the same class index on every row", {
            "value": Param("int", required=True)}, _constant_label),
        Generator("randint", "sparse", "uniform random class indices, one per row", {
            "seed": _SEED}, _randint),
        Generator("one_hot", "dense", "one-hot rows of uniform random classes", {
            "seed": _SEED}, _one_hot),
        Generator("soft", "dense", "soft labels drawn from a symmetric Dirichlet", {
            "seed": _SEED, "concentration": Param("number", default=1.0)}, _soft),
    )
}


def names(kind: str) -> list[str]:
    return [g.name for g in TABLE.values() if g.kind == kind]


def validate(name: Any, args: dict[str, Any], kind: str, logits_shape: tuple[int, ...] | None, axis: int = -1) -> tuple[int, ...]:
    """Check a generator mapping and return the shape it will produce, allocating nothing."""
    if not isinstance(name, str) or name not in TABLE:
        raise GeneratorError(f"unknown generator {name!r}; for {kind}: {', '.join(names(kind))}", "generate")
    g = TABLE[name]
    if g.kind != kind:
        raise GeneratorError(f"generator {name!r} makes {g.kind} inputs, not {kind}; use one of: {', '.join(names(kind))}", "generate")
    for k, v in args.items():
        if k not in g.params:
            raise GeneratorError(f"unknown parameter for {name!r}; known: {', '.join(g.params)}", k)
        p = g.params[k]
        if p.kind == "int" and not (isinstance(v, int) and not isinstance(v, bool) and v >= 0):
            raise GeneratorError(f"expected an integer >= 0, got {v!r}", k)
        if p.kind == "number" and not (isinstance(v, (int, float)) and not isinstance(v, bool)):
            raise GeneratorError(f"expected a number, got {v!r}", k)
        if p.kind == "shape" and not (
            isinstance(v, list) and len(v) >= 2 and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in v)
        ):
            raise GeneratorError(f"expected a list of at least 2 non-negative integers, got {v!r}", k)
    for k, p in g.params.items():
        if p.required and k not in args:
            raise GeneratorError(f"generator {name!r} needs {k!r} ({p.doc})", k)
    if kind in ("logits", "probabilities"):
        shape = g.shape_of(args) if g.shape_of else tuple(args["shape"])
        if kind == "probabilities" and not 0 <= args.get("low", 0.0) <= args.get("high", 1.0) <= 1:
            raise GeneratorError("probabilities need 0 <= low <= high <= 1", "low")
    else:
        if logits_shape is None:
            raise GeneratorError("labels can be generated only when the logits are valid", "generate")
        if not -len(logits_shape) <= axis < len(logits_shape):
            raise GeneratorError(f"axis {axis} out of range for logits of shape {list(logits_shape)}", "generate")
        ax = axis % len(logits_shape)
        shape = logits_shape if kind == "dense" else tuple(s for i, s in enumerate(logits_shape) if i != ax)
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if n > _max_elements:
        raise GeneratorError(f"shape {list(shape)} has {n} elements, over the budget of {_max_elements}", "shape")
    return shape


def generate(name: str, args: dict[str, Any], logits_shape: tuple[int, ...] | None = None, axis: int = -1) -> np.ndarray:
    g = TABLE[name]
    kw = {k: p.default for k, p in g.params.items() if not p.required}
    kw.update(args)
    if g.kind in ("logits", "probabilities"):
        if "shape" in kw:
            kw["shape"] = tuple(kw["shape"])
        return np.asarray(g.fn(**kw), dtype=np.float64)
    return g.fn(logits_shape, axis=axis, **kw)
