"""Field tables: one declarative description of a YAML mapping's keys, checked with every problem reported at once.

A Table lists a mapping's Fields: each names its key, whether it is required, the rules its value must satisfy
(each with the problem it reports) and what a valid value becomes. `check` reports unknown keys (with the closest
known one), missing required keys, and each present value's first failing rule, at the file:line:col the loader
(harness/core/yamlfile.py) recorded, under the field's dotted name. The case files (harness/schema/tables.py), the
known-differences file and the config file describe their mappings this way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.core.yamlfile import Problem, at, kind, plain, suggestion

# A rule's problem: text formatted with {value!r} (the plain value) and {kind} (what it is), or a function of the value
Message = str | Callable[[Any], str]
REQUIRED = "required key is missing"


def unknown_key(where: str, key: Any, keys: tuple[str, ...]) -> tuple[str, str]:
    """An unknown key's problem, (field, message): under the key's own name, with the closest known key."""
    return f"{where}{key}", f"unknown key; {suggestion(key, keys)}"


@dataclass(frozen=True)
class Field:
    """One key of a mapping; its rules are checked in order, and the first that fails is the value's problem."""

    key: str
    rules: tuple[tuple[Callable[[Any], bool], Message], ...] = ()  # (holds of a valid plain value, the problem if not)
    convert: Callable[[Any], Any] | None = None  # what a valid plain value becomes (itself when None)
    required: bool = False
    missing: str = REQUIRED  # the problem when a required key is absent


@dataclass(frozen=True)
class Table:
    """A mapping's keys: the fields in the order their problems are reported (and the known keys listed)."""

    fields: tuple[Field, ...]
    # how an unknown key is reported: (where, the key, the known keys) -> (field, message)
    unknown: Callable[[str, Any, tuple[str, ...]], tuple[str, str]] = field(default=unknown_key)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.fields)


@dataclass(frozen=True)
class Checked:
    values: dict[str, Any]  # the valid values, converted, of the keys the mapping has (check_values)
    problems: list[Problem]
    ok: bool  # no required key is missing and no value is wrong (an unknown key is a problem that spoils nothing)


def check(m: dict, table: Table, name: str, where: str = "") -> Checked:
    """A mapping against its table: unknown keys in the file's order, then missing required keys (at the mapping),
    then each present value's first failing rule in the table's order. `where` prefixes each key in the problems'
    field names ("case.params.")."""
    missing = missing_keys(m, table, name, where)
    values, wrong = check_values(m, table, name, where)
    return Checked(values, unknown_keys(m, table, name, where) + missing + wrong, not (missing or wrong))


def unknown_keys(m: dict, table: Table, name: str, where: str = "") -> list[Problem]:
    keys = table.keys
    return [Problem(at(name, m, k), *table.unknown(where, k, keys)) for k in m if k not in keys]


def missing_keys(m: dict, table: Table, name: str, where: str = "") -> list[Problem]:
    return [Problem(at(name, m), f"{where}{f.key}", f.missing) for f in table.fields if f.required and f.key not in m]


def check_values(m: dict, table: Table, name: str, where: str = "") -> tuple[dict[str, Any], list[Problem]]:
    """The valid values, converted, of the keys a mapping has (an absent key is left out: its default is the
    reader's to give), and the problems of the others."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for f in table.fields:
        if f.key not in m:
            continue
        v = plain(m[f.key])
        bad = next((msg for holds, msg in f.rules if not holds(v)), None)
        if bad is None:
            values[f.key] = f.convert(v) if f.convert else v
        else:
            text = bad(v) if callable(bad) else bad.format(value=v, kind=kind(v))
            problems.append(Problem(at(name, m, f.key), f"{where}{f.key}", text))
    return values, problems


# --------------------------------------------------------------------------- rules: what a plain value may be


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def finite(v: Any) -> float | None:
    """v as a float when it is a finite number (not a bool, not too large for a float), else None."""
    if not is_number(v):
        return None
    try:
        f = float(v)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def nonblank(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


def is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def is_mapping(v: Any) -> bool:
    return isinstance(v, dict)


def strings(v: Any) -> bool:
    """A string or a non-empty list of strings."""
    return isinstance(v, str) or (isinstance(v, list) and bool(v) and all(isinstance(x, str) for x in v))


def as_tuple(v: Any) -> tuple:
    """A string or a list of strings as a tuple of them."""
    return (v,) if isinstance(v, str) else tuple(v)

