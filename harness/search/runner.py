"""Running one drawn case: the mapping becomes a real Case through the case-file loader (so it is valid by
construction), every path of the chosen frameworks runs it, and each row is judged as a run judges it
(harness/run/items.py): the oracle, the trial's tolerances, the judge, the derivative orders, and the known
differences applied last (harness/search/known.py)."""

from __future__ import annotations

import hashlib
import json
import traceback
from dataclasses import dataclass, field

import numpy as np

import adapters
from adapters.api import Adapter, Observation, run_order
from harness import oracle
from harness.core.yamlfile import CaseFileError
from harness.judge import assemble, tolerances
from harness.judge.trial import against_oracle
from harness.judge.verdicts import judge
from harness.oracle import orders
from harness.results.rows import Row, order_case, row_id
from harness.schema import Case, load_text
from harness.search import known, relations
from harness.search.known import Known
from harness.search.yamltext import case_text
from harness.trials import Trial, direction, materialize

# a row that is none of these, and not `known`, is a finding
QUIET = frozenset({"pass", "unsupported", "expected_error", "relation_pass", "known"})
DEVICE = "cpu"


def case_id(m: dict) -> str:
    """A drawn case's id: its family and a digest of what it holds (the same mapping, the same id)."""
    body = {k: v for k, v in m.items() if k not in ("id", "description")}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return f"search-{m['family'].replace('_', '-')}-{digest}"


def to_case(m: dict, description: str = "drawn by the search") -> Case:
    """The Case of a mapping, through the loader of case files (CaseFileError: the schema refuses it)."""
    full = {"id": m.get("id") or case_id(m), "description": m.get("description") or description, **m}
    return load_text(case_text(full), "<search>")[0]


@dataclass
class Target:
    """The framework adapters the search runs, and the known differences it applies."""

    frameworks: list[str]
    known: Known = field(default_factory=Known)
    relations: bool = True  # check the relations of harness/search/relations.py on every path
    adapters: dict[str, Adapter] = field(default_factory=dict)

    def adapter(self, name: str) -> Adapter:
        if name not in self.adapters:
            self.adapters[name] = adapters.load(name)
        return self.adapters[name]


def signature(row: Row) -> tuple[str, str, str]:
    """What a shrunk case must keep showing: the framework, the path (with the order) and the raw verdict."""
    extra = f" {row.order}" if row.order else f" ~{row.relation}" if row.relation else ""
    return row.framework, row.api + extra, row.raw_verdict or row.verdict


def run_case(case: Case, target: Target, only: tuple[str, str] | None = None) -> list[Row]:
    """Every row of the case on every path of the target's frameworks (`only`: one framework and path, with its
    order after a space), each with its final verdict after the known differences."""
    dtype = case.dtypes[0]
    trial = Trial(case, dtype)
    with np.errstate(all="ignore"):  # extreme logits overflow in the oracle's float64 and the allowances, as meant
        return _run(case, target, only, dtype, trial)


def _run(case: Case, target: Target, only, dtype: str, trial: Trial) -> list[Row]:
    inputs = materialize(trial)
    ref = oracle.compute(case, inputs, dtype)
    tol = tolerances.for_trial(case, dtype, ref, inputs)
    rows: list[Row] = []
    if target.relations and not only:  # the oracle held to the relations too: they catch errors of its own
        obs = Observation(dtype=dtype, call="harness.oracle.compute", device="cpu", loss=ref.loss, grad=ref.grad)
        base = lambda cid, api: assemble.base(row_id(cid, "oracle", api, DEVICE, dtype), case, "oracle", api,  # noqa: E731
                                              DEVICE, dtype)
        rows += relations.rows(case, inputs, ref, tol, dtype, "oracle", None, None, obs, base)
    for fw in target.frameworks:
        if only and only[0] != fw:
            continue
        ad = target.adapter(fw)
        version = ad.version()
        for path in ad.paths():
            if case.family not in path.families:
                continue
            base = lambda cid, api=path.name, fw=fw, ver=version: assemble.base(  # noqa: E731
                row_id(cid, fw, api, DEVICE, dtype), case, fw, api, DEVICE, dtype, framework_version=ver)
            if not only or only[1].split(" ~")[0] == path.name:
                row = base(case.id)
                try:
                    obs = ad.run(path, case, inputs, dtype, DEVICE)
                    out = against_oracle(case, dtype, inputs, ref, tol, obs)
                    row = assemble.trial(row, out, obs, ref, tol, shape=list(case.predictions.shape), allowances=True)
                    if target.relations and not obs.unsupported:
                        rows += relations.rows(case, inputs, ref, tol, dtype, fw, ad, path, obs, base)
                except Exception as e:  # noqa: BLE001 - the harness's own failure is a row too
                    row = assemble.harness_error(row, e, traceback.format_exc())
                rows.append(row)
            for order in case.orders:
                for method in ad.order_methods.get(order, ()):
                    name = f"{order}:{method}"
                    if only and only[1] != f"{path.name} {name}":
                        continue
                    row = base(order_case(case.id, name))
                    row.case, row.order = order_case(case.id, name), name
                    rows.append(_order_row(row, ad, path, case, inputs, ref, tol, trial, order, method))
    for row in rows:
        known.apply(row, case, target.known)
    # a derivative order of a path that raised raises the same: the path's own row reports it
    raised = {r.api for r in rows if not r.order and not r.relation and (r.raw_verdict or r.verdict) == "error"}
    return [r for r in rows if not (r.order and r.api in raised and (r.raw_verdict or r.verdict) == "error")]


def _order_row(row: Row, ad: Adapter, path, case: Case, inputs, ref, tol, trial: Trial, order: str, method: str) -> Row:
    dtype = trial.dtype
    try:
        v = direction(trial)
        oref = orders.derivative(case, inputs, ref, order, v)
    except orders.NotJudged as e:
        return assemble.unsupported(row, f"harness: {e}")
    otol = tolerances.for_order(case, dtype, order, tol, ref, oref, inputs, v)
    try:
        obs = run_order(ad, path, case, inputs, dtype, DEVICE, order, method, v)
        out = judge(case, oref, obs, otol)
        return assemble.trial(row, out, obs, oref, otol, shape=list(case.predictions.shape), allowances=True)
    except Exception as e:  # noqa: BLE001
        return assemble.harness_error(row, e, traceback.format_exc())


def findings(rows: list[Row]) -> list[Row]:
    """The rows that are findings: neither quiet nor explained by a known difference."""
    return [r for r in rows if r.verdict not in QUIET]


def try_case(m: dict) -> Case | None:
    """The case of a drawn mapping, or None where the schema refuses it."""
    try:
        return to_case(m)
    except CaseFileError:
        return None
