"""Unit tests for harness/report.py: the three files, their contents, escaping and strict JSON."""

from __future__ import annotations

import json
import re
from collections import Counter

import pandas as pd
import pytest

from harness.report import write_report
from harness.rows import COLUMNS, FAILING, Row, row_id

XSS = "<script>alert(1)</script>"


def _row(case: str, framework: str, verdict: str, **kw) -> Row:
    api, device, dtype = kw.pop("api", "functional"), kw.pop("device", "cpu"), kw.pop("dtype", "float32")
    return Row(row_id=row_id(case, framework, api, device, dtype), case=case, family="softmax_ce", framework=framework,
               api=api, device=device, dtype=dtype, verdict=verdict, **kw)


@pytest.fixture
def rows() -> list[Row]:
    return [
        _row("seed_basic", "torch", "pass", loss=1.25, ref_loss=1.25, loss_ulp=0.0, grad_ulp=1.0, flags=["a"], tags=["seed"]),
        _row("seed_basic", "jax", "pass", device="cuda:0", loss_worst_index=[0, 3]),
        _row("evil_case", "torch", "loss_mismatch", description=XSS, message=f"loss off by 3 ulp {XSS}",
             loss=1.0, ref_loss=1.0000003, loss_ulp=3.0, traceback="Traceback:\n  line 1\n</script><b>x</b>"),
        _row("nan_case", "jax", "nonfinite", loss=float("nan"), ref_loss=0.5, grad=float("inf"), loss_ulp=float("nan"),
             message="nan in loss", grad_worst_index=[1, 2]),
        _row("label_smooth", "tensorflow", "known", known_reason="tf clamps", known_link="https://example.org/x"),
        _row("bad_dtype", "tensorflow", "unsupported", dtype="bfloat16", message="no bfloat16"),
        _row("crashy", "torch", "crash", message="segfault, line 1\nline 2 | pipe"),
    ]


ENVS = [{"harness": {"version": "0.1.0", "commit": "abc123", "python": "3.12", "platform": "linux", "time": "t", "pid": 1},
         "frameworks": {"torch": {"framework": "torch", "version": "2.5.0", "devices": ["cpu", "cuda:0"],
                                  "precision": {"allow_tf32": False}, "note": XSS}}}]


def _embedded_rows(text: str) -> list[dict]:
    m = re.search(r'<script type="application/json" id="rows">(.*?)</script>', text, re.S)
    assert m is not None
    return json.loads(m.group(1))


def test_files_and_csv(tmp_path, rows):
    paths = write_report(rows, ENVS, tmp_path / "out", warnings=["shard 3 torn"])
    for key in ("html", "csv", "md"):
        assert paths[key].is_file()
    assert {p.name for p in paths.values()} == {"index.html", "results.csv", "summary.md"}
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")]
    df = pd.read_csv(paths["csv"], keep_default_na=False)
    assert list(df.columns) == COLUMNS
    assert len(df) == len(rows)
    assert sorted(df["row_id"]) == sorted(r.row_id for r in rows)
    by_id = df.set_index("row_id")
    assert json.loads(by_id.loc[rows[0].row_id, "flags"]) == ["a"]
    assert json.loads(by_id.loc[rows[1].row_id, "loss_worst_index"]) == [0, 3]
    assert by_id.loc[rows[3].row_id, "loss"] == "nan" and by_id.loc[rows[3].row_id, "grad"] == "inf"
    assert by_id.loc[rows[2].row_id, "traceback"] == rows[2].traceback  # multi-line field survives


def test_summary_counts(tmp_path, rows):
    md = write_report(rows, ENVS, tmp_path)["md"].read_text(encoding="utf-8")
    lines = md.splitlines()
    header = next(ln for ln in lines if ln.startswith("| framework |"))
    cols = [c.strip() for c in header.strip("|").split("|")]
    expected = Counter((r.framework, r.verdict) for r in rows)
    assert set(cols[1:-1]) == {r.verdict for r in rows}
    for fw in {r.framework for r in rows}:
        line = next(ln for ln in lines if ln.startswith(f"| {fw} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        got = dict(zip(cols, cells, strict=True))
        for v in cols[1:-1]:
            assert int(got[v]) == expected[(fw, v)], (fw, v)
        assert int(got["total"]) == sum(1 for r in rows if r.framework == fw)
    failing = [r for r in rows if r.verdict in FAILING]
    for r in failing:
        assert any(ln.startswith(f"- {r.verdict} {r.case} [{r.framework} {r.api} {r.device} {r.dtype}]") for ln in lines)
    assert XSS not in md
    assert "partial" not in md.lower()


def test_summary_truncates(tmp_path):
    many = [_row(f"case_{i:03d}", "torch", "error", message="boom") for i in range(45)]
    md = write_report(many, [], tmp_path)["md"].read_text(encoding="utf-8")
    assert sum(ln.startswith("- error ") for ln in md.splitlines()) == 30
    assert "... and 15 more" in md


def test_html_escaped_and_json(tmp_path, rows):
    text = write_report(rows, ENVS, tmp_path, warnings=[f"warn {XSS}"])["html"].read_text(encoding="utf-8")
    assert "<script>alert(1)" not in text
    assert "&lt;script&gt;alert(1)" in text  # the env note and the warning, server-side escaped
    assert "NaN" not in text.split('id="rows">', 1)[1].split("</script>", 1)[0]
    data = _embedded_rows(text)
    assert len(data) == len(rows)
    n_fail = sum(r.verdict in FAILING for r in rows)
    assert all(d["verdict"] in FAILING for d in data[:n_fail])  # failures first
    assert [d["verdict"] for d in data[n_fail:]] == ["known", "unsupported", "pass", "pass"]
    assert data[-1]["verdict"] == "pass"
    evil = next(d for d in data if d["case"] == "evil_case")
    assert evil["description"] == XSS and evil["traceback"].endswith("</script><b>x</b>")
    nan = next(d for d in data if d["case"] == "nan_case")
    assert nan["loss"] == "nan" and nan["grad"] == "inf"
    assert "PARTIAL RUN" not in text
    counts = Counter(r.framework for r in rows)
    for fw, n in counts.items():  # server-rendered count table: framework row ends with its total
        assert re.search(rf'<tr><td>{fw}</td>(?:(?!</tr>).)*<td class="n">{n}</td></tr>', text)
    assert "2.5.0" in text and "allow_tf32=False" in text


def test_partial_notice(tmp_path, rows):
    paths = write_report(rows, ENVS, tmp_path, partial=True)
    assert "PARTIAL RUN" in paths["html"].read_text(encoding="utf-8")
    assert "partial run" in paths["md"].read_text(encoding="utf-8").lower()


def test_empty(tmp_path):
    paths = write_report([], [], tmp_path)
    assert _embedded_rows(paths["html"].read_text(encoding="utf-8")) == []
    assert len(pd.read_csv(paths["csv"])) == 0
