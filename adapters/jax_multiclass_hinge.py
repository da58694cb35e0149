"""JAX's multi-class hinge paths: optax.losses.multiclass_hinge_loss (Crammer-Singer), the others by hand."""

from __future__ import annotations

import jax.numpy as jnp
import optax

from adapters import manual_hinge
from adapters.api import ApiPath, Call
from adapters.naive import Ops

CS = frozenset({"crammer_singer_hinge"})


def _last_axis(case, dtype) -> str | None:
    nd = len(case.predictions.shape)
    return None if case.params.axis % nd == nd - 1 else "optax.losses.multiclass_hinge_loss takes classes on the last axis"


def paths(ops: Ops) -> list[ApiPath]:
    def optax_hinge(c: Call):
        red = c.params.reduction
        out = ops.reduce(optax.losses.multiclass_hinge_loss(c.logits, c.labels), red)
        return out, f"optax.losses.multiclass_hinge_loss{ops.reduce_names[red]}"

    native = ApiPath("optax.losses.multiclass_hinge_loss", CS, optax_hinge, options=frozenset({"axis"}),
                     check=_last_axis, doc="max_j(x_j + 1 - onehot_j) - x_y: margin 1, no weights",
                     partners=(("hinge", "optax.hinge_loss"),))  # the relation two_classes
    h = manual_hinge.HingeOps(ops, lambda v: jnp.max(v, axis=-1), "jnp.max(axis=-1)",
                              lambda v: jnp.maximum(v, 0), "jnp.maximum(0)")
    return [native, native.variant("eager"), *manual_hinge.paths(h, ("weston_watkins_hinge", "categorical_hinge"))]
