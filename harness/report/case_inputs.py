"""Each case's inputs as text, read back from its case file (best effort; rows do not carry their inputs)."""

from __future__ import annotations

from typing import Any

from harness.results.rows import Row


def case_inputs(rows: list[Row]) -> dict[str, str]:
    """A short text of each case's inputs, read back from its case file (best effort: rows do not
    carry their inputs, and a shard from another machine may name a file that is not here)."""
    from harness.schema import cases as schema  # the report stays usable when the case loader cannot import

    wanted: dict[str, set[str]] = {}
    for r in rows:
        if r.source and r.case != "*":
            wanted.setdefault(r.source.rsplit(":", 2)[0], set()).add(r.case)
    out: dict[str, str] = {}
    for file, cases in wanted.items():
        try:
            for c in schema.load_file(file):
                if c.id in cases:
                    out[c.id] = _inputs_text(c)
        except Exception:  # noqa: BLE001 - a missing or changed case file only loses this detail
            continue
    return out


def _spec_text(spec: Any) -> str:
    if hasattr(spec, "name") and hasattr(spec, "args"):
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


def _inputs_text(case: Any) -> str:
    scale = getattr(case, "logit_scale", 1.0)
    lines = [f"logits: {_spec_text(case.logits)}" + (f" x {scale:g}" if scale != 1.0 else ""),
             f"labels: {_spec_text(case.labels)}"]
    params = {"reduction": case.params.reduction, **case.params.non_default()}
    lines.append("params: " + ", ".join(f"{k}={v}" for k, v in params.items()))
    return "\n".join(line if len(line) <= 400 else line[:397] + "..." for line in lines)
