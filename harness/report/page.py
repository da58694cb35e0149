"""The HTML page: one self-contained index.html that opens offline, its style and script inlined.

The header (with the precision the rows record), the findings first (harness/report/findings_html.py), the
verdict counts, the disagreement lists, the shards' environments (collapsed) and the plots (inline SVG,
harness/report/plots/) are rendered here; the rows are embedded once as compact strict JSON (harness/report/codec.py) inside a
`<script type="application/json">` block with `<`, `>` and `&` escaped, and the page's script
(static/report.js) builds the filters, the disagreement matrix, one page of the row table at a time and
a row's details when it is opened, with `textContent` only. No CDN, no JS library; a
Content-Security-Policy forbids any fetch. The filter state lives in the URL hash, so a view can be linked:
`#verdict=failing&framework=jax&dtype=float16&tag=sweep&q=masked&page=2&open=<row id or index>`.
"""

from __future__ import annotations

import json
import time
from functools import cache
from importlib import resources
from typing import Any

from harness.report import findings_html, plots
from harness.report.codec import encode_rows
from harness.report.environment import env_table, precision_line
from harness.report.markup import esc
from harness.report.order import DTYPES
from harness.report.sections import summary
from harness.report.tables import TITLE
from harness.results.rows import FAILING, VERDICTS, Row


@cache
def _static(name: str) -> str:
    """A file of harness/report/static/, without its final newline."""
    text = resources.files("harness.report").joinpath("static", name).read_text(encoding="utf-8")
    return text.removesuffix("\n")


def _css() -> str:
    # `.v-FAILING` in report.css stands for every failing verdict's class (harness/results/rows.py FAILING)
    return "\n" + _static("report.css").replace(".v-FAILING", ",".join(".v-" + v for v in sorted(FAILING))) + "\n"


def _script_json(obj: Any) -> str:
    """Strict JSON that cannot end a <script> block or open a comment/entity."""
    text = json.dumps(obj, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def page(rows: list[Row], envs: list[dict], partial: bool, warnings: list[str]) -> str:
    n_fail = sum(r.verdict in FAILING for r in rows)
    commits = sorted({(e.get("harness") or {}).get("commit") or "?" for e in envs if isinstance(e, dict)})
    meta = {"failing": sorted(FAILING), "verdicts": list(VERDICTS), "dtypes": list(DTYPES)}
    data = encode_rows(rows)
    parts = ['<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
             '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; '
             'script-src \'unsafe-inline\'; img-src data:">',
             '<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">',
             f"<title>{esc(TITLE)}</title><style>{_css()}</style><script>{_static('errors.js')}</script></head><body>",
             f'<header><h1>{esc(TITLE)}</h1><p class="runline"><b>{len(rows)}</b> rows, '
             f'<b class="{"bad" if n_fail else "good"}">{n_fail} new disagreement{"" if n_fail == 1 else "s"}</b>; '
             f'commit {esc(", ".join(commits) or "?")}; report written {esc(time.strftime("%Y-%m-%d %H:%M:%S %z"))}.</p>',
             precision_line(rows, envs),
             '<nav><a href="#findings-sec">findings</a> <a href="#summary-sec">summary</a> <a href="#env-sec">environment</a> '
             '<a href="#matrix-sec">matrix</a> <a href="#rows-sec">rows</a> <a href="#plots-sec">plots</a></nav>',
             '<pre id="js-errors" hidden></pre>', "</header>"]
    if partial:
        parts.append('<div class="banner">PARTIAL RUN: some shards are missing or incomplete; '
                     "the results below cover only the rows that were written.</div>")
    if warnings:
        parts.append('<div class="warn"><b>Warnings</b><ul>' + "".join(f"<li>{esc(w)}</li>" for w in warnings) + "</ul></div>")
    parts += [findings_html.section(rows), '<section id="summary-sec"><h2>Summary</h2>', summary(rows), "</section>",
              f'<section id="env-sec"><details class="sec env"><summary>Environment: each shard\'s versions, machine, '
              f'precision flags, commit and time</summary>{env_table(envs)}</details></section>',
              '<section id="explore"><div id="filters" class="filters"><input id="q" type="search" '
              'placeholder="search: case, path, message, tag ..." size="34" aria-label="search">'
              '<span id="selects"></span><a href="#" id="reset">reset</a><span id="shown" role="status"></span></div>',
              '<noscript><p>JavaScript is off: the matrix and the row table need it; results.csv has every row.</p></noscript>',
              '<h2 id="matrix-sec">Disagreement matrix</h2><p class="note">Cases (rows) by framework, API path, device and '
              'dtype (columns); each cell is coloured by verdict and holds the worst error in ULPs; the filters above '
              'apply. Click a cell for the row.</p><div id="matrix" class="matrix"></div>',
              '<h2 id="rows-sec">Rows</h2><p class="note">Failures first. Click a row for its details.</p>',
              '<div class="pager" id="pager-top"></div><table id="rows-table"><thead><tr>'
              + "".join(f"<th>{c}</th>" for c in ("verdict", "case", "framework", "API path", "device", "dtype",
                                                   "loss ULP", "grad ULP", "flags", "message"))
              + '</tr></thead><tbody id="tbody"></tbody></table><div class="pager" id="pager-bottom"></div></section>',
              f'<section id="plots-sec"><h2>Plots</h2>{plots.section(rows)}</section>',
              f'<script type="application/json" id="data">{_script_json(data)}</script>',
              f'<script type="application/json" id="meta">{_script_json(meta)}</script>',
              f"<script>{_static('report.js')}</script>", f"<script>{_static('findings.js')}</script>", "</body></html>"]
    return "\n".join(parts) + "\n"
