"""Keras 3's margin-family paths: keras.losses.Hinge and keras.losses.SquaredHinge, on every Keras backend.

Both take y_true in {-1, 1} and convert labels that are all 0 or 1 by 2 y - 1 (keras/src/losses/losses.py,
convert_binary_labels_to_hinge), so either label_convention reaches them as it is; both average over the last
axis before the reduction (as BinaryCrossentropy: adapters/keras_paths.py). Keras has no soft margin loss.
Keras is imported when a path runs (adapters/keras_paths.py says why); `CLASSES` is read by the reproducer.
"""

from __future__ import annotations

from adapters import builders
from adapters.api import ApiPath, Call
from harness.schema import Case

CLASSES = {"hinge": "Hinge", "squared_hinge": "SquaredHinge"}
REDUCTION = {"none": "none", "sum": "sum", "mean": "sum_over_batch_size", "weighted_mean": "mean_with_sample_weight"}


def _limits(case: Case, dtype: str) -> str | None:
    red, cls = case.params.reduction, CLASSES[case.family]
    if red == "none":
        return f"keras.losses.{cls} averages over the last axis: reduction='none' returns one loss per row, not one per element"
    if red == "sum" and case.predictions.shape[-1] > 1:
        return f"keras.losses.{cls} averages over the last axis: reduction='sum' adds the row means, not the elements"
    return None


def _loss(c: Call):
    import keras

    cls = CLASSES[c.case.family]
    red = REDUCTION[c.params.reduction]
    loss_obj = getattr(keras.losses, cls)(reduction=red)
    if c.sample_weights is not None:
        return (loss_obj(c.labels, c.logits, sample_weight=c.sample_weights),
                f"keras.losses.{cls}(reduction={red!r})(labels, scores, sample_weight=...)")
    return loss_obj(c.labels, c.logits), f"keras.losses.{cls}(reduction={red!r})(labels, scores)"


def paths() -> list[ApiPath]:
    return [
        *(ApiPath(f"keras.losses.{cls}", frozenset({family}), _loss,
                  options=frozenset({"sample_weights", "label_convention"}),
                  reductions=frozenset(REDUCTION), check=_limits,
                  doc="labels -1/1, or all 0/1 (converted); the mean over the last axis, then the reduction")
          for family, cls in CLASSES.items()),
        builders.absent("(no soft margin loss in Keras)", frozenset({"soft_margin", "multilabel_soft_margin"}),
                        "Keras has no soft margin losses (keras.losses.BinaryCrossentropy at labels (y + 1) / 2 is one)"),
    ]
