"""The summary the page renders on the server: verdict counts, new disagreements, relations, CPU against GPU,
known differences, fixed and unsupported rows."""

from __future__ import annotations

import math
from collections.abc import Callable

from harness.report import device_pairs, plots
from harness.report.markup import esc, row_link, verdict_class
from harness.report.order import counts
from harness.report.values import fmt, worst_ulp
from harness.results.rows import FAILING, Row

_HTML_MAX_FAILURES = 200
_HTML_MAX_PAIRS = 100


def summary(rows: list[Row]) -> str:
    tables = [("framework", lambda r: r.framework, ["framework"]),
              ("API path", lambda r: (r.framework, r.api), ["framework", "API path"]),
              ("device", lambda r: r.device, ["device"]),
              ("dtype", lambda r: r.dtype, ["dtype"])]
    out = ['<div class="countgrid">']
    for name, key, heads in tables:
        out.append(f'<div><h3>Verdicts by {name}</h3>{_count_table(rows, key, heads, "by-" + name.split()[0].lower())}</div>')
    out.append("</div>")
    out.append(_disagreements(rows))
    out.append(_relations(rows))
    out.append(_cpu_against_gpu(rows))
    by = {v: [r for r in rows if r.verdict == v] for v in ("known", "fixed", "unsupported")}
    out.append(_grouped("Known differences", "known", by["known"], lambda r: (r.framework, r.api, r.known_reason, r.known_link),
                        ["framework", "API path", "reason", "link"],
                        "Failures recorded in the known-differences file: they do not fail the run."))
    out.append(_grouped("Fixed", "fixed", by["fixed"], lambda r: (r.framework, r.api, r.known_reason),
                        ["framework", "API path", "recorded reason"],
                        "Recorded as known differences, but now passing: time to update the known-differences file."))
    out.append(_grouped("Unsupported", "unsupported", by["unsupported"], lambda r: (r.framework, r.api, r.message),
                        ["framework", "API path", "reason"], "Cases an API path cannot express (never emulated)."))
    return "".join(out)


def _count_table(rows: list[Row], key, heads: list[str], cls: str) -> str:
    cols, table = counts(rows, key)
    head = "".join(f"<th>{esc(h)}</th>" for h in heads) + "".join(
        f'<th class="{verdict_class(v)}">{esc(v)}</th>' for v in cols) + "<th>total</th>"
    body = []
    for k, c in table.items():
        cells = "".join(f"<td>{esc(x)}</td>" for x in (k if isinstance(k, tuple) else (k,)))
        cells += "".join(f'<td class="n{" " + verdict_class(v) if c[v] else " zero"}">{c[v]}</td>' for v in cols)
        body.append(f'<tr>{cells}<td class="n total">{sum(c.values())}</td></tr>')
    return f'<table class="counts {cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _ulp_text(r: Row) -> str:
    if r.nan_count:
        return "NaN"
    if r.inf_count:
        return "Inf"
    w = worst_ulp(r)
    return "" if w is None else f"{w:.3g}"


def _disagreements(rows: list[Row]) -> str:
    failures = [r for r in rows if r.verdict in FAILING]
    out = [f'<details class="sec new" open><summary>New disagreements ({len(failures)})</summary>']
    if not failures:
        out.append('<p class="note">None: every result agrees with the oracle or is a known difference.</p>')
    else:
        out.append("<table><thead><tr><th>verdict</th><th>row</th><th>worst ULP</th><th>flags</th><th>message</th>"
                   "</tr></thead><tbody>")
        for r in failures[:_HTML_MAX_FAILURES]:
            msg = (r.message.strip().splitlines() or [""])[0][:240]
            out.append(f'<tr><td class="{verdict_class(r.verdict)}">{esc(r.verdict)}</td><td>{row_link(r.row_id, r.row_id)}</td>'
                       f'<td class="n">{esc(_ulp_text(r))}</td><td>{esc(r.flags)}</td><td>{esc(msg)}</td></tr>')
        out.append("</tbody></table>")
        if len(failures) > _HTML_MAX_FAILURES:
            out.append(f'<p>... and {len(failures) - _HTML_MAX_FAILURES} more: '
                       f'<a href="#verdict=failing">show every failing row</a>.</p>')
    out.append("</details>")
    return "".join(out)


def _relations(rows: list[Row]) -> str:
    """Relation rows (harness/judge/relations.py) by relation and framework: does each formulation pair agree?"""
    rel = [r for r in rows if r.relation]
    if not rel:
        return ""
    note = ("Two formulations of one loss computed by the same framework, path, dtype and device must agree "
            "(sparse and one-hot labels, a moved class axis, weights and repeated rows, label smoothing and smoothed "
            "labels, sum and mean times the count); the oracle checks itself the same way. A relation_mismatch fails "
            "the run unless the known-differences file records it.")
    table = _count_table(rel, lambda r: (r.relation, r.framework), ["relation", "framework"], "by-relation")
    return f'<details class="sec relations" open><summary>Relations ({len(rel)})</summary><p class="note">{esc(note)}</p>{table}</details>'


def _ulp_cell(v: float | None) -> str:
    if v is None:
        return '<td class="n" title="values not stored (more than the row keeps)">-</td>'
    return f'<td class="n">{"NaN" if math.isnan(v) else f"{v:.3g}"}</td>'


def _cpu_against_gpu(rows: list[Row]) -> str:
    """CPU against each GPU, per framework and API path: the same trial's verdicts and values side by side."""
    ps = device_pairs.pairs(rows)
    if not ps:
        return ""
    groups: dict[tuple, list[device_pairs.DevicePair]] = {}
    for p in ps:
        groups.setdefault((p.framework, p.api, p.device, p.dtype), []).append(p)

    def worst(vals: list[float | None]) -> float | None:
        vs = [v for v in vals if v is not None]
        if not vs:
            return None
        return float("nan") if any(math.isnan(v) for v in vs) else max(vs)

    n_diff = sum(p.verdicts_differ for p in ps)
    out = [f'<details class="sec devices" open><summary>CPU against GPU ({len(ps)} trials; '
           f'{n_diff} with different verdicts)</summary><p class="note">The same trial and API path of one framework on '
           "the CPU and on a GPU: their verdicts against the oracle, and the distance of the GPU's values from the "
           "CPU's in ULPs of the trial dtype (0: identical). A distance within the tolerance can still flip a verdict "
           "near its edge.</p>",
           '<table class="devpairs"><thead><tr><th>framework</th><th>API path</th><th>device</th><th>dtype</th>'
           "<th>trials</th><th>identical</th><th>verdicts differ</th><th>loss ULP (GPU vs CPU)</th>"
           "<th>grad ULP (GPU vs CPU)</th></tr></thead><tbody>"]
    for (fw, api, dev, dt), g in sorted(groups.items()):
        same = sum(1 for p in g if p.loss_ulp == 0 and p.grad_ulp == 0)
        diff = sum(p.verdicts_differ for p in g)
        out.append(f"<tr><td>{esc(fw)}</td><td>{esc(api)}</td><td>{esc(dev)}</td><td>{esc(dt)}</td>"
                   f'<td class="n">{len(g)}</td><td class="n">{same}</td>'
                   f'<td class="n{" bad" if diff else ""}">{diff}</td>'
                   f"{_ulp_cell(worst([p.loss_ulp for p in g]))}{_ulp_cell(worst([p.grad_ulp for p in g]))}</tr>")
    out.append("</tbody></table>")
    shown = [p for p in ps if p.verdicts_differ or (p.grad_ulp or 0) > 0 or (p.loss_ulp or 0) > 0][:_HTML_MAX_PAIRS]
    if shown:
        out.append('<h4>Trials that differ between devices</h4><table class="devdiff"><thead><tr><th>case</th>'
                   "<th>framework</th><th>API path</th><th>device</th><th>dtype</th><th>CPU verdict</th>"
                   "<th>GPU verdict</th><th>loss ULP</th><th>grad ULP</th><th>grad ULP vs oracle (CPU / GPU)</th>"
                   "</tr></thead><tbody>")
        for p in shown:
            vs = f"{fmt(p.cpu_grad_ulp)} / {fmt(p.device_grad_ulp)}"
            out.append(f"<tr><td>{esc(p.case)}</td><td>{esc(p.framework)}</td><td>{esc(p.api)}</td><td>{esc(p.device)}</td>"
                       f'<td>{esc(p.dtype)}</td><td class="{verdict_class(p.cpu_verdict)}">{row_link(p.cpu_row, p.cpu_verdict)}</td>'
                       f'<td class="{verdict_class(p.device_verdict)}">{row_link(p.device_row, p.device_verdict)}</td>'
                       f"{_ulp_cell(p.loss_ulp)}{_ulp_cell(p.grad_ulp)}<td>{esc(vs)}</td></tr>")
        out.append("</tbody></table>")
    out.append(plots.cpu_gpu_errors(ps))
    out.append("</details>")
    return "".join(out)


def _grouped(title: str, cls: str, rows: list[Row], key: Callable[[Row], tuple], heads: list[str],
             note: str) -> str:
    groups: dict[tuple, list[Row]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    out = [f'<details class="sec {cls}"><summary>{esc(title)} ({len(rows)})</summary><p class="note">{esc(note)}</p>']
    if groups:
        out.append("<table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in heads)
                   + "<th>rows</th><th>cases</th></tr></thead><tbody>")
        for k, rs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            cells = []
            for h, v in zip(heads, k, strict=True):
                s = fmt(v)
                link = h == "link" and s.startswith(("https://", "http://"))
                cells.append(f'<td><a href="{esc(s)}" rel="noopener noreferrer">{esc(s)}</a></td>' if link else f"<td>{esc(s)}</td>")
            cases = sorted({r.case for r in rs})
            firsts = [next(r for r in rs if r.case == c) for c in cases[:4]]
            shown = ", ".join(row_link(r.row_id, r.case or r.row_id) for r in firsts)
            more = f" and {len(cases) - 4} more" if len(cases) > 4 else ""
            out.append(f'<tr>{"".join(cells)}<td class="n">{len(rs)}</td><td>{shown}{more}</td></tr>')
        out.append("</tbody></table>")
    out.append("</details>")
    return "".join(out)
