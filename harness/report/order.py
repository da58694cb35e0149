"""The report's order: rows failures first, verdict columns in the order VERDICTS lists them, counts by a key."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from harness.results.rows import FAILING, VERDICTS, Row

# Failures first, then verdicts nobody planned for, then the benign ones, best last.
_TAIL = ("known", "fixed", "unavailable", "unsupported", "expected_error", "relation_pass", "pass")
_FAILING_ORDER = tuple(v for v in VERDICTS if v in FAILING) + tuple(sorted(FAILING - set(VERDICTS)))
DTYPES = ("float64", "float32", "float16", "bfloat16")  # the matrix's column order


def _rank(verdict: str) -> int:
    if verdict in FAILING:
        return _FAILING_ORDER.index(verdict)
    if verdict in _TAIL:
        return len(_FAILING_ORDER) + 1 + _TAIL.index(verdict)
    return len(_FAILING_ORDER)  # an unknown verdict: right after the failures


def sort_key(r: Row) -> tuple:
    return (_rank(r.verdict), r.case, r.framework, r.api, r.device, r.dtype)


def verdict_columns(verdicts: Iterable[str]) -> list[str]:
    present = set(verdicts)
    return [v for v in VERDICTS if v in present] + sorted(present - set(VERDICTS))


def counts(rows: list[Row], key: Callable[[Row], Any]) -> tuple[list[str], dict[Any, Counter]]:
    """The verdict columns present, and each key's verdict counts (keys sorted)."""
    table: dict[Any, Counter] = {}
    for r in rows:
        table.setdefault(key(r), Counter())[r.verdict] += 1
    return verdict_columns(r.verdict for r in rows), dict(sorted(table.items()))
