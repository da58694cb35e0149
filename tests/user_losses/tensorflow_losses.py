"""The four test losses on TensorFlow tensors (see __init__.py); `clipped` takes Keras' (y_true, y_pred) order."""

from __future__ import annotations

import os
from typing import Literal

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402


def _reduce(per_row, reduction):
    return per_row if reduction == "none" else tf.reduce_sum(per_row) if reduction == "sum" else tf.reduce_mean(per_row)


def correct(logits, labels, reduction="none", label_smoothing=0.0, class_weights=None, sample_weights=None):
    """-s_i sum_c w_c t'_ic log softmax(x)_ic, with t' the smoothed targets; weighted_mean divides by sum_i s_i sum_c w_c t_ic."""
    w = 1.0 if class_weights is None else class_weights
    s = 1.0 if sample_weights is None else sample_weights
    t = (1 - label_smoothing) * labels + label_smoothing / logits.shape[-1]
    per_row = -tf.reduce_sum(w * t * tf.nn.log_softmax(logits, axis=-1), axis=-1) * s
    if reduction == "weighted_mean":
        return tf.reduce_sum(per_row) / tf.reduce_sum(tf.reduce_sum(w * labels, axis=-1) * s)
    return _reduce(per_row, reduction)


def naive(logits, labels):
    return -tf.reduce_sum(labels * tf.math.log(tf.nn.softmax(logits, axis=-1)), axis=-1)


def clipped(y_true, y_pred):
    probs = tf.clip_by_value(tf.nn.softmax(y_pred, axis=-1), 1e-7, 1 - 1e-7)
    return -tf.reduce_sum(y_true * tf.math.log(probs), axis=-1)


def ignores_smoothing(logits, labels, reduction: Literal["none", "sum", "mean"] = "none", label_smoothing: float = 0.0):
    return _reduce(-tf.reduce_sum(labels * tf.nn.log_softmax(logits, axis=-1), axis=-1), reduction)
