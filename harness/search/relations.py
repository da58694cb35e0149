"""Relations the search checks on every drawn softmax case, per framework path, without the oracle's values:

    shift        CE(x + c) = CE(x), the gradient unchanged, for a c that shifts every finite logit exactly in the
                 trial dtype (the first of SHIFTS that does; none: the relation is not checked on that case)
    permutation  the classes in reverse order (logits, labels, class weights) give the same loss, and the
                 gradient reversed back
    weight_scale reduction weighted_mean: every class and sample weight times 2 gives the same loss and gradient
                 (the weighted mean divides by the total weight); only where the case has weights

Both sides are judged as a declared relation is (harness/judge/relations.py): each may be off the truth by its
own allowance. The oracle itself is held to them too (framework `oracle`), which catches errors of its own.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from adapters.api import Observation
from harness import oracle
from harness.core.dtypes import cast
from harness.judge import assemble, relations, tolerances
from harness.results.rows import Row, row_id
from harness.schema import Case, Expect, Literal, Relation
from harness.trials import Inputs

SHIFTS = (1.0, -1.0, 2.0, 0.5, 8.0, 1024.0)
KINDS = ("shift", "permutation", "weight_scale")
SCALE = 2.0  # weight_scale: every weight doubled (exact in every dtype)
APPLIES = ("softmax_cross_entropy", "sparse_softmax_cross_entropy")


def _lit(a: np.ndarray) -> Literal:
    return Literal(values=a, shape=tuple(a.shape))


def exact_shift(x: np.ndarray, dtype: str) -> float | None:
    """The first shift that moves every finite logit exactly in the dtype (and keeps it finite), or None."""
    x = np.asarray(x, dtype=np.float64)
    fin = np.isfinite(x)
    for c in SHIFTS:
        with np.errstate(over="ignore", invalid="ignore"):
            y = np.asarray(cast(x + c, dtype), dtype=np.float64)
        if np.all(np.isfinite(y[fin])) and np.array_equal(y[fin] - c, x[fin]):
            return c
    return None


def partner(kind: str, case: Case, inputs: Inputs, dtype: str) -> relations.Partner | None:
    """The partner formulation of the case under the relation (None: the relation has no exact partner here)."""
    x = np.asarray(inputs.logits)
    ident = lambda loss, grad: (loss, grad)  # noqa: E731
    base = dict(relations=(), expect=Expect(), tolerance=case.tolerance, sweep="", logit_scale=1.0)
    if kind == "shift":
        c = exact_shift(x, dtype)
        if c is None:
            return None
        xb = cast(np.asarray(x, dtype=np.float64) + c, dtype)
        return relations.Partner(replace(case, predictions=_lit(xb), **base), replace(inputs, logits=xb), ident,
                                 f"every logit plus {c:g}")
    if kind == "weight_scale":
        p = case.params
        if p.reduction != "weighted_mean" or (p.class_weights is None and p.sample_weights is None):
            return None
        dbl = lambda w: None if w is None else tuple(SCALE * v for v in w)  # noqa: E731
        arr = lambda w: None if w is None else np.asarray(w) * SCALE  # noqa: E731
        c = replace(case, params=replace(p, class_weights=dbl(p.class_weights), sample_weights=dbl(p.sample_weights)),
                    **base)
        return relations.Partner(c, replace(inputs, class_weights=arr(inputs.class_weights),
                                            sample_weights=arr(inputs.sample_weights)), ident, "every weight doubled")
    axis = case.params.axis
    xb = np.ascontiguousarray(np.flip(x, axis=axis))
    y = np.asarray(inputs.labels)
    p = case.params
    if case.sparse:
        keep = y != p.ignore_index if p.ignore_index is not None else np.ones(y.shape, bool)
        yb = np.where(keep, case.num_classes - 1 - y, y).astype(y.dtype)
    else:
        yb = np.ascontiguousarray(np.flip(y, axis=axis))
    cw = None if p.class_weights is None else tuple(reversed(p.class_weights))
    c = replace(case, predictions=_lit(xb), labels=_lit(yb), params=replace(p, class_weights=cw), **base)
    cwi = None if inputs.class_weights is None else np.ascontiguousarray(inputs.class_weights[::-1])
    return relations.Partner(c, replace(inputs, logits=xb, labels=yb, class_weights=cwi),
                             lambda loss, grad: (loss, np.flip(grad, axis=axis)), "the classes in reverse order")


def rows(case: Case, inputs: Inputs, ref, tol, dtype: str, fw: str, ad, path, obs_a: Observation, base) -> list[Row]:
    """The relation rows of one path's observation (ad None: the oracle's own); `base(case id, api)` makes a row."""
    if case.family not in APPLIES:
        return []
    out = []
    for kind in KINDS:
        pt = partner(kind, case, inputs, dtype)
        if pt is None:
            continue
        ref_b = oracle.compute(pt.case, pt.inputs, dtype)
        tol_b = tolerances.for_trial(pt.case, dtype, ref_b, pt.inputs)
        if ad is None:
            obs_b = Observation(dtype=dtype, call="harness.oracle.compute", device="cpu", loss=ref_b.loss, grad=ref_b.grad)
        else:
            obs_b = ad.run(path, pt.case, pt.inputs, dtype, "cpu")
        lb, gb = relations.bound(tol, ref, tol_b, ref_b, pt)
        res = relations.judge(obs_a, obs_b, pt, lb, gb, dtype)
        if res.verdict == "error":  # a side raised: the path's own row reports it; there is nothing to relate
            continue
        rel = Relation(kind=kind, name=kind)
        row = assemble.for_relation(base(f"{case.id}~{kind}", path.name if path else "oracle"), case, rel,
                                    path.name if path else "oracle")
        row.row_id = row_id(row.case, fw, row.api, "cpu", dtype)
        out.append(assemble.relation(row, res, obs_a, obs_b, pt, ref, tol, tol_b, shape=list(np.shape(inputs.logits))))
    return out
