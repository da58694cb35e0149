"""Known differences: a plain YAML list of recorded disagreements, each with a reason and an upstream link.

A failing row that matches an entry becomes `known`; a passing row that matches a strict one becomes
`fixed` (the recorded problem no longer happens); a strict entry that could have matched a row of the run
(`in_scope`) but applies to none is stale. Both are warnings, or failures under `--strict-known`.
`strict: false` belongs only on the naive: and manual: paths, which may pass or fail by design
(tests/test_known_differences.py holds the project's file to it).

    - case: extreme-logits-*        # fnmatch patterns, or lists of them (any may match); omitted: "*"
      framework: tensorflow
      api: [tf.nn.*, keras.*]
      device: "*"
      dtype: float16
      verdict: nonfinite            # the verdict(s) the entry expects ("*" for any failing verdict)
      reason: why this happens
      link: https://github.com/... # the upstream issue or documentation
      strict: true                  # default; false: the matched rows MAY fail (a pass is not `fixed`)
      order: "mixed:*"              # rows of a derivative order ("<order>:<method>", harness/schema/orders.py);
                                    # omitted: only the loss-and-gradient rows (order "")
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from functools import cache, lru_cache
from pathlib import Path

from harness.core import yamlfile
from harness.core.fields import Field, Table, as_tuple, check, is_bool, nonblank, strings
from harness.core.yamlfile import CaseFileError, Location, Problem, at
from harness.results.rows import FAILING, VERDICTS, Row
from harness.schema import cache as case_cache

MATCH_KEYS = ("case", "framework", "api", "device", "dtype", "order")
_PATTERNS = (strings, "expected a string or a list of strings")  # fnmatch patterns; omitted: "*"
_WHY = "required: every known difference says why and links upstream"
TABLE = Table((  # an entry's fields
    *(Field(k, (_PATTERNS,), as_tuple) for k in MATCH_KEYS),
    Field("verdict", (_PATTERNS, (lambda v: all(x == "*" or x in FAILING for x in as_tuple(v)),
                                  f"expected '*' or one of {', '.join(sorted(FAILING))}")), as_tuple),
    *(Field(k, ((nonblank, _WHY),), str.strip, required=True, missing=_WHY) for k in ("reason", "link")),
    Field("strict", ((is_bool, "expected true or false"),)),
))
KEYS = TABLE.keys


@dataclass(frozen=True)
class Entry:
    case: tuple[str, ...]
    framework: tuple[str, ...]
    api: tuple[str, ...]
    device: tuple[str, ...]
    dtype: tuple[str, ...]
    order: tuple[str, ...]
    verdict: tuple[str, ...]
    reason: str
    link: str
    location: str
    strict: bool = True

    def matches(self, row: Row) -> bool:
        return all(_any_matches(getattr(self, k), case_of(row) if k == "case" else str(getattr(row, k)))
                   for k in MATCH_KEYS)

    @property
    def summary(self) -> str:
        return " / ".join("|".join(getattr(self, k)) for k in ("case", "framework", "api"))

    @property
    def ident(self) -> str:
        """The entry's file name and line (`known_differences.yaml:42`): what a row it applies to records, the
        same on every machine (the location's directory is not)."""
        file, line, _ = self.location.rsplit(":", 2)
        return f"{Path(file).name}:{line}"

    def expects(self, verdict: str) -> bool:
        return "*" in self.verdict or verdict in self.verdict


def case_of(row: Row) -> str:
    """The case an entry's `case` patterns match: a derivative order's row (case `<id>/<order>:<method>`) by its
    case's id, the order by the entry's `order`."""
    return row.case.removesuffix(f"/{row.order}") if row.order else str(row.case)


@lru_cache(maxsize=1 << 16)
def _any_matches(patterns: tuple[str, ...], value: str) -> bool:
    """Whether any pattern matches the value; remembered, since every row of a run meets every entry (the same
    framework, api, device and dtype over and over)."""
    return any(fnmatchcase(value, p) for p in patterns)


def load(path: str | Path | None) -> list[Entry]:
    """The entries of a known-differences file; parsed once per run, as the case files are (harness/schema/cache.py)."""
    if path is None or not Path(path).exists():
        return []
    return case_cache.cached(Path(path).read_text(encoding="utf-8"), str(path), _parse, salt=_code())


@cache
def _code() -> str:
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def _parse(text: str, name: str) -> list[Entry]:
    doc = yamlfile.load(text, name)
    if doc is None:
        return []
    if not isinstance(doc, list):
        raise CaseFileError([Problem(Location(name, 1, 1), "document", "expected a list of entries")])
    problems: list[Problem] = []
    out = []
    for i, m in enumerate(doc):
        loc = Location(name, at(name, doc, i).line, 1)  # an entry's problems, and the entry, point at its first line
        if not isinstance(m, dict):
            problems.append(Problem(loc, f"[{i}]", "expected a mapping"))
            continue
        entry = check(m, TABLE, name, f"[{i}].")
        problems += [replace(p, location=loc) for p in entry.problems]
        if entry.ok:
            v = entry.values
            out.append(Entry(**{k: v.get(k, ("",) if k == "order" else ("*",)) for k in (*MATCH_KEYS, "verdict")}, reason=v["reason"],
                             link=v["link"], location=str(loc), strict=v.get("strict", True)))
    if problems:
        raise CaseFileError(problems)
    return out


def apply(row: Row, entries: list[Entry]) -> Entry | None:
    """A row's final verdict, the one rule every row passes through once: its raw verdict (the one it was built with,
    harness/judge/assemble.py) is kept in raw_verdict, and a matching entry turns it into `known` (a failing verdict
    the entry expects) or `fixed` (a pass where a strict entry records a failure); otherwise it stays. Returns the
    entry applied."""
    row.raw_verdict = row.raw_verdict or row.verdict
    for i in _candidates(entries, row):
        e = entries[i]
        if not _any_matches(e.case, case_of(row)):
            continue
        if row.raw_verdict in FAILING and e.expects(row.raw_verdict):
            row.verdict = "known"
        elif row.raw_verdict == "pass" and e.strict:
            row.verdict = "fixed"
        else:
            continue
        row.known_reason = e.reason
        row.known_link = e.link
        row.known_entry = e.ident
        return e
    return None


def in_scope(entry: Entry, rows: list[Row]) -> bool:
    """Whether the entry could have matched a row of this run: a row that ran has a case, framework, api, device
    and dtype it names (any verdict). An entry about cases, frameworks, paths, devices or trials this run did not
    include (another --cases file, another shard, a path that does not apply to these families) says nothing
    about it; names that exist nowhere are tests/test_known_differences.py's business."""
    return any(entry.matches(r) for r in rows if r.verdict != "unavailable")


def covered(entries: list[Entry], rows: list[Row]) -> set[int]:
    """The positions of the entries `in_scope` of these rows, each row meeting only the entries its framework, api,
    device and dtype admit (`_candidates`)."""
    found: set[int] = set()
    for r in rows:
        if r.verdict != "unavailable":
            found.update(i for i in _candidates(entries, r) if i not in found and _any_matches(entries[i].case, case_of(r)))
    return found


def unused(entries: list[Entry], rows: list[Row]) -> list[Entry]:
    """Strict entries in the scope of this run (`in_scope`) that match no row they apply to: every row of theirs
    is unsupported, expected an error or failed with a verdict they do not record. A strict entry applies to
    its failing verdicts and to a pass (which it turns into `fixed`). A non-strict one (naive: and manual:
    paths) lets its rows pass or fail, so within its scope it is never stale. A framework whose only row says
    it is unavailable did not run."""
    matched: dict[int, bool] = {}  # an entry's position -> whether a row it matches failed or passed
    for r in rows:
        if r.verdict == "unavailable":
            continue
        for i in _candidates(entries, r):
            if _any_matches(entries[i].case, case_of(r)):
                matched[i] = matched.get(i, False) or (r.raw_verdict or r.verdict) in (*FAILING, "pass")
    return [e for i, e in enumerate(entries) if i in matched and e.strict and not matched[i]]


_BY_TRIAL = ("framework", "api", "device", "dtype", "order")
_CANDIDATES: dict[int, tuple[list[Entry], int, dict[tuple[str, ...], tuple[int, ...]], dict[tuple[str, str], set[int]]]] = {}


def _candidates(entries: list[Entry], row: Row) -> tuple[int, ...]:
    """The positions of the entries whose framework, api, device, dtype and order patterns match the row's (any case), found
    once per list of entries and such combination, from the entries each of its values admits (found once per value):
    a run's rows share a few thousand combinations of some hundred values, and each row would meet every entry otherwise."""
    memo = _CANDIDATES.get(id(entries))
    if memo is None or memo[0] is not entries or memo[1] != len(entries):
        if len(_CANDIDATES) > 16:
            _CANDIDATES.clear()
        memo = _CANDIDATES[id(entries)] = (entries, len(entries), {}, {})  # holds the list, so its id stays its own
    key = tuple(str(getattr(row, k)) for k in _BY_TRIAL)
    found = memo[2].get(key)
    if found is None:
        admits = memo[3]
        for k, v in zip(_BY_TRIAL, key, strict=True):
            if (k, v) not in admits:
                admits[(k, v)] = {i for i, e in enumerate(entries) if _any_matches(getattr(e, k), v)}
        found = memo[2][key] = tuple(sorted(set.intersection(*(admits[(k, v)] for k, v in zip(_BY_TRIAL, key, strict=True)))))
    return found


def stale(entry: Entry) -> str:
    """The line that reports an entry matching no row."""
    return f"known difference at {entry.location} matches no row ({entry.summary})"


assert set(FAILING) <= set(VERDICTS)
