"""The float dtypes a trial can take: names, numpy types, machine epsilon and ULPs."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np

FLOAT_DTYPES: tuple[str, ...] = ("float64", "float32", "float16", "bfloat16")

_NUMPY = {
    "float64": np.dtype(np.float64),
    "float32": np.dtype(np.float32),
    "float16": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
}


def np_dtype(name: str) -> np.dtype:
    """The numpy dtype for a trial dtype name (bfloat16 comes from ml_dtypes)."""
    return _NUMPY[name]


def finfo(name: str):
    """Machine limits of a trial dtype (works for bfloat16 too)."""
    return ml_dtypes.finfo(_NUMPY[name])


def eps(name: str) -> float:
    return float(finfo(name).eps)


def cast(values: np.ndarray, name: str) -> np.ndarray:
    """Round float64 values to the trial dtype (values outside its range become +-inf)."""
    with np.errstate(over="ignore"):
        return np.asarray(values, dtype=np.float64).astype(_NUMPY[name])


def ulp(values: np.ndarray, name: str) -> np.ndarray:
    """The spacing of the trial dtype at each value (the subnormal spacing at zero), as float64."""
    fi = finfo(name)
    nmant = int(fi.nmant)
    minexp = int(fi.minexp)
    v = np.abs(np.asarray(values, dtype=np.float64))
    finite = np.isfinite(v) & (v > 0)
    _, exp = np.frexp(np.where(finite, v, 1.0))
    lead = np.maximum(exp - 1, minexp)  # exponent of the leading bit, clamped to the normal range
    out = np.ldexp(1.0, lead - nmant)
    out = np.where(finite, out, np.ldexp(1.0, minexp - nmant))
    return np.where(np.isinf(v), np.inf, out)


def ulp_distance(observed: np.ndarray, reference: np.ndarray, name: str) -> np.ndarray:
    """|observed - reference| in units of the trial dtype's spacing at the reference."""
    observed = np.asarray(observed, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.abs(observed - reference) / ulp(reference, name)


BLOCK = 1 << 18  # elements per block when a large array is reduced: pieces that stay in cache, no full-size temporaries


def blocks(n: int):
    """(start, stop) of consecutive blocks of BLOCK elements covering range(n)."""
    for s in range(0, n, BLOCK):
        yield s, min(n, s + BLOCK)


def finite_stats(a: np.ndarray) -> tuple[int, int, float]:
    """(NaN count, inf count, largest finite |value| (0 when none)) of an array, in blocks."""
    flat = np.asarray(a).reshape(-1)
    nan = inf = 0
    top = 0.0
    for s, e in blocks(flat.size):
        b = np.asarray(flat[s:e], dtype=np.float64)
        m = float(np.abs(b).max()) if b.size else 0.0
        if math.isfinite(m):  # NaN and inf would carry into the maximum: this block is all finite
            top = max(top, m)
            continue
        fin = np.isfinite(b)
        nb = int(np.isnan(b).sum())
        nan, inf = nan + nb, inf + (b.size - int(fin.sum()) - nb)
        if fin.any():
            top = max(top, float(np.abs(b[fin]).max()))
    return nan, inf, top
