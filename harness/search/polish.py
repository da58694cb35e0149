"""The last step of shrinking: after Hypothesis has made the case as small as its draws allow (fewest rows, classes
and options, float32), each logit is made as plain as the finding allows, one at a time: 0, else the simplest
spike of the same sign the search draws (1, 3, 12, 20, 60, ...), else an integer, else one significant digit.
Hypothesis shrinks choices, not values: a row of seeded normal values stays a row of seeded normal values
([34.6, 82.2]) where the finding needs one logit above 50 ([0, 60])."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

from harness.search.strategies import SPIKES


def _candidates(v: float) -> list[float]:
    if not math.isfinite(v) or v == 0:
        return []
    plain = [s for s in SPIKES if isinstance(s, float) and (s > 0) == (v > 0) and abs(s) < abs(v)]
    out = [0.0, *sorted(plain, key=abs), float(round(v)), float(f"{v:.1g}")]
    return [c for i, c in enumerate(out) if c != v and c not in out[:i]]


def _places(x) -> list[tuple[int, ...]]:
    if x and isinstance(x[0], list):
        return [(i, j) for i, row in enumerate(x) for j in range(len(row))]
    return [(i,) for i in range(len(x))]


def _get(x, at):
    return x[at[0]][at[1]] if len(at) == 2 else x[at[0]]


def _set(x, at, v) -> None:
    if len(at) == 2:
        x[at[0]][at[1]] = v
    else:
        x[at[0]] = v


def polish(m: dict, shows: Callable[[dict], bool], limit: int = 4096) -> dict:
    """The mapping with every logit replaced by the plainest value that still shows the finding."""
    best = copy.deepcopy(m)
    places = _places(best["logits"])
    if len(places) > limit:  # a long class axis: one pass over the logits would cost thousands of runs
        return best
    for at in places:
        for c in _candidates(_get(best["logits"], at)):
            trial = copy.deepcopy(best)
            _set(trial["logits"], at, c)
            if shows(trial):
                best = trial
                break
    return best
