"""Render result rows as a report: one self-contained index.html, results.csv and summary.md.

The HTML opens offline (no CDN, no JS library; a Content-Security-Policy forbids any fetch). The
header, the verdict counts, the disagreement lists and the plots (inline SVG, harness/report/plots.py) are
rendered here; the rows are embedded once as compact strict JSON (see `encode_rows`) inside a
`<script type="application/json">` block with `<`, `>` and `&` escaped, and the page's script builds
the filters, the disagreement matrix, one page of the row table at a time and a row's details when it
is opened, with `textContent` only. The filter state lives in the URL hash, so a view can be linked:
`#verdict=failing&framework=jax&dtype=float16&tag=sweep&q=masked&page=2&open=<row id or index>`.
"""

from __future__ import annotations

import html
import io
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from harness.report import devices as device_compare
from harness.report import plots
from harness.report.plots import as_float
from harness.results.rows import COLUMNS, FAILING, VERDICTS, Row, atomic_write, row_id

TITLE = "Loss conformance report"
# Failures first, then verdicts nobody planned for, then the benign ones, best last.
_TAIL = ("known", "fixed", "unavailable", "unsupported", "expected_error", "relation_pass", "pass")
_FAILING_ORDER = tuple(v for v in VERDICTS if v in FAILING) + tuple(sorted(FAILING - set(VERDICTS)))
_MD_MAX_FAILURES = 30
_HTML_MAX_FAILURES = 200
_DTYPES = ("float64", "float32", "float16", "bfloat16")  # the matrix's column order
_FULL_VALUES = 32  # value lists up to this long are embedded whole; longer ones as an excerpt
_VALUES_BUDGET = 1_200_000  # bytes of embedded value lists, spent on failures first


def write_report(rows: list[Row], envs: list[dict], out_dir: Path, *, partial: bool = False,
                 warnings: Sequence[str] = ()) -> dict[str, Path]:
    """Write out_dir/index.html, out_dir/results.csv, out_dir/summary.md; return their paths
    under the keys "html", "csv" and "md"."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ordered = sorted(rows, key=_sort_key)
    warnings = [*warnings, *device_compare.unseen_gpus(envs)]
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
    if v is None or isinstance(v, (str, int)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if hasattr(v, "item") and not isinstance(v, (list, tuple, dict)):
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


def _worst_ulp(r: Row) -> float | None:
    vals = [v for v in (as_float(r.loss_ulp), as_float(r.grad_ulp)) if v is not None]
    if any(math.isnan(v) for v in vals):
        return math.nan
    return max(vals, default=None)


# --------------------------------------------------------------------------- CSV and Markdown


# The value arrays (up to 1024 numbers each) stay in results.jsonl: in a spreadsheet they would make
# the file a hundred times larger (100 MB at 20,000 rows) and nobody reads them there.
CSV_COLUMNS = [c for c in COLUMNS if not c.endswith("_values")]


def _csv(rows: list[Row]) -> str:
    """Every field of every row but the value arrays; list fields (flags, tags, indexes, shape) as JSON."""
    records = []
    for r in rows:
        rec = {}
        for k in CSV_COLUMNS:
            v = getattr(r, k)
            rec[k] = _json_list(v) if isinstance(v, list) else _plain(v)
        records.append(rec)
    buf = io.StringIO()
    pd.DataFrame(records, columns=CSV_COLUMNS).to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def _json_list(v: list) -> str:
    text = json.dumps(v)
    return json.dumps(_plain(v)) if "NaN" in text or "Infinity" in text else text


def _md_text(s: Any) -> str:
    return html.escape(_fmt(s).replace("\n", " ").replace("|", "\\|"), quote=False)


def _markdown(rows: list[Row], partial: bool, warnings: list[str]) -> str:
    out = [f"# {TITLE}", ""]
    if partial:
        out += ["> **Partial run**: some shards are missing or incomplete; the counts cover only the rows written.", ""]
    cols, table = _counts(rows, lambda r: r.framework)
    modes = sorted({r.precision.split(":")[0] for r in rows if r.precision})
    out += [f"{len(rows)} rows" + (f"; precision: {', '.join(modes)}." if modes else "."), "", "## Verdicts by framework", ""]
    if rows:
        out.append("| framework | " + " | ".join(cols) + " | total |")
        out.append("|---" * (len(cols) + 2) + "|")
        for fw, c in table.items():
            out.append(f"| {_md_text(fw)} | " + " | ".join(str(c[v]) for v in cols) + f" | {sum(c.values())} |")
    rel = [r for r in rows if r.relation]
    if rel:
        rcols, rtable = _counts(rel, lambda r: (r.relation, r.framework))
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
    ps = device_compare.pairs(rows)
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
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- compact row data


def _short(v: Any, digits: int = 6) -> Any:
    """A JSON number rounded to `digits` significant digits ("nan"/"inf" strings when not finite)."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    v = float(v)
    if not math.isfinite(v):
        return _plain(v)
    if digits < 17:  # 17 digits: repr is already exact and shortest
        v = float(f"{v:.{digits}g}")
    return int(v) if v.is_integer() and abs(v) < 2**53 and (v != 0 or math.copysign(1, v) > 0) else v


def _exact(v: Any) -> Any:
    """A value kept exactly (a float's repr is the shortest text that reads back as the same float)."""
    return _short(v, 17)


def _flat_index(index: Sequence[int] | None, shape: Sequence[int]) -> int | None:
    if not index or len(index) != len(shape):
        return None
    try:
        return int(np.ravel_multi_index(tuple(int(i) for i in index), tuple(int(s) for s in shape)))
    except (ValueError, TypeError):
        return None


def _loss_flat_index(r: Row) -> int | None:
    n = len(r.loss_values or [])
    if n == 1:
        return 0
    shape = list(r.shape or [])
    for ax in reversed(range(len(shape))):  # the loss has the logits' shape without the class axis
        cand = shape[:ax] + shape[ax + 1:]
        if math.prod(cand) == n and (flat := _flat_index(r.loss_worst_index, cand)) is not None:
            return flat
    return None


def _excerpt(obs: Sequence[float] | None, ref: Sequence[float] | None, worst: int | None) -> list | None:
    """[total, [[flat index, observed, reference], ...], flat index of the worst element or None]: every
    element of a short list, else the first few and those around the worst one."""
    if obs is None and ref is None:
        return None
    n = max(len(obs or []), len(ref or []))
    if n <= _FULL_VALUES:
        idx = list(range(n))
    else:
        w = worst if worst is not None and worst < n else 0
        idx = sorted(set(range(4)) | set(range(max(0, w - 3), min(n, w + 4))))

    def at(a: Sequence[float] | None, i: int) -> Any:
        return _exact(a[i]) if a is not None and i < len(a) else None
    return [n, [[i, at(obs, i), at(ref, i)] for i in idx], worst]


def _encode_column(values: list[Any]) -> dict[str, Any] | None:
    """The smallest of four encodings of one column (None when every value is empty):
    {"a": [v, ...]} plain, {"t": [distinct values], "i": [index per row]} a value table, and either
    of them over only the non-empty rows, listed in "k" as gaps from the previous one."""
    def empty(v: Any) -> bool:
        return v is None or v == "" or v == []

    def frozen(v: Any) -> Any:  # a hashable stand-in for a list
        return tuple(frozen(x) for x in v) if isinstance(v, list) else v
    keep = [i for i, v in enumerate(values) if not empty(v)]
    if not keep:
        return None
    gaps = [b - a for a, b in zip([0, *keep], keep, strict=False)]
    options = []
    for sparse in (False, True):
        vals = [values[i] for i in keep] if sparse else values
        extra = {"k": gaps} if sparse else {}
        options.append({**extra, "a": vals})
        keys = [frozen(v) if isinstance(v, list) else v for v in vals]
        first = dict(zip(keys, vals, strict=True))
        order = [k for k, _ in Counter(keys).most_common()]
        pos = {k: j for j, k in enumerate(order)}
        options.append({**extra, "t": [first[k] for k in order], "i": [pos[k] for k in keys]})
    return min(options, key=lambda o: len(json.dumps(o, separators=(",", ":"))))


_TEXT_FIELDS = ("case", "family", "framework", "api", "device", "dtype", "verdict", "framework_version", "call",
                "flags", "tags", "description", "source", "reduction", "tolerance_source", "oracle_precision",
                "message", "traceback", "known_reason", "known_link", "shard", "sweep", "shape", "precision",
                "loss_worst_index", "grad_worst_index", "nan_count", "inf_count", "ref_nan_count", "ref_inf_count",
                "relation", "partner", "loss_allowance", "grad_allowance")
_ROUNDED_FIELDS = ("loss_abs_err", "loss_rel_err", "loss_ulp", "grad_max_abs_err", "grad_max_rel_err", "grad_ulp",
                   "grad_norm", "ref_grad_norm", "loss_allowed", "grad_allowed", "duration_s", "sweep_value")


def encode_rows(rows: list[Row], case_inputs: dict[str, str] | None = None) -> dict[str, Any]:
    """The rows as compact JSON: {"n": rows, "cols": {field: encoded column}, "inputs": {case: text}}.

    Empty fields cost nothing, repeated values are stored once, display metrics are rounded to 6
    significant digits while the worst elements (loss, ref_loss, grad, ref_grad) are exact; a row_id
    is stored only when it is not `case[framework-api-device-dtype]`, raw_verdict and
    device_requested only when they differ from verdict and device. Value lists ("lv", "gv":
    [total, [[index, observed, reference], ...], worst index]) are embedded while their budget lasts, failing
    rows first (the rows come sorted that way)."""
    cols: dict[str, list[Any]] = {k: [] for k in (*_TEXT_FIELDS, *_ROUNDED_FIELDS, "loss", "ref_loss", "grad",
                                                   "ref_grad", "row_id", "raw_verdict", "device_requested", "lv", "gv")}
    budget = _VALUES_BUDGET
    for r in rows:
        for k in _TEXT_FIELDS:
            v = _plain(getattr(r, k))
            cols[k].append(None if k.endswith("_count") and not v else v)  # a count of 0 costs nothing
        for k in _ROUNDED_FIELDS:
            cols[k].append(_short(getattr(r, k), 3 if k == "duration_s" else 6))
        for k in ("loss", "ref_loss", "grad", "ref_grad"):
            cols[k].append(_exact(getattr(r, k)))
        derived = row_id(r.case, r.framework, r.api, r.device, r.dtype)
        cols["row_id"].append("" if r.row_id == derived else r.row_id)
        cols["raw_verdict"].append("" if r.raw_verdict in ("", r.verdict) else r.raw_verdict)
        cols["device_requested"].append("" if r.device_requested in ("", r.device) else r.device_requested)
        lv = gv = None
        if budget > 0:
            lv = _excerpt(r.loss_values, r.ref_loss_values, _loss_flat_index(r))
            gv = _excerpt(r.grad_values, r.ref_grad_values, _flat_index(r.grad_worst_index, r.shape or []))
            cost = len(json.dumps([lv, gv]))
            budget -= cost
            if budget < 0:
                lv = gv = None
        cols["lv"].append(lv)
        cols["gv"].append(gv)
    encoded = {k: e for k, v in cols.items() if (e := _encode_column(v)) is not None}
    return {"n": len(rows), "cols": encoded, "inputs": case_inputs or {}}


def decode_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The inverse of `encode_rows` (for tests and scripts): one dict of non-empty fields per row."""
    n = data["n"]
    out: list[dict[str, Any]] = [{} for _ in range(n)]
    for name, e in data["cols"].items():
        vals = e["a"] if "a" in e else [e["t"][j] for j in e["i"]]
        idx = list(range(n))
        if "k" in e:
            idx, pos = [], 0
            for gap in e["k"]:
                pos += gap
                idx.append(pos)
        for i, v in zip(idx, vals, strict=True):
            if v not in (None, "", []):
                out[i][name] = v
    for d in out:
        d.setdefault("row_id", row_id(d.get("case", ""), d.get("framework", ""), d.get("api", ""),
                                      d.get("device", ""), d.get("dtype", "")))
    return out


def _case_inputs(rows: list[Row]) -> dict[str, str]:
    """A short text of each case's inputs, read back from its case file (best effort: rows do not
    carry their inputs, and a shard from another machine may name a file that is not here)."""
    from harness import schema  # the report stays usable when the case loader cannot import

    wanted: dict[str, set[str]] = {}
    for r in rows:
        if r.source and r.case != "*":
            wanted.setdefault(r.source.rsplit(":", 2)[0], set()).add(r.case)
    out: dict[str, str] = {}
    for file, cases in wanted.items():
        try:
            for c in schema.load_file(file):
                if c.id in cases:
                    out[c.id] = _inputs_text(c)
        except Exception:  # noqa: BLE001 - a missing or changed case file only loses this detail
            continue
    return out


def _spec_text(spec: Any) -> str:
    if hasattr(spec, "name") and hasattr(spec, "args"):
        args = ", ".join(f"{k}={v}" for k, v in spec.args.items())
        return f"{spec.name}({args}) -> shape {list(spec.shape)}"
    return _abbrev(spec.values)


def _abbrev(v: Any, edge: int = 3) -> str:
    """A nested list as written in a case file, long lists cut to their first and last `edge` items."""
    if isinstance(v, (list, tuple)):
        items = [_abbrev(x, edge) for x in v] if len(v) <= 2 * edge + 1 else (
            [_abbrev(x, edge) for x in v[:edge]] + ["..."] + [_abbrev(x, edge) for x in v[-edge:]])
        return "[" + ", ".join(items) + "]"
    return repr(v) if isinstance(v, float) else str(v)


def _inputs_text(case: Any) -> str:
    scale = getattr(case, "logit_scale", 1.0)
    lines = [f"logits: {_spec_text(case.logits)}" + (f" x {scale:g}" if scale != 1.0 else ""),
             f"labels: {_spec_text(case.labels)}"]
    params = {"reduction": case.params.reduction, **case.params.non_default()}
    lines.append("params: " + ", ".join(f"{k}={v}" for k, v in params.items()))
    return "\n".join(line if len(line) <= 400 else line[:397] + "..." for line in lines)


# --------------------------------------------------------------------------- HTML: server-rendered parts


def _e(v: Any) -> str:
    return html.escape(_fmt(v), quote=True)


def _script_json(obj: Any) -> str:
    """Strict JSON that cannot end a <script> block or open a comment/entity."""
    text = json.dumps(obj, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _vclass(v: str) -> str:
    return _e("v v-" + "".join(ch for ch in v if ch.isalpha() or ch == "_"))


def _count_table(rows: list[Row], key, heads: list[str], cls: str) -> str:
    cols, table = _counts(rows, key)
    head = "".join(f"<th>{_e(h)}</th>" for h in heads) + "".join(
        f'<th class="{_vclass(v)}">{_e(v)}</th>' for v in cols) + "<th>total</th>"
    body = []
    for k, c in table.items():
        cells = "".join(f"<td>{_e(x)}</td>" for x in (k if isinstance(k, tuple) else (k,)))
        cells += "".join(f'<td class="n{" " + _vclass(v) if c[v] else " zero"}">{c[v]}</td>' for v in cols)
        body.append(f'<tr>{cells}<td class="n total">{sum(c.values())}</td></tr>')
    return f'<table class="counts {cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _env_html(envs: list[dict]) -> str:
    """One line per shard: its framework (or the harness alone), versions, machine, GPU, CUDA and
    precision flags, the project's commit and the time it ran."""
    heads = ["shard", "version", "python", "OS", "CPU", "GPU", "CUDA / driver", "devices", "precision flags",
             "commit", "time", "other"]
    known = {"framework", "version", "python", "platform", "machine", "cpu", "processor", "gpus", "gpu", "cuda",
             "cudnn", "driver", "devices", "precision"}
    seen: set[str] = set()
    body: list[tuple[str, str]] = []
    for env in envs:
        if not isinstance(env, dict):
            continue
        ident = json.dumps(_plain(env), sort_keys=True, default=str)
        if ident in seen:
            continue
        seen.add(ident)
        h = env.get("harness") or {}
        fws = env.get("frameworks") or {"harness": {"version": h.get("version")}}
        for name, fw in fws.items():
            fw = fw if isinstance(fw, dict) else {"version": fw}
            cuda = " / ".join(_fmt(fw.get(k)) for k in ("cuda", "cudnn", "driver") if fw.get(k))
            cells = [name, fw.get("version"), fw.get("python") or h.get("python"), fw.get("platform") or h.get("platform"),
                     fw.get("cpu") or fw.get("processor") or h.get("cpu") or fw.get("machine"),
                     fw.get("gpus") or fw.get("gpu") or h.get("gpus"), cuda, fw.get("devices"), fw.get("precision"),
                     h.get("commit") or "?", h.get("time"), {k: v for k, v in fw.items() if k not in known}]
            body.append((str(name), "<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>"))
    if not body:
        return '<p class="note">No environment recorded.</p>'
    return (f'<table class="env"><thead><tr>{"".join(f"<th>{h}</th>" for h in heads)}</tr></thead>'
            f'<tbody>{"".join(tr for _, tr in sorted(body, key=lambda b: b[0]))}</tbody></table>')


def _open_link(r: Row, text: str | None = None) -> str:
    """A link that opens the row in the table (the page reads `#open=<row id>`)."""
    return f'<a href="#open={_e(quote(r.row_id, safe=""))}">{_e(text or r.row_id)}</a>'


def _ulp_text(r: Row) -> str:
    if r.nan_count:
        return "NaN"
    if r.inf_count:
        return "Inf"
    w = _worst_ulp(r)
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
            out.append(f'<tr><td class="{_vclass(r.verdict)}">{_e(r.verdict)}</td><td>{_open_link(r)}</td>'
                       f'<td class="n">{_e(_ulp_text(r))}</td><td>{_e(r.flags)}</td><td>{_e(msg)}</td></tr>')
        out.append("</tbody></table>")
        if len(failures) > _HTML_MAX_FAILURES:
            out.append(f'<p>... and {len(failures) - _HTML_MAX_FAILURES} more: '
                       f'<a href="#verdict=failing">show every failing row</a>.</p>')
    out.append("</details>")
    return "".join(out)


def _grouped(title: str, cls: str, rows: list[Row], key: Callable[[Row], tuple], heads: list[str],
             note: str) -> str:
    groups: dict[tuple, list[Row]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    out = [f'<details class="sec {cls}"><summary>{_e(title)} ({len(rows)})</summary><p class="note">{_e(note)}</p>']
    if groups:
        out.append("<table><thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in heads)
                   + "<th>rows</th><th>cases</th></tr></thead><tbody>")
        for k, rs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            cells = []
            for h, v in zip(heads, k, strict=True):
                s = _fmt(v)
                link = h == "link" and s.startswith(("https://", "http://"))
                cells.append(f'<td><a href="{_e(s)}" rel="noopener noreferrer">{_e(s)}</a></td>' if link else f"<td>{_e(s)}</td>")
            cases = sorted({r.case for r in rs})
            shown = ", ".join(_open_link(next(r for r in rs if r.case == c), c) for c in cases[:4])
            more = f" and {len(cases) - 4} more" if len(cases) > 4 else ""
            out.append(f'<tr>{"".join(cells)}<td class="n">{len(rs)}</td><td>{shown}{more}</td></tr>')
        out.append("</tbody></table>")
    out.append("</details>")
    return "".join(out)


_HTML_MAX_PAIRS = 100


def _ulp_cell(v: float | None) -> str:
    if v is None:
        return '<td class="n" title="values not stored (more than the row keeps)">-</td>'
    return f'<td class="n">{"NaN" if math.isnan(v) else f"{v:.3g}"}</td>'


def _id_link(rid: str, text: str) -> str:
    return f'<a href="#open={_e(quote(rid, safe=""))}">{_e(text)}</a>'


def _devices(rows: list[Row]) -> str:
    """CPU against each GPU, per framework and API path: the same trial's verdicts and values side by side."""
    ps = device_compare.pairs(rows)
    if not ps:
        return ""
    groups: dict[tuple, list[device_compare.DevicePair]] = {}
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
        out.append(f"<tr><td>{_e(fw)}</td><td>{_e(api)}</td><td>{_e(dev)}</td><td>{_e(dt)}</td>"
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
            vs = f"{_fmt(p.cpu_grad_ulp)} / {_fmt(p.device_grad_ulp)}"
            out.append(f"<tr><td>{_e(p.case)}</td><td>{_e(p.framework)}</td><td>{_e(p.api)}</td><td>{_e(p.device)}</td>"
                       f'<td>{_e(p.dtype)}</td><td class="{_vclass(p.cpu_verdict)}">{_id_link(p.cpu_row, p.cpu_verdict)}</td>'
                       f'<td class="{_vclass(p.device_verdict)}">{_id_link(p.device_row, p.device_verdict)}</td>'
                       f"{_ulp_cell(p.loss_ulp)}{_ulp_cell(p.grad_ulp)}<td>{_e(vs)}</td></tr>")
        out.append("</tbody></table>")
    out.append(plots.device_section(ps))
    out.append("</details>")
    return "".join(out)


def precision_modes(envs: list[dict]) -> list[str]:
    """The precision modes the frameworks ran in (harness/core/precision.py), from the shards' environments."""
    modes = set()
    for env in envs:
        for fw in ((env or {}).get("frameworks") or {}).values() if isinstance(env, dict) else ():
            m = (fw.get("precision") or {}).get("mode") if isinstance(fw, dict) else None
            if m:
                modes.add(str(m))
    return sorted(modes)


def _precision_line(envs: list[dict]) -> str:
    modes = precision_modes(envs)
    if not modes:
        return ""
    note = (" (the frameworks' defaults: TF32 and nondeterministic kernels where the device has them)"
            if "as-deployed" in modes else " (TF32 off, op determinism on; flags per framework below)")
    return f'precision: <b>{_e(", ".join(modes))}</b>{_e(note)}; '


def _summary(rows: list[Row]) -> str:
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
    out.append(_devices(rows))
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
    return f'<details class="sec relations" open><summary>Relations ({len(rel)})</summary><p class="note">{_e(note)}</p>{table}</details>'


def _plots(rows: list[Row]) -> str:
    return ('<h3>Worst error by family and dtype</h3>' + plots.heatmap_section(rows)
            + '<h3>Loss and gradient norm against logit scale</h3>' + plots.sweep_section(rows)
            + '<h3>Two-class gradient field</h3>' + plots.gradient_field_section(rows))


def _html(rows: list[Row], envs: list[dict], partial: bool, warnings: list[str]) -> str:
    n_fail = sum(r.verdict in FAILING for r in rows)
    commits = sorted({(e.get("harness") or {}).get("commit") or "?" for e in envs if isinstance(e, dict)})
    meta = {"failing": sorted(FAILING), "verdicts": list(VERDICTS), "dtypes": list(_DTYPES)}
    data = encode_rows(rows, _case_inputs(rows))
    parts = ['<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
             '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; '
             'script-src \'unsafe-inline\'; img-src data:">',
             '<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">',
             f"<title>{_e(TITLE)}</title><style>{_CSS}</style><script>{_JS_ERRORS}</script></head><body>",
             f'<header><h1>{_e(TITLE)}</h1><p class="runline"><b>{len(rows)}</b> rows, '
             f'<b class="{"bad" if n_fail else "good"}">{n_fail} new disagreement{"" if n_fail == 1 else "s"}</b>; '
             f'commit {_e(", ".join(commits) or "?")}; {_precision_line(envs)}'
             f'report written {_e(time.strftime("%Y-%m-%d %H:%M:%S %z"))}.</p>',
             '<nav><a href="#summary-sec">summary</a> <a href="#matrix-sec">matrix</a> <a href="#rows-sec">rows</a> '
             '<a href="#plots-sec">plots</a></nav>',
             '<pre id="js-errors" hidden></pre>', _env_html(envs), "</header>"]
    if partial:
        parts.append('<div class="banner">PARTIAL RUN: some shards are missing or incomplete; '
                     "the results below cover only the rows that were written.</div>")
    if warnings:
        parts.append('<div class="warn"><b>Warnings</b><ul>' + "".join(f"<li>{_e(w)}</li>" for w in warnings) + "</ul></div>")
    parts += ['<section id="summary-sec"><h2>Summary</h2>', _summary(rows), "</section>",
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
              f'<section id="plots-sec"><h2>Plots</h2>{_plots(rows)}</section>',
              f'<script type="application/json" id="data">{_script_json(data)}</script>',
              f'<script type="application/json" id="meta">{_script_json(meta)}</script>',
              f"<script>{_JS}</script>", "</body></html>"]
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------- HTML: style and script

_GOOD, _BAD = "#d3f2d3", "#f7c6c6"
_CSS = """
body{font:14px/1.35 system-ui,sans-serif;margin:0 1.2em 2em;color:#1d1d1f;background:#fff}
h1{margin:.5em 0 .1em;font-size:1.6em}h2{margin:1.2em 0 .3em;border-bottom:2px solid #eee}h3{margin:.6em 0 .2em;font-size:1em}
nav a{margin-right:1em}.runline{margin:.2em 0}.bad{color:#b00020}.good{color:#1b7a1b}.note{color:#666;margin:.2em 0}
table{border-collapse:collapse;margin:.3em 0 .8em}th,td{border:1px solid #d8d8d8;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f5;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}td.zero{color:#bbb}
table.env{font-size:12px}table.env td{max-width:26em;word-break:break-word}
.banner{background:#b00020;color:#fff;font-weight:bold;padding:.7em 1em;margin:.6em 0;font-size:1.1em}
.warn{background:#fff4d6;border-left:4px solid #e0a800;padding:.3em .8em;margin:.5em 0}
.countgrid{display:flex;flex-wrap:wrap;gap:0 2em}.countgrid table{font-size:13px}
details.sec{margin:.5em 0;border:1px solid #e3e3e3;border-radius:4px;padding:.2em .6em}
details.sec>summary{cursor:pointer;font-weight:600;font-size:1.05em;padding:.2em 0}details.new>summary{color:#b00020}
.filters{position:sticky;top:0;z-index:3;background:#fafafd;border:1px solid #e3e3e3;padding:.4em .6em;margin:1em 0 .2em;
display:flex;flex-wrap:wrap;gap:.4em;align-items:center}.filters select{max-width:15em}#shown{font-weight:600;margin-left:auto}
#js-errors{background:#fdd;color:#900;padding:.5em}
.matrix{overflow:auto;max-height:70vh;border:1px solid #e3e3e3}.matrix table{margin:0;font-size:11px}
.matrix th{position:sticky;top:0;z-index:1;text-align:center;white-space:nowrap}.matrix tr:nth-child(2) th{top:19px}
.matrix tr:nth-child(3) th{top:38px}.matrix tbody th{position:sticky;left:0;text-align:left;background:#f7f7f9;z-index:2}
.matrix td{min-width:3.2em;text-align:right;cursor:pointer;white-space:nowrap}.matrix td:empty{cursor:default}
.matrix td.nf{background:#2b0a3d!important;color:#fff;font-weight:bold;outline:2px solid #ff1744;outline-offset:-2px}
.matrix button{margin:.4em}
#rows-table{width:100%}#tbody tr.r{cursor:pointer;scroll-margin-top:6em}#tbody tr.r:hover td{background-image:linear-gradient(#0000000d,#0000000d)}
#tbody tr.r.open td{border-bottom-color:transparent}td.msg{max-width:36em;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
tr.d>td{background:#fbfbfd;padding:.5em .8em}.pager{display:flex;gap:.6em;align-items:center}
.det dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 1em;margin:.3em 0}.det dt{font-weight:600;color:#444}
.det dd{margin:0;white-space:pre-wrap;word-break:break-word}.det pre{background:#f3f3f5;padding:.5em;overflow:auto;max-height:24em;margin:.2em 0}
.det .vals{display:flex;flex-wrap:wrap;gap:1.5em}.det .vals table{font-size:12px}.det tr.worst td{background:#ffe9a8;font-weight:bold}
.det code.cmd{display:block;background:#1d1d1f;color:#e8e8e8;padding:.4em .6em;white-space:pre-wrap;word-break:break-all}
.v{background:#e6d6f5}.v-pass,.v-relation_pass{background:$GOOD}.v-known{background:#fde3a7}.v-fixed{background:#cfe2fb}
.v-expected_error{background:#dcefe6}.v-unsupported,.v-unavailable{background:#e6e6e6;color:#555}$FAILING{background:$BAD}
.v-crash,.v-timeout,.v-missing_error{background:#f19999}
figure{margin:.4em 0 1em}figcaption{font-weight:600;margin-bottom:.2em}figure.sweep,figure.field{display:flex;flex-wrap:wrap;gap:.5em}
figure.sweep figcaption,figure.field figcaption{flex-basis:100%}svg.plot{background:#fff;border:1px solid #eee}
.legend{display:flex;flex-wrap:wrap;gap:.3em 1.2em;font-size:12px;margin:.3em 0}.legend i{display:inline-block;width:1.8em;
margin-right:.3em;vertical-align:middle;height:0}.nodata{width:180px;border:1px dashed #ccc;color:#666;font-size:12px;padding:.5em}
""".replace("$GOOD", _GOOD).replace("$BAD", _BAD).replace("$FAILING", ",".join(".v-" + v for v in sorted(FAILING)))

# Installed first, in <head>: any script error, rejected promise or console.error is written into
# #js-errors (shown when not empty), where the browser tests look for it.
_JS_ERRORS = r"""(function(){var pending=[];function rec(m){var el=document.getElementById("js-errors");
if(!el){pending.push(m);return;}el.textContent+=m+"\n";el.hidden=false;}
window.addEventListener("error",function(e){rec("error: "+(e.message||(e.target&&e.target.tagName)||e.type)+
 (e.filename?" at "+e.filename+":"+e.lineno:""));},true);
window.addEventListener("unhandledrejection",function(e){rec("unhandled rejection: "+e.reason);});
var ce=console.error;console.error=function(){rec("console.error: "+Array.prototype.join.call(arguments," "));
 return ce.apply(console,arguments);};
document.addEventListener("DOMContentLoaded",function(){pending.splice(0).forEach(rec);});})();"""

_JS = r"""(function () {
"use strict";
const $ = (id) => document.getElementById(id);
const D = JSON.parse($("data").textContent), META = JSON.parse($("meta").textContent);
const N = D.n, PAGE = 200, MATRIX_STEP = 60, FAILING = new Set(META.failing);
const FILTERS = [["verdict", "verdicts"], ["family", "families"], ["framework", "frameworks"],
  ["api", "API paths"], ["device", "devices"], ["dtype", "dtypes"], ["tag", "tags"]];

// ---- columns (see encode_rows in harness/report/html.py)
function column(e) {
  if (!e) return () => undefined;
  const at = e.t ? (j) => e.t[e.i[j]] : (j) => e.a[j];
  if (!e.k) return at;
  const pos = new Int32Array(N).fill(-1);
  let p = 0;
  e.k.forEach((gap, j) => { p += gap; pos[p] = j; });
  return (i) => (pos[i] < 0 ? undefined : at(pos[i]));
}
const col = {};
for (const name of Object.keys(D.cols)) col[name] = column(D.cols[name]);
const get = (name, i) => (col[name] ? col[name](i) : undefined);
function rowId(i) {
  return get("row_id", i) || `${get("case", i)}[${get("framework", i)}-${get("api", i)}-${get("device", i)}-${get("dtype", i)}]`;
}
const verdicts = Array.from({ length: N }, (_, i) => get("verdict", i));
const facet = {
  verdict: (i) => verdicts[i], family: (i) => get("family", i), framework: (i) => get("framework", i),
  api: (i) => get("api", i), device: (i) => get("device", i), dtype: (i) => get("dtype", i),
  tag: (i) => get("tags", i) || [],
};

// ---- formatting
function fmt(v) {
  if (v === undefined || v === null) return "";
  if (Array.isArray(v)) return v.map(fmt).join(", ");
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  return String(v);
}
function ulp(v) {
  if (v === undefined || v === null || v === "") return "";
  if (typeof v === "string") return v === "nan" ? "NaN" : v.replace("inf", "Inf");
  if (v === 0) return "0";
  if (!Number.isFinite(v)) return Number.isNaN(v) ? "NaN" : v > 0 ? "Inf" : "-Inf";
  return v < 1000 ? String(Number(v.toPrecision(3))) : v.toExponential(0).replace("e+", "e");
}
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
const vcls = (v) => "v v-" + String(v).replace(/[^a-z_]/g, "");
const num = (v) => (typeof v === "number" ? v : v === "nan" ? NaN : v === "inf" ? Infinity : v === "-inf" ? -Infinity : undefined);
function worst(i) {
  const u = [num(get("loss_ulp", i)), num(get("grad_ulp", i))].filter((x) => x !== undefined);
  if (!u.length) return undefined;
  return u.some(Number.isNaN) ? "nan" : Math.max(...u);
}
function nonfinite(i) { return get("nan_count", i) ? "NaN" : get("inf_count", i) ? "Inf" : ""; }

// ---- state: filters, search, page and the opened row, mirrored in the URL hash
const state = { q: "", page: 1, open: "" };
FILTERS.forEach(([k]) => (state[k] = ""));
const selects = {};
function buildSelects() {
  const box = $("selects");
  for (const [key, plural] of FILTERS) {
    const counts = new Map();
    for (let i = 0; i < N; i++) {
      const v = facet[key](i);
      for (const x of Array.isArray(v) ? v : [v]) if (x !== undefined && x !== "") counts.set(x, (counts.get(x) || 0) + 1);
    }
    const s = el("select");
    s.id = "f-" + key;
    s.setAttribute("aria-label", key);
    s.appendChild(new Option(`all ${plural}`, ""));
    let keys = [...counts.keys()].sort();
    if (key === "verdict") {
      const nf = verdicts.filter((v) => FAILING.has(v)).length;
      s.appendChild(new Option(`new disagreements (${nf})`, "failing"));
      keys = META.verdicts.filter((v) => counts.has(v)).concat(keys.filter((v) => !META.verdicts.includes(v)));
    }
    if (key === "dtype") keys.sort((a, b) => META.dtypes.indexOf(a) - META.dtypes.indexOf(b));
    for (const k of keys) s.appendChild(new Option(`${k} (${counts.get(k)})`, k));
    s.addEventListener("change", () => { state[key] = s.value; state.page = 1; mark(s); update(); });
    selects[key] = s;
    box.appendChild(s);
  }
}
// a hash without "=" is a plain anchor (#plots-sec): it leaves the state alone
const isAnchor = () => location.hash.length > 1 && !location.hash.includes("=");
function readHash() {
  if (isAnchor()) return;
  const p = new URLSearchParams(location.hash.slice(1));
  for (const k of ["q", "open", ...FILTERS.map((f) => f[0])]) state[k] = p.get(k) || "";
  state.page = Math.max(1, parseInt(p.get("page") || "1", 10) || 1);
  $("q").value = state.q;
  for (const [k] of FILTERS) {
    const s = selects[k];
    if (state[k] && ![...s.options].some((o) => o.value === state[k])) s.appendChild(new Option(`${state[k]} (0)`, state[k]));
    s.value = state[k];
    mark(s);
  }
}
// the chosen option also carries the `selected` attribute, so a saved or dumped page shows the filter
function mark(s) { for (const o of s.options) o.defaultSelected = o.value === s.value; }
function writeHash() {
  const p = new URLSearchParams();
  for (const k of [...FILTERS.map((f) => f[0]), "q"]) if (state[k]) p.set(k, state[k]);
  if (state.page > 1) p.set("page", String(state.page));
  if (state.open) p.set("open", state.open);
  const h = p.toString();
  if (!h && isAnchor()) return;
  try { history.replaceState(null, "", h ? "#" + h : location.pathname + location.search); }
  catch (e) { location.replace("#" + h); }
}

// ---- filtering
let keys = null;
function searchKey(i) {
  if (!keys) keys = new Array(N);
  if (keys[i] === undefined)
    keys[i] = [rowId(i), get("family", i), verdicts[i], get("flags", i), get("tags", i), get("message", i),
      get("description", i), get("call", i), get("known_reason", i), get("source", i)].map(fmt).join(" ").toLowerCase();
  return keys[i];
}
function matches(i, words) {
  for (const [k] of FILTERS) {
    const want = state[k];
    if (!want) continue;
    const v = facet[k](i);
    if (k === "verdict" ? (want === "failing" ? !FAILING.has(v) : v !== want) : k === "tag" ? !v.includes(want) : v !== want) return false;
  }
  for (const w of words) if (!searchKey(i).includes(w)) return false;
  return true;
}
let visible = [];
function resolve(open) {
  if (!open) return -1;
  if (/^\d+$/.test(open)) return +open < N ? +open : -1;
  for (let i = 0; i < N; i++) if (rowId(i) === open) return i;
  return -1;
}

// ---- the row table, one page at a time; details built when a row is opened
const opened = new Set();
const tbody = $("tbody");
const COLS = [["verdict", (i) => verdicts[i]], ["case", (i) => get("case", i)], ["framework", (i) => get("framework", i)],
  ["api", (i) => get("api", i)], ["device", (i) => get("device", i)], ["dtype", (i) => get("dtype", i)],
  ["loss_ulp", (i) => ulp(get("loss_ulp", i))], ["grad_ulp", (i) => ulp(get("grad_ulp", i))],
  ["flags", (i) => fmt(get("flags", i))], ["message", (i) => get("message", i)]];
function rowTr(i) {
  const tr = el("tr", undefined, "r");
  tr.dataset.i = i;
  tr.dataset.rowId = rowId(i);
  for (const [c, f] of COLS) {
    const td = el("td", fmt(f(i)));
    td.dataset.col = c;
    if (c === "verdict") td.className = vcls(verdicts[i]);
    else if (c === "message") { td.className = "msg"; td.title = fmt(get("message", i)); }
    else if (c.endsWith("ulp")) td.className = "n";
    tr.appendChild(td);
  }
  return tr;
}
function renderPage() {
  const pages = Math.max(1, Math.ceil(visible.length / PAGE));
  state.page = Math.min(state.page, pages);
  const start = (state.page - 1) * PAGE, frag = document.createDocumentFragment();
  for (const i of visible.slice(start, start + PAGE)) {
    const tr = rowTr(i);
    frag.appendChild(tr);
    if (opened.has(i)) { tr.classList.add("open"); frag.appendChild(details(i)); }
  }
  tbody.replaceChildren(frag);
  for (const id of ["pager-top", "pager-bottom"]) {
    const box = $(id);
    box.replaceChildren();
    if (pages <= 1) continue;
    const prev = el("button", "previous"), next = el("button", "next");
    prev.disabled = state.page <= 1;
    next.disabled = state.page >= pages;
    prev.addEventListener("click", () => { state.page--; update(); });
    next.addEventListener("click", () => { state.page++; update(); });
    box.append(prev, el("span", `page ${state.page} of ${pages} (rows ${start + 1}-${Math.min(start + PAGE, visible.length)})`), next);
  }
}
function shq(s) { return /^[\w@%+=:,./-]+$/.test(s) ? s : "'" + String(s).replace(/'/g, "'\\''") + "'"; }
function rerun(i) {
  const src = get("source", i);
  if (!src || get("case", i) === "*") return "";
  const file = src.replace(/:\d+:\d+$/, "").replace(/:\d+$/, "");
  // -k takes a pytest expression: the row id's words joined with "and" (brackets, dots and dashes are allowed)
  const words = rowId(i).split(/[^\w:+\-.[\]\\/]+/).filter((w) => w && !["and", "or", "not"].includes(w));
  const api = get("api", i);
  if (api.startsWith("custom:")) {  // a user's loss checked by `harness check` (a named one comes from a config file: `run`)
    return `python -m harness check ${shq(api.slice(7))} --family ${shq(get("family", i))} ` +
      `--framework ${shq(get("framework", i))} --cases ${shq(file)} --beside none -k ${shq(words.join(" and "))} --out reports/rerun`;
  }
  return `python -m harness run --cases ${shq(file)} --frameworks ${shq(get("framework", i))} ` +
    `-k ${shq(words.join(" and "))} --out reports/rerun`;
}
function valuesTable(title, v) {
  const box = el("div");
  box.appendChild(el("b", title));
  if (!v) { box.appendChild(el("p", "not embedded (too many elements, or the report's size budget was spent): see results.jsonl", "note")); return box; }
  const [total, items, worstIndex] = v, t = el("table");
  const head = el("tr");
  for (const h of ["index", "observed", "oracle"]) head.appendChild(el("th", h));
  t.appendChild(head);
  let last = -1;
  for (const [k, o, r] of items) {
    if (k > last + 1) { const gap = el("tr"); const td = el("td", "...", "note"); td.colSpan = 3; gap.appendChild(td); t.appendChild(gap); }
    last = k;
    const tr = el("tr", undefined, k === worstIndex ? "worst" : "");
    tr.append(el("td", String(k), "n"), el("td", fmt(o === null ? "" : typeof o === "number" ? String(o) : o), "n"),
      el("td", fmt(r === null ? "" : typeof r === "number" ? String(r) : r), "n"));
    t.appendChild(tr);
  }
  if (last < total - 1) { const gap = el("tr"); const td = el("td", `... ${total} elements`, "note"); td.colSpan = 3; gap.appendChild(td); t.appendChild(gap); }
  box.appendChild(t);
  return box;
}
function details(i) {
  const g = (k) => get(k, i), td = el("td"), box = el("div", undefined, "det"), dl = el("dl");
  td.colSpan = COLS.length;
  const add = (name, value) => { const s = fmt(value); if (s) { dl.append(el("dt", name), el("dd", s)); } };
  const pair = (...ks) => ks.map((k) => fmt(g(k))).filter(Boolean).join(" / ");
  add("row id", rowId(i));
  add("verdict", verdicts[i] + (g("raw_verdict") ? ` (before the known-differences file: ${g("raw_verdict")})` : ""));
  add("flags", g("flags"));
  add("case", g("case"));
  if (g("relation")) add("relation", `${g("relation")}: against ${g("partner") || "?"}`);
  add("description", g("description"));
  add("family / reduction", pair("family", "reduction"));
  add("tags", g("tags"));
  add("logits shape", g("shape") ? "[" + fmt(g("shape")) + "]" : "");
  add("inputs", D.inputs[g("case")] ? D.inputs[g("case")] + "\n(read from the case file when the report was written)" : "");
  if (g("sweep")) add("sweep", `${g("sweep")} = ${fmt(g("sweep_value"))}`);
  const worstLine = (what, idx, abs, rel, u) => (g(what) === undefined && g("ref_" + what) === undefined ? "" :
    (g(idx) ? `at [${fmt(g(idx))}]: ` : "") + `observed ${String(g(what) ?? "")}, ${g("relation") ? "partner" : "oracle"} ${String(g("ref_" + what) ?? "")}; ` +
    `abs ${fmt(g(abs))}, rel ${fmt(g(rel))}, ${ulp(g(u)) || "?"} ULP`);
  add("loss, worst element", worstLine("loss", "loss_worst_index", "loss_abs_err", "loss_rel_err", "loss_ulp"));
  add("gradient, worst element", worstLine("grad", "grad_worst_index", "grad_max_abs_err", "grad_max_rel_err", "grad_ulp"));
  add("gradient norm (observed / oracle)", pair("grad_norm", "ref_grad_norm"));
  add("NaN / Inf (observed; oracle)", `${g("nan_count") || 0} / ${g("inf_count") || 0}; ${g("ref_nan_count") || 0} / ${g("ref_inf_count") || 0}`);
  add("allowed at the worst element", `loss ${g("loss_allowance") || fmt(g("loss_allowed"))}; grad ${g("grad_allowance") || fmt(g("grad_allowed"))}`);
  add("tolerance from", g("tolerance_source"));
  add("oracle precision", g("oracle_precision"));
  add("framework precision", g("precision"));
  add("call", g("call"));
  add("framework version", g("framework_version"));
  add("device", g("device") + (g("device_requested") ? ` (requested ${g("device_requested")})` : ""));
  add("known reason", g("known_reason"));
  add("duration (s)", g("duration_s"));
  add("source", g("source"));
  add("shards", g("shard"));
  if (g("known_link")) {
    const dd = el("dd"), s = String(g("known_link"));
    if (/^https?:\/\//i.test(s)) { const a = el("a", s); a.href = s; a.rel = "noopener noreferrer"; dd.appendChild(a); } else dd.textContent = s;
    dl.append(el("dt", "known link"), dd);
  }
  box.appendChild(dl);
  const vals = el("div", undefined, "vals");
  vals.append(valuesTable("loss values", g("lv")), valuesTable("gradient values", g("gv")));
  box.appendChild(vals);
  if (g("message")) { box.appendChild(el("b", "message")); box.appendChild(el("pre", g("message"))); }
  if (g("traceback")) { box.appendChild(el("b", "traceback")); box.appendChild(el("pre", g("traceback"))); }
  const cmd = rerun(i);
  if (cmd) { box.appendChild(el("b", "re-run just this row")); box.appendChild(el("code", cmd, "cmd")); }
  td.appendChild(box);
  const tr = el("tr", undefined, "d");
  tr.dataset.i = i;
  tr.appendChild(td);
  return tr;
}
tbody.addEventListener("click", (e) => {
  const tr = e.target.closest("tr.r");
  if (!tr || e.target.closest("a")) return;
  const i = +tr.dataset.i;
  if (opened.has(i)) {
    opened.delete(i);
    if (state.open === rowId(i) || state.open === String(i)) state.open = "";
  } else { opened.add(i); state.open = rowId(i); }
  writeHash();
  renderPage();
});

// ---- the disagreement matrix: cases by (framework, api, device, dtype), over the visible rows
let matrixLimit = MATRIX_STEP;
function renderMatrix() {
  const box = $("matrix"), columns = new Map(), cases = new Map();
  for (const i of visible) {
    const parts = [get("framework", i), get("api", i), get("device", i), get("dtype", i)], key = parts.join("\u0001");
    if (!columns.has(key)) columns.set(key, parts);
    const c = get("case", i);
    if (!cases.has(c)) cases.set(c, new Map());
    if (!cases.get(c).has(key)) cases.get(c).set(key, i);
  }
  if (!visible.length) { box.replaceChildren(el("p", "No rows match the filters.", "note")); return; }
  const dt = (d) => { const k = META.dtypes.indexOf(d); return k < 0 ? 99 : k; };
  const cols = [...columns.entries()].sort((a, b) => {
    const x = a[1], y = b[1];
    return x[0].localeCompare(y[0]) || x[1].localeCompare(y[1]) || x[2].localeCompare(y[2]) || dt(x[3]) - dt(y[3]);
  });
  const t = el("table"), thead = el("thead");
  for (let level = 0; level < 3; level++) {
    const tr = el("tr");
    tr.appendChild(el("th", level === 0 ? "case" : ""));
    for (let c = 0; c < cols.length;) {
      const p = cols[c][1], label = level === 2 ? `${p[2]} ${p[3].replace("float", "f").replace("bf16", "bf16")}` : p[level];
      let span = 1;
      if (level < 2) while (c + span < cols.length && cols[c + span][1].slice(0, level + 1).join("\u0001") === p.slice(0, level + 1).join("\u0001")) span++;
      const th = el("th", label);
      th.colSpan = span;
      th.title = p.slice(0, level + 2).join(" ");
      tr.appendChild(th);
      c += span;
    }
    thead.appendChild(tr);
  }
  t.appendChild(thead);
  const tb = el("tbody");
  let n = 0;
  for (const [c, cells] of cases) {
    if (n++ >= matrixLimit) break;
    const tr = el("tr"), th = el("th", c);
    const first = cells.values().next().value;
    th.title = fmt(get("description", first));
    tr.appendChild(th);
    for (const [key] of cols) {
      const i = cells.get(key);
      if (i === undefined) { tr.appendChild(el("td")); continue; }
      const v = verdicts[i], bad = nonfinite(i);
      const w = worst(i);
      const text = bad || (v === "unsupported" || v === "unavailable" ? "-" : v === "error" || v === "crash" || v === "timeout" ? v :
        v === "expected_error" ? "raised" : ulp(w));
      const td = el("td", text, vcls(v) + (bad ? " nf" : ""));
      td.dataset.i = i;
      td.title = `${rowId(i)}\n${v}${w !== undefined ? ", worst " + ulp(w) + " ULP" : ""}${get("message", i) ? "\n" + get("message", i) : ""}`;
      tr.appendChild(td);
    }
    tb.appendChild(tr);
  }
  t.appendChild(tb);
  const parts = [t];
  if (cases.size > matrixLimit) {
    const more = el("button", `show ${Math.min(MATRIX_STEP, cases.size - matrixLimit)} more of ${cases.size} cases`);
    more.id = "matrix-more";
    more.addEventListener("click", () => { matrixLimit += MATRIX_STEP; renderMatrix(); });
    parts.push(more);
  }
  box.replaceChildren(...parts);
}
$("matrix").addEventListener("click", (e) => {
  const td = e.target.closest("td[data-i]");
  if (!td) return;
  openRow(+td.dataset.i);
});
function openRow(i) {
  opened.add(i);
  state.open = rowId(i);
  const pos = visible.indexOf(i);
  if (pos >= 0) state.page = Math.floor(pos / PAGE) + 1;
  writeHash();
  renderPage();
  const tr = tbody.querySelector(`tr.d[data-i="${i}"]`);
  if (tr) tr.previousSibling.scrollIntoView({ block: "start" });
}

// ---- wiring
function update(fromHash) {
  const words = state.q.toLowerCase().split(/\s+/).filter(Boolean);
  visible = [];
  for (let i = 0; i < N; i++) if (matches(i, words)) visible.push(i);
  $("shown").textContent = `${visible.length} of ${N} rows shown`;
  matrixLimit = MATRIX_STEP;
  renderMatrix();
  const target = fromHash ? resolve(state.open) : -1;
  if (target >= 0) { openRow(target); return; }
  writeHash();
  renderPage();
}
buildSelects();
let timer = null;
$("q").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => { state.q = $("q").value; state.page = 1; update(); }, 150); });
$("reset").addEventListener("click", (e) => {
  e.preventDefault();
  FILTERS.forEach(([k]) => (state[k] = ""));
  Object.assign(state, { q: "", page: 1, open: "" });
  opened.clear();
  writeHash();
  readHash();
  update();
});
window.addEventListener("hashchange", () => { if (!isAnchor()) { readHash(); update(true); } });
readHash();
update(true);
document.body.dataset.ready = "1";
})();"""
