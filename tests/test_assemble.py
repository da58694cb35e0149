"""Row assembly (harness/judge/assemble.py): the raw verdict a row is built with, and the row id read back."""

from __future__ import annotations

import numpy as np

from adapters.api import Observation
from harness.judge import assemble
from harness.judge.verdicts import Outcome
from harness.results.rows import parse_row_id, row_id
from harness.schema.load import load_text


def _case():
    (case,) = load_text("- id: c\n  family: softmax_cross_entropy\n  description: d\n"
                        "  logits: [[1.0, 2.0]]\n  labels: [[0.0, 1.0]]\n", "c.yaml")
    return case


def test_a_row_id_reads_back_with_dashes_in_the_framework_and_the_api():
    rid = row_id("case-1", "keras-jax", "keras.losses.CategoricalCrossentropy@jit-x", "cuda:0", "bfloat16")
    assert parse_row_id(rid, "keras-jax") == ("case-1", "keras.losses.CategoricalCrossentropy@jit-x", "cuda:0", "bfloat16")


def test_a_row_that_ran_elsewhere_is_an_error_unless_it_did_not_run():
    case = _case()
    obs = Observation(dtype="float32", call="f()", device="cpu", loss=np.array([0.3]), grad=np.zeros((1, 2)))
    row = assemble.base("r", case, "fw", "f", "cuda:0", "float32")
    assemble.trial(row, Outcome("pass", {}, ["saturated"], "ok"), obs, None, None, shape=[1, 2], allowances=True)
    assert (row.verdict, row.device, row.device_requested) == ("error", "cpu", "cuda:0")
    assert row.flags == ["saturated", "wrong_device"] and row.message == "ran on cpu, but should run on cuda:0. ok"
    row = assemble.base("r", case, "fw", "f", "cuda:0", "float32")
    assemble.trial(row, Outcome("unsupported", message="no"), Observation(dtype="float32", unsupported="no"), None, None,
                   shape=[1, 2], allowances=True)
    assert (row.verdict, row.device, row.flags, row.call) == ("unsupported", "cuda:0", [], "f")
