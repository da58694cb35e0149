"""The type layer of a case file: one field table per mapping (a case, its params, expect and tolerance).

Each Field (harness/core/fields.py) names a key, whether it is required, the rules its value must satisfy with the
problem each reports, and what a valid value becomes; an absent key takes its default from the model
(harness/schema/model.py). The keys a case writes its inputs, sweep and relations under
have no rules here: what they may hold depends on the family and the other fields (harness/schema/inputs.py,
harness/schema/checks.py, harness/schema/relation_list.py).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from harness.core.dtypes import FLOAT_DTYPES
from harness.core.fields import Field, Table, as_tuple, finite, is_bool, is_int, is_mapping, is_number, nonblank
from harness.core.yamlfile import did_you_mean
from harness.schema.model import ERROR_LABEL_DTYPES, FAMILIES, LABEL_CONVENTIONS, LABEL_DTYPES, REDUCTIONS

MAPPING = (is_mapping, "expected a mapping, got {kind}")
MAPPING_OR_NULL = (lambda v: v is None or is_mapping(v), MAPPING[1])
NOT_NEGATIVE = (lambda v: finite(v) is not None and v >= 0, "expected a finite number >= 0, got {value!r}")
UNIT = (lambda v: is_number(v) and 0.0 <= v <= 1.0, "expected a number in [0, 1], got {value!r}")
INTEGER = (is_int, "expected an integer, got {value!r}")


def _unknown_family(v: Any) -> str:
    hint = did_you_mean(v, FAMILIES)
    return f"unknown family {v!r}; implemented: {', '.join(FAMILIES)}" + (f"; {hint}" if hint else "")


def _case_id(v: Any) -> bool:
    return isinstance(v, str) and bool(v) and not any(c.isspace() or c in "[]" for c in v)


CASE = Table((
    Field("id", ((_case_id, "expected a non-empty string without spaces or brackets"),), required=True),
    Field("family", ((lambda v: isinstance(v, str) and v in FAMILIES, _unknown_family),), required=True),
    Field("description", ((nonblank, "expected a non-empty string"),), str.strip, required=True),
    Field("tags", ((lambda v: isinstance(v, list) and all(isinstance(t, str) and t for t in v),
                    "expected a list of non-empty strings"),), tuple),
    Field("logits"),  # the inputs: harness/schema/inputs.py
    Field("probabilities"),
    Field("log_probabilities"),
    Field("labels"),
    Field("params", (MAPPING,)),  # its fields: params_table
    Field("dtypes", ((lambda v: isinstance(v, list) and bool(v) and all(d in FLOAT_DTYPES for d in v),
                      f"expected a non-empty list drawn from {', '.join(FLOAT_DTYPES)}, got {{value!r}}"),
                     (lambda v: len(set(v)) == len(v), "a dtype is listed twice")), tuple),
    Field("expect", (MAPPING,)),  # its fields: EXPECT
    Field("tolerance", (MAPPING_OR_NULL,)),  # its fields: TOLERANCE
    Field("sweep"),  # harness/schema/checks.py
    Field("allow_nan", ((is_bool, "expected true or false"),)),
    Field("relations"),  # harness/schema/relation_list.py
    Field("orders"),  # harness/schema/orders.py
    Field("direction_seed"),
))


def _weights(allow_nan: bool, generated: bool = False) -> tuple:
    """Weights: a non-empty list of numbers >= 0, NaN among them only with allow_nan; class weights may instead
    name a generator (a mapping, resolved once the classes are known: harness/schema/checks.py)."""
    def holds(v: Any) -> bool:
        return (generated and is_mapping(v)) or (isinstance(v, list) and bool(v) and all(
            (finite(x) is not None and x >= 0) or (allow_nan and isinstance(x, float) and x != x) for x in v))
    return holds, "expected a non-empty list of finite numbers >= 0 (NaN only with allow_nan: true)"


def _pos_weight(v: Any) -> bool:
    return (finite(v) is not None and v >= 0) or (
        isinstance(v, list) and bool(v) and all(finite(x) is not None and x >= 0 for x in v))


@cache
def params_table(allow_nan: bool) -> Table:
    """The fields of a case's params; NaN weights only in a case with allow_nan: true."""
    return Table((
        Field("reduction", ((lambda v: v in REDUCTIONS, f"expected one of {', '.join(REDUCTIONS)}, got {{value!r}}"),)),
        Field("class_weights", (_weights(allow_nan, generated=True),),
              lambda v: None if is_mapping(v) else tuple(float(x) for x in v)),
        Field("sample_weights", (_weights(allow_nan),), lambda v: tuple(float(x) for x in v)),
        Field("label_smoothing", (UNIT,), float),
        Field("ignore_index", (INTEGER,), int),
        Field("axis", (INTEGER,), int),
        Field("pos_weight", ((_pos_weight, "expected a number >= 0 or a list of them (one per class)"),),
              lambda v: tuple(float(x) for x in v) if isinstance(v, list) else float(v)),
        Field("gamma", (NOT_NEGATIVE,), float),
        Field("alpha", (UNIT,), float),
        Field("margin", ((lambda v: finite(v) is not None, "expected a finite number, got {value!r}"),), float),
        Field("p", ((lambda v: is_int(v) and v in (1, 2), "expected 1 or 2, got {value!r}"),), int),
        Field("epsilon", ((lambda v: finite(v) is not None, "expected a finite number, got {value!r}"),), float),
        Field("q", ((lambda v: finite(v) is not None and 0 < v < 1, "expected a number in (0, 1), got {value!r}"),), float),
        Field("log_target", ((is_bool, "expected true or false, got {value!r}"),)),
        Field("label_dtype", ((lambda v: v in LABEL_DTYPES + ERROR_LABEL_DTYPES,
                               f"expected one of {', '.join(LABEL_DTYPES + ERROR_LABEL_DTYPES)}, got {{value!r}}"),), str),
        Field("label_convention", ((lambda v: v in LABEL_CONVENTIONS,
                                    f"expected one of {', '.join(LABEL_CONVENTIONS)}, got {{value!r}}"),), str),
        Field("blank", ((lambda v: is_int(v) and v >= 0, "expected a class index >= 0, got {value!r}"),), int),
        Field("zero_infinity", ((is_bool, "expected true or false, got {value!r}"),), bool),
        Field("input_lengths", ((lambda v: isinstance(v, list) and bool(v) and all(is_int(x) and x >= 1 for x in v),
                                 "expected a non-empty list of integers >= 1 (frames per item), got {value!r}"),),
              lambda v: tuple(int(x) for x in v)),
    ))


def _numbers(v: Any) -> bool:
    return all(is_number(x) and (isinstance(x, float) or finite(x) is not None) for x in (v if isinstance(v, list) else [v]))


def _exception_names(v: Any) -> bool:
    names = [v] if isinstance(v, str) else v
    return (isinstance(names, list) and bool(names)
            and all(isinstance(x, str) and all(p.isidentifier() for p in x.split(".")) for x in names))


EXPECT = Table((
    Field("loss", ((_numbers, "expected a number or a list of numbers"),),
          lambda v: tuple(float(x) for x in (v if isinstance(v, list) else [v]))),
    Field("error", ((is_bool, "expected true or false, got {value!r}"),)),
    # with error: the exception classes that count as the expected error (harness/schema/model.py's Expect)
    Field("raises", ((_exception_names, "expected an exception class name or a list of them, "
                                        "e.g. [IndexError, InvalidArgumentError]"),), as_tuple),
    Field("reason", ((lambda v: isinstance(v, str), "expected a string"),)),
))

_WHY = "a tolerance override must say why (a non-empty reason: ...)"
# finite and >= 0: an infinite (or NaN) allowance would pass any answer, a negative one none
TOLERANCE = Table((
    *(Field(k, (NOT_NEGATIVE,), float) for k in ("loss_rtol", "loss_atol", "grad_rtol", "grad_atol")),
    Field("reason", ((nonblank, _WHY),), str.strip, required=True, missing=_WHY),
))

CASE_KEYS = CASE.keys
PARAM_KEYS = params_table(False).keys
