"""`python -m harness repro ROW_ID`: a recorded row as a standalone script, from its case file, the inputs and the oracle.

The row is read from a results.jsonl, its case from the case file the row names (`source`; or the folders given),
the inputs are materialized as the run materialized them, the oracle gives the exact answer, and adapters/repro
writes the script. A row with nothing a framework computed (the oracle's own, unsupported, unavailable, a missing
device, the harness's own failure) and a path no script can call (a user's own loss) get the reason and
EXIT_NO_SCRIPT, never another script. A relation row reproduces the case's own formulation on its path, the
values the row holds, with the oracle's answer as the expected one.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
import textwrap
from pathlib import Path

import numpy as np

from adapters.repro import NoScript, Script, Target, write
from adapters.repro import orders as orders_text
from adapters.repro.script import INLINE
from harness import oracle
from harness.judge.inputs import inputs_text
from harness.oracle import Reference, orders
from harness.results.rows import FAILING, Row, no_reproducer
from harness.run.console import EXIT_BAD_INPUT, EXIT_OK
from harness.schema import Case, CaseFileError, load_paths
from harness.trials import Inputs, Trial, direction, materialize

EXIT_NO_SCRIPT = 3  # the row exists, but no standalone script reproduces it (the reason is printed)


class NotFound(Exception):
    """No such row, results file or case (a bad input, EXIT_BAD_INPUT)."""


def find_row(results: Path, rid: str) -> Row:
    """The row of a results.jsonl (or of an output folder's) with this id."""
    path = results / "results.jsonl" if results.is_dir() else results
    if not path.is_file():
        raise NotFound(f"no results file {path} (run `python -m harness run` first, or give --results)")
    head = '{"row_id": ' + json.dumps(rid) + ","
    ids = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith(head):
                return Row.from_json(line)
            m = re.match(r'\{"row_id": ("(?:[^"\\]|\\.)*")', line)
            if m:
                ids.append(json.loads(m.group(1)))
    near = difflib.get_close_matches(rid, ids, n=3, cutoff=0.6)
    raise NotFound(f"no row {rid!r} in {path} ({len(ids)} rows)" + (f"; did you mean {', '.join(near)}?" if near else ""))


def refusal(row: Row) -> str:
    """Why the row has no script ('' when it may have one)."""
    why = no_reproducer(row)
    if why and (row.raw_verdict or row.verdict) == "unsupported" and row.message:
        return f"{why} ({row.message})"
    return why


def find_case(row: Row, case_paths: list[Path]) -> Case:
    """The row's case (a relation row's: the case the relation belongs to; an order row's: the case the order is of),
    from the file the row names, else the paths."""
    cid = row.case.partition("~")[0] if row.relation or "~" in row.case else row.case.removesuffix(f"/{row.order}")
    source = Path(re.sub(r"(:\d+){1,2}$", "", row.source)) if row.source else None
    looked = [p for p in ([source] if source else []) + case_paths if p.exists()]
    for p in looked:
        try:
            found = [c for c in load_paths([p]) if c.id == cid]
        except CaseFileError as e:
            raise NotFound("\n".join(map(str, e.problems))) from None
        if found:
            return found[0]
    raise NotFound(f"no case {cid!r} in {', '.join(map(str, looked)) or 'no case file (give --cases)'}"
                   + (f"; the row names {source}, which is gone" if source and not source.exists() else ""))


def script(row: Row, case: Case, npz: str, inputs: Inputs | None = None, ref: Reference | None = None) -> Script:
    """The row's script (NoScript: the reason there is none); `inputs` and `ref` (the trial's, when the caller has
    them) are materialized and computed otherwise."""
    why = refusal(row)
    if why:
        raise NoScript(why)
    t = Target(framework=row.framework, api=row.api, device=row.device_requested or row.device, dtype=row.dtype, case=case,
               precision=row.precision, order=row.order)
    trial = Trial(case, row.dtype)
    inputs = inputs if inputs is not None else materialize(trial)
    expected, v = None, direction(trial) if row.order else None
    if not case.expect.error:
        ref = ref if ref is not None else oracle.compute(case, inputs, row.dtype)
        if row.order:  # the loss beside the order's analytic value along v (harness/oracle/orders.py)
            try:
                ref = orders.derivative(case, inputs, ref, row.order.partition(":")[0], v)
            except orders.NotJudged as e:
                raise NoScript(f"the harness judges no {row.order} here: {e}") from None
        expected = (ref.loss, ref.grad)
    recorded = tuple(None if v is None else np.asarray(v, dtype=np.float64) for v in (row.loss_values, row.grad_values))
    return write(t, inputs, expected, recorded, about=_about(row, case), npz=npz,
                 expected_error=(case.expect.reason or "the case expects one") if case.expect.error else "",
                 version=row.framework_version, direction=v)


def embedded(row: Row, case: Case, inputs: Inputs, ref: Reference | None) -> str:
    """The script a row carries for the report (its `repro` field): a row whose raw verdict fails (what is reported
    upstream) and whose inputs fit in the script; '' for every other row, which `python -m harness repro` serves."""
    if (row.raw_verdict or row.verdict) not in FAILING or refusal(row) or np.size(inputs.logits) > INLINE:
        return ""
    try:
        return script(row, case, "", inputs, ref).text
    except NoScript:
        return ""


def _about(row: Row, case: Case) -> list[str]:
    verdict = row.raw_verdict or row.verdict  # the judge's (the known-differences file is this project's bookkeeping)
    lines = [f"Reproducer of {row.row_id}", "",
             f"{case.family}, reduction {case.params.reduction}, {row.dtype} on {row.device_requested or row.device}: "
             f"{row.framework} {row.framework_version}".rstrip(),
             f"call: {row.call or row.api}",
             f"the run's verdict: {verdict}" + (f": {row.message[:400]}" if row.message else ""),
             f"case: {case.id} ({case.location})", f"precision: {row.precision or 'not recorded (pinned assumed)'}"]
    if row.order:
        name = row.order.partition(":")[0]
        lines += ["", *textwrap.wrap(
            f"The row's derivative: {orders_text.describe(row.order)}; v is standard normal from the case's "
            f"direction_seed ({case.direction_seed}), rounded to {row.dtype}. The loss is computed as its own row "
            f"computes it, then the {name} by the call chain above; the expected values are the oracle's loss and "
            f"its analytic {name}.", 116)]
    if row.relation:
        lines += ["", f"The row checks the relation {row.case.partition('~')[2]} ({row.relation}) against {row.partner}.",
                  "This script reproduces the case's own formulation on the path (the row's values), with the oracle's",
                  "answer as the expected one."]
    if row.inputs and row.inputs != inputs_text(case):
        lines += ["", "The case file changed since the run: the script holds the inputs the file gives now."]
    return lines


def command(rid: str, results: str, out: str | None, cases: list[str]) -> int:
    """Write the row's script to `out` (and its .npz beside it when the inputs are large), or print it."""
    try:
        row = find_row(Path(results), rid)
        case = None if refusal(row) else find_case(row, [Path(c) for c in cases])
    except NotFound as e:
        print(f"repro: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    target = Path(out) if out else Path("repro-" + re.sub(r"[^\w.@=+-]+", "_", rid).strip("_") + ".py")
    try:
        if case is None:
            raise NoScript(refusal(row))
        s = script(row, case, target.with_suffix(".npz").name)
    except NoScript as e:
        print(f"repro: no standalone script for {rid}: {e}", file=sys.stderr)
        return EXIT_NO_SCRIPT
    if out is None and not s.npz:
        sys.stdout.write(s.text)
        return EXIT_OK
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(s.text, encoding="utf-8")
    if s.npz:
        np.savez_compressed(target.with_suffix(".npz"), **s.arrays)
    print(f"wrote {target}" + (f" and {target.with_suffix('.npz')}" if s.npz else ""), file=sys.stderr)
    return EXIT_OK
