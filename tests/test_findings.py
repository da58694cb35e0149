"""The findings (harness/results/findings.py): grouping, worst first, the per-framework view, and the same list at
the end of the console's output and of summary.md; the header's precision as the rows record it.

Most tests read one real run: two small cases on PyTorch and the oracle, with a known-differences file that
records one of PyTorch's NaNs, so the run has known rows, new disagreements on a framework's own path and on
the textbook formulas, and passing rows, every verdict the judge's.
"""

from __future__ import annotations

import html
import math
import re
from collections import defaultdict
from pathlib import Path

import pytest

from harness.report import write_report
from harness.results import findings as F
from harness.results.rows import FAILING, Row, row_id
from harness.results.shards import read_rows
from harness.run.console import print_findings
from tests.conftest import have, run_cli

CASES = """\
- id: masked-dense
  family: softmax_cross_entropy
  description: A class masked with a -inf logit and target 0 contributes nothing (0 * log 0 = 0).
  logits: [[-.inf, 1.0, 2.0]]
  labels: [[0, 0, 1]]
  dtypes: [float64, float32]
  expect:
    loss: [0.3132616875182228]

- id: confident-wrong
  family: sparse_softmax_cross_entropy
  description: Logits at +-1e4 with the label on the smallest; loss 2e4, gradient [-1, 1, 0].
  logits: [[-1.0e4, 1.0e4, 0.0]]
  labels: [0]
  dtypes: [float32]
  expect:
    loss: [20000.0]
"""
KNOWN = """\
# one of PyTorch's two fused paths is recorded; its twin, nn.CrossEntropyLoss, stays a new disagreement
- case: masked-dense
  framework: torch
  api: F.cross_entropy
  verdict: nonfinite
  reason: With probability targets, cross_entropy sums target * log_softmax over every class, and 0 * -inf is NaN.
  link: https://example.org/masked
"""
needs_torch = pytest.mark.skipif(not have("torch"), reason="needs torch")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("findings")
    (d / "cases.yaml").write_text(CASES)
    (d / "known.yaml").write_text(KNOWN)
    r = run_cli("run", "--cases", str(d / "cases.yaml"), "--known", str(d / "known.yaml"), "--frameworks", "torch,oracle",
                "--out", str(d / "out"), cwd=d)
    assert r.returncode == 1, r.stdout + r.stderr  # new disagreements
    rows = read_rows(d / "out" / "results.jsonl")
    return {"rows": rows, "stdout": r.stdout, "md": (d / "out" / "summary.md").read_text(encoding="utf-8"),
            "html": (d / "out" / "index.html").read_text(encoding="utf-8"), "found": F.findings(rows)}


_KINDS = ["nonfinite", "missing_error", "crash", "timeout", "error"]  # worst first, then the finite mismatches


def _rank(r: Row) -> int:
    v = r.raw_verdict or r.verdict
    return _KINDS.index(v) if v in _KINDS else len(_KINDS)


def _size(r: Row) -> float:
    vals = [math.inf if math.isnan(v) else v for v in (r.loss_ulp, r.grad_ulp) if v is not None]
    return max(vals, default=-1.0)


@needs_torch
def test_known_rows_record_their_entry_and_each_entry_is_one_finding(run):
    rows, found = run["rows"], run["found"]
    line = 1 + KNOWN.splitlines().index("- case: masked-dense")
    known = [r for r in rows if r.verdict == "known"]
    assert {(r.case, r.api) for r in known} == {("masked-dense", "F.cross_entropy")}  # both dtypes: NaN in each
    assert {r.known_entry for r in known} == {f"known.yaml:{line}"}
    (k,) = [f for f in found if f.known]
    assert {r.row_id for r in k.rows} == {r.row_id for r in known}
    assert (k.entry, k.link, k.dtypes, k.verdicts) == (f"known.yaml:{line}", "https://example.org/masked",
                                                       ["float64", "float32"], ["nonfinite"])
    assert k.reason == KNOWN.split("reason: ", 1)[1].split("\n", 1)[0]


@needs_torch
def test_new_disagreements_are_grouped_by_framework_path_verdict_and_flags(run):
    rows, found = run["rows"], run["found"]
    groups = defaultdict(set)
    for r in rows:
        if r.verdict in FAILING:
            groups[(r.framework, r.api, r.verdict, tuple(sorted(r.flags)))].add(r.row_id)
    new = [f for f in found if not f.known]
    assert sorted(map(frozenset, groups.values()), key=sorted) == sorted((frozenset(r.row_id for r in f.rows) for f in new),
                                                                        key=sorted)
    assert len(new) > 3 and [f.number for f in found] == list(range(1, len(found) + 1))
    # each finding's worst row is its representative: no row of it is of a worse kind, or larger in ULPs of the same kind
    for f in found:
        w = f.worst
        assert w in f.rows
        assert all(_rank(r) > _rank(w) or (_rank(r) == _rank(w) and _size(r) <= _size(w)) for r in f.rows), f.line()


@needs_torch
def test_worst_first(run):
    found = run["found"]
    tiers = [(f.known, f.textbook) for f in found]
    assert tiers == sorted(tiers)  # new before known, the framework's own paths before the textbook formulas
    first = found[0]
    # the one new disagreement on a path of PyTorch's own: nn.CrossEntropyLoss gives NaN for the masked class
    assert (first.known, first.textbook, first.paths, first.verdicts) == (False, False, [("torch", "nn.CrossEntropyLoss")],
                                                                          ["nonfinite"])
    assert math.isnan(first.worst.loss) and math.isclose(first.worst.ref_loss, 0.3132616875182228, rel_tol=1e-12)
    for tier in sorted(set(tiers)):
        fs = [f for f in found if (f.known, f.textbook) == tier]
        kinds = [_rank(f.worst) for f in fs]
        assert kinds == sorted(kinds), [f.line() for f in fs]
        finite = [_size(f.worst) for f in fs if _rank(f.worst) == len(_KINDS)]
        assert finite == sorted(finite, reverse=True), [f.line() for f in fs]
    textbook_new = [f for f in found if not f.known and f.textbook]
    assert {api for f in textbook_new for _, api in f.paths} >= {"naive:log(softmax)", "naive:log(clip(softmax))"}


@needs_torch
def test_the_console_and_summary_md_end_with_the_same_findings(run):
    found = run["found"]
    want = [F.heading(found), *F.lines(found)]
    assert F.lines(F.findings(run["rows"][::-1])) == want[1:]  # whatever order the rows come in
    assert want[1].startswith("1. NEW nonfinite in torch nn.CrossEntropyLoss; masked-dense; float64, float32; 2 rows; worst NaN: ")
    assert run["stdout"].rstrip("\n").splitlines()[-len(want):] == want
    md = [html.unescape(ln) for ln in run["md"].rstrip("\n").splitlines() if ln]
    assert md[-len(want):] == ["## " + want[0], *want[1:]]
    known = next(ln for ln in want if " known " in ln)
    assert known.endswith("0 * -inf is NaN. https://example.org/masked")


def _error_rows(n: int) -> list[Row]:
    """n rows that raised, each on its own path (so n findings of one kind, ordered by their key)."""
    return [Row(row_id=row_id("c", "torch", f"path{i:02d}", "cpu", "float32"), case="c", family="softmax_cross_entropy",
                framework="torch", api=f"path{i:02d}", device="cpu", dtype="float32", verdict="error",
                message=f"RuntimeError: boom {i} <b>") for i in range(n)]


def test_the_top_findings_and_a_count_of_the_rest(tmp_path, capsys):
    rows = _error_rows(F.TOP + 3)
    print_findings(rows)
    printed = capsys.readouterr().out.splitlines()
    md = write_report(rows, [], tmp_path)["md"].read_text(encoding="utf-8").splitlines()
    assert printed[-1] == "... and 3 more (see the report)" and len(printed) == F.TOP + 2
    assert printed[1].startswith("1. NEW error in torch path00; c; float32; 1 row; worst raised: ")
    assert md[-(F.TOP + 4):] == ["## " + printed[0], "", *(html.escape(ln, quote=False) for ln in printed[1:-1]), "",
                               printed[-1]]
    assert "&lt;b&gt;" in md[-3] and "<b>" not in "\n".join(md)


def test_the_page_lists_at_most_200_findings(tmp_path):
    rows = _error_rows(205)
    text = write_report(rows, [], tmp_path)["html"].read_text(encoding="utf-8")
    assert text.count('<details class="finding') == 200 and "... and 5 more: " in text
    assert '<a href="#finding-200">200</a>' in text and "#finding-201" not in text  # the view names 201 without a link


@needs_torch
def test_per_framework_view(run):
    rows, found = run["rows"], run["found"]
    table = F.conformance(rows, found)
    assert set(table) == {"softmax_cross_entropy", "sparse_softmax_cross_entropy"}
    for family, cells in table.items():
        assert cells["oracle"].conforms  # the golden values of both cases
        torch = cells["torch"]
        own = sorted({f.number for f in found for r in f.rows if r.family == family and not F.textbook(r.api)})
        textbook = sorted({f.number for f in found for r in f.rows if r.family == family and F.textbook(r.api)})
        assert (torch.findings, torch.textbook) == (own, textbook)
        assert torch.conforms == (not own)
    # PyTorch's own paths agree on the confident-wrong row; only its textbook formulas break there
    assert table["sparse_softmax_cross_entropy"]["torch"].conforms
    assert table["softmax_cross_entropy"]["torch"].findings == [1, next(f.number for f in found if f.known)]


@needs_torch
def test_the_header_states_the_precision_the_rows_record(run, tmp_path):
    header = run["html"].split("</header>", 1)[0]
    (value,) = {r.precision for r in run["rows"] if r.framework == "torch"}
    assert value.startswith("pinned: ") and f"<dt>torch</dt><dd>{html.escape(value)}</dd>" in header
    assert "op determinism on" not in header and "TF32 off" not in header
    # a TensorFlow shard that ran without op determinism says so, whatever the mode's name suggests
    tf = [Row(**{**vars(r), "framework": "tensorflow", "row_id": r.row_id.replace("[torch-", "[tensorflow-"),
                 "precision": "pinned: tensor_float_32_execution=False, op_determinism=False"})
          for r in run["rows"] if r.framework == "torch"]
    text = write_report(run["rows"] + tf, [], tmp_path)["html"].read_text(encoding="utf-8")
    header = text.split("</header>", 1)[0]
    assert re.search(r"<dt>tensorflow</dt><dd>pinned: tensor_float_32_execution=False, op_determinism=False</dd>", header)
    assert header.count("<dt>") == 2


def test_rows_without_an_entry_group_by_reason_and_link():
    """Rows written before rows recorded their entry: one finding per reason and link."""
    def known(case: str, reason: str) -> Row:
        return Row(row_id=row_id(case, "jax", "optax.x", "cpu", "float32"), case=case, family="f", framework="jax",
                   api="optax.x", device="cpu", dtype="float32", verdict="known", raw_verdict="error", known_reason=reason,
                   known_link="https://example.org/1", message="raised")
    found = F.findings([known("a", "one"), known("b", "one"), known("c", "two")])
    assert sorted(len(f.rows) for f in found) == [1, 2] and all(f.known and f.entry == "" for f in found)


def test_a_finding_of_many_paths_names_its_frameworks_and_counts_its_paths():
    rows = [Row(row_id=row_id("c", fw, api, "cpu", "float32"), case="c", family="f", framework=fw, api=api, device="cpu",
                dtype="float32", verdict="known", raw_verdict="error", known_entry="k.yaml:3") for fw, api in
            (("jax", "a"), ("jax", "b"), ("torch", "a"))]
    (f,) = F.findings(rows)
    assert f.where() == "jax, torch: 3 paths" and f.which_cases() == "c"
    assert F.findings(rows[:2])[0].where() == "jax a, b"


def test_an_entry_is_known_by_its_file_name_and_line(tmp_path):
    """An entry's identity is its file's name and line, whatever folder the file is in."""
    from harness.judge import expectations

    p = tmp_path / "sub" / "known_differences.yaml"
    p.parent.mkdir()
    p.write_text("# c\n\n" + KNOWN)
    (e,) = expectations.load(p)
    line = 3 + KNOWN.splitlines().index("- case: masked-dense")
    assert e.ident == f"known_differences.yaml:{line}" and Path(e.location.rsplit(":", 2)[0]) == p


def test_the_derivatives_taken_at_kinks_are_tabulated_per_path(tmp_path):
    """Rows that sat on a kink list the derivative each path took, one line per (family, framework, path)."""
    def row(fw, api, sub, kinks=2):
        return Row(row_id=row_id("k", fw, api, "cpu", "float32"), case="k", family="hinge", framework=fw, api=api,
                   device="cpu", dtype="float32", verdict="pass", kinks=kinks, subgradient=sub)

    rows = [row("jax", "optax.hinge_loss", "0.5"), row("torch", "manual:relu", "0"), row("torch", "manual:relu", "0, 1"),
            row("torch", "manual:clamp", "1", kinks=0)]
    text = write_report(rows, [], tmp_path)["html"].read_text(encoding="utf-8")
    table = text[text.index("<h3>Derivatives at kinks</h3>"):]
    lines = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(\d+)</td></tr>", table)
    assert lines == [("hinge", "jax", "optax.hinge_loss", "0.5", "1"), ("hinge", "torch", "manual:relu", "0, 1", "2")]
