"""Adapter declarations are tested: every path runs what it declares and declares what it cannot run.

A matrix of small valid cases (each family x each option x each reduction) goes through every
installed framework. A declared-supported trial that raises shows up as `error`: the declaration is
wrong. Every `unsupported` row must carry its reason.
"""

from __future__ import annotations

import itertools
import json

import pytest

import adapters
from harness.results.shards import read_rows
from tests.conftest import run_cli

LOGITS = [[1.0, 2.0, 3.0], [0.5, -1.0, 2.0], [3.0, 0.0, -2.0]]
SPARSE = [2, 0, 1]
DENSE = [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
OPTIONS = [
    {},
    {"class_weights": [1.0, 4.0, 0.5]},
    {"sample_weights": [2.0, 1.0, 0.5]},
    {"label_smoothing": 0.1},
    {"ignore_index": -100},
    {"axis": 1},  # on [batch, classes, positions] logits
]
REDUCTIONS = ["none", "sum", "mean", "weighted_mean"]


def _matrix() -> str:
    cases = []
    for family, opts, red in itertools.product(["sparse_softmax_cross_entropy", "softmax_cross_entropy"], OPTIONS, REDUCTIONS):
        sparse = family.startswith("sparse")
        if "ignore_index" in opts and not sparse:
            continue  # the schema refuses it: ignore_index applies to integer labels
        logits, labels = LOGITS, SPARSE if sparse else DENSE
        if "axis" in opts:
            logits = [[[v, v / 2] for v in row] for row in LOGITS]  # [3, 3, 2]: classes at axis 1
            labels = [[y, y] for y in SPARSE] if sparse else [[[t, t] for t in row] for row in DENSE]
        cid = f"cap-{'sparse' if sparse else 'dense'}-{'-'.join(opts) or 'plain'}-{red}"
        cases.append({"id": cid, "family": family, "description": "capability matrix", "logits": logits,
                      "labels": labels, "params": {**opts, "reduction": red}, "dtypes": ["float32"]})
    cases += _other_families()
    cases += _ctc()
    return json.dumps(cases)  # JSON is YAML


PROBS = [[0.2, 0.3, 0.5], [0.6, 0.1, 0.3], [0.25, 0.25, 0.5]]
BINARY = [[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]]


def _other_families() -> list[dict]:
    """The elementwise, probability, focal, single-framework, hinge, margin, log-probability and building-block families,
    with the options each may take."""
    cases = []
    common = [{}, {"class_weights": [1.0, 4.0, 0.5]}, {"sample_weights": [2.0, 1.0, 0.5]}, {"label_smoothing": 0.1}]
    table = {
        "sigmoid_cross_entropy": ("logits", LOGITS, BINARY, common),
        "weighted_sigmoid_cross_entropy": ("logits", LOGITS, BINARY, [*common, {"pos_weight": 3.0}, {"pos_weight": [1.0, 2.0, 3.0]}]),
        "binary_crossentropy": ("probabilities", PROBS, BINARY, common),
        "categorical_crossentropy": ("probabilities", PROBS, DENSE, [*common, {"axis": 0}]),
        "binary_focal_crossentropy": ("logits", LOGITS, BINARY, [*common, {"gamma": 0.5}, {"alpha": 0.25}]),
        "categorical_focal_crossentropy": ("logits", LOGITS, DENSE, [*common, {"gamma": 0.5}, {"alpha": 0.25}]),
        "poly1_cross_entropy": ("logits", LOGITS, DENSE, [{}, {"sample_weights": [2.0, 1.0, 0.5]}, {"epsilon": -1.0},
                                                          {"axis": 0}]),
        "generalized_cross_entropy": ("probabilities", PROBS, SPARSE, [{}, {"sample_weights": [2.0, 1.0, 0.5]},
                                                                       {"q": 0.9}]),
    }
    for family, (key, x, y, options) in table.items():
        for k, (opts, red) in enumerate(itertools.product(options, REDUCTIONS)):
            cid = f"cap-{family}-{'-'.join(opts) or 'plain'}-{red}-{k}"
            cases.append({"id": cid, "family": family, "description": "capability matrix", key: x, "labels": y,
                          "params": {**opts, "reduction": red}, "dtypes": ["float32"]})
    hinge = [{}, {"margin": 0.5}, {"class_weights": [1.0, 4.0, 0.5]}, {"sample_weights": [2.0, 1.0, 0.5]}]
    for family, y, options in (("weston_watkins_hinge", SPARSE, [*hinge, {"p": 2}, {"p": 2, "margin": 2.0}]),
                               ("crammer_singer_hinge", SPARSE, hinge),
                               ("categorical_hinge", DENSE, [o for o in hinge if "class_weights" not in o])):
        for k, (opts, red) in enumerate(itertools.product(options, REDUCTIONS)):
            cases.append({"id": f"cap-{family}-{'-'.join(opts) or 'plain'}-{red}-{k}", "family": family,
                          "description": "capability matrix", "logits": LOGITS, "labels": y,
                          "params": {**opts, "reduction": red}, "dtypes": ["float32"]})
    cases += _margin_families()
    cases += _optax_only_families()
    cases += _log_probability_families()
    for family in ("log_softmax", "softmax", "logsumexp"):
        for opts in ({}, {"axis": 0}):
            cases.append({"id": f"cap-{family}-{'-'.join(opts) or 'plain'}", "family": family,
                          "description": "capability matrix", "logits": LOGITS, "params": opts, "dtypes": ["float32"]})
    return cases


PM1 = [[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0], [1.0, 1.0, -1.0]]


def _margin_families() -> list[dict]:
    """The margin families: hinge, squared hinge and soft margin in both label conventions, multilabel soft margin."""
    cases = []
    weights = [{}, {"class_weights": [1.0, 4.0, 0.5]}, {"sample_weights": [2.0, 1.0, 0.5]}]
    runs = [(f, y, {**w, **conv}) for f in ("hinge", "squared_hinge", "soft_margin")
            for y, conv in ((PM1, {}), (BINARY, {"label_convention": "01"})) for w in weights]
    runs += [("multilabel_soft_margin", BINARY, w) for w in weights]

    for k, ((family, y, opts), red) in enumerate(itertools.product(runs, REDUCTIONS)):
        cid = f"cap-{family}-{'-'.join(opts) or 'plain'}-{red}-{k}"
        cases.append({"id": cid, "family": family, "description": "capability matrix", "logits": LOGITS, "labels": y,
                      "params": {**opts, "reduction": red}, "dtypes": ["float32"]})
    return cases


def _optax_only_families() -> list[dict]:
    """The perceptrons and sparsemax losses, their options combined (weights together) to keep the matrix small.
    multiclass_sparsemax in float64: optax's gradient raises in the lower dtypes under jax_enable_x64 (a known
    difference, cases/sparsemax_perceptron.yaml), which here would read as a wrong declaration."""
    both = {"class_weights": [1.0, 4.0, 0.5], "sample_weights": [2.0, 1.0, 0.5]}
    runs = [("perceptron", PM1, {}), ("perceptron", PM1, both), ("perceptron", BINARY, {"label_convention": "01"}),
            ("binary_sparsemax", BINARY, {}), ("binary_sparsemax", BINARY, both)]
    runs += [(f, SPARSE, o) for f in ("multiclass_perceptron", "multiclass_sparsemax") for o in ({}, both, {"axis": 0})]
    return [{"id": f"cap-{family}-{'-'.join(opts) or 'plain'}-{red}-{k}", "family": family,
             "description": "capability matrix", "logits": LOGITS, "labels": y, "params": {**opts, "reduction": red},
             "dtypes": ["float64" if family == "multiclass_sparsemax" else "float32"]}
            for k, ((family, y, opts), red) in enumerate(itertools.product(runs, REDUCTIONS))]


LOG_PROBS = [[-0.5, -1.2, -2.0], [-0.1, -3.0, -2.5], [-1.1, -1.1, -1.1]]
LOG_TARGETS = [[-1.4, -0.3, -3.0], [-0.7, -1.4, -1.4], [-1.1, -1.1, -1.1]]


def _log_probability_families() -> list[dict]:
    """nll_loss and kl_divergence, with the options each defines (classes at axis 1 on [batch, classes, positions])."""
    cases = []
    seq = [[[v, v / 2] for v in row] for row in LOG_PROBS]
    table = {
        "nll_loss": [({}, LOG_PROBS, SPARSE), ({"class_weights": [1.0, 4.0, 0.5]}, LOG_PROBS, SPARSE),
                     ({"ignore_index": -100}, LOG_PROBS, [2, -100, 1]), ({"axis": 1}, seq, [[y, y] for y in SPARSE])],
        "kl_divergence": [({}, LOG_PROBS, PROBS), ({"log_target": True}, LOG_PROBS, LOG_TARGETS),
                          ({"sample_weights": [2.0, 1.0, 0.5]}, LOG_PROBS, PROBS),
                          ({"axis": 1}, seq, [[[t, t] for t in row] for row in PROBS])],
    }
    for family, options in table.items():
        for k, ((opts, x, y), red) in enumerate(itertools.product(options, REDUCTIONS)):
            cid = f"cap-{family}-{'-'.join(opts) or 'plain'}-{red}-{k}"
            cases.append({"id": cid, "family": family, "description": "capability matrix", "log_probabilities": x,
                          "labels": y, "params": {**opts, "reduction": red}, "dtypes": ["float32"]})
    return cases


CTC_LOGITS = [[[1.0, 0.5, -1.0], [0.2, 0.1, 2.0], [0.0, 1.0, 0.5], [1.5, -0.5, 0.3]],
              [[0.3, 0.5, -1.0], [0.2, 1.1, 2.0], [0.0, 1.0, 0.5], [1.5, -0.5, 0.3]]]


def _ctc() -> list[dict]:
    """CTC on [batch, time, classes] logits with padded label sequences: each option, each reduction it takes."""
    options = [({}, [[1, 2], [2, 0]]), ({"blank": 2}, [[0, 1], [1, 2]]), ({"input_lengths": [4, 3]}, [[1, 2], [2, 0]]),
               ({"zero_infinity": True}, [[1, 2], [2, 0]])]
    return [{"id": f"cap-ctc-{'-'.join(opts) or 'plain'}-{red}", "family": "ctc", "description": "capability matrix",
             "logits": CTC_LOGITS, "labels": labels, "params": {**opts, "reduction": red}, "dtypes": ["float32"]}
            for (opts, labels), red in itertools.product(options, ["none", "sum", "mean", "label_length_mean"])]


FRAMEWORKS = [f for f in adapters.BUILTIN if not adapters.missing_modules(f)]


@pytest.mark.skipif(not FRAMEWORKS, reason="no framework installed")
def test_every_declared_path_runs_and_every_undeclared_one_says_why(tmp_path):
    (tmp_path / "cap.yaml").write_text(_matrix())
    r = run_cli("run", "--cases", str(tmp_path / "cap.yaml"), "--frameworks", ",".join(FRAMEWORKS),
                "--out", str(tmp_path / "o"), cwd=tmp_path)
    rows = read_rows(tmp_path / "o" / "results.jsonl")
    assert {x.framework for x in rows} == set(FRAMEWORKS), r.stdout + r.stderr
    errors = [f"{x.row_id}: {x.message}" for x in rows if x.verdict in ("error", "crash", "timeout")]
    assert not errors, "declared paths that raised:\n" + "\n".join(errors[:20])
    unsupported = [x for x in rows if x.verdict == "unsupported"]
    assert unsupported and all(x.message.strip() for x in unsupported)
    # every path runs somewhere in the matrix: nothing is declared that never runs, except the declared
    # absences, "(no ... in <framework>)", which exist to say why a family has no native form there
    ran = {(x.framework, x.api) for x in rows if x.verdict not in ("unsupported",)}
    declared = {(x.framework, x.api) for x in rows if not x.api.startswith("(")}
    assert declared == ran, f"paths that never run: {sorted(declared - ran)}"
