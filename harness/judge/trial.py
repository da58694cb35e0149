"""One trial judged: a framework's observation against the oracle (with the `clipped` flag), or the oracle against a case's golden values."""

from __future__ import annotations

import numpy as np

from adapters.api import Observation
from harness.judge import tolerances
from harness.judge.verdicts import Outcome, clipped, judge
from harness.oracle import Reference
from harness.oracle.clipped import clipped_losses
from harness.schema.model import Case
from harness.trials import Inputs

CLIPPABLE = ("loss_mismatch", "nonfinite")  # the verdicts a guard (a clip, a clamp) may explain


def against_oracle(case: Case, dtype: str, inputs: Inputs, ref: Reference | None, tol: tolerances.Tolerance | None,
                   obs: Observation) -> Outcome:
    """The judge's outcome of a framework's observation; a loss off the oracle that a common guard explains
    is flagged `clipped`, with the guard named in the message (the verdict stays)."""
    out = judge(case, ref, obs, tol)
    if out.verdict in CLIPPABLE:
        guard = clipped(obs, ref, tol, clipped_losses(case, inputs, dtype))
        if guard:
            out.flags.append("clipped")
            out.message = f"{out.message} [clipped: matches the loss with {guard}]"
    return out


def golden(case: Case, ref: Reference) -> tuple[Observation, tolerances.Tolerance, Outcome]:
    """The oracle's float64 answer judged against the golden values written in the case, to 1 float64 ULP:
    (the oracle's answer as an observation, that tolerance, the outcome)."""
    obs = Observation(dtype="float64", call="harness.oracle.compute", device="cpu", loss=ref.loss.reshape(-1), grad=ref.grad)
    values = np.asarray(case.expect.loss, dtype=np.float64)
    expected = Reference(
        loss=values if values.shape == obs.loss.shape else values.reshape(-1), grad=ref.grad,
        precision="golden", saturated=False, rows=ref.rows, classes=ref.classes)
    tol = tolerances.Tolerance.fixed(np.finfo(np.float64).eps, 0.0, 0.0, 0.0, "golden values: 1 float64 ULP")
    return obs, tol, judge(case, expected, obs, tol)
