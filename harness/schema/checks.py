"""The semantic checks of a case: what its fields must satisfy together (shapes, label ranges, options by family,
generated class weights, a sweep), once each field has its type (harness/schema/tables.py).

Each check is a plain function of what it needs and returns its problems (an empty list when the case is fine),
each at the file:line:col of the value it is about.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from harness.core.fields import finite
from harness.core.yamlfile import Problem, at, plain
from harness.schema import generators, sequence_checks
from harness.schema.inputs import flatten
from harness.schema.model import (
    ERROR_LABEL_DTYPES,
    FAMILIES,
    LABEL_DTYPES,
    SWEEPS,
    Case,
    Expect,
    Generated,
    InputSpec,
    Literal,
    Params,
    output_shape,
)


def elementwise(m: dict, name: str, prefix: str, family: str, params: Params, labels: InputSpec | None,
                allow_nan: bool) -> list[Problem]:
    """Sigmoid families: classes are the last axis, labels are probabilities, pos_weight only where weighted."""
    out = []
    if params.axis != -1:
        out.append(Problem(at(name, m, "params"), f"{prefix}params.axis",
                           "sigmoid families are elementwise: classes are the last axis (-1)"))
    if params.pos_weight is not None and family != "weighted_sigmoid_cross_entropy":
        out.append(Problem(at(name, m, "params"), f"{prefix}params.pos_weight",
                           "applies to weighted_sigmoid_cross_entropy only"))
    spec = FAMILIES[family]
    if spec.get("label_convention"):
        return out + margin_labels(m, name, prefix, family, params, labels)
    if spec.get("labels01") and isinstance(labels, Literal) and any(x not in (0.0, 1.0) for x in flatten(labels.values)):
        out.append(Problem(at(name, m, "labels"), f"{prefix}labels", f"{family} labels are 0 or 1"))
    if spec.get("labels01") and params.label_smoothing:
        out.append(Problem(at(name, m, "params"), f"{prefix}params.label_smoothing", f"does not apply to {family}"))
    elif isinstance(labels, Literal) and any(not (0.0 <= x <= 1.0) and not (allow_nan and x != x)
                                             for x in flatten(labels.values)):
        out.append(Problem(at(name, m, "labels"), f"{prefix}labels", "sigmoid labels are probabilities in [0, 1]"))
    if spec.get("row_mean") and labels is not None and len(labels.shape) != 2:
        out.append(Problem(at(name, m, "labels"), f"{prefix}labels",
                           f"{family} takes [rows, classes]: labels and scores of 2 dimensions"))
    if spec.get("row_mean") and params.label_smoothing:
        out.append(Problem(at(name, m, "params"), f"{prefix}params.label_smoothing", f"does not apply to {family}"))
    return out


def margin_labels(m: dict, name: str, prefix: str, family: str, params: Params, labels: InputSpec | None) -> list[Problem]:
    """The binary margin families: labels in {-1, 1} (label_convention pm1) or {0, 1} (01); no label smoothing."""
    out = []
    if params.label_smoothing:
        out.append(Problem(at(name, m, "params"), f"{prefix}params.label_smoothing", f"does not apply to {family}"))
    allowed = (-1.0, 1.0) if params.label_convention == "pm1" else (0.0, 1.0)
    if isinstance(labels, Literal):
        bad = [x for x in flatten(labels.values) if x not in allowed]
        if bad:
            out.append(Problem(at(name, m, "labels"), f"{prefix}labels",
                               f"label {bad[0]!r} with label_convention {params.label_convention}: labels are "
                               f"{allowed[0]:g} or {allowed[1]:g}"))
    return out


def shapes(m: dict, name: str, prefix: str, family: str, logits: InputSpec, labels: InputSpec, params: Params,
           expect: Expect) -> list[Problem]:
    """The labels' shape and range and the weights' lengths against the logits' shape and class axis."""
    nd = len(logits.shape)
    axis = params.axis
    at_params = at(name, m, "params")
    if not -nd <= axis < nd:
        return [Problem(at_params, f"{prefix}params.axis", f"axis {axis} out of range for logits of {nd} dimensions")]
    out = []
    at_labels = at(name, m, "labels")
    sparse = FAMILIES[family]["labels"] == "sparse"
    classes = logits.shape[axis]
    batch_shape = tuple(s for i, s in enumerate(logits.shape) if i != axis % nd)
    if expect.error and labels.shape != (batch_shape if sparse else logits.shape):
        pass  # a case about labels of the wrong shape: the expected outcome is the framework's error
    elif FAMILIES[family]["labels"] == "cotangent":
        want = output_shape(family, logits.shape, axis)
        if labels.shape != want:
            out.append(Problem(at_labels, f"{prefix}labels",
                               f"the cotangent has shape {list(labels.shape)}, but the output has shape {list(want)}"))
    elif sparse:
        if labels.shape != batch_shape:
            out.append(Problem(at_labels, f"{prefix}labels", f"shape {list(labels.shape)} does not match logits "
                               f"{list(logits.shape)} without the class axis: expected {list(batch_shape)}"))
        elif isinstance(labels, Literal) and not expect.error:
            bad = [x for x in flatten(labels.values) if not (0 <= x < classes) and x != params.ignore_index]
            if bad:
                out.append(Problem(at_labels, f"{prefix}labels", f"label {bad[0]} is out of range for {classes} "
                                   "classes (set expect: {error: true} if the case means it)"))
    elif labels.shape != logits.shape:
        out.append(Problem(at_labels, f"{prefix}labels",
                           f"shape {list(labels.shape)} does not match logits {list(logits.shape)}"))
    if params.class_weights is not None and len(params.class_weights) != classes:
        out.append(Problem(at_params, f"{prefix}params.class_weights",
                           f"{len(params.class_weights)} weights for {classes} classes"))
    rows = batch_shape[0] if batch_shape else 1
    if params.sample_weights is not None and len(params.sample_weights) != rows:
        out.append(Problem(at_params, f"{prefix}params.sample_weights",
                           f"{len(params.sample_weights)} weights for {rows} rows"))
    if params.ignore_index is not None and not sparse:
        out.append(Problem(at_params, f"{prefix}params.ignore_index", "applies to integer labels only"))
    if isinstance(params.pos_weight, tuple) and len(params.pos_weight) != classes:
        out.append(Problem(at_params, f"{prefix}params.pos_weight", f"{len(params.pos_weight)} weights for {classes} classes"))
    return out


_OWN_OPTIONS = {"epsilon": "poly1_cross_entropy", "q": "generalized_cross_entropy", "log_target": "kl_divergence"}

def family_options(m: dict, name: str, prefix: str, family: str, params: Params, logits: InputSpec,
                   labels: InputSpec, expect: Expect) -> list[Problem]:
    """Options that belong to some families only."""
    spec = FAMILIES[family]
    where = f"{prefix}params"
    written = m.get("params") if isinstance(m.get("params"), dict) else {}
    out = []
    out += sequence_checks.elsewhere(m, name, prefix, family, params)
    if not spec.get("focal"):
        out += [Problem(at(name, written, k), f"{where}.{k}", "applies to the focal families only")
                for k in ("gamma", "alpha") if k in written]
    out += hinge_options(m, written, name, prefix, family, labels)
    if not spec.get("label_convention") and "label_convention" in written:
        out.append(Problem(at(name, written, "label_convention"), f"{where}.label_convention",
                           "applies to the binary margin families only (hinge, squared_hinge, soft_margin)"))
    if params.label_dtype != "int64" or "label_dtype" in written:
        loc = at(name, written, "label_dtype")
        dtype = params.label_dtype
        if spec["labels"] != "sparse":
            out.append(Problem(loc, f"{where}.label_dtype", "applies to integer (sparse) labels only"))
        elif dtype in ERROR_LABEL_DTYPES and not expect.error:
            out.append(Problem(loc, f"{where}.label_dtype",
                               f"class indices are integers: {dtype} labels only in a case that expects an error"))
        elif dtype in LABEL_DTYPES and isinstance(labels, Literal):
            info = np.iinfo(dtype)
            bad = [x for x in flatten(labels.values) if not info.min <= x <= info.max]
            if bad:
                out.append(Problem(at(name, m, "labels"), f"{prefix}labels", f"label {bad[0]} does not fit in {dtype}"))
        elif dtype in LABEL_DTYPES and np.iinfo(dtype).max < logits.shape[params.axis] - 1:
            out.append(Problem(loc, f"{where}.label_dtype",
                               f"{dtype} cannot hold the class indices of {logits.shape[params.axis]} classes"))
    if spec.get("block"):
        extra = sorted(set(params.non_default()) - {"axis"})
        if params.reduction != "none" or extra:
            what = ", ".join([*(["reduction"] if params.reduction != "none" else []), *extra])
            out.append(Problem(at(name, m, "params"), where,
                               f"{family} is a building block: it takes only axis (reduction is none), not {what}"))
    if spec["input"] != "logits" and "sweep" in m:
        out.append(Problem(at(name, m, "sweep"), f"{prefix}sweep",
                           f"a scale sweep multiplies logits; this family takes {spec['input'].replace('_', '-')}"))
    if "options" in spec:  # a family that defines only some options (nll_loss, kl_divergence, poly-1, generalized)
        out += [Problem(at(name, written, k) if k in written else at(name, m, "params"), f"{where}.{k}",
                        f"{family} does not take {k} (it takes: {', '.join(spec['options'])})")
                for k in params.non_default() if k not in spec["options"]]
    else:  # the options only such a family defines
        out += [Problem(at(name, written, k), f"{where}.{k}", f"applies to {owner} only")
                for k, owner in _OWN_OPTIONS.items() if k in written]
    if family == "kl_divergence" and isinstance(labels, Literal):
        t = [x for x in flatten(labels.values) if x == x]
        if params.log_target and any(not x <= 0 for x in t):
            out.append(Problem(at(name, m, "labels"), f"{prefix}labels",
                               "with log_target: true the labels are log-probabilities: <= 0 (-.inf for 0)"))
        elif not params.log_target and any(not 0 <= x <= 1 for x in t):
            out.append(Problem(at(name, m, "labels"), f"{prefix}labels",
                               "the labels are probabilities in [0, 1] (log_target: true for log-probabilities)"))
    if isinstance(labels, Generated) and (labels.name == "log_soft") != (family == "kl_divergence" and params.log_target):
        out.append(Problem(at(name, m, "labels"), f"{prefix}labels.generate", "log_soft makes log-targets: for "
                           "kl_divergence with log_target: true, which takes no other generator"))
    return out


def hinge_options(m: dict, written: dict, name: str, prefix: str, family: str, labels: InputSpec) -> list[Problem]:
    """margin for the hinge families only, p for Weston-Watkins only; no label smoothing or ignored index there
    (no framework's hinge has them); categorical_hinge labels one-hot or multi-hot (0 or 1)."""
    hinge = FAMILIES[family].get("hinge")
    where = f"{prefix}params"
    out = []
    if not hinge:
        out += [Problem(at(name, written, "margin"), f"{where}.margin", "applies to the hinge families only")] \
            if "margin" in written else []
    if "p" in written and family != "weston_watkins_hinge":
        out.append(Problem(at(name, written, "p"), f"{where}.p", "applies to weston_watkins_hinge only"))
    if hinge:
        out += [Problem(at(name, written, k), f"{where}.{k}", f"{family} has no {k} (no framework's hinge has one)")
                for k in ("label_smoothing", "ignore_index") if k in written]
    if family == "categorical_hinge" and "class_weights" in written:
        out.append(Problem(at(name, written, "class_weights"), f"{where}.class_weights",
                           "categorical_hinge weights rows only (sample_weights), as Keras' CategoricalHinge does"))
    if family == "categorical_hinge" and isinstance(labels, Literal) and any(
            x not in (0.0, 1.0) for x in flatten(labels.values)):
        out.append(Problem(at(name, m, "labels"), f"{prefix}labels",
                           "categorical_hinge labels are one-hot or multi-hot: each 0 or 1"))
    return out


def generated_class_weights(case: Case, m: dict, name: str, prefix: str) -> tuple[Case | None, list[Problem]]:
    """Class weights a case's params draw from a generator (harness/schema/generators.py), now that the classes are
    known: `class_weights: {generate: imbalanced_weights, ratio: 1000}`."""
    p = m.get("params")
    v = p.get("class_weights") if isinstance(p, dict) else None
    if not isinstance(v, dict):
        return case, []
    args = {str(k): plain(x) for k, x in v.items() if k != "generate"}
    try:
        w = generators.class_weights(plain(v.get("generate")), args, case.num_classes)
    except generators.GeneratorError as e:
        loc = at(name, v, e.field) if e.field in v else at(name, p, "class_weights")
        return None, [Problem(loc, f"{prefix}params.class_weights.{e.field or 'generate'}", str(e))]
    return replace(case, params=replace(case.params, class_weights=w)), []


def sweep(case: Case, m: dict, name: str) -> tuple[list[Case], list[Problem]]:
    """A case with `sweep: {scale: [v, ...]}` becomes one case per value, id `<id>@scale=<v>`."""
    sw = m.get("sweep")
    if sw is None:
        return [case], []
    where = f"{case.id}.sweep"
    if not isinstance(sw, dict) or len(sw) != 1 or next(iter(sw)) not in SWEEPS:
        return [], [Problem(at(name, m, "sweep"), where, f"expected a mapping with one key of: {', '.join(SWEEPS)}")]
    vals: Any = plain(sw["scale"])
    at_scale = at(name, sw, "scale")
    if not isinstance(vals, list) or not vals or not all(finite(v) is not None and v > 0 for v in vals):
        return [], [Problem(at_scale, f"{where}.scale", "expected a non-empty list of finite numbers > 0")]
    if len(set(vals)) != len(vals):
        return [], [Problem(at_scale, f"{where}.scale", "a value is listed twice")]
    if case.expect.loss is not None:
        return [], [Problem(at(name, m, "sweep"), where,
                            "a sweep cannot carry golden loss values (one per scale would be needed)")]
    return [replace(case, id=f"{case.id}@scale={float(v):g}", sweep="scale", logit_scale=float(v),
                    tags=case.tags if "sweep" in case.tags else (*case.tags, "sweep")) for v in vals], []
