"""The end of a run: write the merged rows and the report, print the summary, and the exit code."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from harness.results import findings, merge
from harness.results.rows import FAILING, Row
from harness.results.shards import atomic_write

EXIT_OK, EXIT_DISAGREE, EXIT_BAD_INPUT = 0, 1, 2


def finish(rows: list[Row], envs: list[dict], out: Path, warnings: list[str], partial: list[str] = (), *,
           stale: list[str] = (), strict_known: bool = False) -> int:
    """Write the merged rows and the report, print the summary, ending with the findings (the lines summary.md ends
    with); the exit code. `stale`: the known differences that matched no row; with `strict_known` they and every
    `fixed` row fail the run, otherwise they are warnings."""
    from harness import report

    warnings = [*(f"partial: {p} (resume with `run --resume`)" for p in partial), *warnings, *stale]
    atomic_write(out / "results.jsonl", "".join(merge.line(r) + "\n" for r in rows))  # a served row's line as stored
    report.write_report(rows, envs, out, partial=bool(partial), warnings=warnings)
    print_summary(rows)
    for w in warnings:
        print(f"warning: {w}")
    bad = [r for r in rows if r.verdict in FAILING]
    print(f"report: {out / 'index.html'}  ({len(rows)} rows; {len(bad)} new disagreement(s))")
    fixed = [r for r in rows if r.verdict == "fixed"]
    code = EXIT_DISAGREE if bad else EXIT_OK
    if strict_known and (fixed or stale):
        print(f"--strict-known: {len(fixed)} fixed row(s) and {len(stale)} known difference(s) matching no row "
              "fail the run: update known_differences.yaml")
        for r in fixed[:20]:
            print(f"  fixed: {r.row_id}: recorded as {r.known_reason[:120]!r}, now passes")
        if len(fixed) > 20:
            print(f"  ... and {len(fixed) - 20} more fixed rows (see the report)")
        code = EXIT_DISAGREE
    print_findings(rows)
    return code


def print_findings(rows: list[Row]) -> None:
    """The run's findings, worst first (harness/results/findings.py): the lines summary.md ends with too."""
    found = findings.findings(rows)
    print(findings.heading(found))
    for line in findings.lines(found):
        print(line)


def print_summary(rows: list[Row]) -> None:
    fws = sorted({r.framework for r in rows})
    verdicts = sorted({r.verdict for r in rows}, key=lambda v: (v not in FAILING, v))
    width = max([len(f) for f in fws] + [9])
    tally = Counter((r.framework, r.verdict) for r in rows)
    print("verdicts by framework:")
    print("  " + "framework".ljust(width) + "".join(v.rjust(max(len(v), 5) + 2) for v in verdicts))
    for f in fws:
        counts = [tally[(f, v)] for v in verdicts]
        print("  " + f.ljust(width) + "".join(str(c).rjust(max(len(v), 5) + 2) for c, v in zip(counts, verdicts, strict=False)))
