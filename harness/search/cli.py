"""`python -m harness search`: draw cases of a family, run them through every path of the chosen frameworks, shrink
what differs from the oracle to its smallest case, and write the cases, their reproducers and a report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.run.console import EXIT_BAD_INPUT, EXIT_OK


def add_parser(sub) -> None:
    s = sub.add_parser("search", help="search a family for disagreements no case covers, and shrink each to a minimal case",
                       description=__doc__)
    s.add_argument("--family", required=True, help="the loss family to draw cases of, e.g. sparse_softmax_cross_entropy")
    s.add_argument("--frameworks", default="torch", help="comma-separated (default: torch)")
    s.add_argument("--budget", type=int, default=200, help="cases to draw (default: 200)")
    s.add_argument("--time", type=float, default=None, help="stop drawing after this many seconds, and shrinking by twice that (the budget still caps)")
    s.add_argument("--seed", type=int, default=0, help="Hypothesis' seed: the same seed draws the same cases")
    s.add_argument("--dtypes", default=None, help="comma-separated dtypes to draw (default: float32, float64, float16, bfloat16)")
    s.add_argument("--shrink-time", type=float, default=60.0, help="seconds each finding may spend shrinking (default: 60)")
    s.add_argument("--no-relations", action="store_true", help="skip the shift and permutation relations")
    s.add_argument("--known", default="known_differences.yaml", help="known-differences file (default: ./known_differences.yaml)")
    s.add_argument("--cases", default="cases", help="the library's cases the known differences name (default: cases/)")
    s.add_argument("--out", required=True, help="output folder: search.md, cases/, repro/")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress lines")


def command(args: argparse.Namespace) -> int:
    from harness.search import engine, known, strategies, writer
    from harness.search.runner import Target

    if args.family not in strategies.FAMILIES:
        print(f"search: the search draws {', '.join(strategies.FAMILIES)}; not {args.family}", file=sys.stderr)
        return EXIT_BAD_INPUT
    dtypes = tuple(d.strip() for d in args.dtypes.split(",")) if args.dtypes else strategies.DTYPES
    if any(d not in strategies.DTYPES for d in dtypes):
        print(f"search: dtypes are among {', '.join(strategies.DTYPES)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    target = Target(frameworks, known=known.load(args.known, args.cases), relations=not args.no_relations)
    log = (lambda s: None) if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    res = engine.search(args.family, target, budget=args.budget, seconds=args.time, seed=args.seed, dtypes=dtypes,
                        shrink_seconds=args.shrink_time, log=log)
    report = writer.write(res, Path(args.out), target, frameworks)
    print(f"{res.drawn} cases drawn, {sum(res.known.values())} rows explained by known differences, "
          f"{len(res.findings)} findings: {report}")
    return EXIT_OK
