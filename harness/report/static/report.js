(function () {
"use strict";
const $ = (id) => document.getElementById(id);
const D = JSON.parse($("data").textContent), META = JSON.parse($("meta").textContent);
const N = D.n, PAGE = 200, MATRIX_STEP = 60, FAILING = new Set(META.failing);
const FILTERS = [["verdict", "verdicts"], ["family", "families"], ["framework", "frameworks"],
  ["api", "API paths"], ["device", "devices"], ["dtype", "dtypes"], ["tag", "tags"]];

// ---- columns (see encode_rows in harness/report/codec.py)
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
// ---- a row's standalone reproducer, written by `python -m harness repro` (harness/run/repro.py): a failing row
// carries its script, compressed with the others' in D.repro; the page only unpacks and shows it
const scriptRows = new Set(D.repro ? D.repro.rows : []);
let scripts = null;
function script(i) {
  if (!scriptRows.has(i)) return null;
  if (!scripts) {
    scripts = new Promise((ok) => {
      if (typeof DecompressionStream === "undefined") throw new Error("this browser has no DecompressionStream");
      const bytes = Uint8Array.from(atob(D.repro.gz), (c) => c.charCodeAt(0));
      ok(new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"))).text());
    }).then((t) => new Map(JSON.parse(t).map((s, k) => [D.repro.rows[k], s])));
  }
  return scripts.then((m) => m.get(i));
}
function selectText(node) {
  const range = document.createRange(), sel = window.getSelection();
  range.selectNodeContents(node);
  sel.removeAllRanges();
  sel.addRange(range);
  try { return document.execCommand("copy"); } catch (e) { return false; }
}
function copyButton(source) {
  const b = el("button", "copy", "copy");
  b.addEventListener("click", (e) => {
    e.stopPropagation();
    const done = (ok) => { b.textContent = ok ? "copied" : "selected: copy it"; setTimeout(() => { b.textContent = "copy"; }, 2000); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.textContent).then(() => done(true), () => done(selectText(source)));
    } else done(selectText(source));
  });
  return b;
}
function reproducer(box, i) {
  const why = get("norepro", i);
  box.appendChild(el("b", "standalone reproducer (numpy and the framework only)"));
  if (why) { box.appendChild(el("p", `none: ${why}`, "note")); return; }
  const cmd = el("code", `python -m harness repro ${shq(rowId(i))} --out repro.py`, "cmd");
  box.append(copyButton(cmd), cmd);
  const s = script(i);
  if (!s) {
    box.appendChild(el("p", "The command writes it from the run's results.jsonl (--results FOLDER when that is not reports/); " +
      "the report carries the scripts of failing rows with small inputs.", "note"));
    return;
  }
  const pre = el("pre", "unpacking ...", "script");
  box.append(el("b", "script"), copyButton(pre), pre);
  s.then((text) => { pre.textContent = text; }, (e) => { pre.textContent = `could not unpack the script (${e.message}): run the command above`; });
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
  if (g("order")) add("derivative order", `${g("order")}: judged where a loss row judges the gradient; the loss is its trial's own row's to judge`);
  add("description", g("description"));
  add("family / reduction", pair("family", "reduction"));
  add("tags", g("tags"));
  add("logits shape", g("shape") ? "[" + fmt(g("shape")) + "]" : "");
  add("inputs", D.inputs[g("case")]);  // recorded with the rows (harness/judge/inputs.py)
  if (g("sweep")) add("sweep", `${g("sweep")} = ${fmt(g("sweep_value"))}`);
  const worstLine = (what, idx, abs, rel, u) => (g(what) === undefined && g("ref_" + what) === undefined ? "" :
    (g(idx) ? `at [${fmt(g(idx))}]: ` : "") + `observed ${String(g(what) ?? "")}, ${g("relation") ? "partner" : "oracle"} ${String(g("ref_" + what) ?? "")}; ` +
    `abs ${fmt(g(abs))}, rel ${fmt(g(rel))}, ${ulp(g(u)) || "?"} ULP`);
  add("loss, worst element", worstLine("loss", "loss_worst_index", "loss_abs_err", "loss_rel_err", "loss_ulp"));
  add(g("order") ? `${g("order").split(":")[0]}, worst element` : "gradient, worst element", worstLine("grad", "grad_worst_index", "grad_max_abs_err", "grad_max_rel_err", "grad_ulp"));
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
  add("known entry", g("known_entry"));
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
  reproducer(box, i);
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
})();
