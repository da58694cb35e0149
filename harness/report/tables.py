"""results.csv and summary.md: every row as a spreadsheet line, and the run's verdicts as Markdown."""

from __future__ import annotations

import html
import io
import json
from typing import Any

import pandas as pd

from harness.report import device_pairs
from harness.report.order import counts
from harness.report.values import fmt, plain
from harness.results.findings import TOP, Finding, findings, heading
from harness.results.findings import lines as finding_lines
from harness.results.rows import COLUMNS, FAILING, Row

TITLE = "Loss conformance report"
_MD_MAX_FAILURES = 30

# The value arrays (up to 1024 numbers each) stay in results.jsonl: in a spreadsheet they would make
# the file a hundred times larger (100 MB at 20,000 rows) and nobody reads them there.
CSV_COLUMNS = [c for c in COLUMNS if not c.endswith("_values") and c != "repro"]  # arrays and scripts: in the JSONL


def csv_text(rows: list[Row]) -> str:
    """Every field of every row but the value arrays; list fields (flags, tags, indexes, shape) as JSON."""
    records = []
    for r in rows:
        rec = {}
        for k in CSV_COLUMNS:
            v = getattr(r, k)
            rec[k] = _json_list(v) if isinstance(v, list) else plain(v)
        records.append(rec)
    buf = io.StringIO()
    pd.DataFrame(records, columns=CSV_COLUMNS).to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def _json_list(v: list) -> str:
    text = json.dumps(v)
    return json.dumps(plain(v)) if "NaN" in text or "Infinity" in text else text


def _md_text(s: Any) -> str:
    return html.escape(fmt(s).replace("\n", " ").replace("|", "\\|"), quote=False)


def markdown(rows: list[Row], partial: bool, warnings: list[str]) -> str:
    """summary.md: verdicts by framework, relations, the first new disagreements, CPU against GPU, warnings, and
    last the findings, as the console ends with them."""
    out = [f"# {TITLE}", ""]
    if partial:
        out += ["> **Partial run**: some shards are missing or incomplete; the counts cover only the rows written.", ""]
    cols, table = counts(rows, lambda r: r.framework)
    modes = sorted({r.precision.split(":")[0] for r in rows if r.precision})
    out += [f"{len(rows)} rows" + (f"; precision: {', '.join(modes)}." if modes else "."), "", "## Verdicts by framework", ""]
    if rows:
        out.append("| framework | " + " | ".join(cols) + " | total |")
        out.append("|---" * (len(cols) + 2) + "|")
        for fw, c in table.items():
            out.append(f"| {_md_text(fw)} | " + " | ".join(str(c[v]) for v in cols) + f" | {sum(c.values())} |")
    rel = [r for r in rows if r.relation]
    if rel:
        rcols, rtable = counts(rel, lambda r: (r.relation, r.framework))
        out += ["", "## Relations by framework", "", "| relation | framework | " + " | ".join(rcols) + " |",
                "|---" * (len(rcols) + 2) + "|"]
        out += [f"| {_md_text(k[0])} | {_md_text(k[1])} | " + " | ".join(str(c[v]) for v in rcols) + " |"
                for k, c in rtable.items()]
    failures = [r for r in rows if r.verdict in FAILING]
    out += ["", f"## New disagreements ({len(failures)})", ""]
    for r in failures[:_MD_MAX_FAILURES]:
        msg = (r.message.strip().splitlines() or [""])[0][:300]
        out.append(f"- {r.verdict} {_md_text(r.case)} [{_md_text(r.framework)} {_md_text(r.api)} "
                   f"{_md_text(r.device)} {_md_text(r.dtype)}]: {_md_text(msg)}")
    if len(failures) > _MD_MAX_FAILURES:
        out.append(f"- ... and {len(failures) - _MD_MAX_FAILURES} more")
    if not failures:
        out.append("None.")
    ps = device_pairs.pairs(rows)
    if ps:
        differ = [p for p in ps if p.verdicts_differ]
        identical = sum(1 for p in ps if p.loss_ulp == 0 and p.grad_ulp == 0)
        out += ["", f"## CPU against GPU ({len(ps)} trials)", "",
                f"{identical} identical on both devices; {len(differ)} with different verdicts."]
        for p in differ[:_MD_MAX_FAILURES]:
            out.append(f"- {_md_text(p.case)} [{_md_text(p.framework)} {_md_text(p.api)} {_md_text(p.dtype)}]: "
                       f"cpu {p.cpu_verdict}, {_md_text(p.device)} {p.device_verdict}")
    if warnings:
        out += ["", "## Warnings", ""] + [f"- {_md_text(w)}" for w in warnings]
    return "\n".join(out + findings_markdown(findings(rows))) + "\n"


def findings_markdown(found: list[Finding]) -> list[str]:
    """summary.md's last section: the findings' lines the console ends with (harness/results/findings.py), HTML
    escaped; the count of the rest after a blank line, so that it is not read as part of the last item."""
    lines = [html.escape(ln, quote=False) for ln in finding_lines(found)]
    if len(found) > TOP:
        lines[-1:] = ["", lines[-1]]
    return ["", f"## {heading(found)}", "", *lines]
