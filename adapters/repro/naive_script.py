"""The naive and manual formulations (adapters/naive.py) as script text, over each framework's ops written as templates.

Each framework module gives an `OpsText`, its functions as a user writes them ("torch.softmax({x}, dim={a})");
the formulations below compose them line by line as adapters/naive.py composes the framework's functions, so
a script computes exactly what the path computed. Every function returns the lines that set `out`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from adapters.naive import LOGIT_CLIP, PROB_CLIP
from adapters.repro.target import classes, python
from harness.schema import Case

LO, HI = python(PROB_CLIP), python(1 - PROB_CLIP)


@dataclass(frozen=True)
class OpsText:
    """A framework's functions as text templates: {x} a tensor, {a} an axis, {lo}/{hi} bounds, {y} integer labels,
    {n} the number of classes, {like} the tensor whose dtype the one-hot takes, {v} a value to sum or reduce."""

    softmax: str
    log: str
    clip: str
    one_hot: str
    sum_classes: str
    reduce: dict[str, str]  # "none", "sum", "mean" -> template over {v}
    exp: str = ""
    sum_keep: str = ""


Lines = list[str]


def reduced(ops: OpsText, case: Case) -> Lines:
    """The line that reduces `out` as the case's reduction says, in the framework's words (none for "none")."""
    red = case.params.reduction
    return [] if red == "none" else [f"out = {ops.reduce[red].format(v='out')}"]


def _from_log_probs(ops: OpsText, case: Case, logp_expr: str) -> Lines:
    a = case.params.axis
    lines = [f"logp = {logp_expr}"]
    if case.sparse:
        lines.append(f"targets = {ops.one_hot.format(y='labels', n=classes(case), like='logp')}")
        t = "targets"
    else:
        t = "labels"
    lines.append(f"out = -{ops.sum_classes.format(v=f'({t} * logp)', a=a)}")
    return lines + reduced(ops, case)


def softmax_then_log(ops: OpsText, case: Case, x: str) -> Lines:
    return _from_log_probs(ops, case, ops.log.format(x=ops.softmax.format(x=x, a=case.params.axis)))


def clipped_probabilities(ops: OpsText, case: Case, x: str) -> Lines:
    p = ops.clip.format(x=ops.softmax.format(x=x, a=case.params.axis), lo=LO, hi=HI)
    return _from_log_probs(ops, case, ops.log.format(x=p))


def clipped_logits(fused: Callable[[Case, str], Lines], ops: OpsText) -> Callable[[Case, str], Lines]:
    """The fused path's lines on the logits clipped to [-10, 10]."""
    def lines(case: Case, x: str) -> Lines:
        return [f"clipped = {ops.clip.format(x=x, lo=python(-LOGIT_CLIP), hi=python(LOGIT_CLIP))}", *fused(case, "clipped")]
    return lines


def categorical_from_probabilities(clip: bool):
    def lines(ops: OpsText, case: Case, x: str) -> Lines:
        p = ops.clip.format(x=x, lo=LO, hi=HI) if clip else x
        return _from_log_probs(ops, case, ops.log.format(x=p))
    return lines


def binary_from_probabilities(clip: bool):
    def lines(ops: OpsText, case: Case, x: str) -> Lines:
        head = [f"p = {ops.clip.format(x=x, lo=LO, hi=HI)}"] if clip else []
        p = "p" if clip else x
        return [*head, f"out = -(labels * {ops.log.format(x=p)} + (1 - labels) * {ops.log.format(x=f'1 - {p}')})",
                *reduced(ops, case)]
    return lines


def log_of_softmax(ops: OpsText, case: Case, x: str) -> Lines:
    return [f"out = {ops.log.format(x=ops.softmax.format(x=x, a=case.params.axis))}"]


def exp_over_sum(ops: OpsText, case: Case, x: str) -> Lines:
    return [f"e = {ops.exp.format(x=x)}", f"out = e / {ops.sum_keep.format(v='e', a=case.params.axis)}"]


def log_sum_exp(ops: OpsText, case: Case, x: str) -> Lines:
    return [f"out = {ops.log.format(x=ops.sum_classes.format(v=ops.exp.format(x=x), a=case.params.axis))}"]


def calls(ops: OpsText) -> dict[str, Callable[[Case, str], Lines]]:
    """The naive and manual paths of adapters/naive.py, by api name, for a framework's ops."""
    def bind(f):
        return lambda case, x: f(ops, case, x)
    out = {
        "naive:log(softmax)": bind(softmax_then_log),
        "naive:log(clip(softmax))": bind(clipped_probabilities),
        "manual:-sum(labels*log(p))": bind(categorical_from_probabilities(False)),
        "naive:-sum(labels*log(clip(p)))": bind(categorical_from_probabilities(True)),
        "manual:-(z*log(p)+(1-z)*log(1-p))": bind(binary_from_probabilities(False)),
        "naive:-(z*log(clip(p))+...)": bind(binary_from_probabilities(True)),
        "naive:log(softmax(x))": bind(log_of_softmax),
    }
    if ops.exp:
        out["naive:exp(x)/sum(exp(x))"] = bind(exp_over_sum)
        out["naive:log(sum(exp(x)))"] = bind(log_sum_exp)
    return out
