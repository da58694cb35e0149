"""Expand cases into trials (case x dtype) and materialize their inputs (Inputs) in the trial dtype."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from harness.core.dtypes import cast
from harness.schema import Case, Generated, generators


@dataclass(frozen=True)
class Inputs:
    """A trial's inputs, already in the trial dtype (integer labels stay int64)."""

    logits: np.ndarray
    labels: np.ndarray
    class_weights: np.ndarray | None = None
    sample_weights: np.ndarray | None = None


@dataclass(frozen=True)
class Trial:
    case: Case
    dtype: str

    @property
    def id(self) -> str:
        return f"{self.case.id}[{self.dtype}]"


def expand(cases: list[Case]) -> list[Trial]:
    return [Trial(c, d) for c in cases for d in c.dtypes]


def _array(spec, logits_shape=None, axis=-1, avoid=()) -> np.ndarray:
    if isinstance(spec, Generated):
        return generators.generate(spec.name, spec.args, logits_shape, axis, avoid)
    return np.asarray(spec.values)


def predictions(case: Case) -> np.ndarray:
    """A case's logits (or probabilities) in float64, times its logit scale: before any rounding to a trial dtype."""
    return _array(case.predictions).astype(np.float64) * case.logit_scale


@lru_cache(maxsize=4)
def materialize(trial: Trial) -> Inputs:
    """Inputs of a trial: logits, dense labels and weights rounded to the trial dtype.

    Rounding happens once, here, so that neither the oracle nor any framework is blamed for it.
    """
    case = trial.case
    logits64 = predictions(case)
    raw_labels = _array(case.labels, logits64.shape, case.params.axis, generators.masked_classes(case.predictions))
    # integer labels reach the frameworks in the case's label dtype (int64 unless it says otherwise)
    labels = raw_labels.astype(case.params.label_dtype) if case.integer_labels else cast(raw_labels, trial.dtype)
    p = case.params
    cw = None if p.class_weights is None else cast(np.asarray(p.class_weights), trial.dtype)
    sw = None if p.sample_weights is None else cast(np.asarray(p.sample_weights), trial.dtype)
    out = Inputs(logits=cast(logits64, trial.dtype), labels=labels, class_weights=cw, sample_weights=sw)
    for a in (out.logits, out.labels):
        a.setflags(write=False)
    return out


@lru_cache(maxsize=4)
def direction(trial: Trial) -> np.ndarray:
    """The direction v of a trial's derivatives beyond the gradient (harness/schema/orders.py): standard normal
    values from the case's direction seed, shaped like the first input and rounded to the trial dtype, so that
    the oracle and every framework take the same v."""
    shape = np.shape(materialize(trial).logits)
    v = cast(np.random.default_rng(trial.case.direction_seed).standard_normal(shape), trial.dtype)
    v.setflags(write=False)
    return v
