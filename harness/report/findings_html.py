"""The page's first screen: the findings, one line each that opens to its worst row, and the per-framework view.

The findings and their order come from harness/results/findings.py (the console and summary.md list the same
ones). Each finding is a `<details id="finding-N">`: its line (status, verdicts, frameworks and paths, dtypes,
rows, the worst error, what happens) and, opened, what it covers and its representative row: the inputs,
the observed and exact values at the worst element, the error in ULPs and the allowance there. The
per-framework view is a table of families by frameworks: a mark where the framework's own paths conform,
else the numbers of the findings on them, each a link that opens the finding.
"""

from __future__ import annotations

import math

from harness.report.markup import esc, row_link, verdict_class
from harness.report.values import fmt
from harness.results.findings import Finding, conformance, findings, heading, worst_text
from harness.results.rows import Row

_CASES_SHOWN = 8
_MAX_SHOWN = 200  # findings rendered; a run with more (a broken build) lists the rest in the row table
_MESSAGE_CHARS = 600


def section(rows: list[Row]) -> str:
    found = findings(rows)
    note = ("Each distinct behaviour of this run that differs from the mathematics, worst first: new disagreements "
            "(they fail the run), then known differences; the frameworks' own paths before the textbook formulas "
            "(naive:, manual:); NaN and Inf, then a number where an error belongs, crashes and errors, then the largest "
            "errors in ULPs. Open one for its worst row.")
    items = "".join(_finding(f) for f in found[:_MAX_SHOWN]) or ('<p class="note">None: every row that ran agrees '
                                                                "with the mathematics or cannot express its case.</p>")
    if len(found) > _MAX_SHOWN:
        items += (f'<p>... and {len(found) - _MAX_SHOWN} more: <a href="#verdict=failing">every failing row</a>, '
                  '<a href="#verdict=known">every known one</a>.</p>')
    return (f'<section id="findings-sec"><h2>{esc(heading(found))}</h2><p class="note">{esc(note)}</p>'
            f'<div class="findings">{items}</div>{_per_framework(rows, found)}{_kinks(rows)}</section>')


def _finding(f: Finding) -> str:
    w = f.worst
    status = '<span class="tag new">NEW</span>' if not f.known else '<span class="tag known">known</span>'
    verdicts = "".join(f'<span class="{verdict_class(v)}">{esc(v)}</span>' for v in f.verdicts)
    flags = f'<span class="flags">{esc(", ".join(f.flags))}</span>' if f.flags else ""
    n = len(f.rows)
    line = (f'<span class="fno">{f.number}</span>{status}{verdicts}{flags}<span class="where">{esc(f.where())}</span>'
            f'<span class="cases">{esc(f.which_cases())}</span><span class="dts">{esc(", ".join(f.dtypes))}</span><span class="cnt">{n} row{"s" * (n != 1)}</span>'
            f'<span class="worst">{esc(worst_text(w) or "?")}</span><span class="about">{esc(f.about())}</span>')
    return (f'<details class="finding{" textbook" if f.textbook else ""}" id="finding-{f.number}">'
            f"<summary>{line}</summary>{_covers(f)}{_representative(w)}</details>")


def _link(url: str) -> str:
    if url.startswith(("https://", "http://")):
        return f'<a href="{esc(url)}" rel="noopener noreferrer">{esc(url)}</a>'
    return esc(url)


def _covers(f: Finding) -> str:
    items = []
    if f.known:
        items.append(("mechanism", esc(f.reason)))
        items.append(("upstream", _link(f.link)))
        if f.entry:
            items.append(("entry", esc(f.entry)))
    paths: dict[str, list[str]] = {}
    for fw, api in f.paths:
        paths.setdefault(fw, []).append(api)
    items.append(("paths", "<br>".join(f"<b>{esc(fw)}</b> {esc(', '.join(apis))}" for fw, apis in paths.items())))
    items.append(("dtypes / devices / families", esc(f"{', '.join(f.dtypes)} / {', '.join(f.devices)} / "
                                                      f"{', '.join(f.families)}")))
    cases = f.cases
    firsts = {}
    for r in sorted(f.rows, key=lambda r: r.row_id):
        firsts.setdefault(r.case, r)
    shown = ", ".join(row_link(firsts[c].row_id, c) for c in cases[:_CASES_SHOWN])
    more = f" and {len(cases) - _CASES_SHOWN} more" if len(cases) > _CASES_SHOWN else ""
    items.append((f"{len(f.rows)} rows in {len(cases)} case{'s' * (len(cases) != 1)}", shown + more))
    return '<dl class="covers">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"


def _number(v: float | None) -> str:
    return "" if v is None else repr(v) if isinstance(v, float) else fmt(v)


def _short(v: float | None) -> str:
    return "" if v is None else f"{v:.3g}"


def _representative(r: Row) -> str:
    exact = "partner" if r.relation else "exact"
    head = "".join(f"<th>{h}</th>" for h in ("", "at", "observed", exact, "abs error", "rel error", "ULP", "allowed"))
    body = []
    for name, at, obs, ref, abs_err, rel, ulp, allowed, allowance in (
            ("loss", r.loss_worst_index, r.loss, r.ref_loss, r.loss_abs_err, r.loss_rel_err, r.loss_ulp, r.loss_allowed,
             r.loss_allowance),
            ("gradient", r.grad_worst_index, r.grad, r.ref_grad, r.grad_max_abs_err, r.grad_max_rel_err, r.grad_ulp,
             r.grad_allowed, r.grad_allowance)):
        if obs is None and ref is None:
            continue
        at_text = f"[{fmt(at)}]" if at else ""
        errors = [_short(abs_err), _short(rel), _short(ulp)]
        if not all(v is not None and math.isfinite(v) for v in (obs, ref)):
            errors = ["-"] * 3  # the row's errors are over its finite elements, not this one's
        cells = [name, at_text, _number(obs), _number(ref), *errors, allowance or _short(allowed)]
        body.append("<tr>" + "".join(("<td>" if i < 2 else '<td class="n">') + f"{esc(c)}</td>" for i, c in enumerate(cells))
                    + "</tr>")
    values = (f'<table class="worstvals"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>' if body
              else '<p class="note">No values: the path returned none.</p>')
    facts = [("verdict", esc(r.raw_verdict or r.verdict) + (f" ({esc(r.verdict)})" if r.raw_verdict not in ("", r.verdict) else "")),
             ("flags", esc(", ".join(r.flags))), ("description", esc(r.description)),
             ("inputs", f"<pre>{esc(r.inputs)}</pre>" if r.inputs else ""),
             ("tolerance from", esc(r.tolerance_source)), ("call", esc(r.call)), ("precision", esc(r.precision))]
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts if v)
    message = r.message.strip()
    if len(message) > _MESSAGE_CHARS:
        message = message[:_MESSAGE_CHARS - 3] + "..."
    msg = f"<pre>{esc(message)}</pre>" if message else ""
    return (f'<div class="rep"><h4>Worst row: {row_link(r.row_id, r.row_id)} <span class="note">(opens it in the table '
            f'below, with its values and the command that re-runs it)</span></h4><dl class="covers">{dl}</dl>{values}{msg}</div>')


def _to(n: int) -> str:
    """A finding's number, a link that opens it where it is listed."""
    return f'<a href="#finding-{n}">{n}</a>' if n <= _MAX_SHOWN else str(n)


def _per_framework(rows: list[Row], found: list[Finding]) -> str:
    table = conformance(rows, found)
    if not table:
        return ""
    fws = sorted({fw for cells in table.values() for fw in cells})
    head = "<th>family</th>" + "".join(f"<th>{esc(fw)}</th>" for fw in fws)
    body = []
    for family, cells in table.items():
        tds = []
        for fw in fws:
            c = cells.get(fw)
            if c is None:
                tds.append('<td class="none"></td>')
                continue
            links = " ".join(map(_to, c.findings))
            tb = (' <span class="tb" title="findings on the textbook formulas built from its ops (naive:, manual:)">('
                  + " ".join(map(_to, c.textbook)) + ")</span>") if c.textbook else ""
            if c.findings:
                tds.append(f'<td class="differs" title="its own paths differ: findings {esc(", ".join(map(str, c.findings)))}">'
                           f"{links}{tb}</td>")
            elif c.conforms:
                tds.append(f'<td class="conforms" title="{c.agree} rows of its own paths agree with the mathematics">'
                           f"&#10003;{tb}</td>")
            else:
                tds.append(f'<td class="na" title="its own paths cannot express this family (unsupported)">&ndash;{tb}</td>')
        body.append(f"<tr><th>{esc(family or '(no family: the process failed)')}</th>{''.join(tds)}</tr>")
    note = ("For each family, whether each framework's own paths conform to the mathematics (&#10003;) or which findings "
            "say how they differ (numbers; in brackets, findings on the textbook formulas built from its ops); "
            "&ndash;: its own paths cannot express the family. A derivative beyond the gradient (jvp, hvp, label_grad, "
            "mixed) has a line of its own under its family.")
    return (f'<div class="perfw"><h3>By framework</h3><p class="note">{note}</p><table class="perfw">'
            f'<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def _kinks(rows: list[Row]) -> str:
    """The derivative each path takes where the loss has a kink (harness/judge/kinks.py), by family and framework."""
    taken: dict[tuple[str, str, str], tuple[set[str], int]] = {}
    for r in rows:
        if r.kinks and r.subgradient:
            seen, n = taken.get((r.family, r.framework, r.api), (set(), 0))
            taken[(r.family, r.framework, r.api)] = (seen | set(r.subgradient.split(", ")), n + 1)
    if not taken:
        return ""
    body = "".join(f"<tr><td>{esc(fam)}</td><td>{esc(fw)}</td><td>{esc(api)}</td><td>{esc(', '.join(sorted(v)))}</td>"
                   f"<td>{n}</td></tr>" for (fam, fw, api), (v, n) in sorted(taken.items()))
    note = ("Where the loss is not differentiable (a hinge margin of exactly 0, a tie inside a max) every element of the "
            "subdifferential is correct; this is the one each path takes, as the derivative of the kinked max "
            "(0: relu-like, 0.5: split, 1: a >= test). Outside [0, 1] would be a grad_mismatch.")
    return (f'<div class="kinks"><h3>Derivatives at kinks</h3><p class="note">{note}</p><table class="kinks"><thead><tr>'
            "<th>family</th><th>framework</th><th>API path</th><th>derivative taken</th><th>rows</th></tr></thead>"
            f"<tbody>{body}</tbody></table></div>")
