"""The semantic checks of a CTC case: logits [batch, time, classes], padded label sequences, lengths and options.

A CTC case writes its labels as one list of class indices per batch item, each sequence followed by the blank
as padding (the blank never occurs inside a sequence, so an item's label length is its count of non-blank
entries); `input_lengths` gives the frames each item uses (all of them by default). harness/oracle/ctc.py
states the semantics. Each problem is reported at the file:line:col of the value it is about.
"""

from __future__ import annotations

from harness.core.yamlfile import Problem, at
from harness.schema.model import FAMILIES, Expect, InputSpec, Literal, Params

CTC_OPTIONS = ("blank", "zero_infinity", "input_lengths")
# options of the other families that mean nothing for a sequence loss
FOREIGN = ("class_weights", "sample_weights", "label_smoothing", "ignore_index", "pos_weight")


def ctc(m: dict, name: str, prefix: str, family: str, logits: InputSpec, labels: InputSpec, params: Params,
        expect: Expect) -> list[Problem]:
    """The logits' and labels' shapes, the label sequences and their padding, the lengths and the options."""
    written = m.get("params") if isinstance(m.get("params"), dict) else {}
    at_labels = at(name, m, "labels")
    out = [Problem(at(name, written, k), f"{prefix}params.{k}", f"{family} has no {k}")
           for k in FOREIGN if k in written]
    if params.axis != -1:
        out.append(Problem(at(name, written, "axis"), f"{prefix}params.axis",
                           "the CTC logits are [batch, time, classes]: classes are the last axis (-1)"))
    if params.reduction == "weighted_mean":
        out.append(Problem(at(name, written, "reduction"), f"{prefix}params.reduction",
                           "a CTC loss has no weights: use mean, or label_length_mean (PyTorch's 'mean')"))
    if len(logits.shape) != 3:
        return out + [Problem(at(name, m, "logits"), f"{prefix}logits",
                              f"CTC logits are [batch, time, classes], got shape {list(logits.shape)}")]
    B, T, C = logits.shape
    if not isinstance(labels, Literal):
        return out + [Problem(at_labels, f"{prefix}labels", "CTC labels are written out: one list of class indices "
                              "per batch item, padded after the sequence with the blank")]
    if len(labels.shape) != 2 or labels.shape[0] != B or labels.shape[1] < 1:
        return out + [Problem(at_labels, f"{prefix}labels", f"shape {list(labels.shape)}: expected [{B}, S] (one "
                              "padded sequence per batch item, S >= 1)")]
    blank = params.blank
    if not 0 <= blank < C:
        out.append(Problem(at(name, written, "blank"), f"{prefix}params.blank",
                           f"blank {blank} is not a class index for {C} classes"))
    for b, row in enumerate(labels.values):
        bad = [x for x in row if not 0 <= x < C]
        if bad and not expect.error:
            out.append(Problem(at_labels, f"{prefix}labels[{b}]", f"label {bad[0]} is out of range for {C} classes "
                               "(set expect: {error: true} if the case means it)"))
            continue
        n = sum(1 for x in row if x != blank)
        if any(x == blank for x in row[:n]):
            out.append(Problem(at_labels, f"{prefix}labels[{b}]", f"the blank ({blank}) pads a sequence after its "
                               f"labels; it cannot occur inside one: {row}"))
    lengths = params.input_lengths
    if lengths is not None:
        where = at(name, written, "input_lengths")
        if len(lengths) != B:
            out.append(Problem(where, f"{prefix}params.input_lengths", f"{len(lengths)} lengths for {B} items"))
        elif max(lengths) > T:
            out.append(Problem(where, f"{prefix}params.input_lengths", f"a length of {max(lengths)} frames is "
                               f"more than the logits' {T}"))
    return out


def elsewhere(m: dict, name: str, prefix: str, family: str, params: Params) -> list[Problem]:
    """The CTC options and reduction written for another family."""
    if FAMILIES[family]["labels"] == "sequence":
        return []
    written = m.get("params") if isinstance(m.get("params"), dict) else {}
    out = [Problem(at(name, written, k), f"{prefix}params.{k}", "applies to the ctc family only")
           for k in CTC_OPTIONS if k in written]
    if params.reduction == "label_length_mean":
        out.append(Problem(at(name, written, "reduction"), f"{prefix}params.reduction",
                           "label_length_mean divides by label lengths: it applies to the ctc family only"))
    return out
