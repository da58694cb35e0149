"""What a row keeps of its case's inputs: their text as the report shows it, and a gradient field's logits.

The report reads these from the rows and never opens a case file: a shard from another machine, or
from before a case file changed, still shows the inputs its trials ran on.
"""

from __future__ import annotations

import math
from typing import Any

from harness.results.rows import MAX_VALUES, values
from harness.schema.model import Case, Generated
from harness.trials import predictions

FIELD_TAG = "gradient-field"  # a case whose two-class logits the report draws its gradient over


def inputs_text(case: Case) -> str:
    """The case's logits (or probabilities), labels and parameters in three short lines (generators by name and arguments,
    literal lists cut to their first and last items)."""
    scale = case.logit_scale
    lines = [f"{case.input_kind}: {_spec_text(case.predictions)}" + (f" x {scale:g}" if scale != 1.0 else ""),
             f"labels: {_spec_text(case.labels)}"]
    params = {"reduction": case.params.reduction, **case.params.non_default()}
    lines.append("params: " + ", ".join(f"{k}={v}" for k, v in params.items()))
    return "\n".join(line if len(line) <= 400 else line[:397] + "..." for line in lines)


def field_logits(case: Case) -> list[float] | None:
    """The logits of a gradient-field case ([N, 2], flattened, in float64 and times the logit scale), so the
    report draws the field at the points the case defines; None for every other case and for one larger
    than a row keeps (MAX_VALUES)."""
    shape = tuple(case.predictions.shape)
    if FIELD_TAG not in case.tags or len(shape) != 2 or shape[1] != 2 or math.prod(shape) > MAX_VALUES:
        return None
    try:
        return values(predictions(case))
    except Exception:  # noqa: BLE001 - the plugin's harness-error row calls this too: it must still be written
        return None


def _spec_text(spec: Any) -> str:
    if isinstance(spec, Generated):
        args = ", ".join(f"{k}={v}" for k, v in spec.args.items())
        return f"{spec.name}({args}) -> shape {list(spec.shape)}"
    return _abbrev(spec.values)


def _abbrev(v: Any, edge: int = 3) -> str:
    """A nested list as written in a case file, long lists cut to their first and last `edge` items."""
    if isinstance(v, (list, tuple)):
        items = [_abbrev(x, edge) for x in v] if len(v) <= 2 * edge + 1 else (
            [_abbrev(x, edge) for x in v[:edge]] + ["..."] + [_abbrev(x, edge) for x in v[-edge:]])
        return "[" + ", ".join(items) + "]"
    return repr(v) if isinstance(v, float) else str(v)
