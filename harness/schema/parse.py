"""One case mapping into a Case: its field tables first (harness/schema/tables.py), then its inputs and the
semantic checks (harness/schema/inputs.py, checks.py, relation_list.py), every problem reported at once."""

from __future__ import annotations

from harness.core.fields import REQUIRED, Checked, Table, check, check_values, missing_keys, unknown_keys
from harness.core.yamlfile import Problem, at
from harness.schema import checks, sequence_checks
from harness.schema.inputs import input_spec
from harness.schema.model import FAMILIES, Case, Expect, Generated, Params, ToleranceOverride, output_shape
from harness.schema.orders import orders
from harness.schema.relation_list import relations
from harness.schema.tables import CASE, EXPECT, TOLERANCE, params_table


def case(m: dict, index: int, name: str) -> tuple[Case | None, list[Problem]]:
    """The case a mapping of the file `name` describes (None when it has a problem), and its problems."""
    cid = m.get("id")
    prefix = f"{cid}." if isinstance(cid, str) else f"[{index}]."
    problems = unknown_keys(m, CASE, name, prefix)
    missing = missing_keys(m, CASE, name, prefix) or _input_keys(m, name, prefix)
    if missing:
        return None, problems + missing
    values, wrong = check_values(m, CASE, name, prefix)
    problems += wrong
    if "family" not in values:
        return None, problems
    family = values["family"]
    allow_nan = values.get("allow_nan", False)
    # the nested mappings: absent, they take the model's defaults; not mappings, they are among `wrong`
    params = _nested(m, values, "params", params_table(allow_nan), name, prefix)
    expect = _nested(m, values, "expect", EXPECT, name, prefix)
    tolerance = _nested(m, values, "tolerance", TOLERANCE, name, prefix)
    p = Params(**params.values) if params and params.ok else None
    e, both = _expect(Expect(**expect.values), m, name, prefix) if expect and expect.ok else (None, [])
    tol = ToleranceOverride(**tolerance.values) if tolerance and tolerance.ok and tolerance.values else None
    problems += [*(params.problems if params else []), *(expect.problems if expect else []), *both,
                 *(tolerance.problems if tolerance else [])]
    ok = not wrong and all(c and c.ok for c in (params, expect, tolerance))  # an unknown key spoils nothing

    spec = FAMILIES[family]
    inkey = spec["input"]
    logits, more = input_spec(m, inkey, name, prefix, inkey, allow_nan)
    problems += more
    labels = None
    if spec["labels"] == "cotangent" and "labels" not in m:
        if logits is not None and p is not None:  # the gradient of the sum of the outputs
            shape = output_shape(family, logits.shape, p.axis)
            labels = Generated(name="full", args={"shape": list(shape), "value": 1.0}, shape=shape)
    elif logits is not None or not isinstance(m["labels"], dict):  # generated labels need valid logits
        kind = {"sparse": "sparse", "sequence": "sparse", "cotangent": "cotangent"}.get(spec["labels"], "dense")
        labels, more = input_spec(m, "labels", name, prefix, kind, allow_nan, logits, p.axis if p else -1)
        problems += more
    if spec["labels"] == "elementwise" and p is not None:
        more = checks.elementwise(m, name, prefix, family, p, labels, allow_nan)
        if more:
            return None, problems + more
    if not ok or p is None or logits is None or labels is None or e is None:
        return None, problems

    shape_checks = sequence_checks.ctc if spec["labels"] == "sequence" else checks.shapes
    for more in (shape_checks(m, name, prefix, family, logits, labels, p, e),
                 checks.family_options(m, name, prefix, family, p, logits, labels, e)):
        if more:
            return None, problems + more
    made = Case(id=cid, family=family, description=values["description"], predictions=logits, labels=labels, params=p,
                expect=e, tolerance=tol, location=at(name, m), **{k: values[k] for k in ("tags", "dtypes") if k in values})
    made, more = checks.generated_class_weights(made, m, name, prefix)
    if made is None:
        return None, problems + more
    made, more = relations(made, m, name, prefix)
    made, more2 = orders(made, m, name, prefix)
    return made, problems + more + more2


def _input_keys(m: dict, name: str, prefix: str) -> list[Problem]:
    """The first input is written under the name of what it holds (logits, probabilities or log_probabilities); the labels are
    required except for a building block's cotangent."""
    family = m["family"]
    if not (isinstance(family, str) and family in FAMILIES):
        return []
    inkey = FAMILIES[family]["input"]
    for other in ("logits", "probabilities", "log_probabilities"):
        if other != inkey and other in m:
            return [Problem(at(name, m, other), f"{prefix}{other}", f"{family} takes {inkey}: write '{inkey}:'")]
    needed = (inkey,) if FAMILIES[family]["labels"] == "cotangent" else (inkey, "labels")
    return [Problem(at(name, m), f"{prefix}{k}", REQUIRED) for k in needed if k not in m]


def _nested(m: dict, values: dict, key: str, table: Table, name: str, prefix: str) -> Checked | None:
    """A nested mapping against its table: absent (or a null tolerance), it has no fields; None where the case's
    own table found it wrong (not a mapping)."""
    if key in m and key not in values:
        return None
    v = m.get(key)
    return check(v, table, name, f"{prefix}{key}.") if isinstance(v, dict) else Checked({}, [], True)


def _expect(expect: Expect, m: dict, name: str, prefix: str) -> tuple[Expect | None, list[Problem]]:
    """The expected outcome is a loss, an error (of given exception classes), or neither; not both."""
    e, where = m.get("expect"), f"{prefix}expect"
    if expect.error and expect.loss is not None:
        return None, [Problem(at(name, e), where, "a case cannot expect both an error and a loss")]
    if expect.raises and not expect.error:
        return None, [Problem(at(name, e, "raises"), f"{where}.raises", "names the expected error: set error: true")]
    return expect, []
