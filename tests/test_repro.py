"""`python -m harness repro`: each row's standalone script, run without the harness, gives the row's observed values
bit for bit, on every installed framework, every API path and every family."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest

from harness.report import write_report
from harness.results.rows import FAILING
from harness.results.shards import read_rows
from harness.run import repro
from harness.schema import load_paths
from tests import browser
from tests.conftest import have, run_cli
from tests.test_report_browser import Node, chromium, parse  # noqa: F401  (chromium: the fixture)

FRAMEWORKS = {"torch": ("torch",), "tensorflow": ("tensorflow",), "jax": ("jax", "optax"),
              "keras-tensorflow": ("keras", "tensorflow"), "keras-jax": ("keras", "jax"),
              "keras-torch": ("keras", "torch"), "keras-numpy": ("keras",)}
INSTALLED = [f for f, mods in FRAMEWORKS.items() if have(*mods)]
ALLOWED_IMPORTS = {"os", "sys", "numpy", "torch", "tensorflow", "jax", "optax", "keras"}

# Small cases, together every family and every path's options: each built-in path has a row it can express.
CASES = """\
- id: r-sparse
  family: sparse_softmax_cross_entropy
  description: integer labels, a large logit, mean
  logits: [[2.5, -1.0, 0.8, 40.0, -0.3], [0.1, 0.2, -0.3, 0.0, 1.5]]
  labels: [3, 0]
  params: {reduction: mean}
  dtypes: [float32]
- id: r-sparse-options
  family: sparse_softmax_cross_entropy
  description: class weights, an ignored row, smoothing, weighted mean
  logits: [[2.5, -1.0, 0.8], [0.1, 0.2, -0.3], [1.0, 2.0, 3.0]]
  labels: [2, 1, 0]
  params: {reduction: weighted_mean, class_weights: [1.0, 2.0, 0.5], ignore_index: 1, label_smoothing: 0.1}
  dtypes: [float64]
- id: r-sparse-keras
  family: sparse_softmax_cross_entropy
  description: an ignored class and sample weights (Keras' ignore_class)
  logits: [[2.5, -1.0, 0.8], [0.1, 0.2, -0.3], [1.0, 2.0, 3.0]]
  labels: [2, 1, 0]
  params: {reduction: sum, ignore_index: 1, sample_weights: [1.0, 2.0, 0.5]}
  dtypes: [float32]
- id: r-dense
  family: softmax_cross_entropy
  description: soft labels, per row
  logits: [[1.0, 2.0, 3.0], [-1.0, 0.0, 7.5]]
  labels: [[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]]
  params: {reduction: none}
  dtypes: [float16]
- id: r-dense-axis
  family: softmax_cross_entropy
  description: classes on axis 1, smoothing
  logits: [[[1.0, -2.0], [0.5, 0.0], [3.0, 1.0]], [[0.0, 0.0], [1.0, 1.0], [-1.0, 2.0]]]
  labels: [[[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], [[0.0, 0.5], [1.0, 0.5], [0.0, 0.0]]]
  params: {reduction: sum, axis: 1, label_smoothing: 0.2}
  dtypes: [float32]
- id: r-sigmoid
  family: sigmoid_cross_entropy
  description: one output per row, sum
  logits: [[0.5], [-2.0], [30.0], [-0.25]]
  labels: [[1.0], [0.0], [0.0], [0.5]]
  params: {reduction: sum}
  dtypes: [bfloat16]
- id: r-sigmoid-weights
  family: sigmoid_cross_entropy
  description: class and sample weights, mean
  logits: [[0.5, -1.0], [-2.0, 3.0]]
  labels: [[1.0, 0.0], [0.0, 1.0]]
  params: {reduction: weighted_mean, sample_weights: [2.0, 0.5]}
  dtypes: [float64]
- id: r-sigmoid-cw
  family: sigmoid_cross_entropy
  description: class and sample weights broadcast together
  logits: [[0.5, -1.0], [-2.0, 3.0]]
  labels: [[1.0, 0.0], [0.0, 1.0]]
  params: {reduction: mean, class_weights: [1.0, 3.0], sample_weights: [2.0, 0.5]}
  dtypes: [float32]
- id: r-weighted-sigmoid
  family: weighted_sigmoid_cross_entropy
  description: a positive weight per class
  logits: [[0.5, -1.0], [-2.0, 3.0]]
  labels: [[1.0, 0.0], [0.0, 1.0]]
  params: {reduction: none, pos_weight: [2.0, 0.5]}
  dtypes: [float32]
- id: r-categorical
  family: categorical_crossentropy
  description: probabilities, one row not summing to 1
  probabilities: [[0.2, 0.3, 0.5], [0.1, 0.1, 0.6]]
  labels: [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
  params: {reduction: mean}
  dtypes: [float32]
- id: r-binary
  family: binary_crossentropy
  description: probabilities, one of them 1
  probabilities: [[0.2], [0.9], [1.0]]
  labels: [[0.0], [1.0], [0.0]]
  params: {reduction: mean}
  dtypes: [float32]
- id: r-binary-none
  family: binary_crossentropy
  description: probabilities, per element
  probabilities: [[0.2, 0.7], [0.9, 0.4]]
  labels: [[0.0, 1.0], [1.0, 0.0]]
  params: {reduction: none}
  dtypes: [float64]
- id: r-categorical-focal
  family: categorical_focal_crossentropy
  description: focal, alpha
  logits: [[1.0, 2.0, 3.0], [-1.0, 0.0, 12.0]]
  labels: [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
  params: {reduction: sum, gamma: 2.0, alpha: 0.25}
  dtypes: [float32]
- id: r-binary-focal
  family: binary_focal_crossentropy
  description: focal, class balancing
  logits: [[0.5], [-2.0], [6.0]]
  labels: [[1.0], [0.0], [0.0]]
  params: {reduction: mean, gamma: 1.5, alpha: 0.25}
  dtypes: [float32]
- id: r-weston-watkins
  family: weston_watkins_hinge
  description: squared, a margin, a term at exactly 0
  logits: [[1.0, 0.0, 0.5, -2.0], [0.25, 1.25, 0.25, 0.0]]
  labels: [0, 1]
  params: {p: 2, margin: 0.5, reduction: mean}
  dtypes: [float32]
- id: r-crammer-singer
  family: crammer_singer_hinge
  description: a tie inside the max, summed
  logits: [[1.0, 3.0, 3.0], [0.5, -1.0, 2.0]]
  labels: [0, 2]
  params: {reduction: sum}
  dtypes: [float32]
- id: r-perceptron
  family: perceptron
  description: the perceptron, labels 0/1, a score of 0
  logits: [[0.5, -1.0, 0.0], [2.0, 0.25, -3.0]]
  labels: [[1, 1, 0], [0, 1, 1]]
  params: {reduction: sum, label_convention: "01"}
  dtypes: [float32]
- id: r-multiclass-perceptron
  family: multiclass_perceptron
  description: a tie in the max, per row
  logits: [[1.0, 3.0, 3.0], [0.5, -1.0, 2.0]]
  labels: [0, 2]
  dtypes: [float32]
- id: r-binary-sparsemax
  family: binary_sparsemax
  description: every piece of sparse_plus, averaged
  logits: [[0.5, -1.0, 2.0], [2.0, 0.25, -3.0]]
  labels: [[1, 1, 0], [0, 1, 1]]
  params: {reduction: mean}
  dtypes: [float32]
- id: r-multiclass-sparsemax
  family: multiclass_sparsemax
  description: supports of one and two classes, per row (float64, which optax's gradient takes)
  logits: [[1.0, 3.0, 2.5], [0.5, -1.0, 2.0]]
  labels: [0, 2]
  dtypes: [float64]
- id: r-categorical-hinge
  family: categorical_hinge
  description: every other score negative, per row
  logits: [[-3.0, -5.0, -1.0], [0.5, 1.5, -1.0]]
  labels: [[1, 0, 0], [0, 1, 0]]
  params: {reduction: none}
  dtypes: [float32]
- id: r-categorical-hinge-weights
  family: categorical_hinge
  description: sample weights, weighted mean
  logits: [[-3.0, -5.0, -1.0], [0.5, 1.5, -1.0]]
  labels: [[1, 0, 0], [0, 1, 0]]
  params: {sample_weights: [2.0, 0.5], reduction: weighted_mean}
  dtypes: [float64]
- id: r-hinge
  family: hinge
  description: 0/1 labels, sample weights, a kink, mean
  logits: [[1.0, -2.0, 0.5], [0.3, 1.5, -0.25]]
  labels: [[1, 0, 1], [0, 1, 1]]
  params: {reduction: mean, sample_weights: [2.0, 0.5], label_convention: "01"}
  dtypes: [float32]
- id: r-hinge-pm1
  family: hinge
  description: -1/1 labels, one score per row, sum
  logits: [[1.0], [-2.0], [0.5]]
  labels: [[1], [1], [-1]]
  params: {reduction: sum}
  dtypes: [float64]
- id: r-squared-hinge
  family: squared_hinge
  description: 0/1 labels, mean
  logits: [[1.0, -2.0, 0.5], [0.3, 1.5, -0.25]]
  labels: [[1, 0, 1], [0, 1, 1]]
  params: {reduction: mean, label_convention: "01"}
  dtypes: [float16]
- id: r-hinge-class-weights
  family: hinge
  description: class weights (one row of them, as tf.compat.v1 needs) on every hinge that takes weights
  logits: [[1.0, -2.0, 0.5], [0.3, 1.5, -0.25]]
  labels: [[1, 0, 1], [0, 1, 1]]
  params: {reduction: sum, class_weights: [1.0, 3.0, 0.5], label_convention: "01"}
  dtypes: [float32]
- id: r-soft-margin
  family: soft_margin
  description: one overflowing exp(-y x), sum
  logits: [[0.5, -100.0], [2.0, 3.0]]
  labels: [[1, 1], [-1, 1]]
  params: {reduction: sum}
  dtypes: [float32]
- id: r-multilabel-soft-margin
  family: multilabel_soft_margin
  description: class weights, mean over rows
  logits: [[0.5, -1.0, 2.0], [-0.25, 3.0, 0.0]]
  labels: [[1, 0, 0], [1, 1, 0]]
  params: {reduction: mean, class_weights: [1.0, 2.0, 0.5]}
  dtypes: [float64]
- id: r-poly1
  family: poly1_cross_entropy
  description: poly-1, soft labels summing to 1
  logits: [[1.0, 2.0, 3.0], [-1.0, 0.0, 12.0]]
  labels: [[0.0, 0.0, 1.0], [0.5, 0.25, 0.25]]
  params: {reduction: sum, epsilon: 1.5}
  dtypes: [float32]
- id: r-generalized
  family: generalized_cross_entropy
  description: generalized cross-entropy, sample weights
  probabilities: [[0.2, 0.3, 0.5], [0.7, 0.2, 0.1]]
  labels: [2, 1]
  params: {reduction: weighted_mean, q: 0.7, sample_weights: [2.0, 0.5]}
  dtypes: [float32]
- id: r-log-softmax
  family: log_softmax
  description: a cotangent
  logits: [[0.0, -40.0, 1.0], [1.0, 2.0, 3.0]]
  labels: [[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]]
  dtypes: [float32]
- id: r-softmax
  family: softmax
  description: a one-hot cotangent
  logits: [[1.0, 2.0, 3.0], [-1.0, 0.0, 80.0]]
  labels: [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
  dtypes: [float64]
- id: r-logsumexp
  family: logsumexp
  description: a cotangent per row
  logits: [[1.0, 2.0, 3.0], [100.0, 0.0, -5.0]]
  labels: [1.0, -0.5]
  dtypes: [bfloat16]
- id: r-nll-options
  family: nll_loss
  description: log-probabilities, class weights and an ignored row, weighted mean
  log_probabilities: [[-0.5, -1.2, -2.0], [-0.1, -3.0, -2.5], [-1.1, -1.1, -1.1]]
  labels: [1, 0, 2]
  params: {reduction: weighted_mean, class_weights: [1.0, 2.0, 0.5], ignore_index: 0}
  dtypes: [float32]
- id: r-nll
  family: nll_loss
  description: log-probabilities, mean
  log_probabilities: [[-0.5, -1.2, -2.0], [-0.1, -3.0, -2.5]]
  labels: [1, 0]
  params: {reduction: mean}
  dtypes: [float32]
- id: r-kl
  family: kl_divergence
  description: targets with a zero, sum
  log_probabilities: [[-0.5, -1.2, -2.0], [-0.1, -3.0, -2.5]]
  labels: [[0.25, 0.75, 0.0], [0.5, 0.25, 0.25]]
  params: {reduction: sum}
  dtypes: [float32]
- id: r-kl-log-target
  family: kl_divergence
  description: log-targets, batch mean
  log_probabilities: [[-0.5, -1.2, -2.0], [-0.1, -3.0, -2.5]]
  labels: [[-1.4, -0.3, -3.0], [-0.7, -1.4, -1.4]]
  params: {reduction: mean, log_target: true}
  dtypes: [float64]
- id: r-ctc
  family: ctc
  description: padded label sequences, blank 0, every frame
  logits: [[[1.0, 0.5, -1.0], [0.2, 0.1, 2.0], [0.0, 1.0, 0.5]], [[0.3, 0.5, -1.0], [0.2, 1.1, 2.0], [0.0, 1.0, 0.5]]]
  labels: [[1, 2], [2, 0]]
  dtypes: [float32]
- id: r-ctc-options
  family: ctc
  description: the blank last, input lengths, summed
  logits: [[[1.0, 0.5, -1.0], [0.2, 0.1, 2.0], [0.0, 1.0, 0.5]], [[0.3, 0.5, -1.0], [0.2, 1.1, 2.0], [0.0, 1.0, 0.5]]]
  labels: [[0, 1], [1, 2]]
  params: {blank: 2, input_lengths: [3, 2], reduction: sum}
  dtypes: [float64]
"""


def _bits_equal(observed: np.ndarray, recorded: list[float]) -> bool:
    """The same float64 values bit for bit (every NaN counts as the same NaN: a row keeps no payload)."""
    a = np.asarray(observed, dtype=np.float64).reshape(-1)
    b = np.asarray(recorded, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        return False
    nan = np.isnan(a)
    return bool(np.array_equal(nan, np.isnan(b)) and np.array_equal(a[~nan].view(np.uint64), b[~nan].view(np.uint64)))


# Run in a clean process: every script in turn as __main__ with its output file as argv[1], then the modules loaded.
DRIVER = """\
import json, runpy, sys
for script, out in json.loads(sys.argv[1]):
    sys.argv = [script, out]
    try:
        runpy.run_path(script, run_name="__main__")
    except Exception:
        pass  # the script saved the exception's class; the test compares it with the row's
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))
"""


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "HARNESS_", "KERAS_"))}


def _run_scripts(pairs: list[tuple[Path, Path]], cwd: Path) -> set[str]:
    r = subprocess.run([sys.executable, "-c", DRIVER, json.dumps([[str(s), str(o)] for s, o in pairs])],
                       capture_output=True, text=True, cwd=str(cwd), env=_clean_env(), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return set(json.loads(r.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def run_rows(tmp_path_factory):
    if not INSTALLED:
        pytest.skip("no framework is installed")
    d = tmp_path_factory.mktemp("repro")
    (d / "cases.yaml").write_text(CASES)
    # Keras on JAX compiles every op eagerly per shape: its backend part (arrays, eager value_and_grad) is the same
    # for every path and family, and the Keras calls are the other backends' too, so its sparse cases stand for it
    r = run_cli("run", "--cases", str(d / "cases.yaml"), "--frameworks", ",".join(INSTALLED), "--out", str(d / "o"),
                "--workers", "0", "-k", "not keras-jax or r-sparse", cwd=d)
    rows = read_rows(d / "o" / "results.jsonl")
    assert {x.framework for x in rows} == set(INSTALLED), r.stdout + r.stderr
    return d, rows


def _sample(rows):
    """Per framework, one row of every path (and of every family a path runs): those that ran."""
    seen, out = set(), []
    for x in rows:
        if repro.refusal(x) or (x.framework, x.api, x.family) in seen or x.relation:
            continue
        seen.add((x.framework, x.api, x.family))
        out.append(x)
    return out


def test_every_rows_script_gives_the_rows_observed_values_bit_for_bit(run_rows):
    d, rows = run_rows
    sample = _sample(rows)
    apis = {(x.framework, x.api) for x in rows if not x.api.startswith("(")}  # "(no ...)": a form a framework lacks
    assert {(x.framework, x.api) for x in sample} == apis, "paths with no row a script can reproduce"
    cases = {c.id: c for c in load_paths([d / "cases.yaml"])}
    by_fw: dict[str, list] = {}
    for i, x in enumerate(sample):
        s = repro.script(x, cases[x.case], f"r{i}.npz")
        path = d / "scripts" / x.framework / f"r{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(s.text)
        imported = {n.split(".")[0] for node in ast.walk(ast.parse(s.text)) for n in
                    ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])}
        assert imported <= ALLOWED_IMPORTS, (x.row_id, imported)
        by_fw.setdefault(x.framework, []).append((x, path, path.with_suffix(".out.npz")))
    failures = []
    for fw, items in by_fw.items():
        loaded = _run_scripts([(p, o) for _, p, o in items], d / "scripts" / fw)
        assert not loaded & {"harness", "adapters"}, f"{fw}: a script imported {loaded & {'harness', 'adapters'}}"
        for x, p, o in items:
            got = np.load(o)
            if "error" in got:  # the framework raised, as in the run: the same exception class
                if not (x.verdict in ("error", "expected_error", "known") and x.message.startswith(str(got["error"]) + ":")):
                    failures.append(f"{x.row_id}: raised {got['error']}, but the row says {x.verdict}: {x.message[:120]}")
                continue
            if not _bits_equal(got["loss"], x.loss_values):
                failures.append(f"{x.row_id}: loss {got['loss'].reshape(-1)[:4]}, but the row has {x.loss_values[:4]} [{p}]")
            if x.grad_values is None:
                assert "grad" not in got or x.framework == "keras-numpy", x.row_id
            elif not _bits_equal(got["grad"], x.grad_values):
                failures.append(f"{x.row_id}: grad {got['grad'].reshape(-1)[:4]}, but the row has {x.grad_values[:4]} [{p}]")
    assert failures == [], "\n".join(failures)


def test_failing_rows_carry_their_script_for_the_report_and_it_is_the_commands(run_rows):
    d, rows = run_rows
    cases = {c.id: c for c in load_paths([d / "cases.yaml"])}
    failing = [x for x in rows if (x.raw_verdict or x.verdict) in FAILING and not repro.refusal(x)]
    assert failing, "the cases give no failing row"
    for x in rows:
        if x in failing:  # every case here is small enough to be inline
            case = cases[x.case.partition("~")[0]]
            assert x.repro == repro.script(x, case, "unused.npz").text, x.row_id
        else:
            assert x.repro == "", x.row_id


# --------------------------------------------------------------------------- the command, on torch

CLI_CASES = """\
- id: c-sweep
  family: sparse_softmax_cross_entropy
  description: swept logits
  logits: [[2.5, -1.0, 0.8], [0.1, 0.2, -0.3]]
  labels: [0, 2]
  params: {reduction: mean}
  sweep: {scale: [1, 1000]}
  dtypes: [float32]
- id: c-relation
  family: sparse_softmax_cross_entropy
  description: integer labels against one-hot ones
  logits: [[2.5, -1.0, 0.8], [0.1, 0.2, -0.3]]
  labels: [0, 2]
  params: {reduction: sum}
  relations: [one_hot]
  dtypes: [float32]
- id: c-bad-label
  family: sparse_softmax_cross_entropy
  description: a label past the last class
  logits: [[1.0, 2.0, 3.0]]
  labels: [5]
  expect: {error: true, reason: label 5 of 3 classes}
  dtypes: [float32]
- id: c-large
  family: softmax_cross_entropy
  description: more inputs than a script holds inline
  logits: {generate: normal, shape: [8, 40], seed: 3, scale: 30}
  labels: {generate: one_hot, seed: 4}
  dtypes: [float32]
- id: c-golden
  family: sparse_softmax_cross_entropy
  description: a golden value
  logits: [[2.5, -1.0, 0.8, 4.1, -0.3]]
  labels: [3]
  expect: {loss: [0.22885025455608465]}
  dtypes: [float64]
- id: c-focal
  family: categorical_focal_crossentropy
  description: no focal loss in torch
  logits: [[1.0, 2.0]]
  labels: [[0.0, 1.0]]
  dtypes: [float32]
"""


@pytest.fixture(scope="module")
def torch_run(tmp_path_factory):
    if not have("torch"):
        pytest.skip("torch is not installed")
    d = tmp_path_factory.mktemp("repro-cli")
    (d / "cases.yaml").write_text(CLI_CASES)
    r = run_cli("run", "--cases", str(d / "cases.yaml"), "--frameworks", "oracle,torch", "--out", str(d / "o"),
                "--workers", "0", "-k", "oracle or F.cross_entropy or naive:log or focal", cwd=d)
    rows = {x.row_id: x for x in read_rows(d / "o" / "results.jsonl")}
    assert rows, r.stdout + r.stderr
    return d, rows


def _repro(d: Path, *args: str):
    return run_cli("repro", *args, "--results", str(d / "o"), cwd=d)


def _run_alone(script: Path, cwd: Path) -> tuple[subprocess.CompletedProcess, dict]:
    out = cwd / (script.stem + ".out.npz")
    r = subprocess.run([sys.executable, str(script), str(out)], capture_output=True, text=True, cwd=str(cwd),
                       env=_clean_env(), timeout=300)
    return r, dict(np.load(out)) if out.exists() else {}


@pytest.mark.parametrize("rid", ["c-sweep@scale=1000[torch-F.cross_entropy-cpu-float32]",
                                 "c-relation~one_hot[torch-F.cross_entropy-cpu-float32]",
                                 "c-large[torch-naive:log(softmax)-cpu-float32]"])
def test_repro_writes_a_script_that_runs_alone_and_gives_the_rows_values(torch_run, rid):
    d, rows = torch_run
    row = rows[rid]
    target = d / "scripts" / (str(abs(hash(rid))) + ".py")
    r = _repro(d, rid, "--out", str(target))
    assert r.returncode == 0, r.stderr
    npz = target.with_suffix(".npz")
    assert npz.exists() == rid.startswith("c-large"), "an .npz beside the script exactly when the inputs are large"
    elsewhere = d / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    p, got = _run_alone(target, elsewhere)  # the .npz is found beside the script, not in the working folder
    assert p.returncode == 0, p.stderr[-2000:]
    assert _bits_equal(got["loss"], row.loss_values) and _bits_equal(got["grad"], row.grad_values), rid
    assert p.stdout.count("the same values as the harness's run") == 2, p.stdout


def test_repro_of_an_expected_error_raises_it(torch_run):
    d, rows = torch_run
    rid = "c-bad-label[torch-F.cross_entropy-cpu-float32]"
    assert rows[rid].verdict == "expected_error"
    r = _repro(d, rid, "--out", str(d / "bad.py"))
    assert r.returncode == 0, r.stderr
    p, got = _run_alone(d / "bad.py", d)
    assert p.returncode != 0 and "expected: an error: label 5 of 3 classes" in p.stdout, p.stdout
    assert rows[rid].message.startswith(str(got["error"]) + ":"), (got, rows[rid].message)


def test_repro_prints_a_small_script_without_out(torch_run):
    d, _ = torch_run
    r = _repro(d, "c-sweep@scale=1[torch-F.cross_entropy-cpu-float32]")
    assert r.returncode == 0, r.stderr
    compile(r.stdout, "repro.py", "exec")
    assert "F.cross_entropy(logits, labels, reduction='mean')" in r.stdout


def test_repro_refuses_rows_with_nothing_to_reproduce(torch_run, tmp_path):
    d, rows = torch_run
    for rid, says in (("c-golden[oracle-golden-cpu-float64]", "oracle's own row"),
                      ("c-focal[torch-(no focal loss in torch)-cpu-float32]", "cannot express this case")):
        r = _repro(d, rid)
        assert r.returncode == repro.EXIT_NO_SCRIPT and says in r.stderr and not r.stdout, (rid, r.stderr)
    # a user's own loss (a custom path) is the user's code: no script calls it
    custom = rows["c-sweep@scale=1[torch-F.cross_entropy-cpu-float32]"]
    custom.api, custom.row_id = "custom:my_losses:clipped", "c-sweep@scale=1[torch-custom:my_losses:clipped-cpu-float32]"
    (tmp_path / "results.jsonl").write_text(custom.to_json() + "\n")
    r = run_cli("repro", custom.row_id, "--results", str(tmp_path), cwd=d)
    assert r.returncode == repro.EXIT_NO_SCRIPT and "user's own loss" in r.stderr, r.stderr
    r = _repro(d, "c-sweep@scale=10[torch-F.cross_entropy-cpu-float32]")
    assert r.returncode == 2 and "did you mean" in r.stderr and "c-sweep@scale=1[" in r.stderr, r.stderr


# --------------------------------------------------------------------------- the report


def test_the_report_shows_a_failing_rows_script_and_every_rows_command(run_rows, chromium, tmp_path):  # noqa: F811
    _, rows = run_rows
    write_report(rows, [], tmp_path)
    failing = next(x for x in rows if x.repro)
    passing = next(x for x in rows if x.verdict == "pass")

    def details(rid: str) -> Node:
        url = (tmp_path / "index.html").as_uri() + "#open=" + quote(rid, safe="")
        p = browser.dump_dom(chromium, url, timeout=120)
        assert p.returncode == 0, p.stderr[-2000:]
        doc = parse(p.stdout)
        assert doc.by_id("js-errors").text() == ""
        return doc.find_all("tr", cls="d")[0]

    det = details(failing.row_id)
    assert [n.text() for n in det.find_all("pre", cls="script")] == [failing.repro]  # unpacked, exactly
    cmds = [n.text() for n in det.find_all("code", cls="cmd") if "harness repro" in n.text()]
    assert cmds and failing.row_id in cmds[0], cmds
    assert len(det.find_all("button", cls="copy")) == 2
    det = details(passing.row_id)
    assert det.find_all("pre", cls="script") == [] and len(det.find_all("button", cls="copy")) == 1
    assert any(f"python -m harness repro '{passing.row_id}'" in n.text() for n in det.find_all("code", cls="cmd"))
