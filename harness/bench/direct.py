"""The frameworks' own fused calls, written as a user writes them: the denominators of the benchmark's ratios."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def direct_call(framework: str) -> Callable[[Any, Any], tuple[Any, Any]]:
    """The framework's own fused call, written as a user writes it: numpy in, loss and gradient out as numpy."""
    if framework == "torch":
        import torch
        import torch.nn.functional as F

        def run_torch(logits, labels):
            x = torch.from_numpy(logits).requires_grad_(True)
            loss = F.cross_entropy(x, torch.from_numpy(labels))
            loss.backward()
            return loss.detach().numpy(), x.grad.numpy()

        return run_torch
    if framework == "tensorflow":
        import tensorflow as tf

        def run_tf(logits, labels):
            x, y = tf.constant(logits), tf.constant(labels)
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=x))
            g = tape.gradient(loss, x)
            return loss.numpy(), g.numpy()

        return run_tf
    if framework == "jax":
        import jax
        import numpy as np
        import optax

        f = jax.jit(jax.value_and_grad(lambda x, y: optax.softmax_cross_entropy_with_integer_labels(x, y).mean()))

        def run_jax(logits, labels):
            loss, g = f(jax.device_put(logits), jax.device_put(labels))
            return np.asarray(loss), np.asarray(g.block_until_ready())

        return run_jax
    raise ValueError(f"no direct call for {framework}")

