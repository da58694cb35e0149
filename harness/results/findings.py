"""The run's findings: its known and failing rows grouped into distinct behaviours, worst first, each with its text.

A finding is one behaviour that differs from the mathematics:

- a known difference: the rows that one entry of the known-differences file turned `known`, grouped by the
  entry the rows record (`known_entry`; rows from before they recorded it, by the entry's reason and link);
- a new disagreement: the failing rows (FAILING) of one framework, API path, verdict and set of flags.

Worst first: each step breaks the ties of the one before.

1. New disagreements before known differences: they fail the run.
2. The frameworks' own paths before the textbook formulas (`naive:` and `manual:` paths only), which a run
   includes to show where they break.
3. The kind of the finding's worst row: nonfinite (NaN or Inf where the mathematics is finite, or the other
   way round), missing_error (a number where there is none), crash, timeout, error (raised where the
   mathematics is defined), then the finite mismatches (loss, gradient, relation).
4. The size of the worst row's error: the larger of its loss and gradient ULPs (NaN counts as infinite),
   then the larger of its relative errors.
5. More rows first, then the finding's key.

A finding's worst row (steps 3 and 4 over its rows, then the row ids) is its representative: the
report opens it, and its text names it. `lines` is what the console and summary.md end with: the first
`top` findings and a count of the rest. `conformance` is the per-framework view: for each family and
framework, whether its own paths conform to the mathematics and, if not, which findings say why.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property

from harness.core.dtypes import FLOAT_DTYPES
from harness.results.rows import FAILING, Row

TOP = 10  # findings the console and summary.md list
TEXTBOOK = ("naive:", "manual:")  # the paths that are textbook formulas, not the framework's own API
KINDS = ("nonfinite", "missing_error", "crash", "timeout", "error")  # worst first; then the finite mismatches
CONFORMING = frozenset({"pass", "relation_pass", "expected_error", "fixed"})
_TEXT = 110  # characters of a reason or message in a finding's line


def textbook(api: str) -> bool:
    return api.startswith(TEXTBOOK)


def raw(r: Row) -> str:
    """The verdict a row was judged with, before the known-differences file."""
    return r.raw_verdict or r.verdict


def ulps(r: Row) -> float | None:
    """The larger of a row's loss and gradient errors in ULPs (NaN as infinite), None when it has neither."""
    vals = [v for v in (r.loss_ulp, r.grad_ulp) if v is not None]
    return max((math.inf if math.isnan(v) else v for v in vals), default=None)


def rel_err(r: Row) -> float | None:
    vals = [v for v in (r.loss_rel_err, r.grad_max_rel_err) if v is not None]
    return max((math.inf if math.isnan(v) else v for v in vals), default=None)


def severity(r: Row) -> tuple:
    """A row's place in "worst first" (steps 3 and 4): smaller is worse."""
    v = raw(r)
    kind = KINDS.index(v) if v in KINDS else len(KINDS)
    u, e = ulps(r), rel_err(r)
    return kind, -(u if u is not None else -1.0), -(e if e is not None else -1.0)


def worst_text(r: Row) -> str:
    """How far the row is from the mathematics, in a few words: NaN, Inf, its error in ULPs, or what it did."""
    v = raw(r)
    if r.nan_count or r.inf_count:
        return "NaN" if r.nan_count else "Inf"
    if v == "nonfinite":
        return "finite, exact " + ("NaN" if r.ref_nan_count else "Inf")
    if v in ("error", "crash", "timeout"):
        return {"error": "raised", "crash": "crashed", "timeout": "hung"}[v]
    if v == "missing_error":
        return "no error raised"
    u = ulps(r)
    if u is None:
        e = rel_err(r)
        return "" if e is None else f"relative error {e:.3g}"
    return "Inf ULP" if math.isinf(u) else f"{u:.3g} ULP"


@dataclass
class Finding:
    known: bool
    key: tuple[str, ...]  # (entry,) of a known difference; (framework, api, verdict, flags) of a new disagreement
    rows: list[Row] = field(repr=False)
    number: int = 0  # its place in the list, from 1

    @cached_property
    def worst(self) -> Row:
        return min(self.rows, key=lambda r: (severity(r), r.row_id))

    @property
    def reason(self) -> str:
        return self.rows[0].known_reason if self.known else ""

    @property
    def link(self) -> str:
        return self.rows[0].known_link if self.known else ""

    @property
    def entry(self) -> str:
        return self.rows[0].known_entry if self.known else ""

    @property
    def textbook(self) -> bool:
        return all(textbook(r.api) for r in self.rows)

    @property
    def verdicts(self) -> list[str]:
        """The rows' verdicts before the known-differences file, most frequent first (then by name: the rows' order,
        which the console and the report do not share, must not change the text)."""
        counts = Counter(raw(r) for r in self.rows)
        return sorted(counts, key=lambda v: (-counts[v], v))

    @property
    def flags(self) -> list[str]:
        return sorted({f for r in self.rows for f in r.flags})

    @property
    def frameworks(self) -> list[str]:
        return sorted({r.framework for r in self.rows})

    @property
    def paths(self) -> list[tuple[str, str]]:
        return sorted({(r.framework, r.api) for r in self.rows})

    @property
    def dtypes(self) -> list[str]:
        found = {r.dtype for r in self.rows}
        return [d for d in FLOAT_DTYPES if d in found] + sorted(found - set(FLOAT_DTYPES))

    @property
    def devices(self) -> list[str]:
        return sorted({r.device for r in self.rows})

    @property
    def families(self) -> list[str]:
        return sorted({r.family for r in self.rows})

    @property
    def cases(self) -> list[str]:
        return sorted({r.case for r in self.rows})

    @property
    def orders(self) -> list[str]:
        """The derivative orders its rows are of ("hvp:rev-rev"; none for the loss-and-gradient rows)."""
        return sorted({r.order for r in self.rows if r.order})

    def order(self) -> tuple:
        """The finding's place in the list (steps 1 to 5 of the module's docstring)."""
        return (self.known, self.textbook, *severity(self.worst), -len(self.rows), self.key)

    def where(self) -> str:
        """The frameworks and paths, short: `torch F.cross_entropy, nn.CrossEntropyLoss` or `jax, torch: 5 paths`."""
        paths = self.paths
        orders = f" ({', '.join(self.orders)})" if self.orders else ""
        if len(self.frameworks) == 1 and len(paths) <= 3:
            return f"{paths[0][0]} " + ", ".join(api for _, api in paths) + orders
        if len(paths) <= 2:
            return ", ".join(f"{fw} {api}" for fw, api in paths) + orders
        return f"{', '.join(self.frameworks)}: {len(paths)} paths{orders}"

    def which_cases(self) -> str:
        """The cases, named when there are one or two (`masked-class-dense`), else counted (`12 cases`)."""
        cases = self.cases
        return ", ".join(cases) if len(cases) <= 2 else f"{len(cases)} cases"

    def about(self) -> str:
        """What happens: a known difference's reason; a new disagreement's worst row's message."""
        text = self.reason if self.known else (self.worst.message.strip().splitlines() or [""])[0]
        return " ".join(text.split())

    def line(self) -> str:
        """The finding in one line of plain text (the console, summary.md), the same whatever the rows' order."""
        w = self.worst
        status = "known" if self.known else "NEW"
        flags = f" [{', '.join(self.flags)}]" if self.flags else ""
        n = len(self.rows)
        head = (f"{self.number}. {status} {'/'.join(self.verdicts)}{flags} in {self.where()}; {self.which_cases()}; "
                f"{', '.join(self.dtypes)}; {n} row{'s' * (n != 1)}; worst {worst_text(w) or '?'}")
        about = _cut(self.about())
        if self.known:
            return f"{head}: {about}" + (f" {self.link}" if self.link else "")
        return f"{head}: {w.row_id}" + (f": {about}" if about else "")


def _cut(text: str, n: int = _TEXT) -> str:
    return text if len(text) <= n else text[: n - 3].rstrip() + "..."


def _key(r: Row) -> tuple[bool, tuple[str, ...]] | None:
    if r.verdict == "known":
        return True, (r.known_entry or f"{r.known_reason}\n{r.known_link}",)
    if r.verdict in FAILING:
        return False, (r.framework, r.api, r.verdict, ",".join(sorted(r.flags)), r.order)
    return None


def findings(rows: list[Row]) -> list[Finding]:
    """The run's findings, worst first, numbered from 1."""
    groups: dict[tuple, list[Row]] = {}
    for r in rows:
        k = _key(r)
        if k is not None:
            groups.setdefault(k, []).append(r)
    out = sorted((Finding(known, key, rs) for (known, key), rs in groups.items()), key=Finding.order)
    for i, f in enumerate(out, 1):
        f.number = i
    return out


def lines(found: list[Finding], top: int = TOP) -> list[str]:
    """The findings' lines the console and summary.md end with: the first `top`, and how many more there are."""
    out = [f.line() for f in found[:top]]
    if len(found) > top:
        out.append(f"... and {len(found) - top} more (see the report)")
    return out


def heading(found: list[Finding]) -> str:
    new = sum(not f.known for f in found)
    return f"Findings: {len(found)} distinct behaviour{'s' * (len(found) != 1)} ({new} new, {len(found) - new} known)"


@dataclass
class Cell:
    """One family and framework of the per-framework view."""
    findings: list[int] = field(default_factory=list)  # the numbers of the findings on the framework's own paths
    textbook: list[int] = field(default_factory=list)  # those on its textbook formulas (naive:, manual:)
    agree: int = 0  # rows of its own paths that agree with the mathematics (CONFORMING verdicts)

    @property
    def conforms(self) -> bool:
        return self.agree > 0 and not self.findings


def conformance(rows: list[Row], found: list[Finding]) -> dict[str, dict[str, Cell]]:
    """family -> framework -> Cell, for every family and framework with a row (families and frameworks sorted); a
    derivative order beyond the gradient is a line of its own under its family ("softmax_cross_entropy: hvp").
    A framework conforms in a family when rows of its own paths agree with the mathematics there and none is in a
    finding; where its own paths only report `unsupported` it neither conforms nor differs."""
    number = {id(r): f.number for f in found for r in f.rows}
    table: dict[str, dict[str, Cell]] = {}
    for r in sorted(rows, key=lambda r: (r.family, r.order, r.framework)):
        if r.verdict == "unavailable":
            continue
        line = f"{r.family}: {r.order.partition(':')[0]}" if r.order else r.family
        cell = table.setdefault(line, {}).setdefault(r.framework, Cell())
        n = number.get(id(r))
        if n is not None:
            target = cell.textbook if textbook(r.api) else cell.findings
            if n not in target:
                target.append(n)
        elif not textbook(r.api) and r.verdict in CONFORMING:
            cell.agree += 1
    for fws in table.values():
        for cell in fws.values():
            cell.findings.sort()
            cell.textbook.sort()
    return table
