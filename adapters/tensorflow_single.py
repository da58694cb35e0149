"""TensorFlow's paths for the losses only one framework ships: poly-1 as the paper's listing writes it; declared absences."""

from __future__ import annotations

import tensorflow as tf

from adapters import builders, single_checks
from adapters.api import ApiPath, Call

REDUCE = {"none": (lambda v: v, ""), "sum": (tf.reduce_sum, " -> tf.reduce_sum"),
          "mean": (tf.reduce_mean, " -> tf.reduce_mean")}


def _poly(c: Call):
    eps = c.params.epsilon
    pt = tf.reduce_sum(c.labels * tf.nn.softmax(c.logits), axis=-1)
    ce = tf.nn.softmax_cross_entropy_with_logits(c.labels, c.logits)
    fn, red = REDUCE[c.params.reduction]
    return fn(ce + eps * (1 - pt)), (f"tf.nn.softmax_cross_entropy_with_logits(labels, logits) + {eps!r} * "
                                     f"(1 - tf.reduce_sum(labels * tf.nn.softmax(logits), axis=-1)){red}")


PATHS = [
    ApiPath("manual:poly1(tf.nn.softmax_cross_entropy_with_logits)", frozenset({"poly1_cross_entropy"}), _poly,
            options=frozenset({"epsilon"}), check=single_checks.poly_manual, doc=single_checks.POLY_DOC),
    builders.absent("(no perceptron loss in tensorflow)", frozenset({"perceptron", "multiclass_perceptron"}),
                    "TensorFlow has no perceptron loss (tf.compat.v1.losses.hinge_loss has margin 1 and no option)"),
    builders.absent("(no sparsemax loss in tensorflow)", frozenset({"binary_sparsemax", "multiclass_sparsemax"}),
                    "TensorFlow has no sparsemax loss (tensorflow_addons' SparsemaxLoss is archived and not a dependency)"),
    builders.absent("(no generalized cross-entropy in tensorflow)", frozenset({"generalized_cross_entropy"}),
                    "TensorFlow has no generalized cross-entropy (tf.keras' is Keras', run as keras-tensorflow)"),
]
