"""Two ways to write softmax cross-entropy in TensorFlow: the tutorials' clipped probabilities, and the fused op.

    python -m harness check examples.tensorflow_losses:clipped_onehot_loss examples.tensorflow_losses:fused_ce \\
        --family softmax_cross_entropy --framework tensorflow --cases examples/cases.yaml --out reports/check-tensorflow

`clipped_onehot_loss` is the tutorial's "improved implementation using tf.clip_by_value", in Keras'
argument order (y_true, y_pred), with y_pred the last Dense layer's logits put through the softmax
that its `activation='softmax'` applies. It caps the loss at -log(1e-7) = 16.1 and has a zero
gradient wherever a probability is clipped: at large logits the harness reports `loss_mismatch`
with the flag `vanishing_grad`. `fused_ce` passes the same cases.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402


def clipped_onehot_loss(y_true, y_pred):
    """The tutorial's loss on softmax(y_pred): probabilities clipped to [1e-7, 1 - 1e-7], then categorical cross-entropy."""
    probs = tf.nn.softmax(y_pred, axis=-1)
    probs = tf.clip_by_value(probs, clip_value_min=1e-7, clip_value_max=1 - 1e-7)
    return keras.losses.categorical_crossentropy(y_true, probs)


def fused_ce(logits, labels, axis: int = -1):
    """tf.nn.softmax_cross_entropy_with_logits: log-softmax inside, one loss per row."""
    return tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits, axis=axis)
