"""Check a user's own loss: run the cases through custom paths beside the built-in ones; rows as a DataFrame.

`harness.check(my_loss, family=..., framework=...)` and `python -m harness check module:fn ...` share
`run_check`. It runs in subprocesses, one per framework, through the same runner as `harness run`:
the rows, verdicts and report are those of a normal run; a framework's crash or hang cannot take
the caller down; and the adapters' process-wide precision settings (TF32 off, JAX x64 on) never
leak into the caller's own process (a user's test suite). The price is that the callable must be
importable by name: a module-level function, not a lambda or a closure.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

import adapters
from adapters import custom
from adapters.custom import Spec, SpecError
from harness.core import settings
from harness.results.rows import COLUMNS, Row
from harness.results.shards import write_rows
from harness.schema import load_paths

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CASES = PROJECT_ROOT / "cases"
DEFAULT_KNOWN = PROJECT_ROOT / "known_differences.yaml"


def target_of(loss: str | Callable) -> tuple[str, Path | None]:
    """'module:qualname' of a callable (and the folder its top-level package lives in), or the string as given."""
    if isinstance(loss, str):
        return loss, None
    mod, qual = getattr(loss, "__module__", None), getattr(loss, "__qualname__", None)
    if not mod or not qual or "<" in qual:
        raise SpecError(f"{loss!r} has no importable name (a lambda, a closure or a function defined in another function): "
                        "define it at the top level of a module, or pass 'module:function'")
    if mod == "__main__":
        raise SpecError(f"{qual} is defined in __main__, which the framework process cannot import: move it to a module")
    module = sys.modules.get(mod)
    target = f"{mod}:{qual}"
    try:
        same = custom.resolve(target) is loss
    except Exception:  # noqa: BLE001
        same = False
    if not same or module is None:
        raise SpecError(f"{loss!r} is not reachable as {target}: pass 'module:function' instead")
    root = None
    if getattr(module, "__file__", None):
        f = Path(module.__file__).resolve()
        up = mod.count(".") + (1 if f.name == "__init__.py" else 0)
        root = f.parents[up]
    return target, root


@contextmanager
def _environment(updates: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _pythonpath(extra: Sequence[Path]) -> str:
    parts = [str(p) for p in extra if p is not None]
    return os.pathsep.join(dict.fromkeys([*parts, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]))


def specs_for(losses, *, family: str, framework: str | Sequence[str], returns: str = "none",
              name: str = "") -> tuple[list[Spec], list[Path]]:
    """Specs for one or several losses (callables or 'module:function' strings) and the folders to import them from."""
    items = list(losses) if isinstance(losses, (list, tuple)) else [losses]
    if name and len(items) > 1:
        raise SpecError("name= applies to a single loss")
    frameworks = tuple(f.strip() for f in framework.split(",")) if isinstance(framework, str) else tuple(framework)
    specs, roots = [], [Path.cwd()]
    for item in items:
        target, root = target_of(item)
        specs.append(Spec(target=target, family=family, frameworks=frameworks, returns=returns, name=name,
                          path=str(root or Path.cwd())))
        if root is not None:
            roots.insert(0, root)
    problems = [p for s in specs for p in s.problems(list(adapters.registry()))]
    apis = [s.api for s in specs]
    problems += [f"{a}: two losses share this api name" for a in sorted({a for a in apis if apis.count(a) > 1})]
    if problems:
        raise SpecError("\n".join(problems))
    return specs, roots


def run_check(specs: list[Spec], *, roots: Sequence[Path] = (), cases: Sequence[str | Path] | None = None,
              out: str | Path, beside: str = "fused", known: str | Path | None = None, keyword: str | None = None,
              devices: Sequence[str] = (), trial_timeout: float = 600.0, echo=print) -> tuple[list[Row], list[str]]:
    """Run the specs' frameworks over the cases and write the report into `out`; return (rows, warnings).

    Only cases of the claimed families run (and, with beside='fused', only the built-in paths of those
    families that are not naive). CaseFileError and SpecError propagate.
    """
    from harness import report
    from harness.results.merge import merge
    from harness.run import runner

    if beside not in custom.BESIDE:
        raise SpecError(f"beside: expected one of {', '.join(custom.BESIDE)}, got {beside!r}")
    case_paths = [Path(c).resolve() for c in (cases or [DEFAULT_CASES])]
    loaded = load_paths(case_paths)
    families = {s.family for s in specs}
    if not any(c.family in families for c in loaded):
        raise SpecError(f"no case of family {', '.join(sorted(families))} in {', '.join(map(str, case_paths))}")
    known_path = Path(known) if known else DEFAULT_KNOWN
    frameworks = list(dict.fromkeys(f for s in specs for f in s.frameworks))
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = {"PYTHONPATH": _pythonpath(roots)}
    settings.set_custom_paths(custom.encode(specs), env)
    settings.set_custom_beside(beside, env)
    with _environment(env):
        shards = runner.run_frameworks(frameworks, case_paths, out, known=known_path if known_path.exists() else None,
                                       keyword=keyword, devices=list(devices), trial_timeout=trial_timeout, echo=echo)
    rows, envs, partial = merge(shards)
    if beside != "all":  # a framework process shows only the claimed families, but its `unavailable` row stays
        rows = [r for r in rows if r.family in families or r.verdict == "unavailable"]
    warnings = [f"partial: {p}" for p in partial]
    write_rows(out / "results.jsonl", rows)
    report.write_report(rows, envs, out, partial=bool(partial), warnings=warnings)
    return rows, warnings


def frame(rows: list[Row]) -> pd.DataFrame:
    """Result rows as a DataFrame, one column per Row field."""
    return pd.DataFrame.from_records([asdict(r) for r in rows], columns=COLUMNS)


def check(loss: str | Callable | Sequence[str | Callable], *, family: str, framework: str | Sequence[str],
          cases: Sequence[str | Path] | str | Path | None = None, out: str | Path | None = None, returns: str = "none",
          name: str = "", beside: str = "fused", known: str | Path | None = None, keyword: str | None = None,
          devices: Sequence[str] = (), trial_timeout: float = 600.0, quiet: bool = True) -> pd.DataFrame:
    """Check a custom loss (or several) against the cases and the oracle; return every row as a DataFrame.

    `loss` is a module-level function or 'module:function'; it is called as
    `loss(logits, labels, **options)` with the framework's own tensors (see adapters/custom.py).
    The custom rows have `api == 'custom:<module>:<function>'` (or `name`); the built-in paths of
    the framework run beside them (`beside`: 'fused' (default), 'all' or 'none'). The report is
    written to `out` (default: a new temporary folder), whose path is in `df.attrs['report']`, and
    the custom api names in `df.attrs['custom_apis']`.
    """
    result = check_rows(loss, family=family, framework=framework, cases=cases, out=out, returns=returns, name=name,
                        beside=beside, known=known, keyword=keyword, devices=devices, trial_timeout=trial_timeout,
                        quiet=quiet)
    df = frame(result.rows)
    df.attrs.update(report=str(result.report), custom_apis=result.apis, warnings=result.warnings)
    return df


@dataclass
class CheckResult:
    rows: list[Row]
    apis: list[str]  # the custom paths' api names
    report: Path
    warnings: list[str]

    @property
    def custom(self) -> list[Row]:
        """The rows of the custom paths, and the `unavailable` rows of their frameworks."""
        return [r for r in self.rows if r.api in self.apis or r.verdict == "unavailable"]


def check_rows(loss, *, family: str, framework, cases=None, out=None, returns: str = "none", name: str = "",
               beside: str = "fused", known=None, keyword=None, devices=(), trial_timeout: float = 600.0,
               quiet: bool = True) -> CheckResult:
    """`check`, returning the rows themselves."""
    import tempfile

    specs, roots = specs_for(loss, family=family, framework=framework, returns=returns, name=name)
    if isinstance(cases, (str, Path)):
        cases = [cases]
    out = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="harness-check-"))
    rows, warnings = run_check(specs, roots=roots, cases=cases, out=out, beside=beside, known=known, keyword=keyword,
                               devices=devices, trial_timeout=trial_timeout, echo=(lambda *a, **k: None) if quiet else print)
    return CheckResult(rows, [s.api for s in specs], out.resolve() / "index.html", warnings)


def describe(r: Row) -> str:
    """One failing row, as the report reads it: observed, expected, tolerance, and the trial in brackets."""
    flags = f" ({', '.join(r.flags)})" if r.flags else ""
    parts = []
    if r.loss is not None or r.ref_loss is not None:
        parts.append(f"loss{_index(r.loss_worst_index)}={_num(r.loss)}, but should be {_num(r.ref_loss)}")
    if r.grad is not None or r.ref_grad is not None:
        parts.append(f"grad{_index(r.grad_worst_index)}={_num(r.grad)}, but should be {_num(r.ref_grad)}")
    if not parts or r.verdict in ("error", "missing_error", "crash", "timeout"):
        parts.append(r.message[:300])
    tol = f"; allowed {r.loss_allowance or r.grad_allowance}" if (r.loss_allowance or r.grad_allowance) else ""
    return f"{r.verdict}{flags}: {'; '.join(parts)} [{r.case}, {r.framework}, {r.device}, {r.dtype}{tol}]"


def _num(v: Any) -> str:
    if v is None:
        return "?"
    return f"{v:.9g}" if isinstance(v, float) else str(v)


def _index(idx: Any) -> str:
    if isinstance(idx, list) and idx:
        return "[" + ", ".join(str(i) for i in idx) + "]"
    return ""


def command(args, out: Path) -> int:
    """`python -m harness check` (harness/cli.py holds the output folder's lock): exit 0 when every row of
    the custom paths passes or is unsupported, 1 when one disagrees or its framework is missing, 2 for bad input."""
    import importlib.util

    from harness.results.rows import FAILING
    from harness.run.console import EXIT_BAD_INPUT, EXIT_DISAGREE, EXIT_OK, print_summary

    try:
        specs, roots = specs_for(args.targets, family=args.family, framework=args.framework, returns=args.returns,
                                 name=args.name)
    except SpecError as e:
        print(str(e), file=sys.stderr)
        return EXIT_BAD_INPUT
    tops = {t: t.partition(":")[0].split(".")[0] for t in args.targets}
    missing = [t for t, top in tops.items() if importlib.util.find_spec(top) is None and not (Path.cwd() / top).exists()]
    if missing:
        print(f"cannot find the module of {', '.join(missing)} from {Path.cwd()}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"harness check: {', '.join(s.api for s in specs)} as {args.family} in {args.framework}")
    try:
        rows, warnings = run_check(specs, roots=roots, cases=args.cases, out=out, beside=args.beside, known=args.known,
                                   keyword=args.keyword, devices=args.device, trial_timeout=args.trial_timeout)
    except SpecError as e:
        print(str(e), file=sys.stderr)
        return EXIT_BAD_INPUT
    print_summary(rows)
    for w in warnings:
        print(f"warning: {w}")
    apis = [s.api for s in specs]
    mine = [r for r in rows if r.api in apis or r.verdict == "unavailable"]
    bad = [r for r in mine if r.verdict in FAILING or r.verdict == "unavailable"]
    for a in apis:
        counts: dict[str, int] = {}
        for r in mine:
            if r.api == a:
                counts[r.verdict] = counts.get(r.verdict, 0) + 1
        print(f"{a}: " + (", ".join(f"{v} {n}" for v, n in sorted(counts.items())) or "no rows"))
    for r in bad[:20]:
        print(f"  {r.api}: {describe(r)}")
    if len(bad) > 20:
        print(f"  ... and {len(bad) - 20} more (see the report)")
    print(f"report: {out / 'index.html'}  ({len(rows)} rows; {len(bad)} disagreement(s) of your loss)")
    return EXIT_DISAGREE if bad else EXIT_OK
