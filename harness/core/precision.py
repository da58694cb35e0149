"""The precision mode of a framework process: knobs pinned for conformance, or the frameworks' defaults.

    pinned        (default) TF32 off in TensorFlow, PyTorch and JAX (jax_default_matmul_precision
                  'highest', torch float32 matmul precision 'highest').
    as-deployed   every precision knob left at the framework's default, as a user's program runs,
                  so that the report shows what TF32 does to a loss.

TensorFlow op determinism is not part of either mode: with it on, TensorFlow's own Python wrappers
of tf.nn.softmax_cross_entropy_with_logits and tf.nn.sparse_softmax_cross_entropy_with_logits skip
the fused kernel and compute log_softmax then a sum or gather instead (tensorflow/python/ops/nn_ops.py),
so a run would test another implementation than users get: the fused kernel's known differences
disappear and the composite's appear. HARNESS_TF_OP_DETERMINISM=1 turns it on for a run that wants
exactly that; every row records its state (op_determinism=...).

GPU memory settings are the same in both modes (JAX preallocation off, TensorFlow memory growth on)
so that several frameworks can share one GPU in turn. The runner passes the mode to each framework
process in HARNESS_PRECISION (`python -m harness run --as-deployed`); each adapter reads it once at
import, applies it, and reports the values it then reads back from the framework; every row and the
report header carry them.
"""

from __future__ import annotations

from typing import Any

from harness.core import settings

ENV = settings.PRECISION  # the tests and the error message name it
PINNED, AS_DEPLOYED = "pinned", "as-deployed"
MODES = (PINNED, AS_DEPLOYED)


def mode() -> str:
    """The mode this process runs in (HARNESS_PRECISION; default pinned)."""
    value = settings.precision() or PINNED
    if value not in MODES:
        raise ValueError(f"{ENV}={value!r}, but should be one of {', '.join(MODES)}")
    return value


def pinned() -> bool:
    return mode() == PINNED


def tf_op_determinism() -> bool:
    """Whether to call tf.config.experimental.enable_op_determinism (HARNESS_TF_OP_DETERMINISM=1)."""
    return settings.tf_op_determinism()


def describe(flags: dict[str, Any] | None) -> str:
    """One line for a row: 'pinned: name=value, ...' (the mode first, then the flags in order)."""
    if not flags:
        return ""
    rest = ", ".join(f"{k}={v}" for k, v in flags.items() if k != "mode")
    m = flags.get("mode", "")
    return f"{m}: {rest}" if m and rest else (m or rest)
