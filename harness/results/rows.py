"""The result row: one per (case, dtype, framework, api, device), its verdicts, its id and its JSON line."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from adapters.repro.script import order_refusal
from harness.results.jsonsafe import clean, unclean

VERDICTS = (
    "pass",
    "loss_mismatch",
    "grad_mismatch",
    "nonfinite",
    "error",
    "expected_error",
    "missing_error",
    "unsupported",
    "crash",
    "timeout",
    "known",
    "fixed",
    "unavailable",
    "relation_pass",
    "relation_mismatch",
)
# Verdicts that fail a run unless the known-differences file records them.
FAILING = frozenset({"loss_mismatch", "grad_mismatch", "nonfinite", "error", "missing_error", "crash", "timeout",
                     "relation_mismatch"})


@dataclass
class Row:
    row_id: str
    case: str
    family: str
    framework: str
    api: str
    device: str
    dtype: str
    verdict: str
    order: str = ""  # a derivative beyond the gradient, "<order>:<method>" (harness/schema/orders.py); "" the loss and gradient
    raw_verdict: str = ""  # the verdict before the known-differences file was applied
    framework_version: str = ""
    call: str = ""  # the call chain the adapter actually executed
    device_requested: str = ""
    flags: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    description: str = ""
    source: str = ""  # file:line of the case
    reduction: str = ""
    loss: float | None = None  # observed value at the worst element
    ref_loss: float | None = None
    loss_abs_err: float | None = None
    loss_rel_err: float | None = None
    loss_ulp: float | None = None
    loss_worst_index: list[int] | None = None
    grad: float | None = None
    ref_grad: float | None = None
    grad_max_abs_err: float | None = None
    grad_max_rel_err: float | None = None
    grad_ulp: float | None = None
    grad_worst_index: list[int] | None = None
    grad_norm: float | None = None
    ref_grad_norm: float | None = None
    nan_count: int = 0
    inf_count: int = 0
    ref_nan_count: int = 0
    ref_inf_count: int = 0
    # the allowance of the worst element (harness/judge/tolerances/) and what it is made of
    loss_allowed: float | None = None
    loss_allowance: str = ""  # e.g. "3.1e-07 (mostly log S)"
    grad_allowed: float | None = None
    grad_allowance: str = ""
    tolerance_source: str = ""  # "policy", or the case's override and its reason
    # where the loss has kinks (harness/judge/kinks.py): how many gradient entries sit on one, and the derivative
    # the framework took for the kinked max there (distinct values: 0, 0.5, 1, ...)
    kinks: int = 0
    subgradient: str = ""
    oracle_precision: str = ""
    message: str = ""
    traceback: str = ""
    known_reason: str = ""
    known_link: str = ""
    known_entry: str = ""  # the known-differences entry applied (`known` or `fixed`): its file's name and line
    duration_s: float | None = None
    shard: str = ""
    # values for details and plots (flattened, at most MAX_VALUES each; None when larger)
    loss_values: list[float] | None = None
    ref_loss_values: list[float] | None = None
    grad_values: list[float] | None = None
    ref_grad_values: list[float] | None = None
    loss_allowed_values: list[float] | None = None  # each element's allowance (harness/judge/tolerances/)
    grad_allowed_values: list[float] | None = None
    logit_values: list[float] | None = None  # a gradient-field case's logits, [N, 2] flattened (harness/judge/inputs.py)
    shape: list[int] | None = None  # shape of the logits
    sweep: str = ""  # the swept parameter of a sweep case (e.g. "scale"), "" otherwise
    sweep_value: float | None = None
    # relation rows (harness/judge/relations.py): case is `<case id>~<relation>`, and the ref_* fields hold the
    # partner formulation's values mapped back onto the case, by the same framework and path
    relation: str = ""  # the relation's kind, "" for rows judged against the oracle
    partner: str = ""  # what the partner formulation is, and the call that computed it
    precision: str = ""  # the framework process's precision mode and flags (harness/core/precision.py)
    inputs: str = ""  # the case's logits, labels and parameters as the report shows them (harness/judge/inputs.py)
    # a failing row's standalone reproducer, when its inputs fit in it (harness/run/repro.py); `harness repro` serves any row
    repro: str = ""

    def to_json(self) -> str:
        # field by field: asdict() would deep-copy every value list first; only the float fields can hold a NaN
        d = {name: getattr(self, name) for name in COLUMNS}
        for k in _NUMERIC:
            d[k] = clean(d[k])
        return json.dumps(d, allow_nan=False)

    @classmethod
    def from_json(cls, line: str) -> Row:
        """The row of a line `to_json` wrote; json.JSONDecodeError for a line that is not JSON (a torn one)."""
        d = json.loads(line)
        for k in _NUMERIC:
            if k in d:
                d[k] = unclean(d[k])
        return cls.from_dict(d)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Row:
        return cls(**{k: v for k, v in d.items() if k in _NAMES})


def row_id(case: str, framework: str, api: str, device: str, dtype: str) -> str:
    """The pytest-style id of a row; `-k` matches any part of it."""
    return f"{case}[{framework}-{api}-{device}-{dtype}]"


def order_case(case: str, order: str) -> str:
    """The case part of a derivative order's row id: `<case id>/<order>:<method>`."""
    return f"{case}/{order}"


def parse_row_id(rid: str, framework: str) -> tuple[str, str, str, str]:
    """(case, api, device, dtype) of a row id of the framework's; the framework (keras-jax) and the api may contain '-'."""
    case, _, rest = rid.partition("[")
    parts = rest.rstrip("]").removeprefix(f"{framework}-").split("-")
    return case, "-".join(parts[:-2]), parts[-2], parts[-1]


COLUMNS = [f.name for f in fields(Row)]
_NAMES = frozenset(COLUMNS)


def no_reproducer(r: Row) -> str:
    """Why `python -m harness repro` writes no script for a row ('' when it writes one, unless the path is a user's
    own loss): nothing a framework computed is in it."""
    if r.framework == "oracle":
        return "the oracle's own row: no framework call to reproduce"
    if r.case == "*" or r.verdict == "unavailable":
        return "the framework was not available: nothing ran"
    if "device_unavailable" in r.flags:
        return "the framework did not see the device: nothing ran"
    if "harness_error" in r.flags:
        return "the harness itself failed on this row: nothing to reproduce"
    if (r.raw_verdict or r.verdict) == "unsupported":
        return "the path cannot express this case: nothing ran"
    if r.order:  # the frameworks whose script module writes the order (adapters/repro/orders.py)
        return order_refusal(r.framework, r.order)
    return ""


MAX_VALUES = 1024


def values(a) -> list[float] | None:
    """A flattened float list of an array for a row, or None when it has more than MAX_VALUES elements."""
    if a is None:
        return None
    arr = np.asarray(a)
    if arr.size > MAX_VALUES:  # decide on the size before converting 65 million elements
        return None
    return [float(x) for x in arr.astype(float).reshape(-1)]


_NUMERIC = {f.name for f in fields(Row) if "float" in str(f.type)}  # includes the *_values lists
