"""The four test losses on TensorFlow tensors (see __init__.py); `clipped` takes Keras' (y_true, y_pred) order."""

from __future__ import annotations

import os
from typing import Literal

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402


def _reduce(per_row, reduction):
    return per_row if reduction == "none" else tf.reduce_sum(per_row) if reduction == "sum" else tf.reduce_mean(per_row)


def correct(logits, labels, reduction: Literal["none", "sum", "mean"] = "none", label_smoothing: float = 0.0):
    t = (1 - label_smoothing) * labels + label_smoothing / logits.shape[-1]
    return _reduce(-tf.reduce_sum(t * tf.nn.log_softmax(logits, axis=-1), axis=-1), reduction)


def naive(logits, labels):
    return -tf.reduce_sum(labels * tf.math.log(tf.nn.softmax(logits, axis=-1)), axis=-1)


def clipped(y_true, y_pred):
    probs = tf.clip_by_value(tf.nn.softmax(y_pred, axis=-1), 1e-7, 1 - 1e-7)
    return -tf.reduce_sum(y_true * tf.math.log(probs), axis=-1)


def ignores_smoothing(logits, labels, reduction: Literal["none", "sum", "mean"] = "none", label_smoothing: float = 0.0):
    return _reduce(-tf.reduce_sum(labels * tf.nn.log_softmax(logits, axis=-1), axis=-1), reduction)
