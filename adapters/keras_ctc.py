"""The Keras 3 CTC paths, over keras.losses.CTC and keras.ops.ctc_loss for every Keras backend.

Like adapters/keras_paths.py (which lists them), these import Keras only when called, once the backend is chosen.
keras.losses.CTC fixes the blank at 0 (its mask_index) and reads each item's label length as its count of
non-zero labels and its input length as every frame; keras.ops.ctc_loss takes the lengths and mask_index.
"""

from __future__ import annotations

from adapters.api import ApiPath, Call
from harness.oracle.ctc import input_lengths
from harness.schema import Case

KERAS_REDUCTION = {"none": "none", "sum": "sum", "mean": "sum_over_batch_size"}


def _class_limits(case: Case, dtype: str) -> str | None:
    p = case.params
    if p.blank != 0:
        return "keras.losses.CTC has no blank argument: the blank is class 0 (mask_index=0)"
    if p.input_lengths is not None:
        return "keras.losses.CTC takes no input lengths: every item uses every frame"
    return None


def _ctc_class(c: Call):
    import keras

    red = KERAS_REDUCTION[c.params.reduction]
    return keras.losses.CTC(reduction=red)(c.labels, c.logits), f"keras.losses.CTC(reduction={red!r})(labels, logits)"


def _ctc_ops(c: Call):
    import keras

    p = c.params
    input_length = input_lengths(c.case)
    target_length = keras.ops.sum(keras.ops.cast(keras.ops.not_equal(c.labels, p.blank), "int32"), axis=-1)
    out = keras.ops.ctc_loss(c.labels, c.logits, target_length,
                             keras.ops.convert_to_tensor(input_length.astype("int32")), mask_index=p.blank)
    red = p.reduction
    reduced = {"none": lambda v: v, "sum": keras.ops.sum, "mean": keras.ops.mean}[red](out)
    call = (f"keras.ops.ctc_loss(labels, logits, target_length=keras.ops.sum(labels != {p.blank}, axis=-1), "
            f"output_length={input_length.tolist()}, mask_index={p.blank})")
    return reduced, call + ("" if red == "none" else f" -> keras.ops.{red}")


def paths() -> list[ApiPath]:
    ctc = frozenset({"ctc"})
    return [
        ApiPath("keras.losses.CTC", ctc, _ctc_class, options=frozenset({"blank", "input_lengths"}),
                check=_class_limits, doc="batch-major logits; blank 0; label lengths from the non-zero labels"),
        ApiPath("keras.ops.ctc_loss", ctc, _ctc_ops, options=frozenset({"blank", "input_lengths"}),
                doc="batch-major logits with target_length, output_length and mask_index (the blank)"),
    ]
