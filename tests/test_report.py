"""Unit tests for harness/report/ and harness/report/plots/: the three files, escaping, the compact row data, plots, size.

Also home of the synthetic rows (`synthetic_rows`, `sweep_rows`, `field_rows`) that the browser tests use.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter

import ml_dtypes
import numpy as np
import pandas as pd
import pytest

from harness.judge.inputs import field_logits, inputs_text
from harness.report import codec, plots, write_report
from harness.report.codec import decode_rows, encode_rows
from harness.report.plots import fields
from harness.results.rows import COLUMNS, FAILING, Row, row_id
from harness.schema.load import load_file

XSS = "<script>alert(1)</script>"


def _row(case: str, framework: str, verdict: str, **kw) -> Row:
    api, device, dtype = kw.pop("api", "functional"), kw.pop("device", "cpu"), kw.pop("dtype", "float32")
    return Row(row_id=row_id(case, framework, api, device, dtype), case=case, family="softmax_ce", framework=framework,
               api=api, device=device, dtype=dtype, verdict=verdict, **kw)


@pytest.fixture
def rows() -> list[Row]:
    return [
        _row("seed_basic", "torch", "pass", loss=1.25, ref_loss=1.25, loss_ulp=0.0, grad_ulp=1.0, flags=["a"], tags=["seed"],
             loss_values=[1.25, 0.5], ref_loss_values=[1.25, 0.5000000000000001]),
        _row("seed_basic", "jax", "pass", device="cuda:0", loss_worst_index=[0, 3]),
        _row("evil_case", "torch", "loss_mismatch", description=XSS, message=f"loss off by 3 ulp {XSS}",
             loss=1.0, ref_loss=1.0000003, loss_ulp=3.0, traceback="Traceback:\n  line 1\n</script><b>x</b>"),
        _row("nan_case", "jax", "nonfinite", loss=float("nan"), ref_loss=0.5, grad=float("inf"), loss_ulp=float("nan"),
             message="nan in loss", grad_worst_index=[1, 2], nan_count=1),
        _row("label_smooth", "tensorflow", "known", known_reason="tf clamps", known_link="https://example.org/x"),
        _row("bad_dtype", "tensorflow", "unsupported", dtype="bfloat16", message="no bfloat16"),
        _row("crashy", "torch", "crash", message="segfault, line 1\nline 2 | pipe"),
    ]


ENVS = [{"harness": {"version": "0.1.0", "commit": "abc123", "python": "3.12", "platform": "linux", "time": "t", "pid": 1},
         "frameworks": {"torch": {"framework": "torch", "version": "2.5.0", "devices": ["cpu", "cuda:0"],
                                  "precision": {"allow_tf32": False}, "cuda": "12.4", "gpus": ["NVIDIA H200"],
                                  "note": XSS}}}]


def embedded(text: str) -> list[dict]:
    """The rows embedded in a report, decoded."""
    m = re.search(r'<script type="application/json" id="data">(.*?)</script>', text, re.S)
    assert m is not None
    return decode_rows(json.loads(m.group(1)))


# --------------------------------------------------------------------------- synthetic data (also for the browser tests)

_APIS = {
    "sparse_softmax_cross_entropy": [("torch", "F.cross_entropy"), ("torch", "F.nll_loss(F.log_softmax)"),
                                     ("tensorflow", "tf.nn.sparse_softmax_cross_entropy_with_logits"),
                                     ("jax", "optax.softmax_cross_entropy_with_integer_labels")],
    "softmax_cross_entropy": [("torch", "F.cross_entropy"), ("tensorflow", "tf.nn.softmax_cross_entropy_with_logits"),
                              ("jax", "optax.softmax_cross_entropy")],
}
_NP = {"float64": np.float64, "float32": np.float32, "float16": np.float16, "bfloat16": ml_dtypes.bfloat16}
TAGS = ("seed", "extreme", "masked", "generated", "ties", "saturation")


def synthetic_rows(n: int, seed: int = 0) -> list[Row]:
    """n realistic rows: both families, three frameworks, two devices, four dtypes, every common verdict,
    value lists when small, reference values per (case, dtype) and observed values in the trial dtype."""
    rng = np.random.default_rng(seed)
    out: list[Row] = []
    k = 0
    while len(out) < n:
        family = list(_APIS)[k % 2]
        case = f"gen-{family.split('_')[0]}-{k:05d}"
        tags = sorted({str(t) for t in rng.choice(TAGS, size=2)})
        batch, classes = int(rng.choice([1, 2, 4, 16, 64])), int(rng.choice([2, 3, 10, 1000]))
        for dtype in _NP:
            trial = _Trial(rng, dtype, batch, classes)
            for fw, api in _APIS[family]:
                for device in ("cpu", "cuda:0"):
                    u = rng.random()
                    verdict = ("pass" if u < .8 else "known" if u < .85 else "loss_mismatch" if u < .88 else
                               "grad_mismatch" if u < .9 else "nonfinite" if u < .92 else "unsupported" if u < .96 else
                               "error" if u < .98 else "expected_error")
                    r = Row(row_id=row_id(case, fw, api, device, dtype), case=case, family=family, framework=fw,
                            api=api, device=device, dtype=dtype, verdict=verdict, raw_verdict=verdict,
                            framework_version="1.0", call=f"{api}(logits, labels)", device_requested=device, tags=tags,
                            description=f"generated case {k}: {batch} x {classes} logits",
                            source=f"cases/generated_{k // 50}.yaml:{3 + 9 * (k % 50)}:3", reduction="none",
                            shard=f"shards/{fw}.jsonl")
                    if verdict == "unsupported":
                        r.message = f"{api} cannot express {dtype}"
                    elif verdict in ("error", "expected_error"):
                        r.message = "ValueError: label 7 is out of range"
                        r.traceback = "Traceback (most recent call last):\n  ...\nValueError: label 7 is out of range"
                    else:
                        trial.fill(r, rng)
                    out.append(r)
        k += 1
    return out[:n]


class _Trial:
    """Reference values of one (case, dtype) and the observed ones rounded to the dtype, shared by its rows."""

    def __init__(self, rng: np.random.Generator, dtype: str, batch: int, classes: int):
        self.ref, self.ref_g = rng.lognormal(0, 2, size=batch), rng.normal(0, 0.3, size=batch * classes)
        self.obs = self.ref.astype(_NP[dtype]).astype(float)
        self.g = self.ref_g.astype(_NP[dtype]).astype(float)
        self.classes, self.small = classes, self.g.size <= 1024
        self.lists = (self.obs.tolist(), self.ref.tolist(), self.g.tolist(), self.ref_g.tolist()) if self.small else None
        self.gw = int(np.argmax(np.abs(self.g - self.ref_g)))
        self.norms = float(np.linalg.norm(self.g)), float(np.linalg.norm(self.ref_g))

    def fill(self, r: Row, rng: np.random.Generator) -> None:
        obs, ref, g, gw = self.obs, self.ref, self.g, self.gw
        if r.verdict in ("loss_mismatch", "nonfinite"):
            obs = obs * 1.01
            obs[0] = math.nan if r.verdict == "nonfinite" else obs[0]
        w = int(np.argmax(np.abs(obs - ref))) if r.verdict != "nonfinite" else 0
        r.loss, r.ref_loss, r.loss_worst_index = float(obs[w]), float(ref[w]), [w]
        r.loss_abs_err = abs(r.loss - r.ref_loss)
        r.loss_rel_err = r.loss_abs_err / r.ref_loss
        r.loss_ulp = math.nan if r.verdict == "nonfinite" else float(rng.choice([0, 0.5, 1, 3, 1e3]))
        r.grad, r.ref_grad, r.grad_worst_index = float(g[gw]), float(self.ref_g[gw]), [gw // self.classes, gw % self.classes]
        r.grad_max_abs_err, r.grad_max_rel_err = abs(r.grad - r.ref_grad), float(rng.random() * 1e-6)
        r.grad_ulp = float(rng.choice([0, 1, 2, 40]))
        r.grad_norm, r.ref_grad_norm = self.norms
        r.nan_count = int(r.verdict == "nonfinite")
        r.loss_allowed, r.grad_allowed, r.loss_allowance = 1e-7, 1e-6, "1e-07 (mostly log S)"
        r.tolerance_source, r.oracle_precision, r.duration_s = f"policy for {r.dtype}", "longdouble", float(rng.random() / 10)
        r.shape = [len(ref), self.classes]
        if self.lists is not None:
            r.loss_values, r.ref_loss_values, r.grad_values, r.ref_grad_values = self.lists
            if obs is not self.obs:
                r.loss_values = obs.tolist()
        if r.verdict != "pass":
            r.message = f"loss at [{w}]={obs[w]!r}, but should be {ref[w]!r}"
        if r.verdict == "known":
            r.raw_verdict, r.known_reason, r.known_link = "nonfinite", "0 * -inf gives NaN", "https://example.org/issue/1"


SCALES = (1.0, 10.0, 100.0, 1e4, 1e30)


def sweep_rows() -> list[Row]:
    """A swept case (`sweep-demo@scale=<v>`): the loss grows with the scale, jax float16 overflows at 1e30."""
    out = []
    for v in SCALES:
        case = f"sweep-demo@scale={v:g}"
        for fw, api in (("torch", "F.cross_entropy"), ("jax", "optax.softmax_cross_entropy_with_integer_labels")):
            for dtype in ("float32", "float16"):
                loss = 2.0 * v
                bad = fw == "jax" and dtype == "float16" and v == 1e30
                out.append(Row(row_id=row_id(case, fw, api, "cpu", dtype), case=case, family="sparse_softmax_cross_entropy",
                               framework=fw, api=api, device="cpu", dtype=dtype, verdict="nonfinite" if bad else "pass",
                               tags=["sweep"], sweep="scale", sweep_value=v, loss=math.inf if bad else loss,
                               ref_loss=loss, loss_values=[math.inf if bad else loss], ref_loss_values=[loss],
                               grad_norm=0.0 if bad else math.sqrt(2), ref_grad_norm=math.sqrt(2), shape=[1, 3],
                               inf_count=int(bad), loss_ulp=math.inf if bad else 0.0, source="cases/sweeps.yaml:4:3"))
    return out


def field_rows(n: int = 9) -> list[Row]:
    """A gradient-field case on an n x n grid (z1 fastest): torch agrees, jax is wrong where z1 > 0."""
    z = np.linspace(-4, 4, n)
    z1, z2 = np.tile(z, n), np.repeat(z, n)
    p1 = 1 / (1 + np.exp(z1 - z2))
    loss, grad = np.log1p(np.exp(z2 - z1)), np.stack([-p1, p1], axis=1).reshape(-1)
    out = []
    for fw, api, verdict in (("torch", "F.cross_entropy", "pass"),
                             ("jax", "optax.softmax_cross_entropy_with_integer_labels", "grad_mismatch")):
        g = grad.copy()
        if verdict != "pass":
            g[np.repeat(z1 > 0, 2)] *= -1
        out.append(Row(row_id=row_id("field-demo", fw, api, "cpu", "float32"), case="field-demo",
                       family="sparse_softmax_cross_entropy", framework=fw, api=api, device="cpu", dtype="float32",
                       verdict=verdict, tags=["gradient-field"], shape=[n * n, 2], loss_values=loss.tolist(),
                       logit_values=np.stack([z1, z2], axis=1).reshape(-1).tolist(),
                       ref_loss_values=loss.tolist(), grad_values=g.tolist(), ref_grad_values=grad.tolist(),
                       grad_allowed_values=(1e-7 + 1e-5 * np.abs(grad)).tolist(), source="cases/sweeps.yaml:30:3"))
    return out


# --------------------------------------------------------------------------- files, CSV, Markdown


def test_files_and_csv(tmp_path, rows):
    paths = write_report(rows, ENVS, tmp_path / "out", warnings=["shard 3 torn"])
    for key in ("html", "csv", "md"):
        assert paths[key].is_file()
    assert {p.name for p in paths.values()} == {"index.html", "results.csv", "summary.md"}
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")]
    df = pd.read_csv(paths["csv"], keep_default_na=False)
    assert list(df.columns) == [c for c in COLUMNS if not c.endswith("_values") and c != "repro"]  # arrays, scripts: JSONL
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


# --------------------------------------------------------------------------- HTML


def test_html_escaped_and_json(tmp_path, rows):
    text = write_report(rows, ENVS, tmp_path, warnings=[f"warn {XSS}"])["html"].read_text(encoding="utf-8")
    assert "<script>alert(1)" not in text
    assert "&lt;script&gt;alert(1)" in text  # the env note and the warning, server-side escaped
    assert "NaN" not in text.split('id="data">', 1)[1].split("</script>", 1)[0]
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text.replace("https://example.org/x", "")
    data = embedded(text)
    assert len(data) == len(rows)
    n_fail = sum(r.verdict in FAILING for r in rows)
    assert all(d["verdict"] in FAILING for d in data[:n_fail])  # failures first
    assert [d["verdict"] for d in data[n_fail:]] == ["known", "unsupported", "pass", "pass"]
    evil = next(d for d in data if d["case"] == "evil_case")
    assert evil["description"] == XSS and evil["traceback"].endswith("</script><b>x</b>")
    nan = next(d for d in data if d["case"] == "nan_case")
    assert nan["loss"] == "nan" and nan["grad"] == "inf"
    assert "PARTIAL RUN" not in text
    for fw, n in Counter(r.framework for r in rows).items():  # server-rendered count table: framework row ends with its total
        assert re.search(rf'<tr><td>{fw}</td>(?:(?!</tr>).)*<td class="n total">{n}</td></tr>', text)
    for dt, n in Counter(r.dtype for r in rows).items():
        assert re.search(rf'<table class="counts by-dtype">.*?<tr><td>{dt}</td>(?:(?!</tr>).)*<td class="n total">{n}</td>',
                         text, re.S)
    assert "2.5.0" in text and "allow_tf32=False" in text and "NVIDIA H200" in text and "12.4" in text
    assert 'http-equiv="Content-Security-Policy"' in text


def test_summary_sections(tmp_path, rows):
    extra = [_row("was_broken", "jax", "fixed", known_reason="fixed upstream"),
             _row("label_smooth", "torch", "known", known_reason="tf clamps", known_link="javascript:alert(1)")]
    text = write_report(rows + extra, ENVS, tmp_path)["html"].read_text(encoding="utf-8")
    assert "New disagreements (3)" in text and "Known differences (2)" in text
    assert "Fixed (1)" in text and "Unsupported (1)" in text
    new = text.split("New disagreements", 1)[1].split("</details>", 1)[0]
    for r in rows:
        assert (r.verdict in FAILING) == (f'href="#open={r.row_id.replace("[", "%5B").replace("]", "%5D")}"' in new)
    assert 'href="https://example.org/x"' in text and 'href="javascript' not in text


def test_partial_notice(tmp_path, rows):
    paths = write_report(rows, ENVS, tmp_path, partial=True)
    assert "PARTIAL RUN" in paths["html"].read_text(encoding="utf-8")
    assert "partial run" in paths["md"].read_text(encoding="utf-8").lower()


def test_empty(tmp_path):
    paths = write_report([], [], tmp_path)
    text = paths["html"].read_text(encoding="utf-8")
    assert embedded(text) == []
    assert len(pd.read_csv(paths["csv"])) == 0
    for note in ("No sweep cases in this run.", "No gradient-field cases in this run.", "No ULP errors recorded"):
        assert note in text


# --------------------------------------------------------------------------- compact row data


def test_encode_round_trip():
    rows = synthetic_rows(400, seed=3)
    data = json.loads(json.dumps(encode_rows(rows), allow_nan=False))  # strict JSON
    back = decode_rows(data)
    assert len(back) == len(rows)
    for r, d in zip(rows, back, strict=True):
        assert d["row_id"] == r.row_id and d["verdict"] == r.verdict and d.get("tags", []) == r.tags
        if r.loss is not None and math.isfinite(r.loss):
            assert float(d["loss"]) == r.loss and float(d["ref_loss"]) == r.ref_loss  # exact
            assert float(d["grad"]) == r.grad and float(d["ref_grad"]) == r.ref_grad
            assert math.isclose(d["grad_norm"], r.grad_norm, rel_tol=1e-5) and len(repr(d["grad_norm"])) <= 13
        if r.raw_verdict == r.verdict:
            assert "raw_verdict" not in d
        for k in ("message", "traceback", "known_link"):
            assert d.get(k, "") == getattr(r, k)
    small = next(d for r, d in zip(rows, back, strict=True) if r.loss_values and len(r.grad_values) <= 32)
    total, items, _ = small["gv"]
    assert total == len(items) and [i for i, _, _ in items] == list(range(total))
    big = next((r, d) for r, d in zip(rows, back, strict=True) if r.grad_values and len(r.grad_values) > 32 and "gv" in d)
    total, items, worst = big[1]["gv"]
    assert total == len(big[0].grad_values) and worst in [i for i, _, _ in items] and len(items) < 16
    assert worst == big[0].grad_worst_index[0] * big[0].shape[1] + big[0].grad_worst_index[1]


def test_each_column_is_encoded_the_smallest_way_the_first_of_them_on_a_tie():
    """The definition: build the four options (plain or a value table, over every row or only the non-empty ones) and
    keep the first of the shortest by its compact JSON; the codec sizes them without writing each."""
    def definition(values):
        def frozen(v):
            return tuple(frozen(x) for x in v) if isinstance(v, list) else v
        keep = [i for i, v in enumerate(values) if v not in (None, "", [])]
        if not keep:
            return None
        options = []
        for vals, extra in ((values, {}), ([values[i] for i in keep], {"k": [b - a for a, b in zip([0, *keep], keep, strict=False)]})):
            keys = [frozen(v) for v in vals]
            first = dict(zip(keys, vals, strict=True))
            order = [k for k, _ in Counter(keys).most_common()]
            options += [{**extra, "a": vals}, {**extra, "t": [first[k] for k in order], "i": [order.index(k) for k in keys]}]
        return min(options, key=lambda o: len(json.dumps(o, separators=(",", ":"))))

    rnd = np.random.default_rng(5)
    pool = [None, "", [], 0, 1, -0.0, 0.0, 2.5, 1e-300, "x", "nan", "é<", [1, 2], [1.0, 2], [[1, "a"], None], [2.5, -0.0], True]
    columns = [[pool[i] for i in rnd.integers(0, len(pool), rnd.integers(1, 14))] for _ in range(3000)]
    rows = synthetic_rows(300, seed=4)
    columns += [[getattr(r, k) for r in rows] for k in ("verdict", "message", "flags", "tags", "loss_ulp", "grad_worst_index")]
    for values in columns:
        assert json.dumps(codec._encode_column(values)) == json.dumps(definition(values)), values


def test_case_inputs_come_from_the_rows(tmp_path, write_cases):
    path = write_cases("- id: tiny\n  family: sparse_softmax_cross_entropy\n  description: d\n"
                       "  logits: [[2.5, -1.0, 0.8]]\n  labels: [2]\n  params: {reduction: mean}\n")
    r = _row("tiny", "torch", "pass", source=f"{path}:1:3", inputs=inputs_text(load_file(path)[0]))
    gone = _row("gone", "torch", "pass", source="/nonexistent/cases.yaml:1:3")  # a row from before rows carried inputs
    path.unlink()  # the report reads the rows, never the case file
    data = json.loads(re.search(r'id="data">(.*?)</script>', write_report([r, gone], [], tmp_path)["html"]
                                .read_text(encoding="utf-8"), re.S).group(1))
    assert data["inputs"]["tiny"].startswith("logits: [[2.5, -1.0, 0.8]]\nlabels: [2]") and "reduction=mean" in data["inputs"]["tiny"]
    assert "gone" not in data["inputs"]


def test_large_report_is_small(tmp_path):
    """20,000 rows: the HTML stays under 5 MB (the time it takes is printed, not asserted)."""
    import time

    rows = synthetic_rows(20_000) + sweep_rows() + field_rows()
    t = time.perf_counter()
    paths = write_report(rows, ENVS, tmp_path)
    size = paths["html"].stat().st_size
    print(f"20,000-row report: {size / 1e6:.2f} MB in {time.perf_counter() - t:.1f} s")
    assert size < 5_000_000
    assert len(embedded(paths["html"].read_text(encoding="utf-8"))) == len(rows)


# --------------------------------------------------------------------------- plots


def test_field_grid_from_the_rows_logits():
    z = np.linspace(-4, 4, 3)
    pts = np.stack([np.tile(z, 3), np.repeat(z, 3)], axis=1)  # z1 fastest, as grid2d lists them
    g = fields._grid(pts.reshape(-1).tolist())
    assert g.n == 3 and g.cells[:4] == [(0, 0), (1, 0), (2, 0), (0, 1)] and g.z1 == g.z2 == (-4.0, 4.0)
    g = fields._grid(pts[::-1].reshape(-1).tolist())  # any order: each point where its own logits put it
    assert g.cells[0] == (2, 2) and g.cells[-1] == (0, 0)
    assert fields._grid(None) is None and fields._grid([]) is None  # rows from before rows carried their logits
    assert fields._grid(pts[:8].reshape(-1).tolist()) is None  # 8 points are no square grid
    assert fields._grid(np.concatenate([pts[:8], pts[:1]]).reshape(-1).tolist()) is None  # a point twice


def _field_row(case, logits: np.ndarray, order: np.ndarray | None = None) -> Row:
    """A row of a two-class sparse case with label 0 at these logits, its values listed in `order`."""
    z = logits.reshape(-1, 2)[order if order is not None else slice(None)]
    p1 = 1 / (1 + np.exp(z[:, 0] - z[:, 1]))
    loss, grad = np.log1p(np.exp(z[:, 1] - z[:, 0])), np.stack([-p1, p1], axis=1).reshape(-1)
    return Row(row_id=row_id(case.id, "torch", "F.cross_entropy", "cpu", "float64"), case=case.id, family=case.family,
               framework="torch", api="F.cross_entropy", device="cpu", dtype="float64", verdict="pass", tags=list(case.tags),
               shape=list(case.predictions.shape), logit_values=z.reshape(-1).tolist(), loss_values=loss.tolist(),
               ref_loss_values=loss.tolist(), grad_values=grad.tolist(), ref_grad_values=grad.tolist())


def test_a_grid2d_field_with_its_own_range_is_drawn_from_its_own_logits(write_cases):
    path = write_cases("- id: field-wide\n  family: sparse_softmax_cross_entropy\n  description: d\n"
                       "  tags: [gradient-field]\n  logits: {generate: grid2d, n: 5, low: -8.0, high: 0.0}\n"
                       "  labels: {generate: constant, value: 0}\n  dtypes: [float64]\n")
    case = load_file(path)[0]
    logits = np.asarray(field_logits(case))
    assert logits.shape == (50,) and logits.min() == -8.0 and logits.max() == 0.0  # the case's grid, not [-4, 4]
    drawn = plots.gradient_field_section([_field_row(case, logits)])
    assert drawn.count('<svg class="plot"') == 2  # the oracle and torch
    assert drawn.count(">-8</text>") == 2 and drawn.count(">z1 0</text>") == 2 and drawn.count(">0</text>") == 2
    assert ">-4</text>" not in drawn and ">z1 4</text>" not in drawn
    # the same points listed in another order (z2 fastest), each with its own values: the same picture (the same
    # loss image, each arrow where it was; only the order in which the arrows are listed differs)
    def picture(svg: str) -> str:
        return re.sub(r' d="([^"]*)"', lambda m: " d=" + "".join(sorted(re.split(r"(?=M)", m.group(1)))), svg)
    z2_fastest = np.arange(25).reshape(5, 5).T.reshape(-1)
    assert picture(plots.gradient_field_section([_field_row(case, logits, z2_fastest)])) == picture(drawn)
    # a row from before rows carried their logits: not drawn, and no crash
    old = _field_row(case, logits)
    old.logit_values = None
    assert "<svg" not in plots.gradient_field_section([old]) and "do not carry their logits" in plots.gradient_field_section([old])
    assert field_logits(load_file(write_cases("- id: plain\n  family: sparse_softmax_cross_entropy\n  description: d\n"
                                              "  logits: [[1.0, 2.0]]\n  labels: [0]\n", "plain.yaml"))[0]) is None


def test_plots_drawn_and_escaped():
    evil = sweep_rows()
    for r in evil:
        r.case = r.case.replace("sweep-demo", "sweep<b>x</b>")
    sweeps = plots.sweep_section(evil)
    assert sweeps.count('<svg class="plot"') == 4  # loss and gradient norm, two dtypes
    assert "<b>x</b>" not in sweeps and "sweep&lt;b&gt;x&lt;/b&gt;" in sweeps
    assert "Inf at 1e+30</title>" in sweeps  # jax float16 overflows at the largest scale
    fields = plots.gradient_field_section(field_rows())
    assert fields.count('<svg class="plot"') == 3  # oracle, torch, jax
    assert fields.count(f'fill="{plots.BAD}"') == 1  # only jax's panel has red arrows
    assert fields.count("data:image/png;base64,") == 3
    heat = plots.heatmap_section(synthetic_rows(300))
    assert heat.count('<svg class="plot"') == 2 and ">NaN</text>" in heat
    for f in (plots.sweep_section, plots.gradient_field_section):
        assert "No " in f(synthetic_rows(50)) and "<svg" not in f(synthetic_rows(50))
