"""JSON-safe numbers: the one rule for writing NaN and infinities, which JSON lacks, as the strings "nan", "inf", "-inf".

Every file the harness writes is strict JSON (`json.dumps(..., allow_nan=False)`): a non-finite float
becomes one of those three strings, and reading turns them back into floats. The result rows
(harness/results/rows.py, harness/results/shards.py) use it; anything else that writes a row's values
as JSON should use it too, so the strings mean the same everywhere.
"""

from __future__ import annotations

import math
from typing import Any

NONFINITE = ("nan", "inf", "-inf")


def nonfinite(v: float) -> str:
    """The string that stands for a non-finite float."""
    return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")


def clean(v: Any) -> Any:
    """A value (a float, or a list of them, at any depth) with its non-finite floats written as strings."""
    if isinstance(v, float) and not math.isfinite(v):
        return nonfinite(v)
    if isinstance(v, list):
        if _all_finite_numbers(v):
            return v  # the common case, a row's value list: no copy
        return [clean(x) for x in v]
    return v


def unclean(v: Any) -> Any:
    """The inverse of `clean`: the strings that stand for non-finite floats read back as floats."""
    if isinstance(v, list):
        if _all_finite_numbers(v):
            return v
        return [unclean(x) for x in v]
    if v in NONFINITE:
        return float(v)
    return v


def _all_finite_numbers(v: list) -> bool:
    """Whether every item is a finite number: then their sum is finite (an infinity or a NaN makes any sum
    non-finite; a finite sum that overflows only sends the list the slow way). A string, a list or None
    among them raises TypeError."""
    try:
        return math.isfinite(sum(v))
    except (TypeError, OverflowError):
        return False
