"""Relations: two formulations of one loss that must agree, checked per framework without the oracle's values.

A case lists relations; each one derives a partner formulation from the case's own inputs (after
rounding to the trial dtype) and says how to map the partner's loss and gradient back onto the
case's, where the two must agree:

    one_hot          integer labels            == the same labels one-hot (softmax_cross_entropy)
    move_axis        classes on axis k         == classes moved to axis `to` (default: last)
    repeat_rows      integer class and sample weights, reduction sum
                                               == every row repeated w_label * s_i times, unweighted
                                                  (the gradient of a row is the sum over its copies)
    smoothed_labels  label_smoothing e         == dense labels (1 - e) t + e / C (sigmoid: (1 - e) z + e / 2)
    sum_mean         reduction mean (or sum)   == reduction sum (or mean), divided (multiplied) by the
                                                  count: rows kept, elements for the sigmoid families,
                                                  sequences for ctc
    reverse_classes  the hinge families        == the classes in reverse order (labels C - 1 - y)
    shift_scores     Weston-Watkins, Crammer-Singer == every score plus `by` (1), exact in the dtype
    sigmoid_form     soft_margin log(1 + e^(-y' x)) == sigmoid_cross_entropy at labels (y' + 1) / 2, the same
                     weights and reduction; multilabel_soft_margin == it per element (reduction none),
                     averaged over each row's classes, then the case's reduction
    two_classes      a multi-class hinge, perceptron or sparsemax on 2 classes == its binary form on x_1 - x_0
                     (harness/judge/two_classes.py)

Case-file syntax, on a case: `relations: [one_hot, {kind: move_axis, to: 0}]` (a kind name, or a
mapping with `kind`, the kind's arguments and an optional `name` when a kind is used twice).

Each framework runs both sides through one API path: the case's path, or, where the partner needs
another family, the sibling path that framework names the same way without "sparse_" or
"_with_integer_labels" (tf.nn.sparse_softmax_cross_entropy_with_logits and
tf.nn.softmax_cross_entropy_with_logits, optax.softmax_cross_entropy_with_integer_labels and
optax.softmax_cross_entropy), or the one the path names as its partner for that family (ApiPath.partners:
F.soft_margin_loss and F.binary_cross_entropy_with_logits); a path with no sibling makes the relation
unsupported there.

Tolerance: each side may be off the truth by its own policy tolerance (harness/judge/tolerances/), in
opposite directions, so the two may differ elementwise by the sum of both allowances, the partner's
mapped onto the case the way its values are (`bound` below).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from adapters.api import ApiPath, Observation
from harness.core.dtypes import cast, ulp_distance
from harness.judge import two_classes
from harness.judge.tolerances import Tolerance
from harness.judge.verdicts import compare
from harness.oracle import Reference
from harness.schema import Case, Expect, Literal, Relation, generators
from harness.schema.relation_rules import KINDS  # noqa: F401  (the kinds this module builds partners for)
from harness.trials import Inputs

_SIBLING_TOKENS = ("sparse_", "_with_integer_labels")


@dataclass(frozen=True)
class Partner:
    case: Case
    inputs: Inputs
    to_case: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]  # partner (loss, grad) -> the case's
    what: str  # one line: what the partner is


def _literal(a: np.ndarray) -> Literal:
    return Literal(values=a, shape=tuple(a.shape))


def _dense(p):  # the params of a dense-label partner: integer-label options back at their defaults
    return replace(p, label_dtype="int64") if hasattr(p, "label_dtype") else p


def _one_hot(labels: np.ndarray, classes: int, axis: int, nd: int) -> np.ndarray:
    out = np.eye(classes)[labels]
    return np.ascontiguousarray(np.moveaxis(out, -1, axis % nd))


def partner(case: Case, rel: Relation, inputs: Inputs, dtype: str) -> Partner:
    """The partner formulation of a trial, built from the trial's inputs (already in the trial dtype)."""
    p = case.params
    x = np.asarray(inputs.logits)
    nd = x.ndim
    ident = lambda loss, grad: (loss, grad)  # noqa: E731
    base = dict(relations=(), expect=Expect(), tolerance=case.tolerance, sweep="", logit_scale=1.0)
    k = rel.kind
    if k == "one_hot":
        t = cast(_one_hot(np.asarray(inputs.labels), case.num_classes, p.axis, nd), dtype)
        c = replace(case, family="softmax_cross_entropy", labels=_literal(t), params=_dense(p), **base)
        return Partner(c, replace(inputs, labels=t), ident, "the same labels one-hot, softmax_cross_entropy")
    if k == "move_axis":
        a, to = p.axis % nd, rel.arg("to", -1) % nd
        xb = np.ascontiguousarray(np.moveaxis(x, a, to))
        yb = np.asarray(inputs.labels)
        if not case.sparse:
            yb = np.ascontiguousarray(np.moveaxis(yb, a, to))
        c = replace(case, predictions=_literal(xb), labels=_literal(yb), params=replace(p, axis=to), **base)

        def back(loss, grad):
            return loss, np.moveaxis(grad, to, a)

        return Partner(c, replace(inputs, logits=xb, labels=yb), back, f"the class axis moved from {a} to {to}")
    if k == "repeat_rows":
        rows = x.shape[0]
        if case.sparse:
            lab = np.asarray(inputs.labels, dtype=np.int64)
            kept = np.ones(rows, bool) if p.ignore_index is None else lab != p.ignore_index
            cls = np.where(kept, lab, 0)
        elif case.elementwise:
            kept, cls = np.ones(rows, bool), np.zeros(rows, np.int64)
        else:
            kept, cls = np.ones(rows, bool), np.argmax(np.asarray(inputs.labels), axis=-1)
        m = kept.astype(np.int64)
        if p.class_weights is not None:
            m = m * np.asarray(p.class_weights, dtype=np.float64)[cls].astype(np.int64)
        if p.sample_weights is not None:
            m = m * np.asarray(p.sample_weights, dtype=np.float64).astype(np.int64)
        total = int(m.sum()) * int(np.prod(x.shape[1:], dtype=np.int64))
        if total > generators.max_elements():
            raise generators.GeneratorError(f"repeat_rows: the repeated logits have {total} elements, over the budget "
                                            f"of {generators.max_elements()}", "relations")
        src = np.repeat(np.arange(rows), m)
        xb = np.ascontiguousarray(x[src])
        yb = np.ascontiguousarray(np.asarray(inputs.labels)[src])
        c = replace(case, predictions=_literal(xb), labels=_literal(yb),
                    params=replace(p, class_weights=None, sample_weights=None, ignore_index=None), **base)

        def back(loss, grad):
            g = np.zeros(x.shape, dtype=np.float64)
            np.add.at(g, src, np.asarray(grad, dtype=np.float64))
            return loss, g

        return Partner(c, Inputs(logits=xb, labels=yb), back,
                       f"each row repeated by its weight ({int(m.sum())} rows from {rows}), unweighted")
    if k == "smoothed_labels":
        e = p.label_smoothing
        if case.elementwise:
            z = np.asarray(inputs.labels, dtype=np.float64)
            t = (1 - e) * z + e / 2
            fam = case.family
        else:
            lab = np.asarray(inputs.labels)
            z = _one_hot(lab, case.num_classes, p.axis, nd) if case.sparse else lab.astype(np.float64)
            t = (1 - e) * z + e / case.num_classes
            fam = "softmax_cross_entropy"
        t = cast(t, dtype)
        c = replace(case, family=fam, labels=_literal(t), params=replace(_dense(p), label_smoothing=0.0), **base)
        return Partner(c, replace(inputs, labels=t), ident, f"dense labels smoothed by {e:g} beforehand, no label_smoothing")
    if k == "sum_mean":
        to = "sum" if p.reduction == "mean" else "mean"
        if case.family == "ctc":  # one loss per sequence: [batch, time, classes]
            count = x.shape[0]
        elif case.elementwise:
            count = x.size
        elif case.sparse and p.ignore_index is not None:
            count = int((np.asarray(inputs.labels) != p.ignore_index).sum())
        else:
            count = x.size // max(case.num_classes, 1) if x.size else 0
        if count == 0:
            raise NothingToCount("nothing to count: the mean is over no rows")
        f = 1.0 / count if to == "sum" else float(count)
        c = replace(case, params=replace(p, reduction=to), **base)

        def back(loss, grad):
            return np.asarray(loss, dtype=np.float64) * f, np.asarray(grad, dtype=np.float64) * f

        what = f"reduction {to}, {'divided' if to == 'sum' else 'multiplied'} by the count {count}"
        return Partner(c, inputs, back, what)
    if k in ("reverse_classes", "shift_scores"):
        return _hinge_partner(case, rel, inputs, dtype, base)
    if k == "sigmoid_form":
        return _sigmoid_form(case, inputs, dtype, base)
    if k == "two_classes":
        return Partner(*two_classes.partner(case, inputs, dtype, base))
    raise ValueError(f"unknown relation kind {k!r}")


def _hinge_partner(case: Case, rel: Relation, inputs: Inputs, dtype: str, base: dict) -> Partner:
    """reverse_classes: the class axis reversed (labels mapped to C - 1 - y), the gradient reversed back;
    shift_scores: every score plus `by` (exact: relation_rules checks), the same loss and gradient."""
    p = case.params
    x = np.asarray(inputs.logits)
    a = p.axis % x.ndim
    if rel.kind == "reverse_classes":
        xb = np.ascontiguousarray(np.flip(x, a))
        lab = np.asarray(inputs.labels)
        yb = (case.num_classes - 1 - lab).astype(lab.dtype) if case.sparse else np.ascontiguousarray(np.flip(lab, a))
        c = replace(case, predictions=_literal(xb), labels=_literal(yb), **base)
        return Partner(c, replace(inputs, logits=xb, labels=yb), lambda loss, grad: (loss, np.flip(grad, a)),
                       "the classes in reverse order")
    by = float(rel.arg("by", 1.0))
    xb = cast(x.astype(np.float64) + by, dtype)
    c = replace(case, predictions=_literal(xb), **base)
    return Partner(c, replace(inputs, logits=xb), lambda loss, grad: (loss, grad), f"every score plus {by:g}")


def _sigmoid_form(case: Case, inputs: Inputs, dtype: str, base: dict) -> Partner:
    """The soft margin families as the sigmoid cross-entropy (see the module docstring)."""
    p = case.params
    y = np.asarray(inputs.labels, dtype=np.float64)
    params = replace(p, label_convention="pm1")
    if case.family == "soft_margin":
        z = cast(((2 * y - 1 if p.label_convention == "01" else y) + 1) / 2, dtype)
        c = replace(case, family="sigmoid_cross_entropy", labels=_literal(z), params=params, **base)
        return Partner(c, replace(inputs, labels=z), lambda loss, grad: (loss, grad),
                       "sigmoid_cross_entropy at labels (y + 1) / 2")
    C = np.asarray(inputs.logits).shape[-1]
    c = replace(case, family="sigmoid_cross_entropy", params=replace(params, reduction="none"), **base)
    sw = np.ones(np.asarray(inputs.logits).shape[0]) if inputs.sample_weights is None else \
        np.asarray(inputs.sample_weights, dtype=np.float64)
    red = p.reduction
    f = {"none": 1.0, "sum": 1.0, "mean": 1.0 / len(sw) if len(sw) else 0.0,
         "weighted_mean": 1.0 / sw.sum() if sw.sum() else 0.0}[red]

    def back(loss, grad):
        rows = np.asarray(loss, dtype=np.float64).sum(-1) / C
        out = rows if red == "none" else np.asarray(rows.sum() * f)
        return out, np.asarray(grad, dtype=np.float64) * (f / C)

    return Partner(c, inputs, back, f"sigmoid_cross_entropy per element, the mean over {C} classes, then {red}")


class NothingToCount(ValueError):
    """The partner is undefined for these inputs (a mean over no rows): the relation says nothing here."""


def partner_path(path: ApiPath, family: str, paths: list[ApiPath]) -> ApiPath | None:
    """The path that runs the partner: the same one where it computes the partner's family, else its sibling."""
    if family in path.families:
        return path
    named = dict(path.partners).get(family)
    if named is not None:
        return next((q for q in paths if q.name == named and family in q.families), None)
    key = _sibling_key(path.name)
    for q in paths:
        if family in q.families and _sibling_key(q.name) == key:
            return q
    return None


def _sibling_key(name: str) -> str:
    for tok in _SIBLING_TOKENS:
        name = name.replace(tok, "")
    return name


@dataclass
class RelationOutcome:
    verdict: str  # relation_pass, relation_mismatch, unsupported, error
    metrics: dict[str, Any]
    message: str = ""
    flags: list[str] | None = None


def _envelope(allowed: np.ndarray, ref: np.ndarray) -> np.ndarray:
    r = np.asarray(ref, dtype=np.float64)
    return np.where(np.isfinite(r), np.asarray(allowed, dtype=np.float64), 0.0)


def bound(tol_a: Tolerance, ref_a: Reference, tol_b: Tolerance, ref_b: Reference, pt: Partner) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise allowance for |case - partner| on (loss, grad): both sides' per-element allowances, the
    partner's mapped back onto the case the way its values are."""
    lb, gb = pt.to_case(_envelope(tol_b.loss_allowed(ref_b.loss), ref_b.loss),
                        _envelope(tol_b.grad_full(ref_b.grad), ref_b.grad))
    la = _envelope(tol_a.loss_allowed(ref_a.loss), ref_a.loss)
    ga = _envelope(tol_a.grad_full(ref_a.grad), ref_a.grad)
    return la + np.abs(np.asarray(lb, dtype=np.float64)), ga + np.abs(np.asarray(gb, dtype=np.float64))


def judge(obs_a: Observation, obs_b: Observation, pt: Partner, loss_bound: np.ndarray, grad_bound: np.ndarray,
          dtype: str) -> RelationOutcome:
    """Compare the case's observation with the partner's, mapped back onto the case."""
    if obs_a.unsupported or obs_b.unsupported:
        why = "; ".join(f"{side}: {o.unsupported}" for side, o in (("case", obs_a), ("partner", obs_b)) if o.unsupported)
        return RelationOutcome("unsupported", {}, why)
    if obs_a.error or obs_b.error:
        why = "; ".join(f"{side} raised {o.error}" for side, o in (("case", obs_a), ("partner", obs_b)) if o.error)
        return RelationOutcome("error", {}, why)
    # a framework without autodiff returns no gradient: then only the losses are related
    no_grad = getattr(obs_a, "no_grad", "") or getattr(obs_b, "no_grad", "") or (
        "no gradient" if obs_a.grad is None or obs_b.grad is None else "")
    la = np.asarray(obs_a.loss, dtype=np.float64)
    ga = np.zeros(np.shape(grad_bound)) if obs_a.grad is None else np.asarray(obs_a.grad, dtype=np.float64)
    gb_raw = np.zeros(np.shape(pt.inputs.logits)) if obs_b.grad is None else np.asarray(obs_b.grad, dtype=np.float64)
    lb, gb = pt.to_case(np.asarray(obs_b.loss, dtype=np.float64), gb_raw)
    lb, gb = np.asarray(lb, dtype=np.float64), np.asarray(gb, dtype=np.float64)
    if no_grad:
        ga = gb = np.zeros(np.shape(grad_bound))
    if la.shape != lb.shape or ga.shape != gb.shape:
        return RelationOutcome("relation_mismatch", {}, f"shape: case loss {list(la.shape)}, grad {list(ga.shape)}; "
                               f"partner mapped back: loss {list(lb.shape)}, grad {list(gb.shape)}")
    m: dict[str, Any] = {}
    msgs = []
    for q, a, b, bnd in (("loss", la, lb, loss_bound), ("grad", ga, gb, grad_bound)):
        mm, msg = _compare(q, a, b, np.broadcast_to(bnd, a.shape), dtype)
        m.update(mm)
        if msg:
            msgs.append(msg)
    m["nan_count"] = int(np.isnan(la).sum() + np.isnan(ga).sum())
    m["inf_count"] = int(np.isinf(la).sum() + np.isinf(ga).sum())
    m["ref_nan_count"] = int(np.isnan(lb).sum() + np.isnan(gb).sum())
    m["ref_inf_count"] = int(np.isinf(lb).sum() + np.isinf(gb).sum())
    for key, g in (("grad_norm", ga), ("ref_grad_norm", gb)):
        f = g[np.isfinite(g)]
        m[key] = float(np.abs(f).max()) if f.size else 0.0
    if no_grad:
        msgs_note = f"losses only ({no_grad})"
        if msgs:
            return RelationOutcome("relation_mismatch", m, "; ".join([*msgs, msgs_note]))
        return RelationOutcome("relation_pass", m, msgs_note)
    if msgs:
        return RelationOutcome("relation_mismatch", m, "; ".join(msgs))
    return RelationOutcome("relation_pass", m)


def _compare(q: str, a: np.ndarray, b: np.ndarray, bnd: np.ndarray, dtype: str) -> tuple[dict[str, Any], str]:
    """Metrics of case (a) against partner (b) and a message when they disagree beyond the bound."""
    names = {"loss": ("loss", "ref_loss", "loss_worst_index", "loss_abs_err", "loss_rel_err", "loss_ulp"),
             "grad": ("grad", "ref_grad", "grad_worst_index", "grad_max_abs_err", "grad_max_rel_err", "grad_ulp")}[q]
    if a.size == 0:
        return {names[3]: 0.0}, ""
    bnd_flat = np.broadcast_to(bnd, a.shape).reshape(-1)
    c = compare(a, b, lambda r, s, e: bnd_flat[s:e], dtype)
    worst = np.unravel_index(c.worst, a.shape)
    idx = [int(i) for i in worst]
    a_w, b_w = float(a.reshape(-1)[c.worst]), float(b.reshape(-1)[c.worst])
    m = {names[0]: a_w, names[1]: b_w, names[2]: idx, names[3]: c.max_abs, names[4]: c.max_rel, names[5]: c.max_ulp}
    where = f" at {idx}" if a.ndim else ""
    if c.n_disagree:
        return m, (f"{q}{where}={a_w!r}, but the partner gives {b_w!r} "
                   f"({c.n_disagree} of {a.size} elements non-finite on one side only)")
    if c.n_out:
        with np.errstate(invalid="ignore", over="ignore"):
            u_w = float(ulp_distance(np.float64(a_w), np.float64(b_w), dtype))
        return m, (f"{q}{where}={a_w!r}, but the partner gives {b_w!r} "
                   f"(difference {abs(a_w - b_w):.3g} > allowance {float(bnd_flat[c.worst]):.3g}; "
                   f"{u_w:.3g} ULP; {c.n_out} of {a.size} elements out)")
    return m, ""


def relation_case_id(case: Case, rel: Relation) -> str:
    """The case column of a relation row: `<case id>~<relation name>`."""
    return f"{case.id}~{rel.name}"

