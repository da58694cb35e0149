"""Case files: YAML 1.2 numbers, strict validation, and errors that name file, line and field."""

from __future__ import annotations

import pytest

from harness.schema import CaseFileError, load_paths, load_text
from tests.conftest import run_cli

GOOD = """\
- id: ok
  family: sparse_softmax_cross_entropy
  description: a valid case
  logits: [[1.0, 2.0, 3.0]]
  labels: [2]
"""


def problems(text: str) -> list[str]:
    with pytest.raises(CaseFileError) as e:
        load_text(text, "f.yaml")
    return [str(p) for p in e.value.problems]


def test_valid_case_loads_with_defaults():
    (case,) = load_text(GOOD, "f.yaml")
    assert case.id == "ok" and case.params.reduction == "none"
    assert case.dtypes == ("float64", "float32", "float16", "bfloat16")
    assert case.location.line == 1 and case.num_classes == 3


def test_yaml_1_2_reads_exponent_floats_as_numbers():
    (case,) = load_text(GOOD.replace("[[1.0, 2.0, 3.0]]", "[[1e-5, 2e4, -1e30]]"), "f.yaml")
    assert case.predictions.values == [[1e-5, 2e4, -1e30]]


def test_unknown_key_names_line_field_and_closest_key():
    (msg,) = problems(GOOD + "  descripton: typo\n")
    assert msg.startswith("f.yaml:6:") and "ok.descripton" in msg and "did you mean 'description'" in msg


def test_wrong_type_and_bad_value_each_reported():
    text = GOOD.replace("labels: [2]", "labels: [2]\n  params: {reduction: average, label_smoothing: 2}")
    msgs = problems(text)
    assert any("f.yaml:6" in m and "params.reduction" in m and "average" in m for m in msgs), msgs
    assert any("params.label_smoothing" in m for m in msgs), msgs


def test_label_out_of_range_needs_expect_error():
    (msg,) = problems(GOOD.replace("labels: [2]", "labels: [3]"))
    assert "f.yaml:5:" in msg and "out of range for 3 classes" in msg
    (case,) = load_text(GOOD.replace("labels: [2]", "labels: [3]\n  expect: {error: true}"), "f.yaml")
    assert case.expect.error


def test_shape_mismatch_and_ragged_lists():
    (msg,) = problems(GOOD.replace("labels: [2]", "labels: [2, 1]"))
    assert "labels" in msg and "[2]" in msg and "[1]" in msg
    (msg,) = problems(GOOD.replace("[[1.0, 2.0, 3.0]]", "[[1.0, 2.0], [3.0]]"))
    assert "ragged" in msg


def test_missing_required_key_and_unknown_family():
    (msg,) = problems(GOOD.replace("  description: a valid case\n", ""))
    assert "ok.description" in msg and "required" in msg
    (msg,) = problems(GOOD.replace("sparse_softmax_cross_entropy", "sparse_softmax_crossentropy"))
    assert "did you mean 'sparse_softmax_cross_entropy'" in msg


def test_generator_validated_without_allocating():
    text = GOOD.replace("[[1.0, 2.0, 3.0]]", "{generate: normal, shape: [100000, 100000], seed: 0}").replace(
        "labels: [2]", "labels: {generate: randint, seed: 1}")
    (msg,) = problems(text)
    assert "over the budget" in msg
    (msg,) = problems(GOOD.replace("[[1.0, 2.0, 3.0]]", "{generate: gaussian, shape: [2, 3], seed: 0}"))
    assert "unknown generator 'gaussian'" in msg


def test_tolerance_override_requires_reason():
    (msg,) = problems(GOOD + "  tolerance: {loss_rtol: 0.1}\n")
    assert "tolerance.reason" in msg
    text = GOOD + "  tolerance:\n    loss_rtol: 0.1\n    reason: '  '\n"
    (msg,) = problems(text)
    assert msg.startswith(f"f.yaml:{_position(text, 'reason: ', after=True)}: ok.tolerance.reason: "), msg


def _position(text: str, fragment: str, after: bool = False) -> str:
    """'line:col' (1-based) of a fragment of the text, or of what follows it."""
    i = text.index(fragment) + (len(fragment) if after else 0)
    return f"{text.count(chr(10), 0, i) + 1}:{i - text.rfind(chr(10), 0, i)}"


@pytest.mark.parametrize("key", ["loss_rtol", "loss_atol", "grad_rtol", "grad_atol"])
@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "-1.0e-3", "1e400", "true", "'0.1'"])
def test_tolerance_override_must_be_finite_and_not_negative(key, value):
    """An infinite allowance would pass any answer (and NaN compares false, so a `< 0` check lets it through);
    a negative one none. Each is refused at its own line and column, naming the field."""
    text = GOOD + f"  tolerance:\n    reason: the case says why\n    {key}: {value}\n"
    (msg,) = problems(text)
    assert msg.startswith(f"f.yaml:{_position(text, f'{key}: ', after=True)}: ok.tolerance.{key}: "), msg
    assert "expected a finite number >= 0" in msg


def test_tolerance_override_reports_every_problem_and_keeps_good_values():
    msgs = problems(GOOD + "  tolerance: {loss_atol: .inf, grad_rtol: -1}\n")
    assert sorted(m.split(": ")[1] for m in msgs) == ["ok.tolerance.grad_rtol", "ok.tolerance.loss_atol", "ok.tolerance.reason"]
    (case,) = load_text(GOOD + "  tolerance: {loss_atol: 0, grad_rtol: 1e-3, reason: ' documented '}\n", "f.yaml")
    assert case.tolerance.loss_atol == 0.0 and case.tolerance.grad_rtol == float("1e-3")
    assert case.tolerance.reason == "documented" and case.tolerance.loss_rtol is None


def test_yaml_syntax_error_has_position():
    (msg,) = problems("- id: x\n  family: [unclosed\n")
    assert msg.startswith("f.yaml:") and "yaml" in msg


def test_objects_tags_are_not_constructed():
    msgs = problems("- !!python/object/apply:os.system ['echo pwned']\n")
    assert msgs and "expected a mapping" in msgs[0]


def test_duplicate_ids_across_files_name_both(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD)
    with pytest.raises(CaseFileError) as e:
        load_paths([tmp_path])
    (p,) = e.value.problems
    assert "b.yaml:1" in str(p) and "a.yaml:1" in str(p) and "duplicate id" in str(p)


def test_cli_validate_reports_every_problem_with_exit_2_and_no_traceback(write_cases):
    bad = write_cases(GOOD.replace("labels: [2]", "labels: [7]") + GOOD.replace("id: ok", "id: two").replace("family: sparse", "family: spurse"))
    r = run_cli("validate", str(bad))
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith(str(bad))]
    assert len(lines) == 2, r.stderr
    assert ":5:" in lines[0] and "labels" in lines[0] and "two.family" in lines[1]


def test_cli_run_refuses_malformed_file_before_running(write_cases, tmp_path):
    bad = write_cases(GOOD + "  colour: red\n")
    r = run_cli("run", "--cases", str(bad), "--frameworks", "oracle", "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and "colour" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out" / "results.jsonl").exists()


def test_nan_in_labels_or_weights_needs_allow_nan():
    dense = GOOD.replace("sparse_softmax_cross_entropy", "softmax_cross_entropy").replace("labels: [2]", "labels: [[0.5, .nan, 0.5]]")
    (msg,) = problems(dense)
    assert "NaN in labels" in msg and "allow_nan" in msg
    (case,) = load_text(dense + "  allow_nan: true\n", "f.yaml")
    assert case.labels.shape == (1, 3)
    (msg,) = problems(GOOD + "  params: {class_weights: [1.0, .nan, 1.0]}\n")
    assert "class_weights" in msg
    load_text(GOOD + "  params: {class_weights: [1.0, .nan, 1.0]}\n  allow_nan: true\n", "f.yaml")


def test_non_finite_logits_are_accepted():
    (case,) = load_text(GOOD.replace("[[1.0, 2.0, 3.0]]", "[[.nan, .inf, -.inf]]"), "f.yaml")
    assert case.predictions.values[0][2] == float("-inf")


def _case(family: str, first: str, body: str) -> str:
    return f"- id: n\n  family: {family}\n  description: d\n  {first}\n{body}"


@pytest.mark.parametrize("text,fragment", [
    (_case("categorical_crossentropy", "logits: [[0.2, 0.8]]", "  labels: [[0, 1]]\n"),
     "n.logits: categorical_crossentropy takes probabilities: write 'probabilities:'"),
    (_case("softmax_cross_entropy", "probabilities: [[0.2, 0.8]]", "  labels: [[0, 1]]\n"),
     "softmax_cross_entropy takes logits"),
    (_case("binary_crossentropy", "probabilities: [[0.2, 1.5]]", "  labels: [[0, 1]]\n"),
     "n.probabilities: probabilities must lie in [0, 1]"),
    (_case("categorical_crossentropy", "probabilities: [[0.2, 0.8]]", "  labels: [[0, 1]]\n  sweep: {scale: [1, 10]}\n"),
     "n.sweep: a scale sweep multiplies logits"),
    (_case("logsumexp", "logits: [[1.0, 2.0], [3.0, 4.0]]", "  labels: [[1.0, 1.0], [1.0, 1.0]]\n"),
     "n.labels: the cotangent has shape [2, 2], but the output has shape [2]"),
    (_case("softmax", "logits: [[1.0, 2.0]]", "  params: {reduction: mean}\n"),
     "softmax is a building block: it takes only axis (reduction is none), not reduction"),
    (_case("softmax_cross_entropy", "logits: [[1.0, 2.0]]", "  labels: [[0, 1]]\n  params: {gamma: 1.0}\n"),
     "n.params.gamma: applies to the focal families only"),
    (_case("binary_focal_crossentropy", "logits: [[1.0, 2.0]]", "  labels: [[0, 1]]\n  params: {alpha: 1.5}\n"),
     "n.params.alpha: expected a number in [0, 1]"),
    (_case("sparse_softmax_cross_entropy", "logits: [[1.0, 2.0]]", "  labels: [1]\n  params: {label_dtype: float32}\n"),
     "float32 labels only in a case that expects an error"),
    (_case("softmax_cross_entropy", "logits: [[1.0, 2.0]]", "  labels: [[0, 1]]\n  params: {label_dtype: int32}\n"),
     "n.params.label_dtype: applies to integer (sparse) labels only"),
    (_case("sparse_softmax_cross_entropy", "logits: [[1.0, 2.0]]", "  labels: [1]\n  params: {label_dtype: int128}\n"),
     "n.params.label_dtype: expected one of int64, int32"),
])
def test_family_specific_inputs_and_options_are_validated(text, fragment):
    msgs = problems(text)
    assert any(fragment in m for m in msgs), msgs
    assert all(m.startswith("f.yaml:") for m in msgs)


def test_building_blocks_default_to_a_ones_cotangent_and_error_cases_may_have_wrong_shapes():
    (block,) = load_text(_case("logsumexp", "logits: [[1.0, 2.0], [3.0, 4.0]]", ""), "f.yaml")
    assert block.block and block.labels.shape == (2,)
    (bad,) = load_text(_case("sparse_softmax_cross_entropy", "logits: [[1.0, 2.0], [3.0, 4.0]]",
                             "  labels: [[0], [1]]\n  expect: {error: true}\n"), "f.yaml")
    assert bad.labels.shape == (2, 1)


def test_one_unbatched_example_is_a_case_and_its_label_a_number():
    """logits [classes] with a scalar class index (the tutorials' worked example) load; a scalar label beside a
    batch, or logits that are a single number, are refused with the field named."""
    (case,) = load_text("- id: u\n  family: sparse_softmax_cross_entropy\n  description: d\n"
                        "  logits: [2.5, -1.0, 0.8, 4.1, -0.3]\n  labels: 3\n", "u.yaml")
    assert case.predictions.shape == (5,) and case.labels.shape == ()
    for logits, labels, field, says in (("[[2.5, -1.0], [0.3, 0.1]]", "1", "u.labels", "does not match"),
                                        ("2.5", "0", "u.logits", "expected a nested list")):
        with pytest.raises(CaseFileError) as err:
            load_text(f"- id: u\n  family: sparse_softmax_cross_entropy\n  description: d\n  logits: {logits}\n"
                      f"  labels: {labels}\n", "u.yaml")
        assert any(p.field == field and says in p.message for p in err.value.problems), err.value
