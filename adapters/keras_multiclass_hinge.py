"""The Keras 3 multi-class hinge paths, on every Keras backend: keras.losses.CategoricalHinge and categorical_hinge.

Keras has one multi-class hinge, Crammer-Singer's with the true class zeroed rather than excluded
(keras-team/keras#8083; harness/oracle/multiclass_hinge.py); Weston-Watkins and Crammer-Singer proper are
declared absent. Like adapters/keras_paths.py, Keras is imported when a path runs (the backend is chosen first).
"""

from __future__ import annotations

from adapters import builders
from adapters.api import ApiPath, Call
from adapters.keras_paths import ALL_REDUCTIONS, KERAS_REDUCTION
from harness.schema import Case

CH = frozenset({"categorical_hinge"})


def _last_axis(case: Case, dtype: str) -> str | None:
    nd = len(case.predictions.shape)
    if case.params.axis % nd != nd - 1:
        return "keras.losses.categorical_hinge reduces the last axis: classes must be last"
    return None


def _class(c: Call):
    import keras

    red = KERAS_REDUCTION[c.params.reduction]
    loss_obj = keras.losses.CategoricalHinge(reduction=red)
    if c.sample_weights is not None:
        return (loss_obj(c.labels, c.logits, sample_weight=c.sample_weights),
                f"keras.losses.CategoricalHinge(reduction={red!r})(labels, scores, sample_weight=...)")
    return loss_obj(c.labels, c.logits), f"keras.losses.CategoricalHinge(reduction={red!r})(labels, scores)"


def _function(c: Call):
    import keras

    out = keras.losses.categorical_hinge(c.labels, c.logits)
    red = c.params.reduction
    reduced = {"none": lambda v: v, "sum": keras.ops.sum, "mean": keras.ops.mean}[red](out)
    return reduced, "keras.losses.categorical_hinge(labels, scores)" + ("" if red == "none" else f" -> keras.ops.{red}")


def paths() -> list[ApiPath]:
    return [
        ApiPath("keras.losses.CategoricalHinge", CH, _class, options=frozenset({"sample_weights", "axis"}),
                reductions=ALL_REDUCTIONS, check=_last_axis, doc="neg = max((1 - t) x): the true class zeroed"),
        ApiPath("keras.losses.categorical_hinge", CH, _function, options=frozenset({"axis"}), check=_last_axis,
                doc="the per-row function, reduced with keras.ops.sum/mean"),
        builders.absent("(no Weston-Watkins hinge in Keras)", frozenset({"weston_watkins_hinge"}),
                        "Keras has no multi-class hinge summed over the other classes (torch's multi_margin_loss)"),
        builders.absent("(no Crammer-Singer hinge in Keras)", frozenset({"crammer_singer_hinge"}),
                        "keras.losses.CategoricalHinge zeroes the true class instead of excluding it: another loss "
                        "(categorical_hinge; keras-team/keras#8083)"),
    ]
