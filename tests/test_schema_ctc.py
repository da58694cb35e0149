"""CTC case files: padded label sequences, lengths and options, and errors that name file, line and field."""

from __future__ import annotations

import pytest

from harness.schema import CaseFileError, load_text

CTC = """\
- id: c
  family: ctc
  description: a valid ctc case
  logits: [[[1.0, 0.5, -1.0], [0.2, 0.1, 2.0], [0.0, 1.0, 0.5]], [[0.3, 0.5, -1.0], [0.2, 1.1, 2.0], [0.0, 1.0, 0.5]]]
  labels: [[1, 2], [2, 0]]
"""


def problems(text: str) -> list[str]:
    with pytest.raises(CaseFileError) as e:
        load_text(text, "f.yaml")
    return [str(p) for p in e.value.problems]


def test_a_ctc_case_loads_with_integer_labels_and_the_defaults():
    (case,) = load_text(CTC, "f.yaml")
    p = case.params
    assert case.integer_labels and not case.sparse
    assert (p.blank, p.zero_infinity, p.input_lengths, p.reduction) == (0, False, None, "none")
    text = CTC.replace("[[1, 2], [2, 0]]", "[[2, 1], [0, 2]]") + ("  params: {blank: 1, input_lengths: [3, 2], "
                                                                  "zero_infinity: true, reduction: label_length_mean}\n")
    (case,) = load_text(text, "f.yaml")
    assert case.params.non_default() == {"blank": 1, "zero_infinity": True, "input_lengths": (3, 2)}


@pytest.mark.parametrize("edit, fragment", [
    (("[[1, 2], [2, 0]]", "[[0, 2], [2, 0]]"), "c.labels[0]: the blank (0) pads a sequence"),
    (("[[1, 2], [2, 0]]", "[[1, 3], [2, 0]]"), "c.labels[0]: label 3 is out of range for 3 classes"),
    (("[[1, 2], [2, 0]]", "[[1, 2]]"), "c.labels: shape [1, 2]: expected [2, S]"),
    (("[[1, 2], [2, 0]]", "{generate: randint, seed: 0}"), "c.labels: CTC labels are written out"),
])
def test_label_sequences_are_checked(edit, fragment):
    text = CTC.replace(*edit)
    assert any(fragment in m and m.startswith("f.yaml:5:") for m in problems(text)), problems(text)


@pytest.mark.parametrize("params, fragment", [
    ("{input_lengths: [3]}", "c.params.input_lengths: 1 lengths for 2 items"),
    ("{input_lengths: [4, 3]}", "a length of 4 frames is more than the logits' 3"),
    ("{input_lengths: [0, 3]}", "expected a non-empty list of integers >= 1"),
    ("{blank: 3}", "c.params.blank: blank 3 is not a class index for 3 classes"),
    ("{reduction: weighted_mean}", "a CTC loss has no weights"),
    ("{class_weights: [1.0, 1.0, 1.0]}", "c.params.class_weights: ctc has no class_weights"),
    ("{axis: 1}", "classes are the last axis"),
    ("{zero_infinity: 1}", "expected true or false"),
])
def test_ctc_options_are_checked_with_file_line_and_field(params, fragment):
    msgs = problems(CTC + f"  params: {params}\n")
    assert any(fragment in m and m.startswith("f.yaml:6:") for m in msgs), msgs


def test_ctc_logits_are_three_dimensional():
    text = CTC.replace("logits: [[[1.0, 0.5, -1.0], [0.2, 0.1, 2.0], [0.0, 1.0, 0.5]], [[0.3, 0.5, -1.0], [0.2, 1.1, "
                       "2.0], [0.0, 1.0, 0.5]]]", "logits: [[1.0, 0.5, -1.0], [0.2, 0.1, 2.0]]")
    assert any("CTC logits are [batch, time, classes], got shape [2, 3]" in m for m in problems(text))


@pytest.mark.parametrize("params", ["{blank: 0}", "{zero_infinity: true}", "{input_lengths: [1]}",
                                    "{reduction: label_length_mean}"])
def test_ctc_options_belong_to_the_ctc_family_only(params):
    text = ("- id: s\n  family: sparse_softmax_cross_entropy\n  description: not ctc\n  logits: [[1.0, 2.0]]\n"
            f"  labels: [1]\n  params: {params}\n")
    assert any("ctc family only" in m and m.startswith("f.yaml:6:") for m in problems(text)), problems(text)
