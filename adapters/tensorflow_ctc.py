"""TensorFlow's CTC path: tf.nn.ctc_loss on time-major logits with dense labels, label_length and blank_index."""

from __future__ import annotations

import tensorflow as tf

from adapters.api import ApiPath, Call
from harness.oracle.ctc import input_lengths

REDUCE = {"none": (lambda v: v, "{}"), "sum": (tf.reduce_sum, "tf.reduce_sum({})"),
          "mean": (tf.reduce_mean, "tf.reduce_mean({})")}


def _ctc_loss(c: Call):
    """The batch-major logits transposed to TensorFlow's default time-major layout, the padded labels with their
    lengths, and the per-item losses reduced as users do."""
    p = c.params
    # the label lengths from the labels themselves (a step serves every case of its shape and options): the
    # labels that are not the blank; the input lengths are an option of the case
    label_length = tf.reduce_sum(tf.cast(tf.not_equal(c.labels, p.blank), tf.int32), axis=-1)
    logit_length = input_lengths(c.case)
    out = tf.nn.ctc_loss(labels=c.labels, logits=tf.transpose(c.logits, [1, 0, 2]), label_length=label_length,
                         logit_length=tf.constant(logit_length, dtype=tf.int32), logits_time_major=True,
                         blank_index=p.blank)
    op, name = REDUCE[p.reduction]
    return op(out), name.format(
        f"tf.nn.ctc_loss(labels, tf.transpose(logits, [1, 0, 2]), label_length=tf.reduce_sum(tf.cast(labels != "
        f"{p.blank}, tf.int32), axis=-1), logit_length={logit_length.tolist()}, logits_time_major=True, "
        f"blank_index={p.blank})")


PATHS = [
    ApiPath("tf.nn.ctc_loss", frozenset({"ctc"}), _ctc_loss, options=frozenset({"blank", "input_lengths"}),
            doc="time-major logits (log_softmax inside), dense labels with label_length; no zero_infinity"),
]
