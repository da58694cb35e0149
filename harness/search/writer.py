"""What a search leaves in its output folder: each finding's minimal case as a case file (cases/<id>.yaml, run it
with `python -m harness run --cases`; findings of several paths may share one), its standalone reproducer
(repro/<id>--<framework>-<path>.py, the same machinery as
`python -m harness repro`), and the report of the search (search.md)."""

from __future__ import annotations

import re
from pathlib import Path

from adapters.repro import NoScript
from harness.run import repro
from harness.schema import load_paths
from harness.search import runner
from harness.search.engine import Finding, Result
from harness.search.runner import Target, signature
from harness.search.yamltext import case_text


def _shape(m: dict) -> list[int]:
    x = m["logits"]
    return [len(x), len(x[0])] if x and isinstance(x[0], list) else [len(x)]


def options(m: dict) -> str:
    p = dict(m.get("params", {}))
    extra = [f"orders {', '.join(m['orders'])}"] if m.get("orders") else []
    return ", ".join([f"{k} {v if not isinstance(v, list) or len(v) < 9 else '[...]'}" for k, v in p.items()] + extra) or "none"


def describe(f: Finding) -> str:
    fw, path, verdict = f.sig
    flags = f" ({', '.join(f.row.flags)})" if f.row.flags else ""
    what = (f"the search's relation {f.row.relation} (harness/search/relations.py) fails" if f.row.relation
            else f"{verdict}{flags} against the oracle")
    return (f"Found by the search: {fw} {path} in {f.mapping['dtypes'][0]}, shape {_shape(f.mapping)}, "
            f"options: {options(f.mapping)}: {what}. {f.row.message[:300]}").strip()


def write(res: Result, out: Path, target: Target, frameworks: list[str]) -> Path:
    """Write every finding's case and reproducer and the report; return the report's path."""
    (out / "cases").mkdir(parents=True, exist_ok=True)
    (out / "repro").mkdir(parents=True, exist_ok=True)
    lines = []
    for i, f in enumerate(res.findings, 1):
        m = dict(f.mapping)
        cid = f"{runner.case_id(m)}-{f.sig[2].replace('_', '-')}"
        m = {"id": cid, "description": describe(f), "tags": ["search", f.sig[2]], **m}
        comment = (f"Found by `python -m harness search --family {res.family} --seed {res.seed}`, shrunk by Hypothesis.\n"
                   f"Signature: {' / '.join(f.sig)}" + (f" (flags: {', '.join(f.row.flags)})" if f.row.flags else ""))
        if f.row.relation:
            comment += (f"\nThe relation {f.row.relation} is the search's own (harness/search/relations.py): this file "
                        "runs the case itself; the search checks the relation.")
        path = out / "cases" / f"{cid}.yaml"
        path.write_text(case_text(m, comment), encoding="utf-8")
        again = rerun(path, f, target)
        # findings on several paths may shrink to one case (one file); each path has its own script
        where = re.sub(r"[^\w.+-]+", "_", f"{f.sig[0]}-{f.sig[1]}").strip("_")
        script = _script(f, path, out / "repro" / f"{cid}--{where}.py")
        lines.append(_finding_text(i, cid, f, again, script, path.read_text(encoding="utf-8")))
    report = out / "search.md"
    report.write_text(_report(res, frameworks, lines), encoding="utf-8")
    return report


def rerun(path: Path, f: Finding, target: Target) -> str:
    """The verdict the written case file gives on the finding's path when loaded and run again."""
    case = load_paths([path])[0]
    rows = [r for r in runner.run_case(case, target, only=f.sig[:2]) if signature(r)[:2] == f.sig[:2]]
    return rows[0].raw_verdict if rows else "no row"


def _script(f: Finding, case_path: Path, target: Path) -> str:
    """Write the finding's reproducer; return its file name, or why there is none."""
    case = load_paths([case_path])[0]
    row = f.row
    row.source = str(case_path)
    try:
        s = repro.script(row, case, target.with_suffix(".npz").name)
    except (NoScript, KeyError, ValueError, NotImplementedError) as e:
        return f"no script: {e}"
    target.write_text(s.text, encoding="utf-8")
    if s.npz:
        import numpy as np

        np.savez_compressed(target.with_suffix(".npz"), **s.arrays)
    return f"repro/{target.name}"


def _finding_text(i: int, cid: str, f: Finding, again: str, script: str, yaml: str) -> str:
    first = f"shape {_shape(f.first)}, {f.first['dtypes'][0]}, options: {options(f.first)}"
    return "\n".join([
        f"### {i}. {' / '.join(f.sig)}" + (f" ({', '.join(f.row.flags)})" if f.row.flags else ""),
        "", f"- case: `cases/{cid}.yaml`; reproducer: {script if script.startswith('no') else '`' + script + '`'}",
        f"- run again from the file: {again}" + ("" if again == f.sig[2] or f.row.relation else " (differs!)"),
        f"- first seen on: {first}", f"- message: {f.row.message[:400]}", "", "```yaml", yaml.rstrip(), "```", ""])


def _report(res: Result, frameworks: list[str], lines: list[str]) -> str:
    verdicts = ", ".join(f"{v} {n}" for v, n in res.verdicts.most_common())
    known = sum(res.known.values())
    head = [
        f"# Search: {res.family}", "",
        f"- frameworks: {', '.join(frameworks)}; seed {res.seed}; {res.seconds} s",
        f"- cases drawn and run on every path: {res.drawn} ({res.invalid} refused by the schema); rows: {res.rows}",
        f"- verdicts of those rows: {verdicts or 'none'}",
        f"- rows explained by known differences: {known}"
        + (" (" + ", ".join(f"{e}: {n}" for e, n in res.known.most_common()) + ")" if known else ""),
        f"- distinct findings (framework, path, verdict), each shrunk: {len(res.findings)}"
        + (f"; {res.duplicates} more shrank to a finding already kept" if res.duplicates else ""), "",
        "A finding is a row that is not pass, unsupported, expected_error or relation_pass, and that no entry of the",
        "known-differences file explains. Its case is the smallest Hypothesis found that still shows the signature.", "",
    ]
    return "\n".join(head + (["## Findings", "", *lines] if lines else ["No findings."])) + "\n"
