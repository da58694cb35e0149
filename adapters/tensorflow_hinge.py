"""TensorFlow's margin-family path: tf.compat.v1.losses.hinge_loss, with its weights and reductions.

tf.compat.v1.losses.hinge_loss (tensorflow/python/ops/losses/losses_impl.py) casts logits and labels to float32,
maps the labels by 2 y - 1 whatever they are (so it takes 0/1 labels only: label_convention 01), takes
relu(1 - y x) and reduces through compute_weighted_loss; its default reduction SUM_BY_NONZERO_WEIGHTS divides
the weighted sum by the number of nonzero weights, which is our mean where no weight is 0. Class and sample
weights broadcast together as its weights=. TensorFlow has no squared hinge or soft margin outside Keras.
"""

from __future__ import annotations

import tensorflow as tf

from adapters import builders
from adapters.api import ApiPath, Call
from harness.schema import Case

R = tf.compat.v1.losses.Reduction
REDUCTIONS = {"none": "NONE", "sum": "SUM", "weighted_mean": "MEAN"}  # mean: the default, SUM_BY_NONZERO_WEIGHTS


def _weights(c: Call):
    """The weights= tensor (class weights times each row's sample weight) and its text; 1.0 without."""
    p = c.params
    w, text = 1.0, "1.0"
    nd = len(c.logits.shape)
    if p.class_weights is not None:  # weights= must have the labels' rank (or 0): one row of class weights
        w = tf.reshape(tf.constant(p.class_weights, dtype=c.logits.dtype), (1,) * (nd - 1) + (-1,))
        text = "class_weights[None, :]"
    if c.sample_weights is not None:
        sw = tf.reshape(c.sample_weights, (-1,) + (1,) * (nd - 1))
        w = sw * (w if p.class_weights is not None else tf.ones_like(c.logits))
        text = "sample_weights[:, None] * " + (text if p.class_weights is not None else "tf.ones_like(logits)")
    return w, text


def _hinge(c: Call):
    w, wtext = _weights(c)
    red = c.params.reduction
    if red == "mean":
        return (tf.compat.v1.losses.hinge_loss(c.labels, c.logits, weights=w),
                f"tf.compat.v1.losses.hinge_loss(labels, logits, weights={wtext})")
    name = REDUCTIONS[red]
    return (tf.compat.v1.losses.hinge_loss(c.labels, c.logits, weights=w, reduction=getattr(R, name)),
            f"tf.compat.v1.losses.hinge_loss(labels, logits, weights={wtext}, reduction=Reduction.{name})")


def _check(case: Case, dtype: str) -> str | None:
    p = case.params
    if p.label_convention != "01":
        return "tf.compat.v1.losses.hinge_loss maps every label by 2 y - 1: it takes labels 0/1 only"
    weights = [*(p.class_weights or ()), *(p.sample_weights or ())]
    if p.reduction == "mean" and 0.0 in weights:
        return ("the default reduction SUM_BY_NONZERO_WEIGHTS divides by the number of nonzero weights, not by the "
                "number of elements, when a weight is 0")
    return None


PATHS = [
    ApiPath("tf.compat.v1.losses.hinge_loss", frozenset({"hinge"}), _hinge,
            options=frozenset({"class_weights", "sample_weights", "label_convention"}),
            reductions=frozenset({"none", "sum", "mean", "weighted_mean"}), check=_check,
            doc="float32 throughout; labels 0/1; mean is the default SUM_BY_NONZERO_WEIGHTS"),
    builders.absent("(no squared hinge or soft margin in TensorFlow)",
                    frozenset({"squared_hinge", "soft_margin", "multilabel_soft_margin"}),
                    "TensorFlow has only tf.compat.v1.losses.hinge_loss outside Keras (keras.losses.SquaredHinge: "
                    "the keras-tensorflow rows); no soft margin loss"),
]
