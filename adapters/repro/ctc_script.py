"""The CTC paths' lines in a reproducer, for each framework: the lengths and the call, as the adapters write them.

Each table maps a CTC path name to a function of (case, input name) giving the lines that set `out`; the
framework's script module merges it into its CALLS. The lines mirror adapters/<framework>_ctc.py and
adapters/keras_ctc.py: label lengths from the labels that are not the blank, input lengths from the case.
"""

from __future__ import annotations

from collections.abc import Callable

from adapters.repro.target import python
from harness.oracle.ctc import input_lengths
from harness.schema import Case

Lines = list[str]


def _frames(case: Case) -> list[int]:
    return [int(v) for v in input_lengths(case)]


def _torch(module: bool) -> Callable[[Case, str], Lines]:
    red = {"none": "none", "sum": "sum", "label_length_mean": "mean"}

    def lines(case: Case, x: str) -> Lines:
        p = case.params
        kw = f"blank={p.blank}, reduction={python(red[p.reduction])}, zero_infinity={p.zero_infinity}"
        head = [f"log_probs = F.log_softmax({x}, dim=-1).transpose(0, 1)",
                f"frames = torch.as_tensor({_frames(case)}, device={x}.device)",
                f"target_lengths = (labels != {p.blank}).sum(-1)"]
        if module:
            return [*head, f"out = torch.nn.CTCLoss({kw})(log_probs, labels, frames, target_lengths)"]
        return [*head, f"out = F.ctc_loss(log_probs, labels, frames, target_lengths, {kw})"]
    return lines


def _tensorflow(case: Case, x: str) -> Lines:
    p = case.params
    red = {"none": "out", "sum": "tf.reduce_sum(out)", "mean": "tf.reduce_mean(out)"}[p.reduction]
    return [f"label_length = tf.reduce_sum(tf.cast(tf.not_equal(labels, {p.blank}), tf.int32), axis=-1)",
            f"out = tf.nn.ctc_loss(labels=labels, logits=tf.transpose({x}, [1, 0, 2]), label_length=label_length, "
            f"logit_length=tf.constant({_frames(case)}, dtype=tf.int32), logits_time_major=True, blank_index={p.blank})",
            f"out = {red}"]


def _optax(case: Case, x: str) -> Lines:
    p = case.params
    red = {"none": "out", "sum": "jnp.sum(out)", "mean": "jnp.mean(out)"}[p.reduction]
    T = case.predictions.shape[1]
    return [f"logit_paddings = jnp.asarray(np.arange({T})[None, :] >= np.array({_frames(case)})[:, None], "
            f"dtype={x}.dtype)",
            f"label_paddings = (labels == {p.blank}).astype({x}.dtype)",
            f"out = optax.ctc_loss({x}, logit_paddings, labels, label_paddings, blank_id={p.blank})",
            f"out = {red}"]


def _keras_class(case: Case, x: str) -> Lines:
    red = {"none": "none", "sum": "sum", "mean": "sum_over_batch_size"}[case.params.reduction]
    return [f"out = keras.losses.CTC(reduction={python(red)})(labels, {x})"]


def _keras_ops(case: Case, x: str) -> Lines:
    p = case.params
    red = {"none": "out", "sum": "keras.ops.sum(out)", "mean": "keras.ops.mean(out)"}[p.reduction]
    return [f"target_length = keras.ops.sum(keras.ops.cast(keras.ops.not_equal(labels, {p.blank}), 'int32'), axis=-1)",
            f"output_length = keras.ops.convert_to_tensor(np.asarray({_frames(case)}, dtype='int32'))",
            f"out = keras.ops.ctc_loss(labels, {x}, target_length, output_length, mask_index={p.blank})",
            f"out = {red}"]


TORCH = {"F.ctc_loss": _torch(False), "nn.CTCLoss": _torch(True)}
TENSORFLOW = {"tf.nn.ctc_loss": _tensorflow}
JAX = {"optax.ctc_loss": _optax}
KERAS = {"keras.losses.CTC": _keras_class, "keras.ops.ctc_loss": _keras_ops}
