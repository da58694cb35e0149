"""JAX's paths for the losses only one framework ships: optax's poly-1, perceptron and sparsemax losses; the others'
declared absences.

optax.losses.perceptron_loss takes targets in {-1, 1} (0/1 labels, label_convention 01, are mapped to 2 y - 1 first,
as for optax.hinge_loss); sparsemax_loss takes labels 0 or 1 (jnp.where(labels, -logits, logits)); the multi-class
losses take integer labels and classes last, and multiclass_sparsemax_loss vmaps its row function over the first
axis, so it takes [batch, classes] only (one example or a second batch axis raise). None of them takes weights.
"""

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

def _last_axis(name: str):
    def check(case, dtype) -> str | None:
        nd = len(case.predictions.shape)
        return None if case.params.axis % nd == nd - 1 else f"{name} takes classes on the last axis"
    return check


def _optax(name: str, binary_pm1: bool = False):
    fn = getattr(optax.losses, name)

    def call(c: Call):
        y, yname = c.labels, "labels"
        if binary_pm1 and c.params.label_convention == "01":
            y, yname = 2 * c.labels - 1, "2 * labels - 1"
        red, rname = REDUCE[c.params.reduction]
        return red(fn(c.logits, y)), f"optax.losses.{name}(logits, {yname}){rname}"
    return call


_OPTAX_ONLY = [
    ApiPath("optax.losses.perceptron_loss", frozenset({"perceptron"}), _optax("perceptron_loss", True),
            options=frozenset({"label_convention"}), doc="jnp.maximum(0, -x y): targets in {-1, 1}, shapes equal"),
    ApiPath("optax.losses.multiclass_perceptron_loss", frozenset({"multiclass_perceptron"}),
            _optax("multiclass_perceptron_loss"), options=frozenset({"axis"}),
            check=_last_axis("optax.losses.multiclass_perceptron_loss"),
            doc="max(x) - dot(x, one_hot(y)): classes last, no weights",
            partners=(("perceptron", "optax.losses.perceptron_loss"),)),
    ApiPath("optax.losses.sparsemax_loss", frozenset({"binary_sparsemax"}), _optax("sparsemax_loss"),
            doc="jax.nn.sparse_plus(jnp.where(labels, -x, x)): labels 0 or 1"),
    ApiPath("optax.losses.multiclass_sparsemax_loss", frozenset({"multiclass_sparsemax"}),
            _optax("multiclass_sparsemax_loss"), options=frozenset({"axis"}),
            check=_last_axis("optax.losses.multiclass_sparsemax_loss"),
            doc="vmap over the rows of <p, x - x_y> + (1 - |p|^2) / 2, p = projection_simplex(x): [batch, classes]",
            partners=(("binary_sparsemax", "optax.losses.sparsemax_loss"),)),
]
PATHS = [
    _POLY,
    _POLY.variant("eager"),
    *_OPTAX_ONLY,
    *(p.variant("eager") for p in _OPTAX_ONLY),
    builders.absent("(no generalized cross-entropy in optax)", frozenset({"generalized_cross_entropy"}),
                    "optax has no generalized cross-entropy (Zhang & Sabuncu); its losses take logits, and this one "
                    "is defined on probabilities: JAX users would write (1 - p_y**q) / q themselves"),
]
