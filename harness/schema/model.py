"""The model of a case: the frozen dataclasses a case file becomes, and the table of loss families they name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.core.dtypes import FLOAT_DTYPES
from harness.core.yamlfile import Location

# Families whose semantics (DESIGN.md; harness/oracle/) the oracle and the
# adapters implement. "labels": how the second input relates to the first (dense: same shape, a
# distribution over the class axis; sparse: integer class per row; elementwise: same shape, each in
# [0, 1]; cotangent: the upstream gradient of a building block, shaped like its output, ones when
# omitted). "input": what the first input holds, and so the key a case writes it under. "options": where
# given, the only options (Params.non_default) the family defines; the others are refused when the file loads.
FAMILIES: dict[str, dict[str, Any]] = {
    "softmax_cross_entropy": {"labels": "dense", "input": "logits"},
    "sparse_softmax_cross_entropy": {"labels": "sparse", "input": "logits"},
    "sigmoid_cross_entropy": {"labels": "elementwise", "input": "logits"},
    "weighted_sigmoid_cross_entropy": {"labels": "elementwise", "input": "logits"},
    "categorical_crossentropy": {"labels": "dense", "input": "probabilities"},
    "binary_crossentropy": {"labels": "elementwise", "input": "probabilities"},
    "categorical_focal_crossentropy": {"labels": "dense", "input": "logits", "focal": True},
    "binary_focal_crossentropy": {"labels": "elementwise", "input": "logits", "focal": True},
    # margin families (harness/oracle/hinge.py): scores, labels read by label_convention (pm1 or 01);
    # multilabel_soft_margin: labels in [0, 1], one loss per row (the mean over its classes)
    "hinge": {"labels": "elementwise", "input": "logits", "label_convention": True},
    "squared_hinge": {"labels": "elementwise", "input": "logits", "label_convention": True},
    "soft_margin": {"labels": "elementwise", "input": "logits", "label_convention": True},
    "multilabel_soft_margin": {"labels": "elementwise", "input": "logits", "row_mean": True},
    "poly1_cross_entropy": {"labels": "dense", "input": "logits", "options": ("epsilon", "sample_weights", "axis")},
    "generalized_cross_entropy": {"labels": "sparse", "input": "probabilities", "options": ("q", "sample_weights", "axis")},
    "log_softmax": {"labels": "cotangent", "input": "logits", "block": True},
    "softmax": {"labels": "cotangent", "input": "logits", "block": True},
    "logsumexp": {"labels": "cotangent", "input": "logits", "block": True, "reduces_classes": True},
    # the multi-class hinge in its three meanings (harness/oracle/multiclass_hinge.py): "hinge" marks them
    "weston_watkins_hinge": {"labels": "sparse", "input": "logits", "hinge": True},
    "crammer_singer_hinge": {"labels": "sparse", "input": "logits", "hinge": True},
    "categorical_hinge": {"labels": "dense", "input": "logits", "hinge": True},
    "nll_loss": {"labels": "sparse", "input": "log_probabilities", "options": ("class_weights", "ignore_index", "axis")},
    "kl_divergence": {"labels": "dense", "input": "log_probabilities", "options": ("axis", "log_target", "sample_weights")},
    # the losses only optax ships, named by their mathematics: the perceptrons are the hinges at margin 0
    # (harness/oracle/hinge.py, multiclass_hinge.py), the sparsemax losses the Fenchel-Young losses of the sparse
    # sigmoid and of sparsemax (harness/oracle/sparsemax.py); "labels01": binary labels in {0, 1}
    "perceptron": {"labels": "elementwise", "input": "logits", "label_convention": True},
    "multiclass_perceptron": {"labels": "sparse", "input": "logits", "options": ("class_weights", "sample_weights", "axis")},
    "binary_sparsemax": {"labels": "elementwise", "input": "logits", "labels01": True},
    "multiclass_sparsemax": {"labels": "sparse", "input": "logits", "options": ("class_weights", "sample_weights", "axis")},
    # sequence: labels [batch, S] of class indices, each item's sequence padded after it with the blank
    # (harness/oracle/ctc.py); the logits are [batch, time, classes]
    "ctc": {"labels": "sequence", "input": "logits"},
}
# Integer dtypes sparse labels may be given in (what reaches the framework); a float dtype is allowed
# only in a case that expects an error (class indices must be integers).
LABEL_CONVENTIONS = ("pm1", "01")  # binary margin families: labels in {-1, 1} or in {0, 1}
LABEL_DTYPES = ("int64", "int32", "int16", "int8", "uint8")
ERROR_LABEL_DTYPES = ("float32", "float64")
# label_length_mean: PyTorch's CTC 'mean', the mean over items of each loss divided by its label length
REDUCTIONS = ("none", "sum", "mean", "weighted_mean", "label_length_mean")
SWEEPS = ("scale",)  # a sweep multiplies the logits by each value: one case per value


def output_shape(family: str, shape: tuple[int, ...], axis: int) -> tuple[int, ...]:
    """The output shape of a building block: the input's, or without the class axis for logsumexp."""
    if FAMILIES[family].get("reduces_classes") and -len(shape) <= axis < len(shape):
        return tuple(s for i, s in enumerate(shape) if i != axis % len(shape))
    return tuple(shape)


@dataclass(frozen=True, eq=False)
class Literal:
    """An input array written out in the case file."""

    values: Any  # nested lists of numbers
    shape: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class Generated:
    """An input produced by a named, seeded generator when the case runs."""

    name: str
    args: dict[str, Any]
    shape: tuple[int, ...]


InputSpec = Literal | Generated


@dataclass(frozen=True)
class Params:
    reduction: str = "none"
    class_weights: tuple[float, ...] | None = None
    sample_weights: tuple[float, ...] | None = None
    label_smoothing: float = 0.0
    ignore_index: int | None = None
    axis: int = -1
    pos_weight: float | tuple[float, ...] | None = None  # weighted_sigmoid_cross_entropy: scalar or per class
    gamma: float = 2.0  # focal families: exponent of the modulating factor (1 - p_t)^gamma
    alpha: float | None = None  # focal families: balancing weight (binary: alpha_t; categorical: a factor)
    epsilon: float = 2.0  # poly1_cross_entropy: the coefficient of (1 - p_t) added to the cross-entropy (optax's default)
    q: float = 0.5  # generalized_cross_entropy: the exponent of (1 - p_y^q) / q, in (0, 1) (Keras' default)
    label_dtype: str = "int64"  # sparse families: the integer dtype the labels reach the framework in
    margin: float = 1.0  # hinge families: the margin a score must clear
    p: int = 1  # weston_watkins_hinge: the power of each hinge term (1 or 2)
    label_convention: str = "pm1"  # binary margin families: labels in {-1, 1} (pm1) or {0, 1} (01)
    log_target: bool = False  # kl_divergence: the labels are log-probabilities log t, not probabilities t
    blank: int = 0  # ctc: the blank's class index (also the labels' padding)
    zero_infinity: bool = False  # ctc: an infinite loss (no alignment) and its gradient become 0
    input_lengths: tuple[int, ...] | None = None  # ctc: frames per item (all of them when None)

    def non_default(self) -> dict[str, Any]:
        """The options a case sets beyond the defaults (what an adapter path must support)."""
        out = {}
        for name, default in (
            ("class_weights", None),
            ("sample_weights", None),
            ("label_smoothing", 0.0),
            ("ignore_index", None),
            ("axis", -1),
            ("pos_weight", None),
            ("gamma", 2.0),
            ("alpha", None),
            ("margin", 1.0),
            ("p", 1),
            ("label_convention", "pm1"),
            ("epsilon", 2.0),
            ("q", 0.5),
            ("log_target", False),
            ("blank", 0),
            ("zero_infinity", False),
            ("input_lengths", None),
        ):
            if getattr(self, name) != default:
                out[name] = getattr(self, name)
        return out


@dataclass(frozen=True)
class Expect:
    loss: tuple[float, ...] | None = None
    error: bool = False
    reason: str = ""
    # with error: the exception classes that count as the expected error (any of them, or a subclass), by
    # class name ("IndexError", "InvalidArgumentError") or by the qualified name the class is defined under;
    # empty: any exception but a bug of the harness's own (harness/judge/verdicts.py)
    raises: tuple[str, ...] = ()


@dataclass(frozen=True)
class ToleranceOverride:
    reason: str
    loss_rtol: float | None = None
    loss_atol: float | None = None
    grad_rtol: float | None = None
    grad_atol: float | None = None


@dataclass(frozen=True)
class Relation:
    """Another formulation the case must agree with (harness/judge/relations.py says what each kind means)."""

    kind: str
    name: str  # unique within the case; the kind unless the case names it
    args: tuple[tuple[str, Any], ...] = ()
    location: Location = field(default=Location("<memory>", 0, 0), compare=False)

    def arg(self, key: str, default: Any = None) -> Any:
        return dict(self.args).get(key, default)


@dataclass(frozen=True)
class Case:
    id: str
    family: str
    description: str
    predictions: InputSpec  # the model's output: logits, probabilities or log-probabilities (input_kind)
    labels: InputSpec
    params: Params = Params()
    tags: tuple[str, ...] = ()
    dtypes: tuple[str, ...] = FLOAT_DTYPES
    expect: Expect = Expect()
    tolerance: ToleranceOverride | None = None
    location: Location = field(default=Location("<memory>", 0, 0), compare=False)
    sweep: str = ""  # the swept parameter ("scale") of a case expanded from a sweep, else ""
    logit_scale: float = 1.0  # the logits are multiplied by this (in float64, before rounding to the dtype)
    relations: tuple[Relation, ...] = ()  # formulations that must agree with this one, per framework
    orders: tuple[str, ...] = ()  # derivatives beyond the gradient, one row each (harness/schema/orders.py)
    direction_seed: int = 0  # the seed of the direction v those derivatives take

    @property
    def sparse(self) -> bool:
        return FAMILIES[self.family]["labels"] == "sparse"

    @property
    def integer_labels(self) -> bool:
        """Labels that are class indices (sparse families, CTC's label sequences): they keep an integer dtype."""
        return FAMILIES[self.family]["labels"] in ("sparse", "sequence")

    @property
    def elementwise(self) -> bool:
        """Sigmoid families: one loss per element, labels shaped like the logits."""
        return FAMILIES[self.family]["labels"] == "elementwise"

    @property
    def num_classes(self) -> int:
        return self.predictions.shape[self.params.axis]

    @property
    def input_kind(self) -> str:
        """"logits", "probabilities" or "log_probabilities": what `predictions` holds."""
        return FAMILIES[self.family]["input"]

    @property
    def block(self) -> bool:
        """A building block (log_softmax, softmax, logsumexp): its labels are the cotangent of its output."""
        return bool(FAMILIES[self.family].get("block"))
