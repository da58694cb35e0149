"""Reading the project's YAML files: one YAML 1.2 loader that keeps positions, problems at file:line:col, did-you-mean.

The case files (harness/schema), the known-differences file (harness/judge/expectations.py) and the config file
(harness/custom/config.py) are read with `load`. Its round-trip loader constructs no Python objects from tags and
refuses duplicate keys, and every mapping and list it returns knows the line and column of its items, which `at`
turns into a Location. harness/core/fields.py checks a mapping against a field table with these.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError


@dataclass(frozen=True)
class Location:
    file: str
    line: int  # 1-based; 0 where the file has no position to give
    col: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Problem:
    location: Location
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.field}: {self.message}"


class CaseFileError(Exception):
    """One or more problems in the project's YAML input files (case files, the known-differences file);
    nothing from those files may run."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _yaml() -> YAML:
    y = YAML(typ="rt")  # round-trip keeps line numbers; it never constructs Python objects
    y.version = (1, 2)
    y.allow_duplicate_keys = False
    return y


def load(text: str, name: str) -> Any:
    """The document in the text (None when it is empty); a syntax error raises CaseFileError at its position."""
    try:
        return _yaml().load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        loc = Location(name, mark.line + 1, mark.column + 1) if mark else Location(name, 0, 0)
        raise CaseFileError([Problem(loc, "yaml", f"{e.problem or e}")]) from None
    except (YAMLError, ValueError, RecursionError) as e:
        raise CaseFileError([Problem(Location(name, 0, 0), "yaml", str(e).splitlines()[0])]) from None


def at(name: str, node: Any, key: Any = None) -> Location:
    """Where a node is, or with `key` where the node's item is: a mapping's value under the key (else the key
    itself), a list's item at that index; failing that the node, else line 0 (a value that is not from the loader,
    as a TOML file's)."""
    try:
        if key is not None:
            if isinstance(node, CommentedMap):
                line, col = node.lc.value(key) if node.lc.data.get(key) else node.lc.key(key)
                return Location(name, line + 1, col + 1)
            if isinstance(node, CommentedSeq):
                line, col = node.lc.item(key)
                return Location(name, line + 1, col + 1)
    except (KeyError, IndexError, TypeError, AttributeError):
        pass
    try:
        return Location(name, node.lc.line + 1, node.lc.col + 1)
    except (AttributeError, TypeError):
        return Location(name, 0, 0)


def plain(v: Any) -> Any:
    """The loader's round-trip types as plain Python (lists, dicts, int, float, str, bool)."""
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, str):
        return str(v)
    return v


def kind(v: Any) -> str:
    """What a value is, for a message: "a mapping", "a list", "nothing", or its type and value."""
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    if v is None:
        return "nothing"
    base = next((t for t in (bool, int, float, str) if isinstance(v, t)), type(v))  # the YAML loader's ScalarFloat: float
    return f"{base.__name__} {base(v)!r}" if base is not type(v) else f"{base.__name__} {v!r}"


def did_you_mean(word: Any, known: Iterable[str]) -> str:
    """"did you mean 'x'?" naming the known word closest to a misspelt one, or "" when none is close."""
    close = difflib.get_close_matches(str(word), list(known), n=1)
    return f"did you mean {close[0]!r}?" if close else ""


def suggestion(word: Any, known: Iterable[str]) -> str:
    """The closest known word (did_you_mean), else the list of them: what follows "unknown key"."""
    known = list(known)
    return did_you_mean(word, known) or f"allowed: {', '.join(known)}"
