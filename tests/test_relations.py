"""Relations: the case-file syntax, the partner formulations, and their verdicts in a run."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.api import Observation
from harness import oracle
from harness.judge import relations, tolerances
from harness.results.shards import read_rows
from harness.schema import CaseFileError, load_paths, load_text
from harness.trials import Trial, expand, materialize
from tests.conftest import ROOT, have, run_cli

BASE = """\
- id: r
  family: sparse_softmax_cross_entropy
  description: a relation case
  logits: [[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]]
  labels: [2, 0]
"""


def problems(text: str) -> list[str]:
    with pytest.raises(CaseFileError) as e:
        load_text(text, "f.yaml")
    return [str(p) for p in e.value.problems]


def test_relations_parse_as_names_or_mappings():
    (case,) = load_text(BASE + "  params: {reduction: mean}\n  relations: [one_hot, {kind: sum_mean, name: mean-sum}]\n", "f.yaml")
    assert [(r.kind, r.name) for r in case.relations] == [("one_hot", "one_hot"), ("sum_mean", "mean-sum")]
    assert case.relations[0].location.line == 7


@pytest.mark.parametrize("relations,params,expected", [
    ("[one_hott]", "{}", "f.yaml:7:15: r.relations[0].kind: unknown relation 'one_hott'; known: one_hot, move_axis"),
    ("[sum_mean]", "{reduction: none}", "r.relations[0]: sum_mean: sum_mean relates reductions mean and sum, not none"),
    ("[repeat_rows]", "{class_weights: [1.0, 2.5, 1.0], reduction: sum}", "class_weights must be whole numbers"),
    ("[repeat_rows]", "{class_weights: [1.0, 2.0, 1.0], reduction: mean}", "only for reduction sum"),
    ("[smoothed_labels]", "{}", "needs label_smoothing > 0"),
    ("[{kind: move_axis, to: 1}]", "{}", "the class axis is already -1"),
    ("[{kind: move_axis, to: x}]", "{}", "r.relations[0].to: expected an integer, got 'x'"),
    ("[{kind: move_axis, too: 0}]", "{}", "r.relations[0].too: unknown key; did you mean 'to'?"),
    ("[one_hot, one_hot]", "{}", "relation 'one_hot' is listed twice"),
    ("one_hot", "{}", "expected a non-empty list"),
])
def test_relation_problems_have_positions(relations, params, expected):
    (msg,) = problems(BASE + f"  params: {params}\n  relations: {relations}\n")
    assert expected in msg and msg.startswith("f.yaml:"), msg


def test_one_hot_needs_integer_labels_and_no_ignore_index():
    dense = BASE.replace("family: sparse_", "family: ").replace("[2, 0]", "[[0, 0, 1], [1, 0, 0]]")
    (msg,) = problems(dense + "  relations: [one_hot]\n")
    assert "needs sparse_softmax_cross_entropy" in msg
    (msg,) = problems(BASE + "  params: {ignore_index: -100}\n  relations: [one_hot]\n")
    assert "ignore_index" in msg


def _outcome(case, rel, dtype, obs_a=None, obs_b=None):
    inputs = materialize(Trial(case, dtype))
    ref = oracle.compute(case, inputs, dtype)
    tol = tolerances.for_trial(case, dtype, ref, inputs)
    pt = relations.partner(case, rel, inputs, dtype)
    ref_b = oracle.compute(pt.case, pt.inputs, dtype)
    tol_b = tolerances.for_trial(pt.case, dtype, ref_b, pt.inputs)
    lb, gb = relations.bound(tol, ref, tol_b, ref_b, pt)
    obs_a = obs_a or Observation(dtype=dtype, loss=ref.loss, grad=ref.grad)
    obs_b = obs_b or Observation(dtype=dtype, loss=ref_b.loss, grad=ref_b.grad)
    return relations.judge(obs_a, obs_b, pt, lb, gb, dtype), ref, ref_b, pt


LIBRARY = [(t, rel) for t in expand(load_paths([ROOT / "cases"])) for rel in t.case.relations]
assert len(LIBRARY) != 0


@pytest.mark.parametrize("trial,rel", LIBRARY, ids=lambda v: getattr(v, "id", getattr(v, "name", "")))
def test_the_oracle_satisfies_every_relation_in_the_library(trial, rel):
    out, ref, ref_b, pt = _outcome(trial.case, rel, trial.dtype)
    assert out.verdict == "relation_pass", f"{out.message} [{trial.id} ~ {rel.name}]"
    if trial.dtype != "float64":  # smoothed labels are rounded to the trial dtype: only the verdict applies
        return
    lb, gb = pt.to_case(ref_b.loss, ref_b.grad)  # in float64 the two formulations agree to float64 rounding
    both = np.isfinite(ref.loss) & np.isfinite(lb)
    assert np.allclose(ref.loss[both], np.asarray(lb)[both], rtol=1e-13, atol=0), (ref.loss, lb)
    assert np.allclose(ref.grad, gb, rtol=1e-12, atol=1e-300), (ref.grad, gb)


def test_partners_are_what_the_relation_says():
    text = BASE + "  params: {class_weights: [1.0, 2.0, 3.0], reduction: sum}\n  relations: [repeat_rows]\n"
    (case,) = load_text(text, "f.yaml")
    pt = relations.partner(case, case.relations[0], materialize(Trial(case, "float64")), "float64")
    assert pt.inputs.logits.tolist() == [[1.0, 2.0, 3.0]] * 3 + [[0.5, -1.0, 2.0]]  # label 2 weighs 3, label 0 weighs 1
    assert pt.case.params.class_weights is None
    (case,) = load_text(BASE.replace("[2, 0]", "[2, 0]") + "  params: {label_smoothing: 0.3}\n  relations: [smoothed_labels]\n", "f.yaml")
    pt = relations.partner(case, case.relations[0], materialize(Trial(case, "float64")), "float64")
    assert pt.case.family == "softmax_cross_entropy" and pt.case.params.label_smoothing == 0
    assert np.allclose(pt.inputs.labels, [[0.1, 0.1, 0.8], [0.8, 0.1, 0.1]])


def test_a_skewed_partner_is_a_relation_mismatch():
    (case,) = load_text(BASE + "  params: {reduction: mean}\n  relations: [sum_mean]\n", "f.yaml")
    inputs = materialize(Trial(case, "float32"))
    ref = oracle.compute(case, inputs, "float32")
    skew = Observation(dtype="float32", loss=np.asarray(2 * ref.loss * (1 + 1e-5)), grad=2 * ref.grad)
    out, *_ = _outcome(case, case.relations[0], "float32", obs_b=skew)
    assert out.verdict == "relation_mismatch" and "partner gives" in out.message
    out, *_ = _outcome(case, case.relations[0], "float32", obs_b=Observation(dtype="float32", unsupported="no way"))
    assert out.verdict == "unsupported" and "partner: no way" in out.message


RUN_CASES = BASE + "  params: {reduction: mean}\n  relations: [one_hot, sum_mean]\n  dtypes: [float64, float32]\n"
SKEWED = {"HARNESS_ADAPTERS": "skewed=tests.fake_adapters:SkewedAdapter"}


def test_a_relation_mismatch_fails_the_run_unless_known(tmp_path):
    (tmp_path / "c.yaml").write_text(RUN_CASES)
    (tmp_path / "none.yaml").write_text("")
    r = run_cli("run", "--cases", str(tmp_path / "c.yaml"), "--frameworks", "oracle,skewed", "--out", str(tmp_path / "a"),
                "--known", str(tmp_path / "none.yaml"), env=SKEWED, cwd=tmp_path)
    rows = {(x.case, x.framework, x.dtype): x for x in read_rows(tmp_path / "a" / "results.jsonl")}
    assert r.returncode == 1, r.stdout + r.stderr
    assert rows[("r", "skewed", "float32")].verdict == "pass"  # integer labels: right
    mismatch = rows[("r~one_hot", "skewed", "float32")]
    assert mismatch.verdict == "relation_mismatch" and mismatch.relation == "one_hot"
    assert "one-hot" in mismatch.partner and "relation" in mismatch.tolerance_source
    assert rows[("r~sum_mean", "skewed", "float64")].verdict == "relation_pass"
    assert rows[("r~one_hot", "oracle", "float64")].verdict == "relation_pass"
    html = (tmp_path / "a" / "index.html").read_text()
    assert "Relations (" in html and "relation_mismatch" in (tmp_path / "a" / "summary.md").read_text()

    (tmp_path / "known.yaml").write_text(
        "- case: 'r~one_hot'\n  framework: skewed\n  verdict: relation_mismatch\n"
        "  reason: the fake is off on dense labels\n  link: https://example.org/fake\n")
    r = run_cli("run", "--cases", str(tmp_path / "c.yaml"), "--frameworks", "skewed", "--out", str(tmp_path / "b"),
                "--known", str(tmp_path / "known.yaml"), env=SKEWED, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert {x.verdict for x in read_rows(tmp_path / "b" / "results.jsonl") if x.case == "r~one_hot"} == {"known"}


FRAMEWORKS = ("torch", "tensorflow", "jax")
NOT_FUSED = ("naive:", "keras.losses(from_logits=False)", "F.binary_cross_entropy(torch.sigmoid)")  # probabilities or naive
# Where a framework's fused paths cannot express a relation at all (unsupported with the reason in the row):
CANNOT = {("torch", "move_axis"): "torch losses take the class dimension at dim 1",
          ("jax", "repeat_rows"): "optax's losses take no class or sample weights",
          ("tensorflow", "repeat_rows"): "the tf.nn ops take no weights (Keras is its own framework, keras-*)",
          ("tensorflow", "smoothed_labels"): "the tf.nn ops have no label_smoothing",
          ("jax", "sigmoid_form"): "optax has no soft margin loss",
          ("tensorflow", "sigmoid_form"): "TensorFlow has no soft margin loss",
          ("tensorflow", "two_classes"): "TensorFlow has no multi-class hinge of its own (manual: paths, no binary partner)"}


@pytest.mark.skipif(not have("torch", "tensorflow", "jax", "optax"), reason="needs torch, tensorflow and jax installed")
def test_the_relations_hold_for_the_fused_paths_of_every_framework_in_float32_and_float64(tmp_path):
    r = run_cli("run", "--cases", str(ROOT / "cases" / "relations.yaml"), "--frameworks", ",".join(FRAMEWORKS),
                "-k", "relation_check and (float32 or float64) and not naive", "--out", str(tmp_path / "o"), cwd=ROOT)
    rows = [x for x in read_rows(tmp_path / "o" / "results.jsonl") if x.relation and not x.api.startswith(NOT_FUSED)]
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    held: dict = {}
    for x in rows:
        assert x.dtype in ("float32", "float64"), x.row_id
        assert x.verdict in ("relation_pass", "unsupported"), (x.row_id, x.verdict, x.message)
        if x.verdict == "relation_pass":
            held.setdefault((x.framework, x.relation), set()).add(x.dtype)
    for fw in FRAMEWORKS:
        for kind in relations.KINDS:
            if (fw, kind) in CANNOT:
                assert (fw, kind) not in held
                continue
            assert held.get((fw, kind), set()) >= {"float32", "float64"}, (fw, kind, held.get((fw, kind)))
