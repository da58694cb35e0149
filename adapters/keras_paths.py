"""The Keras 3 loss paths, written once over keras.ops and keras.losses for every Keras backend.

Call its functions only after the Keras backend is chosen (`adapters.keras_adapter` does it): Keras
reads KERAS_BACKEND once, at its first import, so they import Keras when called, and the tables here
(`LOSSES`, `loss_kwargs`) are read without a backend too (the reproducer, adapters/repro/keras_script.py).
The same paths then run on TensorFlow, JAX, PyTorch and NumPy, so a backend that answers differently
for the same Keras call shows up in the report as its own framework (`keras-<backend>`) with the same
`api` names.

`LOSSES` maps a family to the Keras loss class a user writes for it; adding a family is one entry.
Each entry gives two paths: `keras.losses(from_logits=True)` on the logits, and
`keras.losses(from_logits=False)` on `keras.ops.softmax`/`keras.ops.sigmoid` of them (the output of
a `Dense(activation=...)` layer), or, for a family whose input already is probabilities
(`activation=None`), on those.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from adapters import builders, keras_ctc, keras_hinge
from adapters.api import ApiPath, Call
from harness.schema import Case, Params

# Keras 3 reductions (keras.src.losses.loss.reduce_values): "sum_over_batch_size" divides by the
# number of per-row losses (our mean, also with sample weights; rows masked by ignore_class are not
# counted); "mean_with_sample_weight" divides by the sum of the sample weights.
KERAS_REDUCTION = {"none": "none", "sum": "sum", "mean": "sum_over_batch_size", "weighted_mean": "mean_with_sample_weight"}
ALL_REDUCTIONS = frozenset(KERAS_REDUCTION)


def _class_axis_not_last(case: Case) -> bool:
    nd = len(case.predictions.shape)
    return case.params.axis % nd != nd - 1


def _sparse_limits(case: Case, dtype: str) -> str | None:
    import keras

    if _class_axis_not_last(case) and keras.backend.backend() != "torch":
        return (f"keras.losses.SparseCategoricalCrossentropy(axis=...) on the {keras.backend.backend()} backend "
                "takes classes on the last axis only (it raises: 'Only axis=-1 is currently supported' on "
                "TensorFlow, a shape error on JAX and NumPy; the torch backend moves the class axis itself)")
    return None


def _binary_limits(case: Case, dtype: str) -> str | None:
    red = case.params.reduction
    if red == "none":
        return ("keras.losses.BinaryCrossentropy averages over the last axis: reduction='none' returns one loss "
                "per row, not one per element")
    if red == "sum" and case.predictions.shape[-1] > 1:
        return ("keras.losses.BinaryCrossentropy averages over the last axis: reduction='sum' adds the row means, "
                "not the elements")
    if case.params.pos_weight is not None:
        return "keras.losses.BinaryCrossentropy has no pos_weight (it weights only by sample)"
    return None


@dataclass(frozen=True)
class KerasLoss:
    """How a family is written with a Keras loss class."""

    cls: str  # the class in keras.losses
    activation: str | None  # keras.ops function giving the probabilities from logits; None: the input is probabilities
    options: frozenset[str]  # our options the class expresses (see `loss_kwargs`)
    check: Callable[[Case, str], str | None] | None = None
    doc: str = ""


LOSSES: dict[str, KerasLoss] = {
    "softmax_cross_entropy": KerasLoss(
        "CategoricalCrossentropy", "softmax", frozenset({"axis", "label_smoothing", "sample_weights"})),
    "sparse_softmax_cross_entropy": KerasLoss(
        "SparseCategoricalCrossentropy", "softmax", frozenset({"axis", "ignore_index", "sample_weights"}),
        check=_sparse_limits),
    "sigmoid_cross_entropy": KerasLoss(
        "BinaryCrossentropy", "sigmoid", frozenset({"label_smoothing", "sample_weights"}), check=_binary_limits,
        doc="Keras averages over the last axis before its reduction"),
    # BinaryCrossentropy has no pos_weight: only cases without one (pos_weight 1) are expressible
    "weighted_sigmoid_cross_entropy": KerasLoss(
        "BinaryCrossentropy", "sigmoid", frozenset({"label_smoothing", "sample_weights", "pos_weight"}),
        check=_binary_limits),
    # from probabilities (activation None): Keras renormalises categorical rows and clips to [eps, 1 - eps]
    "categorical_crossentropy": KerasLoss(
        "CategoricalCrossentropy", None, frozenset({"axis", "label_smoothing", "sample_weights"}),
        doc="probabilities renormalised to sum 1 per row, then clipped to [1e-7, 1 - 1e-7]"),
    "binary_crossentropy": KerasLoss(
        "BinaryCrossentropy", None, frozenset({"label_smoothing", "sample_weights"}), check=_binary_limits),
    # focal losses: gamma, and alpha (categorical: a factor, 1 when the case gives none; binary: class balancing)
    "categorical_focal_crossentropy": KerasLoss(
        "CategoricalFocalCrossentropy", "softmax", frozenset({"axis", "label_smoothing", "sample_weights", "gamma", "alpha"})),
    "binary_focal_crossentropy": KerasLoss(
        "BinaryFocalCrossentropy", "sigmoid", frozenset({"label_smoothing", "sample_weights", "gamma", "alpha"}),
        check=_binary_limits),
    # generalized cross-entropy: probabilities and integer labels; the class has no from_logits (it takes
    # probabilities only) and no axis (classes last)
    "generalized_cross_entropy": KerasLoss(
        "CategoricalGeneralizedCrossEntropy", None, frozenset({"sample_weights", "q"}),
        doc="(1 - p_y**q) / q on the probabilities as given, p_y picked by a one-hot product"),
}
NO_FROM_LOGITS = frozenset({"CategoricalGeneralizedCrossEntropy"})  # classes without the argument


def loss_kwargs(entry: KerasLoss, p: Params, from_logits: bool) -> dict:
    """Constructor arguments of the Keras loss class for the case's options."""
    kw: dict = {} if entry.cls in NO_FROM_LOGITS else {"from_logits": from_logits}
    if "axis" in entry.options:
        kw["axis"] = p.axis
    if p.label_smoothing:
        kw["label_smoothing"] = p.label_smoothing
    if p.ignore_index is not None:
        kw["ignore_class"] = p.ignore_index
    if entry.cls == "CategoricalFocalCrossentropy":
        kw.update(gamma=p.gamma, alpha=1.0 if p.alpha is None else p.alpha)
    elif entry.cls == "BinaryFocalCrossentropy":
        kw["gamma"] = p.gamma
        if p.alpha is not None:
            kw.update(apply_class_balancing=True, alpha=p.alpha)
    elif entry.cls == "CategoricalGeneralizedCrossEntropy":
        kw["q"] = p.q
    kw["reduction"] = KERAS_REDUCTION[p.reduction]
    return kw


def _loss_fn(from_logits: bool):
    def fn(c: Call):
        import keras

        entry = LOSSES[c.case.family]
        kw = loss_kwargs(entry, c.params, from_logits)
        loss_obj = getattr(keras.losses, entry.cls)(**kw)
        if from_logits or entry.activation is None:
            y_pred, pred = c.logits, ("logits" if from_logits else "probabilities")
        elif entry.activation == "softmax":
            y_pred, pred = keras.ops.softmax(c.logits, axis=c.params.axis), f"keras.ops.softmax(logits, axis={c.params.axis})"
        else:
            y_pred, pred = getattr(keras.ops, entry.activation)(c.logits), f"keras.ops.{entry.activation}(logits)"
        args = ", ".join(f"{k}={v!r}" for k, v in kw.items())
        if c.sample_weights is not None:
            out = loss_obj(c.labels, y_pred, sample_weight=c.sample_weights)
            return out, f"keras.losses.{entry.cls}({args})(labels, {pred}, sample_weight=...)"
        return loss_obj(c.labels, y_pred), f"keras.losses.{entry.cls}({args})(labels, {pred})"
    return fn


def _check(from_logits: bool):
    def check(case: Case, dtype: str) -> str | None:
        entry = LOSSES[case.family]
        if from_logits and entry.activation is None:
            return f"{case.family} takes probabilities; from_logits=True would read them as logits"
        extra = set(case.params.non_default()) - set(entry.options)
        if extra:
            return f"keras.losses.{entry.cls} cannot express {', '.join(sorted(extra))}"
        return entry.check(case, dtype) if entry.check else None
    return check


def _ops_loss(name: str, axis: bool):
    """keras.ops.categorical_crossentropy / binary_crossentropy on probabilities, reduced as users write it."""
    def fn(c: Call):
        import keras

        kw = {"from_logits": False, **({"axis": c.params.axis} if axis else {})}
        out = getattr(keras.ops, name)(c.labels, c.logits, **kw)
        red = c.params.reduction
        reduced = {"none": lambda v: v, "sum": keras.ops.sum, "mean": keras.ops.mean}[red](out)
        args = ", ".join(f"{k}={v!r}" for k, v in kw.items())
        return reduced, f"keras.ops.{name}(labels, probabilities, {args})" + ("" if red == "none" else f" -> keras.ops.{red}")
    return fn


def paths() -> list[ApiPath]:
    """The two Keras paths (from logits, and on probabilities) over every family in LOSSES, the
    keras.ops cross-entropies on probabilities, and the CTC paths (adapters/keras_ctc.py)."""
    families = frozenset(LOSSES)
    options = frozenset().union(*(e.options for e in LOSSES.values()))
    return [
        *keras_ctc.paths(),
        ApiPath("keras.ops.categorical_crossentropy", frozenset({"categorical_crossentropy"}),
                _ops_loss("categorical_crossentropy", True), options=frozenset({"axis"}),
                check=lambda case, dtype: ("keras.ops.categorical_crossentropy takes classes on the last axis"
                                           if _class_axis_not_last(case) else None),
                doc="renormalises rows and clips to [1e-7, 1 - 1e-7]"),
        ApiPath("keras.ops.binary_crossentropy", frozenset({"binary_crossentropy"}),
                _ops_loss("binary_crossentropy", False), doc="elementwise; clips to [1e-7, 1 - 1e-7]"),
        ApiPath("keras.losses(from_logits=True)", families, _loss_fn(True), options=options, reductions=ALL_REDUCTIONS,
                check=_check(True), doc="the Keras loss class on logits"),
        ApiPath("keras.losses(from_logits=False)", families, _loss_fn(False), options=options,
                reductions=ALL_REDUCTIONS, check=_check(False),
                doc="the same class on keras.ops.softmax/sigmoid outputs, as a Dense(activation=...) model gives it"),
        *keras_hinge.paths(),
        builders.absent("(no perceptron loss in keras)", frozenset({"perceptron", "multiclass_perceptron"}),
                        "Keras has no perceptron loss (its Hinge and CategoricalHinge have margin 1)"),
        builders.absent("(no sparsemax loss in keras)", frozenset({"binary_sparsemax", "multiclass_sparsemax"}),
                        "Keras has keras.ops.sparsemax and keras.ops.sparse_plus but no sparsemax loss; on the JAX "
                        "backend users call optax's (the jax paths)"),
        builders.absent("(no poly-1 loss in keras)", frozenset({"poly1_cross_entropy"}),
                        "Keras has no PolyLoss; a user writes it with the backend framework's ops (the paper's "
                        "listing: the manual: paths of torch and tensorflow)"),
    ]
