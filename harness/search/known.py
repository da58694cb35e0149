"""Known differences for drawn cases. The entries of known_differences.yaml name the library's cases by id; a drawn
case has an id of its own, so an entry applies to it first as written (expectations.apply), and otherwise where it
resembles one: the entry matches the row in everything but the case (framework, path, device, dtype, order,
verdict), and one of the library cases the entry names has the drawn case's family and no option the drawn case
lacks (int32 labels raising in torch: the entry about the library's int32-labels case explains every drawn case
with int32 labels on those paths). Such a row becomes `known`, its entry marked "(resembles)", and is counted,
not kept: a known difference restated is not a finding. Rows an entry matches only this loosely may hide a new
mechanism with the same symptom; the report counts them per entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from harness.core.yamlfile import CaseFileError
from harness.judge import expectations
from harness.results.rows import FAILING, Row
from harness.schema import Case, load_paths


@dataclass
class Known:
    entries: list[expectations.Entry] = field(default_factory=list)
    library: list[Case] = field(default_factory=list)  # the cases the entries name
    _named: dict[int, list[tuple[str, frozenset[str]]]] = field(default_factory=dict)

    def named(self, i: int) -> list[tuple[str, frozenset[str]]]:
        """(family, option names) of each library case entry i names."""
        if i not in self._named:
            e = self.entries[i]
            self._named[i] = [(c.family, frozenset(c.params.non_default()) | ({"orders"} if c.orders else set()))
                              for c in self.library if any(fnmatchcase(c.id, p) for p in e.case)]
        return self._named[i]


def load(path: str | Path, cases: str | Path = "cases") -> Known:
    """The entries of the file, and the library's cases they name (none when the folder is missing)."""
    entries = expectations.load(path)
    try:
        library = load_paths([cases]) if Path(cases).exists() else []
    except CaseFileError:
        library = []
    return Known(entries, library)


def apply(row: Row, case: Case, known: Known) -> None:
    """The row's final verdict: an entry as written, else one it resembles (the module's docstring)."""
    expectations.apply(row, known.entries)
    if row.verdict not in FAILING or row.relation:  # the search's relations are its own: no entry names them
        return
    options = frozenset(case.params.non_default()) | ({"orders"} if case.orders else set())
    for i, e in enumerate(known.entries):
        if not (e.expects(row.raw_verdict) and all(expectations._any_matches(getattr(e, k), str(getattr(row, k)))
                                                    for k in expectations.MATCH_KEYS if k != "case")):
            continue
        if any(fam == case.family and opts <= options for fam, opts in known.named(i)):
            row.verdict, row.known_reason, row.known_link = "known", e.reason, e.link
            row.known_entry = f"{e.ident} (resembles)"
            return
