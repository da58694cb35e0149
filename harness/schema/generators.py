"""Named, seeded input generators: the only way a case file makes arrays without writing them out.

Generators are looked up by name in a fixed table; nothing in a case file is evaluated. Each
one declares its parameters, so a case is validated (and its shape known) before any array is
allocated. Values are produced in float64 (or int64 for sparse labels) and cast to the trial
dtype afterwards, so every framework and the oracle see the same rounded inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.core import settings
from harness.core.yamlfile import did_you_mean
from harness.schema.logprob_generators import log_soft, log_softmax_normal

# Refuse shapes beyond this many elements per input before allocating anything
# (2**27 float64 elements = 1 GiB). `harness run --max-elements` overrides it.
DEFAULT_MAX_ELEMENTS = 2**27
# `harness run` hands its budget to the framework processes through the environment.
_max_elements = settings.max_elements(DEFAULT_MAX_ELEMENTS)


def set_max_elements(n: int) -> None:
    global _max_elements
    _max_elements = int(n)
    settings.set_max_elements(_max_elements)  # inherited by the framework processes


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


def _randint(logits_shape, seed, axis=-1, avoid=(), on_masked=False, **_):
    ax = _class_axis(logits_shape, axis)
    classes = logits_shape[ax]
    batch = tuple(s for i, s in enumerate(logits_shape) if i != ax)
    if avoid and not on_masked:  # only classes the logits do not mask
        allowed = _allowed(classes, avoid)
        return allowed[_rng(seed).integers(0, len(allowed), size=batch, dtype=np.int64)]
    return _rng(seed).integers(0, classes, size=batch, dtype=np.int64)


def _one_hot(logits_shape, seed, axis=-1, avoid=(), on_masked=False, **_):
    ax = _class_axis(logits_shape, axis)
    idx = _randint(logits_shape, seed, axis, avoid, on_masked)
    out = np.moveaxis(np.eye(logits_shape[ax])[idx], -1, ax)
    return np.ascontiguousarray(out)


def _soft(logits_shape, seed, axis=-1, concentration=1.0, avoid=(), on_masked=False, **_):
    ax = _class_axis(logits_shape, axis)
    classes = logits_shape[ax]
    batch = tuple(s for i, s in enumerate(logits_shape) if i != ax)
    if avoid and not on_masked:  # no mass on the classes the logits mask
        allowed = _allowed(classes, avoid)
        out = np.zeros((*batch, classes))
        out[..., allowed] = _rng(seed).dirichlet(np.full(len(allowed), float(concentration)), size=batch)
    else:
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


# --- masked classes and imbalance
#
# masked        normal logits with a chosen set of classes at -inf (a hard mask) or at a large finite
#               negative (a soft mask, e.g. -1e9 or float32's min, as attention code writes it)
# imbalanced    integer labels whose class frequencies fall geometrically from class 0 to the last allowed
#               class: p_c proportional to ratio^(-k / (K - 1)) for the k-th of K allowed classes, so the most
#               frequent class is `ratio` times more likely than the rarest (up to 1000:1 and beyond)
# imbalanced_weights  class weights w_c = ratio^(c / (C - 1)): 1 on class 0 up to `ratio` on the last one, the
#               inverse-frequency weighting of `imbalanced` labels with the same ratio
#
# A label generator never draws a class that the case's `masked` logits mask (its loss would be +inf),
# unless it is asked to with `on_masked: true`; `constant` labels go wherever they are told.


def _masked(shape, seed, classes, scale=1.0, value=-np.inf, axis=-1, **_):
    x = scale * _rng(seed).standard_normal(shape)
    idx = [slice(None)] * len(shape)
    idx[axis % len(shape)] = list(classes)
    x[tuple(idx)] = float(value)
    return x


def _allowed(classes: int, avoid) -> np.ndarray:
    return np.array([c for c in range(classes) if c not in set(avoid or ())], dtype=np.int64)


def _batch(logits_shape, axis):
    ax = _class_axis(logits_shape, axis)
    return ax, logits_shape[ax], tuple(s for i, s in enumerate(logits_shape) if i != ax)


def _imbalanced(logits_shape, seed, ratio=1000.0, axis=-1, avoid=(), on_masked=False, **_):
    _, classes, batch = _batch(logits_shape, axis)
    allowed = _allowed(classes, () if on_masked else avoid)
    k = len(allowed)
    p = float(ratio) ** (-np.arange(k) / max(k - 1, 1))
    return _rng(seed).choice(allowed, size=batch, p=p / p.sum()).astype(np.int64)


def _imbalanced_one_hot(logits_shape, seed, ratio=1000.0, axis=-1, avoid=(), on_masked=False, **_):
    ax, classes, _ = _batch(logits_shape, axis)
    idx = _imbalanced(logits_shape, seed, ratio, axis, avoid, on_masked)
    return np.ascontiguousarray(np.moveaxis(np.eye(classes)[idx], -1, ax))


def imbalanced_weights(classes: int, ratio: float) -> tuple[float, ...]:
    """Class weights from 1 (class 0) up to `ratio` (the last class), geometrically: see `imbalanced`."""
    return tuple(float(ratio) ** (c / max(classes - 1, 1)) for c in range(classes))


WEIGHT_GENERATORS = {"imbalanced_weights": "class weights 1 .. ratio, geometric over the classes (inverse frequency "
                                           "of `imbalanced` labels); arguments: ratio (a number >= 1)"}


def class_weights(name: Any, args: dict[str, Any], classes: int) -> tuple[float, ...]:
    """Class weights from a generator mapping in a case's params (`{generate: imbalanced_weights, ratio: 1000}`)."""
    if name not in WEIGHT_GENERATORS:
        raise GeneratorError(f"unknown weights generator {name!r}; {_hint(name, WEIGHT_GENERATORS)}", "generate")
    extra = set(args) - {"ratio"}
    if extra:
        raise GeneratorError(f"unknown parameter for {name!r}; {_hint(sorted(extra)[0], ['ratio'])}", sorted(extra)[0])
    ratio = args.get("ratio")
    if not (isinstance(ratio, (int, float)) and not isinstance(ratio, bool) and 1 <= ratio < float("inf")):
        raise GeneratorError(f"expected a finite number >= 1, got {ratio!r}", "ratio")
    return imbalanced_weights(classes, ratio)


def masked_classes(spec: Any) -> tuple[int, ...]:
    """The classes a case's generated logits mask (none for other logits)."""
    if getattr(spec, "name", None) in ("masked", "log_softmax_normal"):
        return tuple(spec.args.get("classes", ()))
    return ()


_SHAPE = Param("shape", required=True, doc="array shape, e.g. [64, 1000]")
_SEED = Param("int", required=True, doc="seed of numpy's default_rng")
_ON_MASKED = Param("bool", default=False, doc="draw labels on masked classes too (their loss is +inf)")
_RATIO = Param("ratio", default=1000.0, doc="frequency of the most common class over the rarest (>= 1)")

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
        Generator("log_softmax_normal", "log_probabilities", "log_softmax over the last axis of scale * standard "
                  "normal logits, the listed classes at -inf", {"shape": _SHAPE, "seed": _SEED, "scale": Param(
                      "number", default=1.0), "classes": Param("int_list", doc="masked classes")}, log_softmax_normal),
        Generator("log_soft", "dense", "log of `soft` labels (-inf on masked classes): log-targets", {
            "seed": _SEED, "concentration": Param("number", default=1.0), "on_masked": _ON_MASKED}, log_soft),
        Generator("constant", "sparse", "the same class index on every row", {
            "value": Param("int", required=True)}, _constant_label),
        Generator("randint", "sparse", "uniform random class indices, one per row (never a masked class)", {
            "seed": _SEED, "on_masked": _ON_MASKED}, _randint),
        Generator("one_hot", "dense", "one-hot rows of uniform random classes (never a masked class)", {
            "seed": _SEED, "on_masked": _ON_MASKED}, _one_hot),
        Generator("soft", "dense", "soft labels drawn from a symmetric Dirichlet (no mass on masked classes)", {
            "seed": _SEED, "concentration": Param("number", default=1.0), "on_masked": _ON_MASKED}, _soft),
        Generator("masked", "logits", "scale * standard normal, with the listed classes (on axis) set to value: "
                  "-inf (default) or a large finite negative", {
            "shape": _SHAPE, "seed": _SEED, "classes": Param("int_list", required=True, doc="the masked class indices"),
            "scale": Param("number", default=1.0), "value": Param("number", default=-np.inf),
            "axis": Param("axis", default=-1, doc="the class axis (the case's params.axis)")}, _masked),
        Generator("imbalanced", "sparse", "class indices with frequencies falling geometrically from class 0: the "
                  "most frequent is `ratio` times the rarest (never a masked class)", {
            "seed": _SEED, "ratio": _RATIO, "on_masked": _ON_MASKED}, _imbalanced),
        Generator("imbalanced_one_hot", "dense", "one-hot rows of `imbalanced` classes", {
            "seed": _SEED, "ratio": _RATIO, "on_masked": _ON_MASKED}, _imbalanced_one_hot),
    )
}


def names(kind: str) -> list[str]:
    return [g.name for g in TABLE.values() if g.kind == kind]


def _hint(word: Any, known, label: str = "known") -> str:
    """"did you mean 'x'? known: a, b" (the suggestion only when one is close)."""
    known = list(known)
    close = did_you_mean(word, known)
    return (close + " " if close else "") + f"{label}: {', '.join(known)}"


def validate(name: Any, args: dict[str, Any], kind: str, logits_shape: tuple[int, ...] | None, axis: int = -1) -> tuple[int, ...]:
    """Check a generator mapping and return the shape it will produce, allocating nothing."""
    if not isinstance(name, str) or name not in TABLE:
        raise GeneratorError(f"unknown generator {name!r}; {_hint(name, names(kind), f'for {kind}')}", "generate")
    g = TABLE[name]
    if g.kind != kind:
        raise GeneratorError(f"generator {name!r} makes {g.kind} inputs, not {kind}; use one of: {', '.join(names(kind))}", "generate")
    for k, v in args.items():
        if k not in g.params:
            raise GeneratorError(f"unknown parameter for {name!r}; {_hint(k, g.params)}", k)
        p = g.params[k]
        if p.kind == "int" and not (isinstance(v, int) and not isinstance(v, bool) and v >= 0):
            raise GeneratorError(f"expected an integer >= 0, got {v!r}", k)
        if p.kind == "number" and not (isinstance(v, (int, float)) and not isinstance(v, bool)):
            raise GeneratorError(f"expected a number, got {v!r}", k)
        if p.kind == "shape" and not (
            isinstance(v, list) and len(v) >= 2 and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in v)
        ):
            raise GeneratorError(f"expected a list of at least 2 non-negative integers, got {v!r}", k)
        if p.kind == "bool" and not isinstance(v, bool):
            raise GeneratorError(f"expected true or false, got {v!r}", k)
        if p.kind == "axis" and not (isinstance(v, int) and not isinstance(v, bool)):
            raise GeneratorError(f"expected an integer, got {v!r}", k)
        if p.kind == "ratio" and not (isinstance(v, (int, float)) and not isinstance(v, bool) and 1 <= v < float("inf")):
            raise GeneratorError(f"expected a finite number >= 1, got {v!r}", k)
        if p.kind == "int_list" and not (isinstance(v, list) and v and len(set(v)) == len(v) and all(
                isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in v)):
            raise GeneratorError(f"expected a non-empty list of distinct class indices >= 0, got {v!r}", k)
    for k, p in g.params.items():
        if p.required and k not in args:
            raise GeneratorError(f"generator {name!r} needs {k!r} ({p.doc})", k)
    if kind in ("logits", "probabilities", "log_probabilities"):
        shape = g.shape_of(args) if g.shape_of else tuple(args["shape"])
        if name in ("masked", "log_softmax_normal") and "classes" in args:
            ax = args.get("axis", -1)
            if not -len(shape) <= ax < len(shape):
                raise GeneratorError(f"axis {ax} out of range for shape {list(shape)}", "axis")
            classes = shape[ax]
            if any(c >= classes for c in args["classes"]) or len(args["classes"]) >= classes:
                raise GeneratorError(f"classes {args['classes']} must be indices below {classes}, leaving at least "
                                     "one class unmasked", "classes")
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


def generate(name: str, args: dict[str, Any], logits_shape: tuple[int, ...] | None = None, axis: int = -1,
             avoid: tuple[int, ...] = ()) -> np.ndarray:
    """The array a generator mapping stands for; label generators skip the classes in `avoid` (masked ones)."""
    g = TABLE[name]
    kw = {k: p.default for k, p in g.params.items() if not p.required}
    kw.update(args)
    if g.kind in ("logits", "probabilities", "log_probabilities"):
        if "shape" in kw:
            kw["shape"] = tuple(kw["shape"])
        return np.asarray(g.fn(**kw), dtype=np.float64)
    if "on_masked" in g.params:
        kw["avoid"] = avoid
    return g.fn(logits_shape, axis=axis, **kw)
