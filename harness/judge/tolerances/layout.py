"""Allowances computed by rows (class axis last), served by flat blocks of the gradient in its own layout."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from harness.judge.tolerances.policy import Terms


def moved(a: np.ndarray, axis: int) -> tuple[np.ndarray, tuple[int, ...], int]:
    """The class axis moved last and the batch flattened to rows: (R x C view or copy, batch shape, C)."""
    a = np.asarray(a)
    m = np.moveaxis(a, axis % a.ndim, -1)
    return m.reshape(-1, m.shape[-1]), m.shape[:-1], m.shape[-1]


def by_rows(rows_fn: Callable[[int, int], Terms], shape: tuple[int, ...], axis: int, C: int):
    """Turn a function of a row range [r0, r1) (class axis last) into one of a flat block [s, e) of the
    array in its own layout. With the class axis last a flat block is a run of whole or part rows;
    otherwise (small trials) the whole array is computed once and sliced."""
    nd = len(shape)
    last = nd == 0 or axis % nd == nd - 1
    if last:
        def block(s: int, e: int) -> Terms:
            if e <= s or C == 0:
                return {}
            r0, r1 = s // C, (e - 1) // C + 1
            t = rows_fn(r0, r1)
            return {k: np.asarray(v).reshape(-1)[s - r0 * C: e - r0 * C] for k, v in t.items()}
        return block
    cache: dict[str, np.ndarray] = {}

    def block_moved(s: int, e: int) -> Terms:
        if not cache:
            R = int(np.prod(shape)) // max(C, 1)
            moved_shape = tuple(np.delete(np.array(shape), axis % nd)) + (C,)
            for k, v in rows_fn(0, R).items():
                cache[k] = np.moveaxis(np.asarray(v).reshape(moved_shape), -1, axis % nd).reshape(-1)
        return {k: v[s:e] for k, v in cache.items()}
    return block_moved


def floor_by_rows(floor_rows: Callable[[int, int], np.ndarray], shape, axis, C):
    """`by_rows` for a floor: one array per row range, served by flat blocks."""
    fn = by_rows(lambda r0, r1: {"floor": floor_rows(r0, r1)}, shape, axis, C)
    return lambda s, e: fn(s, e).get("floor", np.zeros(0))


def full(arrs: Terms, floor: np.ndarray):
    """Terms and floor computed for every element at once (elementwise families), served by flat blocks."""
    flat = {k: np.asarray(v, dtype=np.float64).reshape(-1) for k, v in arrs.items()}
    ff = np.asarray(floor, dtype=np.float64).reshape(-1)
    return (lambda s, e: {k: v[s:e] for k, v in flat.items()}), (lambda s, e: ff[s:e])
