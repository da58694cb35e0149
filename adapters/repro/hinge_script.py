"""The multi-class hinge paths as script text: the hand-written ones (adapters/manual_hinge.py), torch's, optax's
and Keras', line for line as the adapters call them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from adapters.keras_paths import KERAS_REDUCTION
from adapters.repro import naive_script
from adapters.repro.naive_script import OpsText
from adapters.repro.target import classes, python
from harness.schema import Case

Lines = list[str]


@dataclass(frozen=True)
class HingeText:
    """adapters/manual_hinge.HingeOps as templates: the max over the last axis and max(v, 0), over {v}."""

    ops: OpsText
    max: str
    relu: str


def _one_hot(h: HingeText, case: Case, x: str) -> str:
    return f"t = {h.ops.one_hot.format(y='labels', n=classes(case), like=x)}"


def weston_watkins(h: HingeText, case: Case, x: str) -> Lines:
    m, pw = python(case.params.margin), case.params.p
    lines = [_one_hot(h, case, x), f"x_y = {h.ops.sum_keep.format(v=f'({x} * t)', a=-1)}",
             f"z = {h.relu.format(v=f'{m} - x_y + {x}')} * (1 - t)"]
    if pw == 2:
        lines.append("z = z * z")
    lines.append(f"out = {h.ops.sum_classes.format(v='z', a=-1)} / {classes(case)}")
    return lines + naive_script.reduced(h.ops, case)


def crammer_singer(h: HingeText, case: Case, x: str) -> Lines:
    m = python(case.params.margin)
    return [_one_hot(h, case, x),
            f"out = {h.max.format(v=f'({x} + {m} * (1 - t))')} - {h.ops.sum_classes.format(v=f'({x} * t)', a=-1)}",
            *naive_script.reduced(h.ops, case)]


def categorical_hinge(h: HingeText, case: Case, x: str) -> Lines:
    m = python(case.params.margin)
    return [f"pos = {h.ops.sum_classes.format(v=f'(labels * {x})', a=-1)}",
            f"neg = {h.max.format(v=f'((1 - labels) * {x})')}",
            f"out = {h.relu.format(v=f'neg - pos + {m}')}", *naive_script.reduced(h.ops, case)]


def manual_calls(h: HingeText) -> dict[str, Callable[[Case, str], Lines]]:
    """Every hand-written hinge path by api name (a framework's adapter uses those it lacks)."""
    def bind(f):
        return lambda case, x: f(h, case, x)
    return {"manual:weston_watkins": bind(weston_watkins), "manual:crammer_singer": bind(crammer_singer),
            "manual:categorical_hinge": bind(categorical_hinge)}


def torch_multi_margin(module: bool) -> Callable[[Case, str], Lines]:
    """adapters/torch_multiclass_hinge.py: p=, margin=, weight= (class weights), reduction=."""
    def lines(case: Case, x: str) -> Lines:
        p = case.params
        kw = [f"p={p.p}", f"margin={python(p.margin)}"]
        if p.class_weights is not None:
            kw.append("weight=class_weights")
        kw.append(f"reduction={python(p.reduction)}")
        args = ", ".join(kw)
        call = f"torch.nn.MultiMarginLoss({args})({x}, labels)" if module else f"F.multi_margin_loss({x}, labels, {args})"
        return [f"out = {call}"]
    return lines


def optax_hinge(ops: OpsText) -> Callable[[Case, str], Lines]:
    return lambda case, x: [f"out = optax.losses.multiclass_hinge_loss({x}, labels)", *naive_script.reduced(ops, case)]


def _keras_class(case: Case, x: str) -> Lines:
    red = KERAS_REDUCTION[case.params.reduction]
    sw = ", sample_weight=sample_weights" if case.params.sample_weights is not None else ""
    return [f"loss_fn = keras.losses.CategoricalHinge(reduction={red!r})", f"out = loss_fn(labels, {x}{sw})"]


def _keras_function(case: Case, x: str) -> Lines:
    red = case.params.reduction
    return [f"out = keras.losses.categorical_hinge(labels, {x})"] + ([] if red == "none" else [f"out = keras.ops.{red}(out)"])


KERAS_CALLS: dict[str, Callable[[Case, str], Lines]] = {
    "keras.losses.CategoricalHinge": _keras_class,
    "keras.losses.categorical_hinge": _keras_function,
}
