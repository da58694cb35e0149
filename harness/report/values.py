"""A row's values as the report reads them: strict-JSON values, display text, floats, the worst ULP."""

from __future__ import annotations

import math
from typing import Any

from harness.results.jsonsafe import nonfinite
from harness.results.rows import Row


def plain(v: Any) -> Any:
    """A strict-JSON value: non-finite floats written as harness/results/jsonsafe.py says, numpy scalars plain."""
    if v is None or isinstance(v, (str, int)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else nonfinite(v)
    if hasattr(v, "item") and not isinstance(v, (list, tuple, dict)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return nonfinite(v)
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    return v


def fmt(v: Any) -> str:
    """A value as display text: lists joined with commas, dicts as k=v, None as nothing."""
    v = plain(v)
    if isinstance(v, list):
        return ", ".join(fmt(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}={fmt(x)}" for k, x in v.items())
    return "" if v is None else str(v)


def as_float(v: object) -> float | None:
    """A float of a row value (None, numbers, or the strings "nan"/"inf"), None when absent."""
    if v is None or isinstance(v, bool):
        return None
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def worst_ulp(r: Row) -> float | None:
    """The larger of a row's loss and gradient errors in ULPs (NaN when either is NaN, None when neither is known)."""
    vals = [v for v in (as_float(r.loss_ulp), as_float(r.grad_ulp)) if v is not None]
    if any(math.isnan(v) for v in vals):
        return math.nan
    return max(vals, default=None)
