"""optax's CTC path: optax.ctc_loss on batch-major logits with logit_paddings, label_paddings and blank_id."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax

from adapters.api import ApiPath, Call
from harness.oracle.ctc import input_lengths

REDUCE = {"none": (lambda v: v, "{}"), "sum": (jnp.sum, "jnp.sum({})"), "mean": (jnp.mean, "jnp.mean({})")}


def _optax_ctc(c: Call):
    """Paddings as optax takes them: 1.0 at each frame past an item's input length (an option of the case, so a
    constant of the compiled function) and at each label that is the blank (the padding: the labels are traced,
    and one compiled function serves every case of its shape and options)."""
    p = c.params
    B, T, _ = c.logits.shape
    input_length = input_lengths(c.case)
    logit_paddings = jnp.asarray(np.arange(T)[None, :] >= input_length[:, None], dtype=c.logits.dtype)
    label_paddings = (c.labels == p.blank).astype(c.logits.dtype)
    out = optax.ctc_loss(c.logits, logit_paddings, c.labels, label_paddings, blank_id=p.blank)
    op, name = REDUCE[p.reduction]
    return op(out), name.format(
        f"optax.ctc_loss(logits, logit_paddings=(arange({T}) >= {input_length.tolist()}), labels, "
        f"label_paddings=(labels == {p.blank}), blank_id={p.blank})")


PATHS = [
    ApiPath("optax.ctc_loss", frozenset({"ctc"}), _optax_ctc, options=frozenset({"blank", "input_lengths"}),
            doc="batch-major logits with logit_paddings and label_paddings; no zero_infinity; log_epsilon=-1e5 "
                "stands for log 0"),
]
