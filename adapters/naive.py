"""The naive formulations the tutorials use or warn about, written once over each framework's own ops.

Each adapter supplies an `Ops` table of its framework's real functions (and their public names, for
the call chain); the formulations below compose them exactly as a user's hand-written loss does:

    softmax-then-log         -sum(t * log(softmax(x)))                 overflows/underflows to -inf
    clipped-probabilities    -sum(t * log(clip(softmax(x), 1e-7, 1-1e-7)))   the tutorials' "fix": kills gradients
    clipped-logits           fused op on clip(x, -10, 10)              changes the loss past |x| = 10

They are named "naive:" in the api column, so the report shows them next to the fused paths.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adapters.api import ApiPath, Call

PROB_CLIP = 1e-7  # the clip of the tutorials (and Keras' epsilon)
LOGIT_CLIP = 10.0  # the logit clip of the weighted-cross-entropy tutorial

BOTH = frozenset({"sparse_softmax_cross_entropy", "softmax_cross_entropy"})


@dataclass(frozen=True)
class Ops:
    """A framework's functions, with the names a user would write."""

    prefix: str  # e.g. "torch", "tf", "jnp"
    softmax: Callable[[Any, int], Any]
    softmax_name: str
    log: Callable[[Any], Any]
    log_name: str
    clip: Callable[[Any, float, float], Any]
    clip_name: str
    one_hot: Callable[[Any, int, Any], Any]  # (integer labels, classes, like-tensor) -> dense targets
    one_hot_name: str
    sum_classes: Callable[[Any, int], Any]  # sum over the class axis
    reduce: Callable[[Any, str], Any]  # (per-row losses, "none"|"sum"|"mean")
    reduce_names: dict[str, str]
    exp: Callable[[Any], Any] | None = None
    exp_name: str = ""
    sum_keep: Callable[[Any, int], Any] | None = None  # sum over the class axis, keeping it
    sum_name: str = ""


def _targets(ops: Ops, c: Call, x) -> tuple[Any, str]:
    if c.case.sparse:
        classes = int(x.shape[c.params.axis])  # from the tensor: a compiled step may serve several cases
        return ops.one_hot(c.labels, classes, x), f"{ops.one_hot_name}(labels)"
    return c.labels, "labels"


def _from_log_probs(ops: Ops, c: Call, logp, chain: str):
    t, tname = _targets(ops, c, logp)
    axis = c.params.axis
    per_row = -ops.sum_classes(t * logp, axis)
    red = c.params.reduction
    return ops.reduce(per_row, red), f"-{ops.prefix}.sum({tname} * {chain}){ops.reduce_names[red]}"


def softmax_then_log(ops: Ops) -> Callable[[Call], tuple[Any, str]]:
    def fn(c: Call):
        p = ops.softmax(c.logits, c.params.axis)
        return _from_log_probs(ops, c, ops.log(p), f"{ops.log_name}({ops.softmax_name}(logits))")
    return fn


def clipped_probabilities(ops: Ops) -> Callable[[Call], tuple[Any, str]]:
    def fn(c: Call):
        p = ops.clip(ops.softmax(c.logits, c.params.axis), PROB_CLIP, 1 - PROB_CLIP)
        return _from_log_probs(
            ops, c, ops.log(p), f"{ops.log_name}({ops.clip_name}({ops.softmax_name}(logits), 1e-7, 1 - 1e-7))")
    return fn


def _one_hot_axis(case, dtype) -> str | None:
    nd = len(case.predictions.shape)
    if case.sparse and case.params.axis % nd != nd - 1:
        return "one-hot encoding puts classes last; a hand-written loss for another class axis would transpose first"
    return None


def paths(ops: Ops) -> list[ApiPath]:
    """The naive paths of one framework (reductions none/sum/mean; no other option)."""
    return [
        ApiPath("naive:log(softmax)", BOTH, softmax_then_log(ops), options=frozenset({"axis"}), check=_one_hot_axis,
                doc="softmax, then log: the formulation every tutorial warns about"),
        ApiPath("naive:log(clip(softmax))", BOTH, clipped_probabilities(ops), options=frozenset({"axis"}),
                check=_one_hot_axis,
                doc="probabilities clipped to [1e-7, 1 - 1e-7] before the log, as the vanishing-gradient tutorial advises"),
    ]


def clipped_logits(fused: Callable[[Call], tuple[Any, str]], ops: Ops, name: str, families=BOTH, options=frozenset(),
                   check=None, reductions=frozenset({"none", "sum", "mean"})) -> ApiPath:
    """A fused path run on logits clipped to [-10, 10] (the weighted-cross-entropy tutorial's advice)."""
    def fn(c: Call):
        clipped = Call(logits=ops.clip(c.logits, -LOGIT_CLIP, LOGIT_CLIP), labels=c.labels, case=c.case,
                       class_weights=c.class_weights, sample_weights=c.sample_weights)
        out, chain = fused(clipped)
        return out, f"{chain} on {ops.clip_name}(logits, -10, 10)"
    return ApiPath(f"naive:clip(logits)+{name}", families, fn, options=options, check=check, reductions=reductions,
                   doc="logits clipped to [-10, 10] before the fused op (with the fused path's own limits)")


# --------------------------------------------------------------------------- probabilities and building blocks

CATEGORICAL = frozenset({"categorical_crossentropy"})
BINARY = frozenset({"binary_crossentropy"})


def _categorical_from_probabilities(ops: Ops, clip: bool) -> Callable[[Call], tuple[Any, str]]:
    def fn(c: Call):
        p, pname = c.logits, "p"
        if clip:
            p, pname = ops.clip(p, PROB_CLIP, 1 - PROB_CLIP), f"{ops.clip_name}(p, 1e-7, 1 - 1e-7)"
        return _from_log_probs(ops, c, ops.log(p), f"{ops.log_name}({pname})")
    return fn


def _binary_from_probabilities(ops: Ops, clip: bool) -> Callable[[Call], tuple[Any, str]]:
    def fn(c: Call):
        p, pname = c.logits, "p"
        if clip:
            p, pname = ops.clip(p, PROB_CLIP, 1 - PROB_CLIP), f"{ops.clip_name}(p, 1e-7, 1 - 1e-7)"
        z = c.labels
        per_element = -(z * ops.log(p) + (1 - z) * ops.log(1 - p))
        red = c.params.reduction
        chain = f"-(labels * {ops.log_name}({pname}) + (1 - labels) * {ops.log_name}(1 - {pname}))"
        return ops.reduce(per_element, red), chain + ops.reduce_names[red]
    return fn


def probability_paths(ops: Ops) -> list[ApiPath]:
    """The hand-written cross-entropies from probabilities: as the definition reads, and clipped first."""
    return [
        ApiPath("manual:-sum(labels*log(p))", CATEGORICAL, _categorical_from_probabilities(ops, False),
                options=frozenset({"axis"}), doc="the definition written out, no clipping"),
        ApiPath("naive:-sum(labels*log(clip(p)))", CATEGORICAL, _categorical_from_probabilities(ops, True),
                options=frozenset({"axis"}), doc="probabilities clipped to [1e-7, 1 - 1e-7] first, as the tutorials advise"),
        ApiPath("manual:-(z*log(p)+(1-z)*log(1-p))", BINARY, _binary_from_probabilities(ops, False),
                doc="the definition written out, no clipping"),
        ApiPath("naive:-(z*log(clip(p))+...)", BINARY, _binary_from_probabilities(ops, True),
                doc="probabilities clipped to [1e-7, 1 - 1e-7] first"),
    ]


def block_paths(ops: Ops) -> list[ApiPath]:
    """Textbook building blocks: log(softmax(x)), exp(x) / sum(exp(x)), log(sum(exp(x)))."""
    def log_of_softmax(c: Call):
        a = c.params.axis
        return ops.log(ops.softmax(c.logits, a)), f"{ops.log_name}({ops.softmax_name}(logits, {a}))"

    def exp_over_sum(c: Call):
        e = ops.exp(c.logits)
        return e / ops.sum_keep(e, c.params.axis), f"{ops.exp_name}(logits) / {ops.sum_name}({ops.exp_name}(logits), keepdims)"

    def log_sum_exp(c: Call):
        return (ops.log(ops.sum_classes(ops.exp(c.logits), c.params.axis)),
                f"{ops.log_name}({ops.sum_name}({ops.exp_name}(logits)))")

    blocks = [ApiPath("naive:log(softmax(x))", frozenset({"log_softmax"}), log_of_softmax, options=frozenset({"axis"}),
                      reductions=frozenset({"none"}), doc="log of the probabilities: -inf once a probability underflows")]
    if ops.exp is not None:
        blocks += [
            ApiPath("naive:exp(x)/sum(exp(x))", frozenset({"softmax"}), exp_over_sum, options=frozenset({"axis"}),
                    reductions=frozenset({"none"}), doc="softmax without subtracting the maximum: overflows"),
            ApiPath("naive:log(sum(exp(x)))", frozenset({"logsumexp"}), log_sum_exp, options=frozenset({"axis"}),
                    reductions=frozenset({"none"}), doc="logsumexp without the shift: overflows and drops the tail"),
        ]
    return blocks
