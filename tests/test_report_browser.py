"""Browser tests of the HTML report: headless Chromium opens a generated report and the DOM it leaves is checked.

Each check loads `index.html#<state>` (the page keeps its filters, page and opened row in the URL hash),
lets the page's script run (`--virtual-time-budget`), and parses the DOM Chromium dumps. Script errors
are caught by the page into `#js-errors`; Chromium's own console log (stderr) must be empty too. The
dumps run in parallel, once per module, so the whole module takes a few seconds.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from harness.report import write_report
from harness.report.order import sort_key as _sort_key
from harness.results import findings as found_in
from harness.results.rows import FAILING, Row, row_id
from tests import browser
from tests.test_report import ENVS, field_rows, sweep_rows, synthetic_rows

XSS_DESC = "<script>document.body.dataset.pwned='1'</script>"
XSS_MSG = "<img src=x onerror=\"document.body.dataset.pwned='1'\"> & </pre>"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def chromium() -> str:
    """The Chromium binary (tests/browser.py); the module is skipped when there is none."""
    path = browser.chromium()
    if path is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium) and could not be installed here")
    return path


def _xss_row() -> Row:
    return Row(row_id=row_id("evil<case>", "torch", "F.cross_entropy", "cpu", "float32"), case="evil<case>",
               family="sparse_softmax_cross_entropy", framework="torch", api="F.cross_entropy", device="cpu", dtype="float32",
               verdict="error", description=XSS_DESC, message=XSS_MSG, traceback="Traceback:\n</script><b>bold</b>",
               source="cases/<b>evil</b>.yaml:1:3", tags=["<i>evil</i>"])


def _unavailable_row() -> Row:
    return Row(row_id=row_id("*", "mxnet", "*", "*", "*"), case="*", family="*", framework="mxnet", api="*", device="*",
               dtype="*", verdict="unavailable", message="No module named 'mxnet'")


def _conformance_rows() -> list[Row]:
    """The oracle's golden check of a case, passing (it conforms), and a path that cannot express a family."""
    golden = Row(row_id=row_id("golden-demo", "oracle", "golden", "cpu", "float64"), case="golden-demo",
                 family="softmax_cross_entropy", framework="oracle", api="golden", device="cpu", dtype="float64",
                 verdict="pass", loss=0.3132616875182228, ref_loss=0.3132616875182228, loss_ulp=0.0)
    cannot = Row(row_id=row_id("golden-demo", "keras-numpy", "keras.losses", "cpu", "float64"), case="golden-demo",
                 family="softmax_cross_entropy", framework="keras-numpy", api="keras.losses", device="cpu", dtype="float64",
                 verdict="unsupported", message="keras.losses cannot express it")
    return [golden, cannot]


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return (synthetic_rows(420, seed=7) + sweep_rows() + field_rows() + [_xss_row(), _unavailable_row()]
            + _conformance_rows())


@pytest.fixture(scope="module")
def report(tmp_path_factory, rows) -> Path:
    out = tmp_path_factory.mktemp("report")
    write_report(rows, ENVS, out, warnings=["a warning"])
    empty = out / "empty"
    write_report([], [], empty)
    return out


def _ordered(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=_sort_key)  # the report's order: failures first


def _failing_with_values(rows: list[Row]) -> Row:
    return next(r for r in _ordered(rows) if r.verdict == "loss_mismatch" and r.loss_values and len(r.loss_values) > 1)


def _views(rows: list[Row]) -> dict[str, str]:
    """Every view the tests look at: name -> URL hash."""
    views = {"all": "", "empty": "EMPTY"}
    for key, value in (("verdict", "known"), ("verdict", "failing"), ("family", "softmax_cross_entropy"),
                       ("framework", "jax"), ("api", "tf.nn.sparse_softmax_cross_entropy_with_logits"),
                       ("device", "cuda:0"), ("dtype", "float16"), ("tag", "sweep"), ("q", "field-demo")):
        views[f"{key}={value}"] = urlencode({key: value})
    views["combined"] = urlencode({"verdict": "pass", "framework": "torch", "dtype": "float32", "q": "gen-sparse"})
    views["search2"] = urlencode({"q": "sweep-demo FLOAT16"})
    views["open-failing"] = "open=" + quote(_failing_with_values(rows).row_id, safe="")
    views["open-xss"] = "open=" + quote(_xss_row().row_id, safe="")
    views["open-index"] = "open=300"  # on the second page
    views["finding-2"] = "finding-2"  # a plain anchor: the finding opens, the table's state stays
    views["env"] = "env-sec"
    return views


@pytest.fixture(scope="module")
def dom(chromium, report, rows) -> dict[str, tuple[str, str]]:
    """name -> (dumped DOM, Chromium's stderr) for every view, loaded in parallel."""
    def load(item: tuple[str, str]) -> tuple[str, tuple[str, str]]:
        name, frag = item
        page = (report / "empty" / "index.html") if frag == "EMPTY" else report / "index.html"
        url = page.as_uri() + ("#" + frag if frag and frag != "EMPTY" else "")
        p = browser.dump_dom(chromium, url)
        assert p.returncode == 0, p.stderr[-2000:]
        return name, (p.stdout, p.stderr)
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        return dict(pool.map(load, _views(rows).items()))


# --------------------------------------------------------------------------- a small DOM


class Node:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None):
        self.tag, self.attrs, self.parent, self.children = tag, attrs, parent, []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        return [n for n in self.iter() if (tag is None or n.tag == tag)
                and (cls is None or cls in n.attrs.get("class", "").split())
                and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def by_id(self, ident: str) -> Node:
        found = self.find_all(id=ident)
        assert found, f"no element #{ident}"
        return found[0]


class _Builder(HTMLParser):
    VOID = frozenset({"meta", "link", "br", "img", "input", "hr", "col", "source", "wbr"})

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, self.cur)
        self.cur.children.append(node)
        if tag not in self.VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, {k: v or "" for k, v in attrs}, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse(text: str) -> Node:
    b = _Builder()
    b.feed(text)
    return b.root


def _table_rows(doc: Node) -> list[dict[str, str]]:
    return [{td.attrs["data-col"]: td.text() for td in tr.find_all("td") if "data-col" in td.attrs} | {"id": tr.attrs["data-row-id"]}
            for tr in doc.by_id("tbody").find_all("tr", cls="r")]


def _shown(doc: Node) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+) of (\d+) rows shown", doc.by_id("shown").text())
    assert m, doc.by_id("shown").text()
    return int(m.group(1)), int(m.group(2))


def _clean(name: str, dom: dict[str, tuple[str, str]]) -> Node:
    text, stderr = dom[name]
    doc = parse(text)
    assert doc.by_id("js-errors").text() == "", doc.by_id("js-errors").text()
    assert [ln for ln in stderr.splitlines() if ":CONSOLE" in ln] == []
    body = doc.find_all("body")[0]
    assert body.attrs.get("data-ready") == "1" and "data-pwned" not in body.attrs
    return doc


# --------------------------------------------------------------------------- tests


def test_loads_with_failures_first_and_no_errors(dom, rows):
    doc = _clean("all", dom)
    assert _shown(doc) == (len(rows), len(rows))
    shown = _table_rows(doc)
    assert len(shown) == 200  # one page
    n_fail = sum(r.verdict in FAILING for r in rows)
    assert [r["id"] for r in shown] == [r.row_id for r in _ordered(rows)[:200]]
    assert all(r["verdict"] in FAILING for r in shown[:n_fail]) and shown[n_fail]["verdict"] not in FAILING
    assert "page 1 of 3" in doc.by_id("pager-top").text()
    assert doc.by_id("f-verdict").find_all("option")[1].text() == f"new disagreements ({n_fail})"


def test_summary_counts_match_rows(dom, rows):
    doc = _clean("all", dom)
    keys = {"by-framework": lambda r: (r.framework,), "by-api": lambda r: (r.framework, r.api),
            "by-device": lambda r: (r.device,), "by-dtype": lambda r: (r.dtype,)}
    for cls, key in keys.items():
        table = doc.find_all("table", cls=cls)[0]
        heads = [th.text() for th in table.find_all("th")]
        want = Counter((key(r), r.verdict) for r in rows)
        totals = Counter(key(r) for r in rows)
        got_rows = table.find_all("tbody")[0].find_all("tr")
        assert len(got_rows) == len(totals)
        for tr in got_rows:
            cells = dict(zip(heads, [td.text() for td in tr.find_all("td")], strict=True))
            k = tuple(cells[h] for h in heads[:len(next(iter(totals)))])
            assert int(cells["total"]) == totals[k]
            for v in {r.verdict for r in rows}:
                assert int(cells[v]) == want[(k, v)], (cls, k, v)
    n_fail = sum(r.verdict in FAILING for r in rows)
    summaries = [s.text() for s in doc.find_all("summary")]
    assert f"New disagreements ({n_fail})" in summaries
    assert f"Known differences ({sum(r.verdict == 'known' for r in rows)})" in summaries
    assert f"Unsupported ({sum(r.verdict == 'unsupported' for r in rows)})" in summaries


def _expect(rows: list[Row], key: str, value: str) -> list[Row]:
    pick = {"verdict": lambda r: (r.verdict in FAILING) if value == "failing" else r.verdict == value,
            "tag": lambda r: value in r.tags, "q": lambda r: value in r.row_id}
    return [r for r in rows if pick.get(key, lambda r: getattr(r, key) == value)(r)]


@pytest.mark.parametrize("view", ["verdict=known", "verdict=failing", "family=softmax_cross_entropy", "framework=jax",
                                  "api=tf.nn.sparse_softmax_cross_entropy_with_logits", "device=cuda:0", "dtype=float16",
                                  "tag=sweep", "q=field-demo"])
def test_each_filter_narrows(dom, rows, view):
    key, value = view.split("=", 1)
    doc = _clean(view, dom)
    want = _expect(rows, key, value)
    assert 0 < len(want) < len(rows)
    assert _shown(doc) == (len(want), len(rows))
    assert [r["id"] for r in _table_rows(doc)] == [r.row_id for r in _ordered(want)][:200]
    if key != "q":
        assert doc.by_id(f"f-{key}").find_all("option", selected="")[0].attrs["value"] == value  # the control shows it


def test_filters_combine_and_search_matches_words(dom, rows):
    doc = _clean("combined", dom)
    want = [r for r in rows if r.verdict == "pass" and r.framework == "torch" and r.dtype == "float32"
            and "gen-sparse" in r.row_id]
    assert _shown(doc) == (len(want), len(rows)) and len(want) > 0
    assert {(r["verdict"], r["framework"], r["dtype"]) for r in _table_rows(doc)} == {("pass", "torch", "float32")}
    doc = _clean("search2", dom)
    want = [r for r in rows if r.case.startswith("sweep-demo") and r.dtype == "float16"]
    assert _shown(doc) == (len(want), len(rows)) and len(want) == 10


def test_second_page(dom, rows):
    doc = _clean("open-index", dom)  # the row opened by index 300 is on the second page
    assert [r["id"] for r in _table_rows(doc)] == [r.row_id for r in _ordered(rows)[200:400]]
    assert "page 2 of 3" in doc.by_id("pager-bottom").text()


def test_opening_a_row_shows_its_details(dom, rows):
    r = _failing_with_values(rows)
    doc = _clean("open-failing", dom)
    details = doc.by_id("tbody").find_all("tr", cls="d")
    assert len(details) == 1
    text = details[0].text()
    for want in (r.row_id, r.message, r.tolerance_source, "shards/torch.jsonl" if r.framework == "torch" else r.shard,
                 "re-run just this row", repr(r.ref_loss), r.source, "observed", "oracle"):
        assert want in text, want
    file = r.source.rsplit(":", 2)[0]
    assert f"python -m harness run --cases {file} --frameworks {r.framework} -k '" in text
    worst = details[0].find_all("tr", cls="worst")
    assert worst and worst[0].find_all("td")[1].text() == repr(r.loss_values[r.loss_worst_index[0]])
    doc = _clean("open-index", dom)  # by index, on the second page: the page follows the row
    assert "page 2 of 3" in doc.by_id("pager-top").text()
    opened = doc.by_id("tbody").find_all("tr", cls="d")
    assert len(opened) == 1 and _ordered(rows)[300].row_id in opened[0].text()


def test_case_text_is_escaped(dom):
    doc = _clean("open-xss", dom)
    text = doc.by_id("tbody").find_all("tr", cls="d")[0].text()
    assert XSS_DESC in text and XSS_MSG in text and "</script><b>bold</b>" in text
    assert "evil<case>" in text and "<b>evil</b>.yaml" in text and "<i>evil</i>" in text  # id, file name, tag
    assert not doc.by_id("tbody").find_all("img") and not any(b.text() in ("bold", "evil") for b in doc.find_all("b"))
    assert not doc.by_id("tbody").find_all("i")
    assert all(not s.text().startswith("document.body") for s in doc.find_all("script"))


def test_plots_and_matrix_present(dom, rows):
    doc = _clean("all", dom)
    plots = doc.by_id("plots-sec")
    assert len(plots.find_all("svg", cls="plot")) == 2 + 4 + 3  # heatmaps, sweep charts, gradient fields
    assert "No sweep cases" not in plots.text()
    matrix = doc.by_id("matrix")
    cases = {r.case for r in rows}
    assert len(matrix.find_all("tbody")[0].find_all("tr")) == min(60, len(cases))
    assert bool(matrix.find_all("button", id="matrix-more")) == (len(cases) > 60)
    bad = matrix.find_all("td", cls="nf")
    assert bad and all(td.text() in ("NaN", "Inf") for td in bad)
    failing = _clean("verdict=failing", dom).by_id("matrix")
    cells = [td for td in failing.find_all("td") if "data-i" in td.attrs]
    assert len(cells) == sum(r.verdict in FAILING for r in rows)


def test_cpu_against_gpu_section_matches_the_pairs_and_links_to_rows(dom, rows):
    from harness.report import device_pairs as device_compare

    doc = _clean("all", dom)
    pairs = device_compare.pairs(rows)
    assert pairs  # the synthetic rows hold every trial on cpu and cuda:0
    sec = doc.find_all("details", cls="devices")[0]
    summary = sec.find_all("summary")[0].text()
    assert summary == f"CPU against GPU ({len(pairs)} trials; {sum(p.verdicts_differ for p in pairs)} with different verdicts)"
    per_group = sec.find_all("table", cls="devpairs")[0].find_all("tbody")[0].find_all("tr")
    assert sum(int(tr.find_all("td")[4].text()) for tr in per_group) == len(pairs)
    ids = {r.row_id for r in rows}
    links = [a.attrs["href"] for a in sec.find_all("a")]
    assert links and all(h.startswith("#open=") for h in links)
    from urllib.parse import unquote

    assert {unquote(h[len("#open="):]) for h in links} <= ids
    assert sec.find_all("svg", cls="plot")


def test_empty_report(dom):
    doc = _clean("empty", dom)
    assert _shown(doc) == (0, 0)
    assert "No sweep cases in this run." in doc.text() and "No rows match the filters." in doc.text()


def test_screenshot(chromium, report, tmp_path):
    png = tmp_path / "screenshot.png"
    browser.screenshot(chromium, (report / "index.html").as_uri(), png, 1400, 2000)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000


def test_findings_come_first_and_open_to_their_worst_row(dom, rows):
    doc = _clean("all", dom)
    sections = [s.attrs.get("id") for s in doc.find_all("section")]
    assert sections[:3] == ["findings-sec", "summary-sec", "env-sec"]
    found = found_in.findings(rows)
    sec = doc.by_id("findings-sec")
    items = sec.find_all("details", cls="finding")
    assert [d.attrs["id"] for d in items] == [f"finding-{f.number}" for f in found] and len(found) > 5
    assert not any("open" in d.attrs for d in items)
    assert sec.find_all("h2")[0].text() == found_in.heading(found)
    by_id = {r.row_id: r for r in rows}
    for d, f in zip(items, found, strict=True):
        summary = d.find_all("summary")[0]
        assert summary.find_all("span", cls="fno")[0].text() == str(f.number)
        assert summary.find_all("span", cls="where")[0].text() == f.where()
        assert summary.find_all("span", cls="worst")[0].text() == (found_in.worst_text(f.worst) or "?")
        assert summary.find_all("span", cls="about")[0].text() == f.about()
        rep = d.find_all("div", cls="rep")[0]
        link = rep.find_all("a")[0]
        assert link.attrs["href"] == "#open=" + quote(f.worst.row_id, safe="") and link.text() == f.worst.row_id
        w = by_id[f.worst.row_id]
        assert not any(found_in.severity(r) < found_in.severity(w) for r in f.rows)
        if w.loss is not None:  # the observed and exact values at the worst element, exactly as the row has them
            cells = [td.text() for td in rep.find_all("table", cls="worstvals")[0].find_all("tr")[1].find_all("td")]
            assert cells[0] == "loss" and cells[2:4] == [repr(w.loss), repr(w.ref_loss)]
            finite = math.isfinite(w.loss) and math.isfinite(w.ref_loss)  # else the row's errors are not this element's
            assert cells[4:7] == ([f"{w.loss_abs_err:.3g}", f"{w.loss_rel_err:.3g}", f"{w.loss_ulp:.3g}"] if finite else ["-"] * 3)
    # the known finding names its upstream link; the harmful message is text
    known = next(d for d, f in zip(items, found, strict=True) if f.known)
    assert any(a.attrs.get("href") == "https://example.org/issue/1" for a in known.find_all("a"))
    assert XSS_MSG in sec.text() and not sec.find_all("img")


def test_a_link_to_a_finding_opens_it(dom):
    doc = _clean("finding-2", dom)
    opened = [d.attrs["id"] for d in doc.find_all("details", cls="finding") if "open" in d.attrs]
    assert opened == ["finding-2"]
    assert _shown(doc)[0] == _shown(doc)[1]  # the table's filters are untouched
    env = _clean("env", dom).by_id("env-sec").find_all("details")[0]
    assert "open" in env.attrs and env.find_all("table", cls="env")
    assert "open" not in _clean("all", dom).by_id("env-sec").find_all("details")[0].attrs  # collapsed by default


def test_per_framework_view(dom, rows):
    doc = _clean("all", dom)
    found = found_in.findings(rows)
    table = found_in.conformance(rows, found)
    view = doc.by_id("findings-sec").find_all("table", cls="perfw")[0]
    fws = sorted({fw for cells in table.values() for fw in cells})
    assert [th.text() for th in view.find_all("thead")[0].find_all("th")] == ["family", *fws]
    trs = view.find_all("tbody")[0].find_all("tr")
    assert [tr.find_all("th")[0].text() for tr in trs] == list(table)
    ids = {f"#finding-{f.number}" for f in found}
    for tr, (family, cells) in zip(trs, table.items(), strict=True):
        for td, fw in zip(tr.find_all("td"), fws, strict=True):
            c = cells.get(fw)
            links = [a.attrs["href"] for a in td.find_all("a")]
            assert set(links) <= ids
            if c is None:
                assert td.text() == ""
            elif c.findings:
                assert "differs" in td.attrs["class"] and links[:len(c.findings)] == [f"#finding-{n}" for n in c.findings]
            else:
                assert td.text().startswith("\u2713" if c.conforms else "\u2013"), (family, fw, td.text())
    # the synthetic frameworks fail somewhere in both families; the oracle's golden check conforms; keras-numpy
    # cannot express the family
    cells = dict(zip(fws, trs[list(table).index("softmax_cross_entropy")].find_all("td"), strict=True))
    assert cells["oracle"].text() == "\u2713" and "conforms" in cells["oracle"].attrs["class"]
    assert cells["keras-numpy"].text() == "\u2013" and "na" in cells["keras-numpy"].attrs["class"]
    assert all(c.findings for cells in table.values() for fw, c in cells.items() if fw not in ("oracle", "keras-numpy"))
