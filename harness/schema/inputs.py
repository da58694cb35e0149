"""A case's input arrays as its file writes them: a nested list of numbers, or a generator mapping whose shape is
known before any array exists (harness/schema/generators.py)."""

from __future__ import annotations

import math
from typing import Any

from harness.core import yamlfile
from harness.core.fields import is_int, is_number
from harness.core.yamlfile import Location, Problem, at, plain
from harness.schema import generators
from harness.schema.model import Generated, InputSpec, Literal


def input_spec(m: dict, key: str, name: str, prefix: str, kind: str, allow_nan: bool,
               logits: InputSpec | None = None, axis: int = -1) -> tuple[InputSpec | None, list[Problem]]:
    """The input a case mapping writes under `key`, or its problem. kind: "logits", "probabilities",
    "log_probabilities", "sparse" (integer labels), "dense" (float labels) or "cotangent"; label generators need the logits' shape."""
    v, where, loc = m[key], f"{prefix}{key}", at(name, m, key)
    if isinstance(v, dict):
        return _generated(v, loc, name, where, "dense" if kind == "cotangent" else kind, logits, axis)
    if kind == "sparse" and isinstance(v, int) and not isinstance(v, bool):
        return Literal(values=v, shape=()), []  # one example's label, beside unbatched logits [classes]
    if not isinstance(v, list):
        return None, [Problem(loc, where, f"expected a nested list or a generator mapping, got {yamlfile.kind(v)}")]
    values = plain(v)
    shape = shape_of(values)
    if shape is None:
        return None, [Problem(loc, where, "ragged nested list: every row must have the same length")]
    why = _values_problem(flatten(values), kind, allow_nan)
    if why is not None:
        return None, [Problem(loc, where, why)]
    return Literal(values=values, shape=shape), []


def _generated(v: dict, loc: Location, name: str, where: str, kind: str, logits: InputSpec | None,
               axis: int) -> tuple[Generated | None, list[Problem]]:
    """A generator mapping (a generated cotangent is shaped like the input, as dense labels are)."""
    if "generate" not in v:
        return None, [Problem(loc, where, "a mapping input needs 'generate: NAME' (one of: {})".format(
            ", ".join(generators.names(kind))))]
    gen = v["generate"]
    args = {k: plain(x) for k, x in v.items() if k != "generate"}
    try:
        shape = generators.validate(gen, args, kind, None if logits is None else logits.shape, axis)
    except generators.GeneratorError as e:
        field = e.field or "generate"
        return None, [Problem(at(name, v, field) if e.field in v else loc, f"{where}.{field}", str(e))]
    return Generated(name=gen, args=args, shape=shape), []


def _values_problem(flat: list[Any], kind: str, allow_nan: bool) -> str | None:
    if kind == "sparse":
        bad = [x for x in flat if not is_int(x)]
        return f"sparse labels must be integers, got {bad[0]!r}" if bad else None
    bad = [x for x in flat if not is_number(x)]
    if bad:
        return f"expected numbers, got {bad[0]!r}"
    if kind in ("dense", "cotangent") and not allow_nan and any(_nan(x) for x in flat):
        return "NaN in labels (set allow_nan: true if the case means it)"
    if kind == "probabilities" and any(not (0.0 <= x <= 1.0) and not (allow_nan and _nan(x)) for x in flat):
        return "probabilities must lie in [0, 1] (rows need not sum to 1)"
    if kind == "log_probabilities" and any(not x <= 0 and not (allow_nan and _nan(x)) for x in flat):
        return "log-probabilities must be <= 0 (-.inf for a probability of 0; rows need not be normalised)"
    return None


def _nan(x: Any) -> bool:
    return isinstance(x, float) and math.isnan(x)


def shape_of(values: Any) -> tuple[int, ...] | None:
    """The shape of a nested list, or None when it is ragged."""
    if not isinstance(values, list):
        return ()
    if not values:
        return (0,)
    shapes = {shape_of(v) for v in values}
    if len(shapes) != 1 or None in shapes:
        return None
    return (len(values), *shapes.pop())


def flatten(values: Any) -> list[Any]:
    if isinstance(values, list):
        return [x for v in values for x in flatten(v)]
    return [values]
