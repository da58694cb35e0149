"""Command line: `python -m harness run|check|report|validate|repro|search`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import adapters
from harness.core import settings
from harness.core.settings import available_cores
from harness.judge import expectations
from harness.results.merge import merge
from harness.run import runner
from harness.run.console import EXIT_BAD_INPUT, EXIT_OK, finish
from harness.schema import CaseFileError, generators, load_paths


def _orders(text: str) -> tuple[str, ...]:
    from harness.schema.orders import ORDERS

    names = tuple(o.strip() for o in text.split(",") if o.strip())
    bad = [o for o in names if o not in ORDERS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown order {bad[0]!r}; known: {', '.join(ORDERS)}")
    return names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run cases through every framework and write the report")
    r.add_argument("--cases", action="append", default=None, help="case file or directory (repeatable; default: cases/)")
    r.add_argument("--frameworks", default=None, help="comma-separated, or `installed` (every framework whose modules are importable; default: every "
                   "known framework, plus the oracle's golden checks)")
    r.add_argument("--out", default="reports", help="output directory (default: reports/)")
    r.add_argument("--known", default=None, help="known-differences file (default: ./known_differences.yaml)")
    r.add_argument("--strict-known", action="store_true",
                   help="fail the run (exit 1) on a `fixed` row and on a known difference that could have matched a row "
                        "of this run but matches none, as pytest's xfail_strict does (default: warnings)")
    r.add_argument("-k", dest="keyword", default=None, help="pytest -k expression over row ids, e.g. 'seed and float32'")
    r.add_argument("--device", action="append", default=[], help="only these devices (cpu, cuda:0)")
    r.add_argument("--trial-timeout", type=float, default=600.0, help="seconds before a trial counts as hung")
    r.add_argument("--resume", action="store_true", help="keep the rows already in --out and run only the missing ones")
    r.add_argument("--no-cache", action="store_true",
                   help="compute every row again (and cache them anew), with no program from JAX's compilation cache (default: "
                        "rows whose case, dtype, path, device, framework environment and harness code are unchanged come from "
                        "<out>/cache/)")
    r.add_argument("--max-elements", type=int, default=generators.DEFAULT_MAX_ELEMENTS, help="refuse inputs larger than this")
    r.add_argument("--orders", type=_orders, default=(), metavar="ORDER,...",
                   help="derivatives beyond the gradient to ask of every case where they apply: jvp, hvp, label_grad, mixed "
                        "(a case asks for its own with `orders:`)")
    r.add_argument("--workers", type=_workers, default="auto", metavar="N|auto",
                   help="spread each framework's trials over N pytest-xdist worker processes (0: none); auto (the "
                        "default): more workers for the frameworks whose expected cost would outlast the others' on this machine's cores")
    r.add_argument("--as-deployed", action="store_true",
                   help="leave the frameworks' precision defaults (TF32, nondeterministic kernels) instead of pinning them; "
                        "every row and the report header record the mode")
    r.add_argument("--shard", type=_shard, default=None, metavar="K/N",
                   help="run only shard K of N (1-based), split by expected cost; merge the N --out dirs with `report`")
    r.add_argument("--config", default=None,
                   help="custom loss paths to run beside the built-in ones (default: ./harness.yaml, else ./pyproject.toml [tool.harness])")

    c = sub.add_parser("check", help="check your own loss callable(s) against the cases and the oracle",
                       description="Run the cases of one family through your callable(s), beside the framework's fused paths, "
                                   "and write the usual report. Exit 1 when your loss disagrees with the oracle.")
    c.add_argument("targets", nargs="+", metavar="MODULE:FUNCTION", help="e.g. my_pkg.losses:clipped_ce (imported from the current folder)")
    c.add_argument("--family", required=True, help="the loss family the callable implements, e.g. softmax_cross_entropy")
    c.add_argument("--framework", required=True, help="whose tensors it takes: torch, tensorflow, jax (comma-separated for several)")
    c.add_argument("--cases", action="append", default=None, help="case file or directory (repeatable; default: the built-in cases)")
    c.add_argument("--out", default="reports", help="output directory (default: reports/)")
    c.add_argument("--returns", default="none", choices=("none", "sum", "mean"),
                   help="what a callable without a `reduction` parameter returns (default: none, one loss per row)")
    c.add_argument("--name", default="", help="api name in the report (default: custom:MODULE:FUNCTION); one target only")
    c.add_argument("--beside", default="fused", choices=("fused", "all", "none"),
                   help="built-in paths to run beside yours: fused (default), all (naive ones too), none")
    c.add_argument("--known", default=None, help="known-differences file (default: the project's)")
    c.add_argument("-k", dest="keyword", default=None, help="pytest -k expression over row ids")
    c.add_argument("--device", action="append", default=[], help="only these devices (cpu, cuda:0)")
    c.add_argument("--trial-timeout", type=float, default=600.0, help="seconds before a trial counts as hung")

    p = sub.add_parser("report", help="merge result shards into one report")
    p.add_argument("shards", nargs="+", help="shard directories or .jsonl files")
    p.add_argument("--out", required=True)

    v = sub.add_parser("validate", help="check case files without running them")
    v.add_argument("paths", nargs="+")

    x = sub.add_parser("repro", help="write a row's standalone reproducer: numpy and the framework, nothing of the harness",
                       description="Write a Python script that reproduces one row: its inputs, the call chain of its `call` "
                                   "column with the run's precision settings, and the exact loss and gradient. Exit 3 when "
                                   "the row has no script (the reason is printed).")
    x.add_argument("row_id", metavar="ROW_ID", help="e.g. 'seed-sparse-example[torch-F.cross_entropy-cpu-float32]'")
    x.add_argument("--out", default=None, help="the script's file (an .npz of large inputs goes beside it); default: "
                                               "printed, or repro-<row id>.py when the inputs are large")
    x.add_argument("--results", default="reports", help="results.jsonl, or the run's output folder (default: reports/)")
    x.add_argument("--cases", action="append", default=None,
                   help="where to find the case when the file the row names is gone (repeatable; default: cases/)")

    from harness.search import cli as search_cli

    search_cli.add_parser(sub)
    args = ap.parse_args(argv)
    if args.command == "search":
        return search_cli.command(args)
    if args.command == "repro":
        from harness.run import repro

        return repro.command(args.row_id, args.results, args.out, args.cases or ["cases"])
    if args.command == "run":
        return cmd_run(args)
    if args.command == "report":
        return cmd_report(args)
    if args.command == "check":
        return cmd_check(args)
    return cmd_validate(args)


def _shard(spec: str) -> str:
    from harness.run.schedule import parse_shard

    try:
        k, n = parse_shard(spec)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return f"{k}/{n}"


def _workers(spec: str) -> str | int:
    if spec == "auto":
        return spec
    try:
        n = int(spec)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"--workers is a number >= 0 or 'auto', got {spec!r}")
    return n


def _plan_workers(args, cases, names) -> dict[str, int]:
    """--workers auto: each framework's expected cost in this shard (the shard split's own cost model)."""
    from harness.run.schedule import ORACLE, parse_shard, plan_workers, shard_costs, split_by_cost

    k, n = parse_shard(args.shard) if args.shard else (1, 1)
    costs = {}
    for name in names:
        if name != ORACLE and adapters.missing_modules(name):
            continue
        c = shard_costs(cases, name)
        if n > 1:
            split = split_by_cost(c, n)
            c = {t: v for t, v in c.items() if split[t] == k - 1}
        costs[name] = sum(c.values())
    return plan_workers(costs, available_cores())


def _precision_mode(args) -> str:
    from harness.core import precision

    return precision.AS_DEPLOYED if args.as_deployed else precision.PINNED


def _problems(e: CaseFileError) -> int:
    for p in e.problems:
        print(p, file=sys.stderr)
    print(f"{len(e.problems)} problem(s); nothing was run", file=sys.stderr)
    return EXIT_BAD_INPUT


def cmd_validate(args) -> int:
    try:
        cases = load_paths(args.paths)
    except CaseFileError as e:
        return _problems(e)
    print(f"{len(cases)} cases OK")
    return EXIT_OK


def cmd_run(args) -> int:
    from harness.run import runner

    generators.set_max_elements(args.max_elements)
    if getattr(args, "orders", ()):
        settings.set_orders(args.orders)
    case_paths = [Path(c).resolve() for c in (args.cases or ["cases"])]
    known = Path(args.known) if args.known else Path("known_differences.yaml")
    known = known.resolve() if known.exists() else None
    # the framework processes (which inherit the environment) load the parsed cases instead of parsing again
    settings.set_case_cache(str((Path(args.out) / "shards" / "case-cache").resolve()))
    try:
        cases = load_paths(case_paths)
        entries = expectations.load(known)
    except CaseFileError as e:
        return _problems(e)
    if args.frameworks == "installed":  # the CI matrix: whatever the environment installed, without the oracle
        names = adapters.installed()
    else:
        names = [n.strip() for n in args.frameworks.split(",")] if args.frameworks else [runner.ORACLE, *adapters.registry()]
    unknown = [n for n in names if n != runner.ORACLE and n not in adapters.registry()]
    if unknown:
        print(f"unknown framework(s): {', '.join(unknown)}; known: {', '.join(adapters.registry())}", file=sys.stderr)
        return EXIT_BAD_INPUT
    code = _custom_from_config(args.config, names)
    if code:
        return code
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    holder = _lock(out)
    if holder:
        print(f"another run (pid {holder}) is writing to {out}; wait for it to finish or choose another --out",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return _run_locked(args, cases, case_paths, known, entries, names, out)
    finally:
        (out / LOCK).unlink(missing_ok=True)


def _custom_from_config(path: str | None, names: list[str]) -> int:
    """Read the config file's custom loss paths into the environment the framework processes inherit."""
    from adapters import custom
    from harness.custom import config

    file = Path(path) if path else config.find(Path.cwd())
    if file is None:
        return EXIT_OK
    if not file.is_file():
        print(f"no such config file: {file}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        specs = config.load(file)
    except config.ConfigError as e:
        for p in e.problems:
            print(p, file=sys.stderr)
        return EXIT_BAD_INPUT
    problems = [p for s in specs for p in s.problems(list(adapters.registry()))]
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return EXIT_BAD_INPUT
    if specs:
        specs = [*custom.from_env(), *specs]
        settings.set_custom_paths(custom.encode(specs))
        roots = [str(file.resolve().parent), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(roots))
        skipped = sorted({f for s in specs for f in s.frameworks} - set(names))
        print(f"harness: {len(specs)} custom loss path(s) from {file}"
              + (f" (frameworks not in this run: {', '.join(skipped)})" if skipped else ""))
    return EXIT_OK


def cmd_check(args) -> int:
    from harness.custom import check as user_loss

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    holder = _lock(out)
    if holder:
        print(f"another run (pid {holder}) is writing to {out}; wait for it to finish or choose another --out", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return user_loss.command(args, out)
    except CaseFileError as e:
        return _problems(e)
    finally:
        (out / LOCK).unlink(missing_ok=True)


LOCK = ".harness.lock"


def _lock(out: Path) -> int | None:
    """Take the output folder's lock; return the pid holding it when another live run does."""
    path = out / LOCK
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(path.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and runner.alive(pid):
                return pid
            path.unlink(missing_ok=True)  # left by a run that died: take it over
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return None
    return -1


def _run_locked(args, cases, case_paths, known, entries, names, out: Path) -> int:
    from harness.run import progress, runner

    workers = _plan_workers(args, cases, names) if args.workers == "auto" else args.workers
    extra = {n: w for n, w in workers.items() if w > 1} if isinstance(workers, dict) else {}
    print(f"harness: {len(cases)} cases from {', '.join(map(str, case_paths))}; frameworks: {', '.join(names)}"
          + (f"; shard {args.shard}" if args.shard else "") + f"; precision {_precision_mode(args)}"
          + (f"; workers {', '.join(f'{n} {w}' for n, w in extra.items())}" if extra else ""))
    with progress.watch(cases, names, settings.progress_interval()) as watching:
        shards = runner.run_frameworks(names, case_paths, out.resolve(), known=known, keyword=args.keyword,
                                       devices=args.device, trial_timeout=args.trial_timeout, resume=args.resume,
                                       shard=args.shard, precision_mode=_precision_mode(args), workers=workers,
                                       strict_known=args.strict_known, cache=out.resolve() / "cache",
                                       read_cache=not args.no_cache, progress=watching)
    rows, envs, partial = merge(shards)
    # only the entries this run could have matched (a row with their case, framework, api, device and dtype ran)
    # are checked, one warning each; the others (a user's own cases, other frameworks or shards) are one line.
    # -k selects rows by any part of their id, so no entry is checked then
    stale = [] if args.keyword else [expectations.stale(e) for e in expectations.unused(entries, rows)]
    elsewhere = 0 if args.keyword else len(entries) - len(expectations.covered(entries, rows))
    if elsewhere:
        print(f"known differences: {elsewhere} of {len(entries)} entries not covered by this run (other cases, "
              "frameworks, devices or shards); not checked")
    return finish(rows, envs, out, [], partial, stale=stale, strict_known=args.strict_known)


def cmd_report(args) -> int:
    paths = [Path(p) for p in args.shards]
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"no such shard: {', '.join(map(str, missing))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    rows, envs, partial = merge(paths)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return finish(rows, envs, out, [], partial)


if __name__ == "__main__":
    sys.exit(main())
