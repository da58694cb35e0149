"""Kinks: the correct gradient nearest an observed one where the loss is not differentiable, and which one was chosen.

At a hinge margin of exactly 0 or a tie inside a max, the oracle gives the subdifferential
(harness/oracle/core.py, Subgradient): entry by entry between `at0` and `at1`, the gradients with the
derivative of every kinked max taken as 0 and as 1, and, where ties make it more than a box, bounds on each
row's sum. Any element of it is correct, so the judge compares an observed gradient with the element of the
box nearest to it (each entry clipped to its interval) under the usual per-element allowance, and checks
the row sums apart. Which element a framework chose is part of the row: at each kinked entry
t = (g - at0) / (at1 - at0) is the derivative it took for the max (0 for relu-like, 1/2 for torch.maximum
and JAX's max, 1 for a >= test), and the row records the distinct values.
"""

from __future__ import annotations

import numpy as np

from harness.oracle.core import Subgradient

MAX_SHOWN = 4  # distinct choices written out; more are summarised as a range


def nearest(sub: Subgradient, ref_grad: np.ndarray, obs: np.ndarray) -> tuple[np.ndarray, dict]:
    """(the correct gradient nearest obs, entry by entry; metrics: `kinks` (entries where the loss has a kink)
    and `subgradient` (the derivative the framework took at them, as distinct values t))."""
    lo, hi = sub.bounds()
    o = np.asarray(obs, dtype=np.float64)
    kinked = lo < hi
    n = int(kinked.sum())
    if not n or o.shape != ref_grad.shape:
        return ref_grad, {"kinks": n} if n else {}
    use = kinked & np.isfinite(o)
    out = np.where(use, np.clip(np.where(use, o, 0.0), lo, hi), ref_grad)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (o[use] - sub.at0[use]) / (sub.at1[use] - sub.at0[use])
    return out, {"kinks": n, "subgradient": _choices(t)}


def _choices(t: np.ndarray) -> str:
    """The distinct derivatives taken at the kinks, e.g. '0.5' or '0, 1'; outside [0, 1] is not a subgradient."""
    if not t.size:
        return "non-finite"
    # to 3 decimals: a framework takes 0, 1/2, 1/3, 1; the rest is its rounding (a label entry is a rounded sum)
    vals = sorted({float(f"{round(v, 3):.3g}") + 0.0 for v in t})  # + 0.0: no "-0"
    if len(vals) <= MAX_SHOWN:
        return ", ".join(f"{v:g}" for v in vals)
    return f"{len(vals)} values in [{vals[0]:g}, {vals[-1]:g}]"


def row_sums(sub: Subgradient, obs: np.ndarray, allowed: np.ndarray) -> str:
    """Why the observed gradient's row sums leave the subdifferential ('' when they do not): each row's sum must
    lie within its bounds (sub.row_sum), give or take the row's allowances and the sum's rounding."""
    o = np.asarray(obs, dtype=np.float64)
    lo, hi = (np.asarray(b, dtype=np.float64) for b in sub.row_sum)
    with np.errstate(invalid="ignore"):
        s = o.sum(axis=sub.axis)
        slack = np.asarray(allowed, dtype=np.float64).sum(axis=sub.axis) + np.finfo(np.float64).eps * np.abs(o).sum(axis=sub.axis)
        off = np.maximum(lo - s, s - hi) - slack
    bad = np.isfinite(s) & (off > 0)
    if not bad.any():
        return ""
    i = np.unravel_index(int(np.argmax(np.where(bad, off, -np.inf))), s.shape)
    idx = [int(k) for k in i]
    return (f"grad row {idx} sums to {float(s[i])!r}, but every subgradient's row sums to between "
            f"{float(lo[i])!r} and {float(hi[i])!r} (the tied terms' weights add up to one); "
            f"{int(bad.sum())} of {s.size} rows out")
