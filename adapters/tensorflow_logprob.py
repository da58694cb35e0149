"""TensorFlow's paths of the families on log-probabilities: the NLL TensorFlow users write by hand with tf.gather
(TensorFlow has none), and a declared absence for KL (tf.keras.losses.KLDivergence is Keras 3's: keras-tensorflow)."""

from __future__ import annotations

import tensorflow as tf

from adapters import builders
from adapters.api import ApiPath, Call
from harness.schema import Case

NLL = frozenset({"nll_loss"})
KL = frozenset({"kl_divergence"})
REDUCE = {"none": (lambda v: v, ""), "sum": (tf.reduce_sum, " -> tf.reduce_sum"),
          "mean": (tf.reduce_mean, " -> tf.reduce_mean")}


def _nll_gather(c: Call):
    dims = len(c.labels.shape)
    fn, red = REDUCE[c.params.reduction]
    out = fn(-tf.gather(c.logits, c.labels, axis=-1, batch_dims=dims))
    return out, f"-tf.gather(log_probabilities, labels, axis=-1, batch_dims={dims}){red}"


def _last_axis(case: Case, dtype: str) -> str | None:
    nd = len(case.predictions.shape)
    return None if case.params.axis % nd == nd - 1 else "tf.gather(batch_dims=...) picks along the last axis"


PATHS = [
    ApiPath("manual:-tf.gather(log_probabilities)", NLL, _nll_gather, options=frozenset({"axis"}), check=_last_axis,
            doc="the log-probability at each label, negated: the NLL TensorFlow users write"),
    builders.absent("(no NLL loss in TensorFlow)", NLL, "TensorFlow has no negative log-likelihood on "
                    "log-probabilities; its users gather them by hand (the manual: path)"),
    builders.absent("(no KL divergence in TensorFlow)", KL, "TensorFlow has no KL divergence of its own: "
                    "tf.keras.losses.KLDivergence is Keras 3's class, run by the keras-tensorflow framework"),
]
