"""Relation rules: the relation kinds a case may declare, their arguments, and whether one applies to a case.

What each kind means and how the two sides are judged is harness/judge/relations.py; this module is what
the case loader needs to check a case file, and nothing else.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from harness.schema.model import Case, Literal, Relation

KINDS: dict[str, dict[str, str]] = {  # kind -> its arguments (name -> kind of value)
    "one_hot": {},
    "move_axis": {"to": "int"},
    "repeat_rows": {},
    "smoothed_labels": {},
    "sum_mean": {},
    "reverse_classes": {},
    "shift_scores": {"by": "float"},
    "sigmoid_form": {},
    "two_classes": {},
}
HINGE_FAMILIES = ("weston_watkins_hinge", "crammer_singer_hinge", "categorical_hinge")
# reverse_classes and shift_scores hold for these too (both permutation equivariant and shift invariant)
PERMUTED_FAMILIES = (*HINGE_FAMILIES, "multiclass_perceptron", "multiclass_sparsemax")
TWO_CLASS_FAMILIES = ("weston_watkins_hinge", "crammer_singer_hinge", "multiclass_perceptron", "multiclass_sparsemax")
SOFTMAX_FAMILIES = ("softmax_cross_entropy", "sparse_softmax_cross_entropy")
SIGMOID_FAMILIES = ("sigmoid_cross_entropy", "weighted_sigmoid_cross_entropy")
SOFT_MARGIN_FAMILIES = ("soft_margin", "multilabel_soft_margin")  # the relation sigmoid_form only


def problem(case: Case, rel: Relation) -> str | None:
    """Why the relation cannot apply to the case (checked when the case file loads), or None."""
    p = case.params
    if case.expect.error:
        return "a case that expects an error has no loss to relate"
    k = rel.kind
    if k in ("reverse_classes", "shift_scores"):
        return _hinge_problem(case, rel)
    if k == "two_classes":
        return _two_classes_problem(case)
    if (k == "sigmoid_form") != (case.family in SOFT_MARGIN_FAMILIES):
        return (f"sigmoid_form relates the soft margin families ({', '.join(SOFT_MARGIN_FAMILIES)}) to the sigmoid "
                f"cross-entropy, and they take no other relation; {case.family} takes "
                + ("sigmoid_form only" if case.family in SOFT_MARGIN_FAMILIES else "no sigmoid_form"))
    if case.family == "ctc" and k != "sum_mean":
        return "of the relations only sum_mean applies to ctc: a sequence loss has no one-hot, axis or smoothed form"
    if case.family not in (*SOFTMAX_FAMILIES, *SIGMOID_FAMILIES, *SOFT_MARGIN_FAMILIES, "ctc"):
        return f"relations are defined for the softmax, sigmoid, soft margin and ctc families, not {case.family}"
    if k == "one_hot":
        if not case.sparse:
            return "one_hot relates integer labels to their one-hot form: the case needs sparse_softmax_cross_entropy"
        if p.ignore_index is not None:
            return "one-hot labels cannot express ignore_index"
    elif k == "move_axis":
        if case.elementwise:
            return "the sigmoid families are elementwise: their class axis is always the last"
        nd = len(case.predictions.shape)
        to = rel.arg("to", -1)
        if not -nd <= to < nd:
            return f"to: axis {to} out of range for logits of {nd} dimensions"
        if to % nd == p.axis % nd:
            return f"to: the class axis is already {p.axis}; moving it to {to} relates the case to itself"
    elif k == "repeat_rows":
        if p.reduction != "sum":
            return "repeating rows equals weighting them only for reduction sum (a mean divides by another count)"
        if p.class_weights is None and p.sample_weights is None:
            return "repeat_rows needs integer class_weights or sample_weights"
        for name in ("class_weights", "sample_weights"):
            w = getattr(p, name)
            if w is not None and any(x != int(x) for x in w):
                return f"{name} must be whole numbers to count repeated rows, got {list(w)}"
        if p.label_smoothing:
            return "with label smoothing a class weight scales every class's term, not the row: no repetition equals it"
        if len(case.predictions.shape) != 2 or p.axis % 2 != 1:
            return "repeat_rows needs logits [rows, classes] (classes last)"
        if case.elementwise and p.class_weights is not None:
            return "sigmoid class weights apply per column, not per row: only sample_weights repeat rows"
        if case.family == "softmax_cross_entropy" and isinstance(case.labels, Literal):
            t = np.asarray(case.labels.values, dtype=np.float64)
            if t.size and not (np.isin(t, (0.0, 1.0)).all() and (t.sum(-1) == 1).all()):
                return "dense labels must be one-hot for a row to belong to one class weight"
        if case.family == "softmax_cross_entropy" and not isinstance(case.labels, Literal) and case.labels.name != "one_hot":
            return "dense labels must be one-hot (generator one_hot) for a row to belong to one class weight"
    elif k == "smoothed_labels":
        if not p.label_smoothing:
            return "smoothed_labels needs label_smoothing > 0"
        if p.ignore_index is not None:
            return "dense labels cannot express ignore_index"
        if p.reduction == "weighted_mean" and not case.elementwise and p.class_weights is not None:
            return ("weighted_mean divides by the weights of the unsmoothed labels, which the smoothed dense labels "
                    "no longer carry")
    elif k == "sum_mean":
        if p.reduction not in ("mean", "sum"):
            return f"sum_mean relates reductions mean and sum, not {p.reduction}"
    return None


def _hinge_problem(case: Case, rel: Relation) -> str | None:
    """reverse_classes: the hinges (no class weights, which would move with the classes); shift_scores: the
    shift-invariant ones, Weston-Watkins and Crammer-Singer, on literal scores that stay exact when shifted."""
    if case.family not in PERMUTED_FAMILIES:
        return f"{rel.kind} is defined for {', '.join(PERMUTED_FAMILIES)}, not {case.family}"
    p = case.params
    if p.class_weights is not None:
        return "class weights belong to classes: the partner would need them reordered too"
    if rel.kind == "shift_scores":
        if case.family == "categorical_hinge":
            return "Keras' categorical hinge is not shift invariant (it compares the other scores with the zeroed true class)"
        if not isinstance(case.predictions, Literal):
            return "shift_scores needs literal scores, so that it can check the shifted ones are exact"
        by = float(rel.arg("by", 1.0))
        return _inexact(case, lambda xd: xd + by, f"the scores shifted by {by:g}", "pick another shift or dtypes")
    return None


def _inexact(case: Case, fn, what: str, hint: str) -> str | None:
    """Why fn of the literal scores (rounded to each dtype) is not exact in some dtype of the case, or None."""
    x = np.asarray(case.predictions.values, dtype=np.float64)
    for dtype in case.dtypes:
        t = ml_dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype)
        v = fn(x.astype(t).astype(np.float64))
        if not np.array_equal(v.astype(t).astype(np.float64), v):
            return f"{what} are not exact in {dtype}: {hint}"
    return None


def _two_classes_problem(case: Case) -> str | None:
    """two_classes: [rows, 2] scores, classes last, no class weights, margin 1, a score difference exact."""
    if case.family not in TWO_CLASS_FAMILIES:
        return f"two_classes is defined for {', '.join(TWO_CLASS_FAMILIES)}, not {case.family}"
    p = case.params
    if len(case.predictions.shape) != 2 or case.predictions.shape[-1] != 2 or p.axis % 2 != 1:
        return "two_classes needs scores [rows, 2], classes last"
    if p.class_weights is not None:
        return "class weights weigh a class, which the binary form has no counterpart of"
    if p.margin != 1.0:
        return "the binary hinge has margin 1"
    if not isinstance(case.predictions, Literal):
        return "two_classes needs literal scores, so that it can check their difference is exact"
    return _inexact(case, lambda xd: xd[:, 1:] - xd[:, :1], "the score differences x_1 - x_0", "pick other scores")
