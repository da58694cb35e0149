"""Two ways to write softmax cross-entropy in JAX: the tutorials' clipped probabilities, and optax's fused loss.

    python -m harness check examples.jax_losses:clipped_ce examples.jax_losses:fused_ce \\
        --family softmax_cross_entropy --framework jax --cases examples/cases.yaml --out reports/check-jax

`clipped_ce` caps the loss at -log(1e-7) = 16.1 and has a zero gradient wherever a probability is
clipped: at large logits the harness reports `loss_mismatch` with the flag `vanishing_grad`.
`fused_ce` passes the same cases.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def clipped_ce(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """-sum(labels * log(clip(softmax(logits), 1e-7, 1 - 1e-7))) per row: logits [batch, classes], labels likewise."""
    probs = jnp.clip(jax.nn.softmax(logits, axis=-1), 1e-7, 1 - 1e-7)
    return -jnp.sum(labels * jnp.log(probs), axis=-1)


def fused_ce(logits: jax.Array, labels: jax.Array, axis: int = -1) -> jax.Array:
    """optax.softmax_cross_entropy: log-softmax inside, one loss per row."""
    return optax.softmax_cross_entropy(logits, labels, axis=axis)
