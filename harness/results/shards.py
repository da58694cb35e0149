"""Shard files: the JSONL files rows are appended to and read from, written whole, and the per-worker shards of one.

A framework process appends each row to its shard as it finishes (`ShardWriter`); under pytest-xdist
each worker appends to its own (`worker_path`: torch.gw0.jsonl beside torch.jsonl), and the controller
appends the workers' rows to the shard at the end (`consolidate`). A reader skips a torn last line,
which a killed writer leaves.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from harness.results.rows import Row


class ShardWriter:
    """Append rows to a JSONL shard, one line per row, flushed as it is written, synced when closed."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "a", encoding="utf-8")

    def write(self, row: Row) -> None:
        # flushed to the OS at once, so a killed process loses nothing it finished; no fsync per row
        # (that guards against a machine crash only, and costs milliseconds on every trial)
        self._f.write(row.to_json() + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()


def read_rows(path: str | Path) -> list[Row]:
    """Rows of a JSONL file; a torn last line (a killed writer) is skipped."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                out.append(Row.from_json(line))
            except json.JSONDecodeError:
                continue
    return out


def write_rows(path: str | Path, rows: Iterable[Row]) -> None:
    atomic_write(Path(path), "".join(r.to_json() + "\n" for r in rows))


def atomic_write(path: Path, text: str) -> None:
    """Write a file so that a reader sees the old or the new one, never half of it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; reports are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- the per-worker shards of a shard


def worker_path(path: Path, worker: str) -> Path:
    """torch.jsonl -> torch.gw0.jsonl (the same for .progress)."""
    return path.with_name(f"{path.stem}.{worker}{path.suffix}")


def shard_family(path: Path) -> list[Path]:
    """A shard and the per-worker shards of the same name that exist (left by a run that was killed)."""
    return [p for p in (path, *sorted(path.parent.glob(f"{path.stem}.gw*{path.suffix}"))) if p.exists()]


def consolidate(path: Path) -> list[Row]:
    """Append the per-worker shards' rows to the shard and remove them; return those rows."""
    moved: list[Row] = []
    workers = [p for p in shard_family(path) if p != path]
    if not workers:
        return moved
    w = ShardWriter(path)
    for f in workers:
        rows = read_rows(f)
        for r in rows:
            w.write(r)
        moved.extend(rows)
    w.close()
    for f in workers:
        f.unlink()
    return moved
