"""Merging shards: the rows of every shard of a run, each row id once, and the shards a killed run left short.

A row read from a line that `Row.to_json` wrote (one served from the row cache, harness/run/runcache.py) keeps
that line (`stored`), and `line` writes it again with only the fields serving and merging set encoded anew
(SET_AFTER: the case's place, the verdicts of the known differences, the shard): a run with nothing changed
encodes no row's values again. The rows the runner served are handed to this process's `merge` (`keep`)
instead of being read back from their shard.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from harness.results.rows import COLUMNS, Row
from harness.results.shards import read_rows

# the fields of a row read from a stored line that serving (the case's current place, harness/judge/expectations.py)
# and merging (the shard) set; every other field is written as it was read. A row holds no nested object, so
# `, "<field>": ` is found in its line only where that field begins (a quote inside a string is escaped).
SET_AFTER = ("source", "verdict", "raw_verdict", "known_reason", "known_link", "known_entry", "shard")
_SPANS = tuple((f', "{k}": ', f', "{COLUMNS[COLUMNS.index(k) + 1]}": ', k) for k in sorted(SET_AFTER, key=COLUMNS.index))
_STORED = "_stored_line"  # the attribute of a row that holds the line it was read from
_KEPT: dict[str, tuple[tuple[int, int], list[Row]]] = {}  # shard path -> (its size and mtime, its rows)


def stored(text: str) -> Row:
    """The row of a line `Row.to_json` wrote, keeping the line for `line`; json.JSONDecodeError for one that is not JSON."""
    row = Row.from_json(text)
    row.__dict__[_STORED] = text
    return row


def line(row: Row) -> str:
    """The row's JSON line, as `row.to_json()` writes it: for a row read by `stored`, its line with the SET_AFTER fields
    encoded anew (the only ones set since; `dataclasses.replace` makes a row without the line)."""
    text = row.__dict__.get(_STORED)
    if text is None:
        return row.to_json()
    parts, pos = [], 0
    for key, after, name in _SPANS:
        start = text.find(key, pos)
        end = text.find(after, start)
        if start < 0 or end < 0:
            return row.to_json()
        parts += [text[pos:start + len(key)], json.dumps(getattr(row, name))]
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def keep(path: Path, rows: list[Row]) -> None:
    """Hand the rows just written to a shard to this process's next `merge` of it (while the file is unchanged)."""
    _KEPT[str(Path(path).resolve())] = (_stat(path), rows)


def _kept(path: Path) -> list[Row] | None:
    found = _KEPT.pop(str(path.resolve()), None)
    return found[1] if found is not None and found[0] == _stat(path) else None


def _stat(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def merge(paths: list[Path]) -> tuple[list[Row], list[dict], list[str]]:
    """Rows of all shards, the same row id from several shards reported once with both sources;
    and the shards that hold fewer rows than their process owed (a run killed part-way)."""
    by_id: dict[str, Row] = {}
    envs = []
    partial: list[str] = []
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted(p.glob("**/*.jsonl"))
            # a run's folder holds its shards and their merge (results.jsonl): read the shards
            shards = [f for f in found if f.name != "results.jsonl"]
            files.extend(shards or found)
        else:
            files.append(p)
    for f in files:
        env = f.with_suffix(".env.json")
        if env.exists():
            envs.append(json.loads(env.read_text()))
        shard_rows = _kept(f)
        if shard_rows is None:
            shard_rows = read_rows(f)
        owed = f.with_suffix(".expected.json")
        if owed.exists():
            expected = json.loads(owed.read_text()).get("rows", 0)
            have = len({r.row_id for r in shard_rows})
            if have < expected:
                partial.append(f"{f.parent.name}/{f.name}: {have} of {expected} rows")
        for r in shard_rows:
            src = f"{f.parent.name}/{f.name}"
            if r.row_id in by_id:
                prev = by_id[r.row_id]
                prev.shard = ", ".join(sorted(set(prev.shard.split(", ")) | {src}))
            else:
                r.shard = r.shard or src
                by_id[r.row_id] = r
    return list(by_id.values()), envs, partial
