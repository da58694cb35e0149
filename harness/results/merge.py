"""Merging shards: the rows of every shard of a run, each row id once, and the shards a killed run left short."""

from __future__ import annotations

import json
from pathlib import Path

from harness.results.rows import Row
from harness.results.shards import read_rows


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
