"""Render result rows as a report: one self-contained index.html, results.csv and summary.md.

The HTML opens offline (no CDN, no JS library): rows are embedded as strict JSON in a
`<script type="application/json">` block with `<`, `>` and `&` escaped, and the table is built
from it with `textContent` only; the verdict-count tables are also rendered server-side.
"""

from __future__ import annotations

import html
import io
import json
import math
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from harness.rows import COLUMNS, FAILING, VERDICTS, Row, atomic_write

TITLE = "Loss conformance report"
# Failures first, then verdicts nobody planned for, then the benign ones, best last.
_TAIL = ("known", "fixed", "unavailable", "unsupported", "expected_error", "pass")
_FAILING_ORDER = tuple(v for v in VERDICTS if v in FAILING) + tuple(sorted(FAILING - set(VERDICTS)))
_LIST_FIELDS = ("flags", "tags", "loss_worst_index", "grad_worst_index")
_MD_MAX_FAILURES = 30


def write_report(rows: list[Row], envs: list[dict], out_dir: Path, *, partial: bool = False,
                 warnings: Sequence[str] = ()) -> dict[str, Path]:
    """Write out_dir/index.html, out_dir/results.csv, out_dir/summary.md; return their paths
    under the keys "html", "csv" and "md"."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ordered = sorted(rows, key=_sort_key)
    paths = {"html": out_dir / "index.html", "csv": out_dir / "results.csv", "md": out_dir / "summary.md"}
    atomic_write(paths["csv"], _csv(ordered))
    atomic_write(paths["md"], _markdown(ordered, partial, list(warnings)))
    atomic_write(paths["html"], _html(ordered, envs, partial, list(warnings)))
    return paths


# --------------------------------------------------------------------------- helpers


def _rank(verdict: str) -> int:
    if verdict in FAILING:
        return _FAILING_ORDER.index(verdict)
    if verdict in _TAIL:
        return len(_FAILING_ORDER) + 1 + _TAIL.index(verdict)
    return len(_FAILING_ORDER)  # an unknown verdict: right after the failures


def _sort_key(r: Row) -> tuple:
    return (_rank(r.verdict), r.case, r.framework, r.api, r.device, r.dtype)


def _plain(v: Any) -> Any:
    """A strict-JSON value: non-finite floats become "nan"/"inf"/"-inf", numpy scalars plain."""
    if hasattr(v, "item") and not isinstance(v, (list, tuple, dict, str)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    return v


def _verdict_columns(verdicts: Iterable[str]) -> list[str]:
    present = set(verdicts)
    return [v for v in VERDICTS if v in present] + sorted(present - set(VERDICTS))


def _counts(rows: list[Row], key) -> tuple[list[str], dict[Any, Counter]]:
    table: dict[Any, Counter] = {}
    for r in rows:
        table.setdefault(key(r), Counter())[r.verdict] += 1
    return _verdict_columns(r.verdict for r in rows), dict(sorted(table.items()))


def _fmt(v: Any) -> str:
    v = _plain(v)
    if isinstance(v, list):
        return ", ".join(_fmt(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}={_fmt(x)}" for k, x in v.items())
    return "" if v is None else str(v)


# --------------------------------------------------------------------------- CSV and Markdown


def _csv(rows: list[Row]) -> str:
    records = []
    for r in rows:
        d = asdict(r)
        for k in _LIST_FIELDS:
            if d.get(k) is not None:
                d[k] = json.dumps(_plain(d[k]))
        records.append({k: _plain(d.get(k)) for k in COLUMNS})
    buf = io.StringIO()
    pd.DataFrame(records, columns=COLUMNS).to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def _md_text(s: Any) -> str:
    return html.escape(_fmt(s).replace("\n", " ").replace("|", "\\|"), quote=False)


def _markdown(rows: list[Row], partial: bool, warnings: list[str]) -> str:
    out = [f"# {TITLE}", ""]
    if partial:
        out += ["> **Partial run**: some shards are missing or incomplete; the counts cover only the rows written.", ""]
    cols, table = _counts(rows, lambda r: r.framework)
    out += [f"{len(rows)} rows.", "", "## Verdicts by framework", ""]
    if rows:
        out.append("| framework | " + " | ".join(cols) + " | total |")
        out.append("|---" * (len(cols) + 2) + "|")
        for fw, c in table.items():
            out.append(f"| {_md_text(fw)} | " + " | ".join(str(c[v]) for v in cols) + f" | {sum(c.values())} |")
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
    if warnings:
        out += ["", "## Warnings", ""] + [f"- {_md_text(w)}" for w in warnings]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- HTML

_GOOD, _BAD = "#d3f2d3", "#f7cccc"
_CSS = """body{{font:14px system-ui,sans-serif;margin:1.2em;color:#222}}table{{border-collapse:collapse;margin:.4em 0 1em}}
th,td{{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}}th{{background:#f0f0f0}}
td.n{{text-align:right}}.banner{{background:#b00020;color:#fff;font-weight:bold;padding:.7em 1em;margin:.6em 0;font-size:1.1em}}
.warn{{background:#fff4d6;border-left:4px solid #e0a800;padding:.3em .8em}}.env{{background:#f7f7f9;padding:.4em .8em;margin:.4em 0}}
#tbody tr.r{{cursor:pointer}}#tbody tr.r:hover{{outline:1px solid #888}}td.msg{{max-width:40em;overflow:hidden;
text-overflow:ellipsis;white-space:nowrap}}tr.d>td{{background:#fbfbfb}}dl{{display:grid;grid-template-columns:max-content 1fr;
gap:2px 1em;margin:.3em}}dt{{font-weight:bold}}dd{{margin:0;white-space:pre-wrap;word-break:break-all}}
pre{{background:#f4f4f4;padding:.5em;overflow:auto;max-height:30em}}.v{{background:#e6d6f5}}
.v-pass{{background:{}}}.v-known{{background:#fde3a7}}.v-fixed{{background:#cfe2fb}}.v-expected_error{{background:#dcefe6}}
.v-unsupported,.v-unavailable{{background:#e2e2e2;color:#555}}{}{{background:{}}}""".format(
    _GOOD, ",".join(".v-" + v for v in sorted(FAILING)), _BAD)

_JS = r"""(function(){"use strict";
var rows=JSON.parse(document.getElementById("rows").textContent);
var failing=new Set(JSON.parse(document.getElementById("meta").textContent).failing);
var COLS=["verdict","case","framework","api","device","dtype","loss_ulp","grad_ulp","flags","message"];
var DETAILS=[["row id","row_id"],["raw verdict","raw_verdict"],["framework version","framework_version"],["call","call"],
 ["description","description"],["source","source"],["family","family"],["reduction","reduction"],["tags","tags"],
 ["device requested","device_requested"],["loss (observed)","loss"],["loss (reference)","ref_loss"],
 ["loss abs / rel error",["loss_abs_err","loss_rel_err"]],["loss ULP","loss_ulp"],["loss worst index","loss_worst_index"],
 ["grad (observed)","grad"],["grad (reference)","ref_grad"],["grad max abs / rel error",["grad_max_abs_err","grad_max_rel_err"]],
 ["grad ULP","grad_ulp"],["grad worst index","grad_worst_index"],["grad norm / reference",["grad_norm","ref_grad_norm"]],
 ["nan / inf count",["nan_count","inf_count"]],["reference nan / inf",["ref_nan_count","ref_inf_count"]],
 ["rtol / atol",["rtol","atol"]],["grad rtol / atol",["grad_rtol","grad_atol"]],["tolerance source","tolerance_source"],
 ["oracle precision","oracle_precision"],["known reason","known_reason"],["duration (s)","duration_s"],["shard","shard"],
 ["message","message"]];
function fmt(v){if(v===undefined||v===null)return "";if(Array.isArray(v))return v.map(fmt).join(", ");
 if(typeof v==="number")return Number.isInteger(v)?String(v):String(Number(v.toPrecision(6)));return String(v);}
function el(tag,text,cls){var e=document.createElement(tag);if(text!==undefined)e.textContent=text;if(cls)e.className=cls;return e;}
function vcls(v){return "v v-"+String(v).replace(/[^a-z_]/g,"");}
var tbody=document.getElementById("tbody"),q=document.getElementById("q"),sel=document.getElementById("verdict"),
 shown=document.getElementById("shown"),trs=[],keys=[],frag=document.createDocumentFragment();
rows.forEach(function(r,i){var tr=el("tr",undefined,"r");tr.dataset.i=i;
 COLS.forEach(function(c){var td=el("td",fmt(r[c]));if(c==="verdict")td.className=vcls(r.verdict);
  else if(c==="message"){td.className="msg";td.title=fmt(r.message);}else if(c.indexOf("ulp")>0)td.className="n";tr.appendChild(td);});
 frag.appendChild(tr);trs.push(tr);
 keys.push([r.row_id,r.case,r.family,r.framework,r.api,r.device,r.dtype,r.verdict,fmt(r.flags),fmt(r.tags),r.message,r.description]
  .map(fmt).join(" ").toLowerCase());});
tbody.appendChild(frag);
function details(r){var td=el("td"),dl=el("dl");td.colSpan=COLS.length;
 DETAILS.forEach(function(d){var f=d[1],v=Array.isArray(f)?f.map(function(k){return fmt(r[k]);}).filter(String).join(" / "):fmt(r[f]);
  if(v){dl.appendChild(el("dt",d[0]));dl.appendChild(el("dd",v));}});
 if(r.known_link){var dd=el("dd"),s=String(r.known_link);dl.appendChild(el("dt","known link"));
  if(/^https?:\/\//i.test(s)){var a=el("a",s);a.setAttribute("href",s);a.setAttribute("rel","noopener noreferrer");dd.appendChild(a);}
  else dd.textContent=s;dl.appendChild(dd);}
 td.appendChild(dl);if(r.traceback){td.appendChild(el("b","traceback"));td.appendChild(el("pre",String(r.traceback)));}
 var tr=el("tr",undefined,"d");tr.appendChild(td);return tr;}
tbody.addEventListener("click",function(e){var tr=e.target.closest("tr.r");if(!tr||e.target.closest("a"))return;
 if(!tr.detail){tr.detail=details(rows[+tr.dataset.i]);tr.parentNode.insertBefore(tr.detail,tr.nextSibling);tr.open=true;}
 else{tr.open=!tr.open;tr.detail.hidden=!tr.open;}});
function apply(){var words=q.value.toLowerCase().split(/\s+/).filter(String),v=sel.value,n=0;
 for(var i=0;i<rows.length;i++){var r=rows[i],ok=v===""||(v==="@failing"?failing.has(r.verdict):r.verdict===v);
  for(var j=0;ok&&j<words.length;j++)ok=keys[i].indexOf(words[j])>=0;
  trs[i].hidden=!ok;if(trs[i].detail)trs[i].detail.hidden=!ok||!trs[i].open;if(ok)n++;}
 shown.textContent=n+" of "+rows.length+" rows shown";}
var timer=null;q.addEventListener("input",function(){clearTimeout(timer);timer=setTimeout(apply,150);});
sel.addEventListener("change",apply);apply();})();"""


def _e(v: Any) -> str:
    return html.escape(_fmt(v), quote=True)


def _script_json(obj: Any) -> str:
    """Strict JSON that cannot end a <script> block or open a comment/entity."""
    text = json.dumps(obj, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _row_json(r: Row) -> dict[str, Any]:
    """The row as plain JSON, with empty fields dropped to keep thousands of rows small."""
    return {k: _plain(v) for k, v in asdict(r).items() if v not in (None, "", [])}


def _count_table(rows: list[Row], key, heads: list[str]) -> str:
    cols, table = _counts(rows, key)
    head = "".join(f"<th>{_e(h)}</th>" for h in heads) + "".join(
        f'<th class="{_e("v v-" + v)}">{_e(v)}</th>' for v in cols) + "<th>total</th>"
    body = []
    for k, c in table.items():
        cells = "".join(f"<td>{_e(x)}</td>" for x in (k if isinstance(k, tuple) else (k,)))
        cells += "".join(f'<td class="n{" " + _e("v v-" + v) if c[v] else ""}">{c[v]}</td>' for v in cols)
        body.append(f"<tr>{cells}<td class=\"n\">{sum(c.values())}</td></tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _env_html(envs: list[dict]) -> str:
    seen, out = set(), []
    for env in envs:
        ident = json.dumps(_plain(env), sort_keys=True, default=str)
        if ident in seen or not isinstance(env, dict):
            continue
        seen.add(ident)
        h = env.get("harness") or {}
        out.append(f'<div class="env"><b>harness</b> {_e(h.get("version", "?"))} (commit {_e(h.get("commit") or "?")}), '
                   f'run at {_e(h.get("time", "?"))}, python {_e(h.get("python", "?"))} on {_e(h.get("platform", "?"))}')
        fws = env.get("frameworks") or {}
        if fws:
            out.append("<table><tr><th>framework</th><th>version</th><th>devices</th><th>precision flags</th>"
                       "<th>python</th><th>machine</th><th>other</th></tr>")
            std = {"framework", "version", "devices", "precision", "python", "machine", "platform"}
            for name, fw in fws.items():
                fw = fw if isinstance(fw, dict) else {"version": fw}
                other = {k: v for k, v in fw.items() if k not in std}
                out.append(f"<tr><td>{_e(name)}</td><td>{_e(fw.get('version'))}</td><td>{_e(fw.get('devices'))}</td>"
                           f"<td>{_e(fw.get('precision'))}</td><td>{_e(fw.get('python'))}</td>"
                           f"<td>{_e(fw.get('machine'))}</td><td>{_e(other)}</td></tr>")
            out.append("</table>")
        out.append("</div>")
    return "\n".join(out) or "<p>No environment recorded.</p>"


def _html(rows: list[Row], envs: list[dict], partial: bool, warnings: list[str]) -> str:
    present = _verdict_columns(r.verdict for r in rows)
    counts = Counter(r.verdict for r in rows)
    n_fail = sum(counts[v] for v in FAILING)
    options = [f'<option value="">all verdicts ({len(rows)})</option>',
               f'<option value="@failing">failing ({n_fail})</option>']
    options += [f'<option value="{_e(v)}">{_e(v)} ({counts[v]})</option>' for v in sorted(present, key=_rank)]
    parts = [f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(TITLE)}</title>',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<style>{_CSS}</style></head><body>", f"<h1>{_e(TITLE)}</h1>",
             f"<p>{len(rows)} rows, {n_fail} failing; generated {_e(time.strftime('%Y-%m-%d %H:%M:%S %z'))}.</p>",
             "<h2>Environment</h2>", _env_html(envs)]
    if partial:
        parts.append('<div class="banner">PARTIAL RUN: some shards are missing or incomplete; '
                     "the results below cover only the rows that were written.</div>")
    if warnings:
        parts.append('<h2>Warnings</h2><div class="warn"><ul>' + "".join(f"<li>{_e(w)}</li>" for w in warnings) + "</ul></div>")
    parts += ["<h2>Verdicts by framework</h2>", _count_table(rows, lambda r: r.framework, ["framework"]),
              "<h2>Verdicts by framework, device and dtype</h2>",
              _count_table(rows, lambda r: (r.framework, r.device, r.dtype), ["framework", "device", "dtype"]),
              "<h2>All rows</h2>",
              '<p><input id="q" type="search" placeholder="filter: words in case, framework, message ..." size="50"> '
              f'<select id="verdict">{"".join(options)}</select> <span id="shown"></span></p>',
              "<noscript><p>JavaScript is off: the row table needs it; results.csv has every row.</p></noscript>",
              "<table><thead><tr>" + "".join(f"<th>{c}</th>" for c in ("verdict", "case", "framework", "api", "device",
                                                                          "dtype", "loss ULP", "grad ULP", "flags", "message"))
              + '</tr></thead><tbody id="tbody"></tbody></table><p>Click a row for its details.</p>',
              f'<script type="application/json" id="rows">{_script_json([_row_json(r) for r in rows])}</script>',
              f'<script type="application/json" id="meta">{_script_json({"failing": sorted(FAILING)})}</script>',
              f"<script>{_JS}</script>", "</body></html>"]
    return "\n".join(parts) + "\n"
