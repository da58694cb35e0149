"""The search: Hypothesis draws cases (harness/search/strategies.py), every path runs them (runner.py), and each
new failing signature (framework, path, raw verdict) is shrunk by Hypothesis itself to its smallest case.

One Hypothesis property runs every drawn case on every path. The first time a case shows a signature no earlier
finding has, the property fails for it; from then on it fails only where that one signature shows, running only
that path, so Hypothesis' shrinker walks the case down to the simplest that still shows it (fewest rows and
classes, zeros at scale 1, no option, float32: the strategies order every choice that way). The shrunk case is
polished (harness/search/polish.py), recorded, run on every path (a signature it shows there that
no drawn case showed is kept on it too), and the property starts again from the same seed: the cases it drew before come from a memo (no
framework runs them again), so it goes on where it stopped, until the budget of drawn cases or the time is spent.
Reproducible: the seed fixes Hypothesis' draws, the example database is off.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import seed as hseed

from harness.results.rows import Row
from harness.search import runner, strategies
from harness.search.polish import polish
from harness.search.runner import Target, signature


class Found(Exception):  # noqa: N818 - not an error: Hypothesis' way of being told a case is interesting
    def __init__(self, sig: tuple[str, str, str], mapping: dict):
        super().__init__(f"{sig}")
        self.sig, self.mapping = sig, mapping


@dataclass
class Finding:
    sig: tuple[str, str, str]
    mapping: dict  # the shrunk case's mapping (no id or description)
    row: Row  # its row on the signature's path
    first: dict  # the case the search first saw it on


@dataclass
class Result:
    family: str
    seed: int
    drawn: int = 0  # distinct cases run on every path
    invalid: int = 0  # drawn mappings the schema refused (should stay 0)
    rows: int = 0
    verdicts: Counter = field(default_factory=Counter)  # final verdicts of every row drawn
    known: Counter = field(default_factory=Counter)  # known-difference entry -> rows it explained
    findings: list[Finding] = field(default_factory=list)
    duplicates: int = 0  # shrunk findings whose signature, flags and shape an earlier one had
    seconds: float = 0.0


def _key(m: dict) -> str:
    return json.dumps(m, sort_keys=True)


def search(family: str, target: Target, budget: int = 100, seconds: float | None = None, seed: int = 0,
           dtypes: tuple[str, ...] = strategies.DTYPES, shrink_seconds: float = 60.0, log=lambda s: None) -> Result:
    """Search the family for `budget` drawn cases (or until `seconds` pass) and shrink every new signature."""
    res = Result(family, seed)
    t0 = time.monotonic()
    full: dict[str, list[tuple[tuple[str, str, str], str]] | None] = {}  # case -> (signature, final verdict) per row
    aimed: dict[tuple[str, tuple], bool] = {}  # (case, signature) -> shows it
    done: set[tuple[str, str, str]] = set()
    state: dict = {"aim": None, "until": None}

    def out_of_time() -> bool:
        return seconds is not None and time.monotonic() - t0 > seconds

    def until() -> float:  # a shrink's deadline: its own time, and with `seconds`, by twice the drawing's time
        end = time.monotonic() + shrink_seconds
        return min(end, t0 + 2 * seconds) if seconds is not None else end

    def run_full(m: dict, count: bool = True):
        """Every row's (signature, final verdict) of a case; `count`: a drawn case (a shrunk one is not)."""
        k = _key(m)
        if k not in full:
            if count and (out_of_time() or res.drawn >= budget):
                return None
            case = runner.try_case(m)
            if case is None:
                res.invalid += 1
                full[k] = None
                return None
            rows = runner.run_case(case, target)
            full[k] = [(signature(r), r.verdict) for r in rows]
            if count:
                res.drawn += 1
                res.rows += len(rows)
                res.verdicts.update(r.verdict for r in rows)
                res.known.update(r.known_entry for r in rows if r.verdict == "known")
                log(f"[{res.drawn}/{budget}] {case.id}: {len(runner.findings(rows))} finding rows")
        return full[k]

    def shows(m: dict, sig) -> bool:
        k = _key(m)
        if k in full and full[k] is not None:
            return any(s == sig and v not in runner.QUIET for s, v in full[k])
        if (k, sig) not in aimed:
            if time.monotonic() > state["until"]:
                return False  # the shrink's time is spent: nothing new is smaller
            case = runner.try_case(m)
            rows = runner.run_case(case, target, only=sig[:2]) if case is not None else []
            aimed[(k, sig)] = any(signature(r) == sig and r.verdict not in runner.QUIET for r in rows)
        return aimed[(k, sig)]

    @hseed(seed)
    @settings(max_examples=budget, database=None, deadline=None, derandomize=False, report_multiple_bugs=False,
              phases=(Phase.generate, Phase.shrink), suppress_health_check=list(HealthCheck), print_blob=False)
    @given(strategies.case_mapping(family, dtypes))
    def prop(m):
        sig = interesting(m)
        if sig is not None:
            raise Found(sig, m)  # one place: Hypothesis tells failures apart by where they are raised

    def interesting(m: dict):
        aim = state["aim"]
        if aim is not None:
            return aim if shows(m, aim) else None
        seen = run_full(m)
        if seen is None:
            reject()
        new = [s for s, v in seen if v not in runner.QUIET and s not in done]
        if new:
            state["aim"], state["until"], state["first"] = new[0], until(), m
            return new[0]
        return None

    while True:
        state["aim"] = None
        try:
            prop()
        except Found as f:
            done.add(f.sig)
            state["until"] = until()
            f.mapping = polish(f.mapping, lambda m, sig=f.sig: shows(m, sig))
            log(f"shrunk {f.sig}")
            _record(res, f, state["first"], target)
            # the shrunk case on every path: a signature it shows that no drawn case showed on a path that could run
            # it (one without label smoothing, say) is kept on this case, already small
            for sig, v in run_full(f.mapping, count=False) or []:
                if v not in runner.QUIET and sig not in done:
                    done.add(sig)
                    _record(res, Found(sig, f.mapping), f.mapping, target)
            continue
        except Exception as e:  # noqa: BLE001 - Hypothesis gives up (every draw rejected once the budget is spent)
            if type(e).__name__ not in ("Unsatisfiable", "FailedHealthCheck"):
                raise
        break
    res.seconds = round(time.monotonic() - t0, 1)
    return res


def _record(res: Result, f: Found, first: dict, target: Target) -> None:
    """Keep a shrunk finding unless one with its signature, flags and shape is already kept."""
    case = runner.to_case(f.mapping)
    rows = [r for r in runner.run_case(case, target, only=f.sig[:2]) if signature(r) == f.sig]
    if not rows:
        return
    row = rows[0]
    key = (*f.sig, tuple(sorted(row.flags)), tuple(case.predictions.shape))
    if any((*g.sig, tuple(sorted(g.row.flags)), tuple(runner.to_case(g.mapping).predictions.shape)) == key
           for g in res.findings):
        res.duplicates += 1
        return
    res.findings.append(Finding(f.sig, f.mapping, row, first))
