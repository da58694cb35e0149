"""JAX's paths of the families on log-probabilities: optax's KL divergence (targets, or log-targets), and the NLL
JAX users write by hand (optax has none): -take_along_axis(log_probabilities, labels)."""

from __future__ import annotations

import jax.numpy as jnp
import optax

from adapters import builders
from adapters.api import ApiPath, Call
from harness.schema import Case

NLL = frozenset({"nll_loss"})
KL = frozenset({"kl_divergence"})
REDUCE = {"none": (lambda v: v, ""), "sum": (jnp.sum, " -> jnp.sum"), "mean": (jnp.mean, " -> jnp.mean")}


def _reduced(per_row, c: Call):
    fn, name = REDUCE[c.params.reduction]
    return fn(per_row), name


def _nll_manual(c: Call):
    axis = c.params.axis
    picked = jnp.take_along_axis(c.logits, jnp.expand_dims(c.labels, axis), axis=axis)
    out, red = _reduced(-jnp.squeeze(picked, axis), c)
    return out, f"-jnp.take_along_axis(log_probabilities, jnp.expand_dims(labels, {axis}), axis={axis}){red}"


def _kl(log_targets: bool):
    def fn(c: Call):
        axis = c.params.axis
        # optax 0.2.8 exports kl_divergence at the top level, kl_divergence_with_log_targets only in optax.losses
        name = "optax.losses.kl_divergence_with_log_targets" if log_targets else "optax.kl_divergence"
        f = optax.losses.kl_divergence_with_log_targets if log_targets else optax.kl_divergence
        out, red = _reduced(f(c.logits, c.labels, axis=axis), c)
        return out, f"{name}(log_probabilities, {'log_targets' if log_targets else 'targets'}, axis={axis}){red}"
    return fn


def _convention(log_targets: bool):
    def check(case: Case, dtype: str) -> str | None:
        if case.params.log_target == log_targets:
            return None
        if log_targets:
            return "optax.losses.kl_divergence_with_log_targets takes log-targets; for targets optax.kl_divergence"
        return ("optax.kl_divergence takes targets as probabilities; for log-targets "
                "optax.losses.kl_divergence_with_log_targets")
    return check


PATHS = [
    ApiPath("optax.kl_divergence", KL, _kl(False), options=frozenset({"axis"}), check=_convention(False),
            doc="targets as probabilities; a zero target's log is taken as 0"),
    ApiPath("optax.losses.kl_divergence_with_log_targets", KL, _kl(True), options=frozenset({"axis", "log_target"}),
            check=_convention(True), doc="exp(log_targets) * (log_targets - log_predictions)"),
    ApiPath("manual:-take_along_axis(log_probabilities)", NLL, _nll_manual, options=frozenset({"axis"}),
            doc="the log-probability at each label, negated: the NLL JAX users write"),
    builders.absent("(no NLL loss in optax)", NLL, "optax has no negative log-likelihood on log-probabilities; "
                    "JAX users index them by hand (the manual: path)"),
]
