"""JAX's paths for the losses only one framework ships: optax.losses.poly_loss_cross_entropy; the others' declared absences."""

from __future__ import annotations

import jax.numpy as jnp
import optax

from adapters import builders
from adapters.api import ApiPath, Call

REDUCE = {"none": (lambda v: v, ""), "sum": (jnp.sum, " -> jnp.sum"), "mean": (jnp.mean, " -> jnp.mean")}


def _poly(c: Call):
    p = c.params
    fn, red = REDUCE[p.reduction]
    out = optax.losses.poly_loss_cross_entropy(c.logits, c.labels, epsilon=p.epsilon, axis=p.axis)
    return fn(out), f"optax.losses.poly_loss_cross_entropy(epsilon={p.epsilon!r}, axis={p.axis}){red}"


_POLY = ApiPath("optax.losses.poly_loss_cross_entropy", frozenset({"poly1_cross_entropy"}), _poly,
                options=frozenset({"axis", "epsilon"}), doc="CE + epsilon * sum(labels * (1 - softmax)); labels as given")

PATHS = [
    _POLY,
    _POLY.variant("eager"),
    builders.absent("(no generalized cross-entropy in optax)", frozenset({"generalized_cross_entropy"}),
                    "optax has no generalized cross-entropy (Zhang & Sabuncu); its losses take logits, and this one "
                    "is defined on probabilities: JAX users would write (1 - p_y**q) / q themselves"),
]
