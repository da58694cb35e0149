"""The row cache's files: finished rows kept under their cache key in the output folder, for a later run to reuse.

Each framework has its folder (<out>/cache/rows/<framework>/). A process appends what it records to a
file of its own (`new-<run>.<tag>.<pid>.cache`: no two processes write one file), a line per row:

    <key> TAB <row id> TAB <environment key> TAB <checksum of the JSON> TAB <the row's JSON>

with the row as it was before the known differences were applied (they are applied again when it is
served). A row served from the cache adds the same line without checksum and JSON, so that a run's files
name the key of every row it produced (harness/run/runcache.py builds on that). A reader skips the files
of its own run, so every pytest-xdist worker of a run sees the same rows and collects the same items; a
torn line, or one whose checksum does not match, is a miss: the row is computed again. After a run,
`compact` folds the files into one (`rows.cache`): the newest row per (row id, environment key), of the
KEEP_ENVIRONMENTS environments used last.

What is not cached (`cacheable`): a `crash` or `timeout` (the runner writes them; they are what happened
to a process, not a function of the trial), `unavailable`, a row the harness itself failed on
(`harness_error`: a bug or a MemoryError, to be seen again), an error that says memory ran out, and
the rows of a user's own loss paths (their code is outside the harness, so no key can see it change).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from harness.results.rows import Row
from harness.results.shards import atomic_write

COMPACT = "rows.cache"
KEEP_ENVIRONMENTS = 3  # e.g. pinned and as-deployed, and the one before an upgrade
NOT_CACHED = frozenset({"crash", "timeout", "unavailable"})
OUT_OF_MEMORY = ("out of memory", "outofmemory", "resourceexhausted", "memoryerror", "cannot allocate memory")


def cacheable(row: Row, custom_paths: frozenset[str] = frozenset()) -> bool:
    """Whether a row is a function of its key alone, and so may be served again (see the module's docstring)."""
    if row.verdict in NOT_CACHED or "harness_error" in row.flags or row.api in custom_paths:
        return False
    text = row.message.lower().replace("_", "").replace(" ", "")
    return not (row.verdict == "error" and any(m.replace(" ", "") in text for m in OUT_OF_MEMORY))


def _checksum(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _lines(path: Path):
    """The well-formed lines of a cache file as (key, row id, environment key, checksum, JSON); a file that cannot
    be read yields nothing."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    for line in text.split("\n"):
        parts = line.split("\t", 4)
        if len(parts) == 5 and parts[0]:
            yield parts


class RowStore:
    """One framework's cached rows: read once, looked up by key; this process's new lines go to its own file."""

    def __init__(self, folder: Path, run: str, tag: str):
        self.folder, self.run, self.tag = Path(folder), run, tag
        self._rows: dict[str, tuple[str, str]] | None = None  # key -> (checksum, JSON)
        self._out = None

    def _load(self) -> dict[str, tuple[str, str]]:
        if self._rows is None:
            self._rows = {}
            for f in files(self.folder):
                if f.name.startswith(f"new-{self.run}."):
                    continue  # this run's own rows: another worker may have written some already
                for key, _, _, sha, text in _lines(f):
                    if text:
                        self._rows[key] = (sha, text)
        return self._rows

    def __contains__(self, key: str) -> bool:
        return key in self._load()

    def get(self, key: str) -> Row | None:
        """The row stored under the key, or None: absent, torn or corrupt (its checksum does not match)."""
        found = self._load().get(key)
        if found is None or _checksum(found[1]) != found[0]:
            return None
        try:
            return Row.from_json(found[1])
        except (ValueError, TypeError):
            return None

    def put(self, key: str, row: Row, env: str) -> None:
        text = row.to_json()
        self._write(row.row_id, f"{key}\t{row.row_id}\t{env}\t{_checksum(text)}\t{text}\n")

    def mark(self, key: str, rid: str, env: str) -> None:
        """Note that this run served the row stored under the key."""
        self._write(rid, f"{key}\t{rid}\t{env}\t\t\n")

    def _write(self, rid: str, line: str) -> None:
        if "\t" in rid or "\n" in rid:
            return  # not a row id a case file can make; such a row is simply not kept
        if self._out is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._out = open(self.folder / f"new-{self.run}.{self.tag}.{os.getpid()}.cache", "a", encoding="utf-8")
        self._out.write(line)
        self._out.flush()  # a process killed later loses nothing it finished

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def files(folder: Path) -> list[Path]:
    """The cache files of a framework's folder, oldest first: the compacted file, then the processes' files."""
    if not folder.is_dir():
        return []
    new = sorted(folder.glob("new-*.cache"), key=lambda p: (_mtime(p), p.name))
    compact = folder / COMPACT
    return ([compact] if compact.exists() else []) + new


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


def run_keys(folder: Path, run: str) -> dict[str, str]:
    """Row id -> key of every row the run recorded or served (its own files' lines)."""
    out: dict[str, str] = {}
    for f in files(folder):
        if f.name.startswith(f"new-{run}."):
            for key, rid, _, _, _ in _lines(f):
                out[rid] = key
    return out


def compact(folder: Path, *, at_most: int = 16) -> None:
    """Fold a framework's files into one: the newest row per (row id, environment), of the environments used last.
    Not while only rows served have been noted since, in fewer than `at_most` files (a run with nothing changed
    would rewrite every row for nothing). Only while no process writes to the folder (the runner holds the output
    folder's lock)."""
    found = files(folder)
    new = [f for f in found if f.name != COMPACT]
    if not new or len(new) < at_most and not any(text for f in new for *_, text in _lines(f)):
        return
    rows: dict[str, tuple[str, str, str, str]] = {}  # key -> (row id, env, checksum, JSON), oldest use first
    for f in found:
        for key, rid, env, sha, text in _lines(f):
            if text:
                rows.pop(key, None)
                rows[key] = (rid, env, sha, text)
            elif key in rows:
                rows[key] = rows.pop(key)  # served again: used last
    envs = list(dict.fromkeys(env for _, env, _, _ in reversed(rows.values())))[:KEEP_ENVIRONMENTS]
    newest: dict[tuple[str, str], str] = {}
    for key, (rid, env, _, _) in rows.items():
        if env in envs:
            newest[(rid, env)] = key  # a later key of the same row (its case was edited) replaces the earlier
    keep = set(newest.values())
    atomic_write(folder / COMPACT, "".join(f"{k}\t{rid}\t{env}\t{sha}\t{text}\n"
                                           for k, (rid, env, sha, text) in rows.items() if k in keep))
    for f in found:
        if f.name != COMPACT:
            f.unlink(missing_ok=True)
