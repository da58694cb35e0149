"""Row assembly: an observation, its reference, its tolerance and the judge's outcome become one result Row.

Every row the harness writes is built here, with its raw verdict: a trial's (the judge's), a relation's
(harness/judge/relations.py), or what happened instead of a result (the harness failed, the device is
missing, the framework is unavailable, its process crashed or hung). The known differences then settle
its final verdict, in one place: harness/judge/expectations.apply.
"""

from __future__ import annotations

import numpy as np

from adapters.api import Observation
from harness.judge.inputs import field_logits, inputs_text
from harness.judge.relations import Partner, RelationOutcome, relation_case_id
from harness.judge.tolerances import Tolerance
from harness.judge.verdicts import Outcome
from harness.oracle import Reference
from harness.results.rows import MAX_VALUES, Row, parse_row_id, row_id, values
from harness.schema.model import Case, Relation

NOT_RUN = ("unsupported", "error")  # raw verdicts of rows that ran nowhere, so no device can be wrong


def base(rid: str, case: Case, framework: str, api: str, device: str, dtype: str, *,
         framework_version: str = "", precision: str = "") -> Row:
    """A trial's row before anything is observed (no verdict yet): its id, its case's description, the framework's
    version and precision."""
    return Row(
        row_id=rid, case=case.id, family=case.family, framework=framework, api=api, device=device, device_requested=device,
        dtype=dtype, verdict="", tags=list(case.tags), description=case.description, source=str(case.location),
        reduction=case.params.reduction, sweep=case.sweep, sweep_value=case.logit_scale if case.sweep else None,
        framework_version=framework_version, precision=precision, inputs=inputs_text(case), logit_values=field_logits(case),
    )


def for_relation(row: Row, case: Case, relation: Relation, api: str) -> Row:
    """A base row made a relation check's: the case is `<case id>~<relation>`, the source the relation's."""
    row.case = relation_case_id(case, relation)
    row.api = api
    row.relation = relation.kind
    row.source = str(relation.location)
    return row


def trial(row: Row, out: Outcome, obs: Observation, ref: Reference | None, tol: Tolerance | None, *,
          shape: list[int], allowances: bool) -> Row:
    """A trial's row: the outcome, the observation, the oracle's values, and (allowances) each element's allowance."""
    _observed(row, out.verdict, out.flags, out.message, out.metrics, obs, obs.traceback, shape)
    if ref is not None:
        row.oracle_precision = ref.precision
        row.ref_loss_values, row.ref_grad_values = values(ref.loss), values(ref.grad)
    if tol is not None:
        row.tolerance_source = tol.source
        if ref is not None and allowances and obs.loss is not None:
            row.loss_allowed_values = values(tol.loss_allowed(ref.loss))
            if row.grad_values is not None and ref.grad.size <= MAX_VALUES:
                row.grad_allowed_values = values(tol.grad_full(ref.grad))
    return row


def relation(row: Row, out: RelationOutcome, obs_a: Observation, obs_b: Observation, pt: Partner, ref: Reference,
             tol: Tolerance, tol_b: Tolerance, *, shape: list[int]) -> Row:
    """A relation check's row: the case's observation (obs_a) beside the partner's (obs_b) mapped back onto the case."""
    _observed(row, out.verdict, out.flags or [], out.message, out.metrics, obs_a, obs_a.traceback or obs_b.traceback, shape)
    row.partner = pt.what + (f"; computed by {obs_b.call}" if obs_b.call else "")
    if obs_b.loss is not None:
        gb_raw = np.zeros(np.shape(pt.inputs.logits)) if obs_b.grad is None else np.asarray(obs_b.grad, dtype=np.float64)
        lb, gb = pt.to_case(np.asarray(obs_b.loss, dtype=np.float64), gb_raw)
        row.ref_loss_values, row.ref_grad_values = values(lb), (None if obs_b.grad is None else values(gb))
    row.oracle_precision = ref.precision
    row.tolerance_source = ("relation: the case's per-element allowance plus the partner's, mapped back "
                            f"({tol.source}; partner {tol_b.source})")
    return row


def _observed(row: Row, verdict: str, flags: list[str], message: str, metrics: dict, obs: Observation, traceback: str,
              shape: list[int]) -> None:
    """What every judged row holds: the call and device that ran, the outcome, the observed values. A row that ran
    on another device than the one requested is an `error` (wrong_device), whatever the judge said."""
    row.call = obs.call or row.api
    row.device = obs.device or row.device_requested
    wrong = row.device != row.device_requested and verdict not in NOT_RUN
    row.verdict = "error" if wrong else verdict
    row.flags = [*flags, "wrong_device"] if wrong else list(flags)
    row.message = f"ran on {row.device}, but should run on {row.device_requested}. {message}".strip() if wrong else message
    row.traceback = traceback
    for k, v in metrics.items():
        setattr(row, k, v)
    row.shape = shape
    row.loss_values, row.grad_values = values(obs.loss), values(obs.grad)


def harness_error(row: Row, error: BaseException, traceback: str) -> Row:
    """A trial the harness itself failed on (a bug of ours): an `error` row, and the run goes on."""
    row.verdict = "error"
    row.message = f"harness error: {type(error).__name__}: {error}"
    row.traceback = traceback
    row.flags = ["harness_error"]
    return row


def device_unavailable(row: Row, message: str, call: str) -> Row:
    """A trial on a device its framework does not see: nothing ran (see harness/run/items.py)."""
    row.verdict = "error"
    row.flags, row.message, row.call = ["device_unavailable"], message, call
    return row


def unsupported(row: Row, message: str) -> Row:
    row.verdict = "unsupported"
    row.message = message
    return row


def unavailable(framework: str, message: str) -> Row:
    """The one row of a framework that is not installed or fails to import: a row of the report, not a silent gap."""
    return Row(row_id=row_id("*", framework, "*", "*", "*"), case="*", family="*", framework=framework, api="*",
               device="*", dtype="*", verdict="unavailable", message=message)


def process_failure(rid: str, framework: str, verdict: str, message: str) -> Row:
    """The row of the trial a framework's process was running when it died (`crash`) or was killed (`timeout`)."""
    case, api, device, dtype = parse_row_id(rid, framework)
    return Row(row_id=rid, case=case, family="", framework=framework, api=api, device=device, dtype=dtype,
               verdict=verdict, message=message, device_requested=device)
