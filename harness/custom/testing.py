"""Assertions for a user's own test suite: `assert_loss_conforms(my_loss, family=..., framework=...)`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from harness.custom.check import check_rows, describe, frame
from harness.results.rows import FAILING

MAX_LISTED = 25


def assert_loss_conforms(loss: str | Callable | Sequence[str | Callable], *, family: str, framework: str | Sequence[str],
                         cases: Sequence[str | Path] | str | Path | None = None, out: str | Path | None = None,
                         returns: str = "none", beside: str = "none", keyword: str | None = None,
                         devices: Sequence[str] = (), trial_timeout: float = 600.0) -> pd.DataFrame:
    """Fail unless every case the loss can express agrees with the oracle; return the custom rows.

    The message lists each failing case with the observed and expected values at the worst element,
    the tolerance, and the trial in brackets; the report of the run is named in it. It also fails
    when no case was judged at all (every case unsupported, or the framework not installed), so that
    a signature that declares no option of the cases cannot pass by running nothing. Arguments as
    `harness.check`, except that the built-in paths are not run (beside='none') unless asked for.
    """
    __tracebackhide__ = True
    result = check_rows(loss, family=family, framework=framework, cases=cases, out=out, returns=returns, beside=beside,
                        keyword=keyword, devices=devices, trial_timeout=trial_timeout)
    rows = result.custom
    names = ", ".join(result.apis)
    unavailable = [r for r in rows if r.verdict == "unavailable"]
    if unavailable:
        raise AssertionError(f"{names}: {'; '.join(f'{r.framework} {r.message}' for r in unavailable)} [report: {result.report}]")
    judged = [r for r in rows if r.verdict != "unsupported"]
    if not judged:
        reasons = sorted({r.message for r in rows})[:5]
        raise AssertionError(f"{names}: no case was judged ({len(rows)} unsupported: {'; '.join(reasons) or 'no case of the family'}) "
                             f"[report: {result.report}]")
    failing = [r for r in judged if r.verdict in FAILING]
    if failing:
        lines = [f"  {r.api}: {describe(r)}" if len(result.apis) > 1 else f"  {describe(r)}" for r in failing[:MAX_LISTED]]
        if len(failing) > MAX_LISTED:
            lines.append(f"  ... and {len(failing) - MAX_LISTED} more")
        raise AssertionError(f"{names} disagrees with the oracle in {len(failing)} of {len(judged)} judged trials "
                             f"[report: {result.report}]:\n" + "\n".join(lines))
    return frame(rows)
