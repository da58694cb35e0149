"""The rows as the compact JSON the page embeds (`encode_rows`), and back (`decode_rows`, for tests and scripts)."""

from __future__ import annotations

import base64
import gzip
import json
import math
from collections import Counter
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

import numpy as np

from harness.report.values import plain
from harness.results.rows import Row, no_reproducer, row_id

_FULL_VALUES = 32  # value lists up to this long are embedded whole; longer ones as an excerpt
_VALUES_BUDGET = 1_200_000  # bytes of embedded value lists, spent on failures first
_SCRIPTS_BUDGET = 2_000_000  # bytes of the compressed reproducer scripts (base64), failures first


_FORMATS = {3: ".3g", 6: ".6g"}


def _short(v: Any, digits: int = 6) -> Any:
    """A JSON number rounded to `digits` significant digits ("nan"/"inf" strings when not finite)."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    v = float(v)
    if not math.isfinite(v):
        return plain(v)
    if digits < 17:  # 17 digits: repr is already exact and shortest
        v = float(format(v, _FORMATS.get(digits) or f".{digits}g"))
    return int(v) if v.is_integer() and abs(v) < 2**53 and (v != 0 or math.copysign(1, v) > 0) else v


def _exact(v: Any) -> Any:
    """A value kept exactly (a float's repr is the shortest text that reads back as the same float)."""
    return _short(v, 17)


def _flat_index(index: Sequence[int] | None, shape: Sequence[int]) -> int | None:
    if not index or len(index) != len(shape):
        return None
    try:
        return int(np.ravel_multi_index(tuple(int(i) for i in index), tuple(int(s) for s in shape)))
    except (ValueError, TypeError):
        return None


def _loss_flat_index(r: Row) -> int | None:
    n = len(r.loss_values or [])
    if n == 1:
        return 0
    shape = list(r.shape or [])
    for ax in reversed(range(len(shape))):  # the loss has the logits' shape without the class axis
        cand = shape[:ax] + shape[ax + 1:]
        if math.prod(cand) == n and (flat := _flat_index(r.loss_worst_index, cand)) is not None:
            return flat
    return None


def _excerpt(obs: Sequence[float] | None, ref: Sequence[float] | None, worst: int | None) -> list | None:
    """[total, [[flat index, observed, reference], ...], flat index of the worst element or None]: every
    element of a short list, else the first few and those around the worst one."""
    if obs is None and ref is None:
        return None
    n = max(len(obs or []), len(ref or []))
    if n <= _FULL_VALUES:
        idx = list(range(n))
    else:
        w = worst if worst is not None and worst < n else 0
        idx = sorted(set(range(4)) | set(range(max(0, w - 3), min(n, w + 4))))

    def at(a: Sequence[float] | None, i: int) -> Any:
        return _exact(a[i]) if a is not None and i < len(a) else None
    return [n, [[i, at(obs, i), at(ref, i)] for i in idx], worst]


def _encode_column(values: list[Any]) -> dict[str, Any] | None:
    """The smallest of four encodings of one column (None when every value is empty):
    {"a": [v, ...]} plain, {"t": [distinct values], "i": [index per row]} a value table, and either
    of them over only the non-empty rows, listed in "k" as gaps from the previous one. The first of the
    smallest, in that order, by the length of its compact JSON; the lengths come from one encoding of the
    column and one of its table (a list's JSON is its items' joined by commas), not from encoding each option."""
    keep = [i for i, v in enumerate(values) if not (v is None or v == "" or v == [])]
    if not keep:
        return None
    keys = [_frozen(v) if isinstance(v, list) else v for v in values] if list in set(map(type, values)) else values
    first = dict(zip(keys, values, strict=True))
    counted = Counter(keys)
    order = [k for k, _ in counted.most_common()]
    table = [first[k] for k in order]
    # the empty values' JSON lengths (+1: the comma before or after each), over the rows and over the table
    empty_rows = sum(_empty_len(values[i]) + 1 for i in _gaps_of(keep, len(values)))
    empty_table = sum(_empty_len(first[k]) + 1 for k in order if _is_empty(first[k]))
    plain_len = len(_dumps(values))
    table_len = plain_len if len(table) == len(values) else len(_dumps(table))  # no value repeats: the table is the column
    options: list[tuple[int, dict[str, Any]]] = []
    # without an empty value, listing the rows only adds "k": those options are longer
    for sparse in (False, True) if len(keep) < len(values) else (False,):
        extra: dict[str, Any] = {}
        if sparse:
            kept = [keys[i] for i in keep]
            order_kept = [k for k in order if not _is_empty(first[k])]
            pos = {k: j for j, k in enumerate(order_kept)}
            gaps = [b - a for a, b in zip([0, *keep], keep, strict=False)]
            extra = {"k": gaps}
            parts_a = {"k": len(_dumps(gaps)), "a": plain_len - empty_rows}
            idx = [pos[k] for k in kept]
            parts_t = {"k": parts_a["k"], "t": table_len - empty_table, "i": len(_dumps(idx))}
            vals, tab = [values[i] for i in keep], [first[k] for k in order_kept]
        else:
            pos = {k: j for j, k in enumerate(order)}
            idx = [pos[k] for k in keys]
            parts_a, parts_t = {"a": plain_len}, {"t": table_len, "i": len(_dumps(idx))}
            vals, tab = values, table
        options.append((_object_len(parts_a), {**extra, "a": vals}))
        options.append((_object_len(parts_t), {**extra, "t": tab, "i": idx}))
    return min(options, key=lambda o: o[0])[1]


def _is_empty(v: Any) -> bool:
    return v is None or v == "" or v == []


def _frozen(v: Any) -> Any:
    """A hashable stand-in for a list."""
    return tuple(_frozen(x) for x in v) if isinstance(v, list) else v


def _gaps_of(keep: list[int], n: int) -> list[int]:
    """The positions below n that are not in `keep` (sorted)."""
    kept = set(keep)
    return [i for i in range(n) if i not in kept]


def _dumps(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"))


def _empty_len(v: Any) -> int:
    """The length of an empty value's JSON: null, "" or []."""
    return 4 if v is None else 2


def _object_len(parts: dict[str, int]) -> int:
    """The length of a compact JSON object whose values' JSON have the given lengths: {"k":...,"a":...}."""
    return 1 + sum(len(k) + 3 + n for k, n in parts.items()) + len(parts) - 1 + 1


_TEXT_FIELDS = ("case", "family", "framework", "api", "device", "dtype", "verdict", "framework_version", "call",
                "flags", "tags", "description", "source", "reduction", "tolerance_source", "oracle_precision",
                "message", "traceback", "known_reason", "known_link", "known_entry", "shard", "sweep", "shape", "precision",
                "loss_worst_index", "grad_worst_index", "nan_count", "inf_count", "ref_nan_count", "ref_inf_count",
                "relation", "partner", "loss_allowance", "grad_allowance", "order")
_ROUNDED_FIELDS = ("loss_abs_err", "loss_rel_err", "loss_ulp", "grad_max_abs_err", "grad_max_rel_err", "grad_ulp",
                   "grad_norm", "ref_grad_norm", "loss_allowed", "grad_allowed", "duration_s", "sweep_value")


def encode_rows(rows: list[Row]) -> dict[str, Any]:
    """The rows as compact JSON: {"n": rows, "cols": {field: encoded column}, "inputs": {case: text}}.

    Empty fields cost nothing, repeated values are stored once, display metrics are rounded to 6
    significant digits while the worst elements (loss, ref_loss, grad, ref_grad) are exact; a row_id
    is stored only when it is not `case[framework-api-device-dtype]`, raw_verdict and
    device_requested only when they differ from verdict and device. Value lists ("lv", "gv":
    [total, [[index, observed, reference], ...], worst index]) are embedded while their budget lasts, failing
    rows first (the rows come sorted that way). A case's inputs text is stored once, from the first of its
    rows that carries one (rows from before rows carried it have none: the page then shows none)."""
    cols: dict[str, list[Any]] = {k: [] for k in (*_TEXT_FIELDS, *_ROUNDED_FIELDS, "loss", "ref_loss", "grad", "ref_grad",
                                                   "row_id", "raw_verdict", "device_requested", "lv", "gv", "norepro")}
    # column by column: a run has tens of thousands of rows
    for k in _TEXT_FIELDS:
        vals = [v if v is None or v.__class__ is str else plain(v) for v in map(attrgetter(k), rows)]
        cols[k] = [v or None for v in vals] if k.endswith("_count") else vals  # a count of 0 costs nothing
    for k in _ROUNDED_FIELDS:
        digits = 3 if k == "duration_s" else 6
        cols[k] = [None if v is None else _short(v, digits) for v in map(attrgetter(k), rows)]
    for k in ("loss", "ref_loss", "grad", "ref_grad"):
        cols[k] = [None if v is None else _exact(v) for v in map(attrgetter(k), rows)]
    cols["row_id"] = ["" if r.row_id == row_id(r.case, r.framework, r.api, r.device, r.dtype) else r.row_id for r in rows]
    cols["raw_verdict"] = ["" if r.raw_verdict in ("", r.verdict) else r.raw_verdict for r in rows]
    cols["device_requested"] = ["" if r.device_requested in ("", r.device) else r.device_requested for r in rows]
    budget = _VALUES_BUDGET
    for r in rows:
        lv = gv = None
        if budget > 0:
            lv = _excerpt(r.loss_values, r.ref_loss_values, _loss_flat_index(r))
            gv = _excerpt(r.grad_values, r.ref_grad_values, _flat_index(r.grad_worst_index, r.shape or []))
            cost = len(json.dumps([lv, gv]))
            budget -= cost
            if budget < 0:
                lv = gv = None
        cols["lv"].append(lv)
        cols["gv"].append(gv)
    cols["norepro"] = [no_reproducer(r) for r in rows]
    encoded = {k: e for k, v in cols.items() if (e := _encode_column(v)) is not None}
    inputs: dict[str, str] = {}
    for r in rows:
        if r.inputs and r.case not in inputs:
            inputs[r.case] = r.inputs
    return {"n": len(rows), "cols": encoded, "inputs": inputs, **({"repro": s} if (s := _scripts(rows)) else {})}


def _scripts(rows: list[Row]) -> dict[str, Any] | None:
    """The reproducer scripts the rows carry (`repro`: failing rows, harness/run/repro.py) as one gzip-compressed JSON
    list, which the page unpacks when a row is opened: {"rows": [row index, ...], "gz": base64}. They repeat most of
    their text, so they compress about 30 times; past the budget, later rows (the rows come failures first) keep only
    the command that writes their script."""
    idx = [i for i, r in enumerate(rows) if r.repro]
    while idx:
        raw = json.dumps([rows[i].repro for i in idx]).encode("ascii")
        blob = base64.b64encode(gzip.compress(raw, 6, mtime=0)).decode("ascii")
        if len(blob) <= _SCRIPTS_BUDGET:
            return {"rows": idx, "gz": blob}
        idx = idx[: len(idx) * _SCRIPTS_BUDGET // len(blob) * 9 // 10]
    return None


def decode_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The inverse of `encode_rows` (for tests and scripts): one dict of non-empty fields per row."""
    n = data["n"]
    out: list[dict[str, Any]] = [{} for _ in range(n)]
    for name, e in data["cols"].items():
        vals = e["a"] if "a" in e else [e["t"][j] for j in e["i"]]
        idx = list(range(n))
        if "k" in e:
            idx, pos = [], 0
            for gap in e["k"]:
                pos += gap
                idx.append(pos)
        for i, v in zip(idx, vals, strict=True):
            if v not in (None, "", []):
                out[i][name] = v
    for d in out:
        d.setdefault("row_id", row_id(d.get("case", ""), d.get("framework", ""), d.get("api", ""),
                                      d.get("device", ""), d.get("dtype", "")))
    return out
