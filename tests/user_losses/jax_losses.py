"""The four test losses on JAX arrays (see __init__.py)."""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp


def _reduce(per_row, reduction):
    return per_row if reduction == "none" else jnp.sum(per_row) if reduction == "sum" else jnp.mean(per_row)


def correct(logits, labels, reduction: Literal["none", "sum", "mean"] = "none", label_smoothing: float = 0.0):
    t = (1 - label_smoothing) * labels + label_smoothing / logits.shape[-1]
    return _reduce(-jnp.sum(t * jax.nn.log_softmax(logits, axis=-1), axis=-1), reduction)


def naive(logits, labels):
    return -jnp.sum(labels * jnp.log(jax.nn.softmax(logits, axis=-1)), axis=-1)


def clipped(logits, labels):
    return -jnp.sum(labels * jnp.log(jnp.clip(jax.nn.softmax(logits, axis=-1), 1e-7, 1 - 1e-7)), axis=-1)


def ignores_smoothing(logits, labels, reduction: Literal["none", "sum", "mean"] = "none", label_smoothing: float = 0.0):
    return _reduce(-jnp.sum(labels * jax.nn.log_softmax(logits, axis=-1), axis=-1), reduction)
