"""The search (harness/search/): a behaviour planted through a test-only adapter is found and shrunk to its minimal
case, an exact adapter yields nothing, and the case file written for a finding loads and runs again to its verdict."""

from __future__ import annotations

import numpy as np
import pytest

from harness.schema import load_paths, load_text
from harness.search import engine, relations, runner, writer
from harness.search.runner import Target
from harness.search.yamltext import case_text
from tests.fake_adapters import ExactAdapter, PlantedAdapter

FAMILY = "sparse_softmax_cross_entropy"


def _planted(relations_too: bool = False) -> Target:
    return Target(["planted"], adapters={"planted": PlantedAdapter()}, relations=relations_too)


@pytest.fixture(scope="module")
def planted():
    target = _planted()
    return target, engine.search(FAMILY, target, budget=30, seed=1, shrink_seconds=30)


def test_planted_behaviour_is_found_and_shrunk_to_its_minimal_case(planted):
    _, res = planted
    assert [f.sig for f in res.findings] == [("planted", "fake.planted", "nonfinite")]
    m = res.findings[0].mapping
    # one row, two classes, float32, no option, no order; one logit just past the planted 50 (the plainest spike
    # the search draws above it), the other 0
    assert set(m) == {"family", "dtypes", "logits", "labels"}
    assert m["dtypes"] == ["float32"]
    assert np.shape(m["logits"]) == (1, 2) and sorted(m["logits"][0]) == [0.0, 60.0]
    assert res.findings[0].row.verdict == "nonfinite"
    assert res.drawn > 0 and res.invalid == 0


def test_the_search_is_reproducible_from_its_seed(planted):
    _, res = planted
    again = engine.search(FAMILY, _planted(), budget=10, seed=1, shrink_seconds=30)
    assert [f.mapping for f in again.findings] == [f.mapping for f in res.findings]


def test_written_case_loads_and_runs_again_to_the_same_verdict(planted, tmp_path):
    target, res = planted
    report = writer.write(res, tmp_path, target, ["planted"])
    files = sorted((tmp_path / "cases").glob("*.yaml"))
    assert len(files) == 1
    case = load_paths(files)[0]
    assert case.id.startswith("search-sparse-softmax-cross-entropy-") and "nonfinite" in case.description
    rows = runner.run_case(case, target)
    assert [r.verdict for r in rows] == ["nonfinite"]
    text = report.read_text()
    assert "run again from the file: nonfinite" in text and f"cases drawn and run on every path: {res.drawn}" in text


def test_an_exact_adapter_yields_nothing():
    target = Target(["exact"], adapters={"exact": ExactAdapter()})
    res = engine.search(FAMILY, target, budget=12, seed=3)
    assert res.findings == [] and res.drawn == 12
    assert set(res.verdicts) <= {"pass", "relation_pass", "unsupported"} and res.verdicts["relation_pass"] > 0


def test_the_relations_see_a_path_that_breaks_shift_invariance():
    """The planted NaN above 50: on logits [[-1e9, 0]] the case passes, and its exact shift (by 1024: -1e9 is a
    multiple of float32's spacing there, 64) puts a logit above 50; on [[49, 0]] the shift by 1 keeps both sides
    finite and the relation holds. The class permutation holds on both."""
    target = _planted(relations_too=True)
    assert relations.exact_shift(np.array([[-1e9, 0.0]], np.float32), "float32") == 1024.0
    for logits, shift in (([[-1e9, 0.0]], "relation_mismatch"), ([[49.0, 0.0]], "relation_pass")):
        case = runner.to_case({"family": FAMILY, "dtypes": ["float32"], "logits": logits, "labels": [0]})
        got = {r.relation: r.verdict for r in runner.run_case(case, target) if r.framework == "planted"}
        assert got == {"": "pass", "shift": shift, "permutation": "relation_pass"}


def test_the_oracle_and_an_exact_path_hold_every_relation():
    """Shift, permutation and (weighted mean with weights) the doubling of every weight, in float16."""
    target = Target(["exact"], adapters={"exact": ExactAdapter()})
    m = {"family": FAMILY, "dtypes": ["float16"], "logits": [[1.0, -2.0, 0.5], [3.0, 0.0, 1.0]], "labels": [0, 2],
         "params": {"class_weights": [1.0, 1000.0, 0.5], "sample_weights": [2.0, 0.0], "reduction": "weighted_mean"}}
    got = sorted((r.framework, r.relation, r.verdict) for r in runner.run_case(runner.to_case(m), target) if r.relation)
    assert got == sorted((fw, k, "relation_pass") for fw in ("exact", "oracle") for k in relations.KINDS)


def test_case_text_reads_back_exactly():
    m = {"id": "t", "description": "d", "family": FAMILY, "dtypes": ["float16"],
         "logits": [[float("-inf"), 1e30, -3.4028234663852886e38, 1e-3]], "labels": [1],
         "params": {"reduction": "weighted_mean", "class_weights": [0.0, 1e6, 0.5, 1.0]}}
    case = load_text(case_text(m))[0]
    assert case.predictions.values == m["logits"] and case.params.class_weights == (0.0, 1e6, 0.5, 1.0)
