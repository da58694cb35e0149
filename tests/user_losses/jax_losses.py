"""The four test losses on JAX arrays (see __init__.py)."""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp


def _reduce(per_row, reduction):
    return per_row if reduction == "none" else jnp.sum(per_row) if reduction == "sum" else jnp.mean(per_row)


def correct(logits, labels, reduction="none", label_smoothing=0.0, class_weights=None, sample_weights=None):
    """-s_i sum_c w_c t'_ic log softmax(x)_ic, with t' the smoothed targets; weighted_mean divides by sum_i s_i sum_c w_c t_ic."""
    w = 1.0 if class_weights is None else class_weights
    s = 1.0 if sample_weights is None else sample_weights
    t = (1 - label_smoothing) * labels + label_smoothing / logits.shape[-1]
    per_row = -jnp.sum(w * t * jax.nn.log_softmax(logits, axis=-1), axis=-1) * s
    if reduction == "weighted_mean":
        return jnp.sum(per_row) / jnp.sum(jnp.sum(w * labels, axis=-1) * s)
    return _reduce(per_row, reduction)


def naive(logits, labels):
    return -jnp.sum(labels * jnp.log(jax.nn.softmax(logits, axis=-1)), axis=-1)


def clipped(logits, labels):
    return -jnp.sum(labels * jnp.log(jnp.clip(jax.nn.softmax(logits, axis=-1), 1e-7, 1 - 1e-7)), axis=-1)


def ignores_smoothing(logits, labels, reduction: Literal["none", "sum", "mean"] = "none", label_smoothing: float = 0.0):
    return _reduce(-jnp.sum(labels * jax.nn.log_softmax(logits, axis=-1), axis=-1), reduction)
