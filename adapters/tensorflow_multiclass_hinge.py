"""TensorFlow's multi-class hinge paths: written by hand (tf.nn has none; tf.keras' CategoricalHinge is Keras')."""

from __future__ import annotations

import tensorflow as tf

from adapters import manual_hinge
from adapters.api import ApiPath
from adapters.naive import Ops


def paths(ops: Ops) -> list[ApiPath]:
    h = manual_hinge.HingeOps(ops, lambda v: tf.reduce_max(v, axis=-1), "tf.reduce_max(axis=-1)",
                              lambda v: tf.maximum(v, 0.0), "tf.maximum(0)")
    return manual_hinge.paths(h, ("weston_watkins_hinge", "crammer_singer_hinge", "categorical_hinge"))
