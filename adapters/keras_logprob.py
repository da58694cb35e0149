"""The Keras 3 paths of the families on log-probabilities, for every Keras backend: keras.losses.KLDivergence and
keras.losses.kl_divergence, and the NLL Keras users write by hand (Keras has none) with keras.ops.take_along_axis.

Keras' KL takes probabilities, y_true and y_pred, clips both to [epsilon, 1] (1e-7) and sums
y_true * log(y_true / y_pred) over the last axis; a user holding log-probabilities passes keras.ops.exp of them.
It has no log-target form. Call these functions only after the backend is chosen (adapters/keras_paths.py).
"""

from __future__ import annotations

from adapters import builders
from adapters.api import ApiPath, Call
from adapters.keras_paths import ALL_REDUCTIONS, KERAS_REDUCTION
from harness.schema import Case

NLL = frozenset({"nll_loss"})
KL = frozenset({"kl_divergence"})


def _ops_reduced(out, reduction: str):
    import keras

    if reduction == "none":
        return out, ""
    return getattr(keras.ops, reduction)(out), f" -> keras.ops.{reduction}"


def _kl_class(c: Call):
    import keras

    red = KERAS_REDUCTION[c.params.reduction]
    loss = keras.losses.KLDivergence(reduction=red)
    q = keras.ops.exp(c.logits)
    call = f"keras.losses.KLDivergence(reduction={red!r})(targets, keras.ops.exp(log_probabilities)"
    if c.sample_weights is not None:
        return loss(c.labels, q, sample_weight=c.sample_weights), call + ", sample_weight=...)"
    return loss(c.labels, q), call + ")"


def _kl_function(c: Call):
    import keras

    out, red = _ops_reduced(keras.losses.kl_divergence(c.labels, keras.ops.exp(c.logits)), c.params.reduction)
    return out, f"keras.losses.kl_divergence(targets, keras.ops.exp(log_probabilities)){red}"


def _nll_manual(c: Call):
    import keras

    picked = keras.ops.take_along_axis(c.logits, keras.ops.expand_dims(c.labels, -1), axis=-1)
    out, red = _ops_reduced(-keras.ops.squeeze(picked, -1), c.params.reduction)
    return out, f"-keras.ops.take_along_axis(log_probabilities, keras.ops.expand_dims(labels, -1), axis=-1){red}"


def _last_axis(case: Case) -> str | None:
    nd = len(case.predictions.shape)
    return None if case.params.axis % nd == nd - 1 else "classes on the last axis only"


def _kl_check(case: Case, dtype: str) -> str | None:
    if case.params.log_target:
        return "keras.losses.KLDivergence takes y_true as probabilities; it has no log-target form"
    why = _last_axis(case)
    return f"keras.losses.kl_divergence sums over the last axis: {why}" if why else None


def paths() -> list[ApiPath]:
    return [
        ApiPath("keras.losses.KLDivergence", KL, _kl_class, options=frozenset({"axis", "sample_weights"}),
                reductions=ALL_REDUCTIONS, check=_kl_check,
                doc="on keras.ops.exp(log_probabilities); targets and predictions clipped to [1e-7, 1]"),
        ApiPath("keras.losses.kl_divergence", KL, _kl_function, options=frozenset({"axis"}), check=_kl_check,
                doc="the per-row function, reduced with keras.ops"),
        ApiPath("manual:-take_along_axis(log_probabilities)", NLL, _nll_manual, options=frozenset({"axis"}),
                check=lambda case, dtype: _last_axis(case), doc="the NLL Keras users write (Keras has none)"),
        builders.absent("(no NLL loss in Keras)", NLL, "Keras has no negative log-likelihood on log-probabilities; "
                        "its users index them by hand (the manual: path)"),
    ]
