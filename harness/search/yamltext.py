"""A case mapping as case-file text: YAML 1.2 flow lists, floats that read back exactly (-.inf, 1e+30), the
description folded. What the runner loads (harness.schema.load_text) and what the writer saves are this text."""

from __future__ import annotations

import json
import math

ORDER = ("id", "family", "description", "tags", "dtypes", "logits", "labels", "params", "orders")


def scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return ".nan"
        if math.isinf(v):
            return ".inf" if v > 0 else "-.inf"
        text = repr(v)
        return text if any(ch in text for ch in ".e") else text + ".0"
    if isinstance(v, str):
        return json.dumps(v)  # a double-quoted YAML string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(scalar(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {scalar(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"no YAML text for {type(v).__name__}")


def case_text(m: dict, comment: str = "") -> str:
    """One case mapping as a case file (a list of one case), with an optional comment above it."""
    lines = [f"# {line}".rstrip() for line in comment.splitlines()]
    keys = [k for k in ORDER if k in m] + [k for k in m if k not in ORDER]
    for i, k in enumerate(keys):
        lines.append(("- " if i == 0 else "  ") + f"{k}: {scalar(m[k])}")
    return "\n".join(lines) + "\n"
