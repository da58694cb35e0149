"""JAX's margin-family paths: optax.hinge_loss, and the squared hinge its users write from it.

optax.hinge_loss takes targets in {-1, 1} (optax/losses/_classification.py: jnp.maximum(0, 1 - x y)); 0/1 labels
(label_convention 01) are mapped to 2 y - 1 first, as its docstring asks of users. optax has no squared hinge
and no soft margin losses: the squared hinge is jnp.square of optax.hinge_loss, the soft margin is declared absent
(it is optax.sigmoid_binary_cross_entropy at labels (y + 1) / 2, a relation of the sigmoid family).
"""

from __future__ import annotations

import jax.numpy as jnp
import optax

from adapters import builders
from adapters.api import ApiPath, Call

REDUCE = {"none": (lambda v: v, ""), "sum": (jnp.sum, " -> jnp.sum"), "mean": (jnp.mean, " -> jnp.mean")}


def _hinge(squared: bool):
    def fn(c: Call):
        y, yname = (2 * c.labels - 1, "2 * labels - 1") if c.params.label_convention == "01" else (c.labels, "labels")
        out, chain = optax.hinge_loss(c.logits, y), f"optax.hinge_loss(logits, {yname})"
        if squared:
            out, chain = jnp.square(out), f"jnp.square({chain})"
        red, name = REDUCE[c.params.reduction]
        return red(out), chain + name
    return fn


_HINGE = [
    ApiPath("optax.hinge_loss", frozenset({"hinge"}), _hinge(False), options=frozenset({"label_convention"}),
            doc="targets in {-1, 1}"),
    ApiPath("manual:jnp.square(optax.hinge_loss)", frozenset({"squared_hinge"}), _hinge(True),
            options=frozenset({"label_convention"}), doc="optax has no squared hinge"),
]
PATHS = [
    *_HINGE,
    *(p.variant("eager") for p in _HINGE),
    builders.absent("(no soft margin loss in optax)", frozenset({"soft_margin", "multilabel_soft_margin"}),
                    "optax has no soft margin losses; they are optax.sigmoid_binary_cross_entropy at labels (y + 1) / 2 "
                    "(the relation sigmoid_labels) and its mean over classes"),
]
