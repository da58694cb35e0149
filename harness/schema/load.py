"""Loading case files: files and folders into Cases, within size limits, or a CaseFileError listing every problem.

A file is YAML 1.2 (harness/core/yamlfile.py) holding a list of case mappings; each becomes a Case
(harness/schema/parse.py), or one per value of its sweep. Its parse is cached per run (harness/schema/cache.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.core import yamlfile
from harness.core.yamlfile import CaseFileError, Location, Problem, at
from harness.schema import checks
from harness.schema.model import Case
from harness.schema.parse import case

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_NODES = 2_000_000  # aliases count each time they are used
MAX_DEPTH = 64


def load_paths(paths: list[str | Path]) -> list[Case]:
    """Load every case file under the given files/directories; raise CaseFileError listing all problems."""
    files: list[Path] = []
    problems: list[Problem] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files.extend(sorted([*p.rglob("*.yaml"), *p.rglob("*.yml")]))
        elif p.is_file():
            files.append(p)
        else:
            problems.append(Problem(Location(str(p), 0, 0), "path", "no such file or directory"))
    cases: list[Case] = []
    for f in files:
        try:
            cases.extend(load_file(f))
        except CaseFileError as e:
            problems.extend(e.problems)
    seen: dict[str, Case] = {}
    for c in cases:
        if c.id in seen:
            problems.append(
                Problem(c.location, "id", f"duplicate id {c.id!r}; first defined at {seen[c.id].location}")
            )
        else:
            seen[c.id] = c
    if problems:
        raise CaseFileError(problems)
    if not cases:
        raise CaseFileError([Problem(Location(", ".join(map(str, paths)), 0, 0), "cases", "no cases found")])
    return cases


def load_file(path: str | Path) -> list[Case]:
    path = Path(path)
    name = str(path)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise CaseFileError(
            [Problem(Location(name, 0, 0), "file", f"{size} bytes is over the {MAX_FILE_BYTES}-byte limit")]
        )
    text = path.read_text(encoding="utf-8", errors="replace")
    from harness.schema import cache as case_cache  # parsed once per process, and once per run across its processes

    return list(case_cache.cached(text, name, load_text))


def load_text(text: str, name: str = "<string>") -> list[Case]:
    doc = yamlfile.load(text, name)
    cases, problems = _document(doc, name)
    if problems:
        raise CaseFileError(problems)
    return cases


def _document(doc: Any, name: str) -> tuple[list[Case], list[Problem]]:
    if doc is None:
        return [], [Problem(Location(name, 1, 1), "document", "empty file; expected a list of cases")]
    too_big = _too_big(doc)
    if too_big:
        return [], [Problem(Location(name, 1, 1), "document", too_big)]
    if not isinstance(doc, list):
        return [], [Problem(at(name, doc), "document", f"expected a list of cases, got {yamlfile.kind(doc)}")]
    cases: list[Case] = []
    problems: list[Problem] = []
    for i, item in enumerate(doc):
        if not isinstance(item, dict):
            problems.append(Problem(at(name, doc, i), f"[{i}]", f"expected a mapping (one case), got {yamlfile.kind(item)}"))
            continue
        made, more = case(item, i, name)
        problems += more
        if made is not None and not more:
            expanded, more = checks.sweep(made, item, name)
            problems += more
            cases += expanded
    return cases, problems


def _too_big(doc: Any) -> str:
    """Why a document is refused for its size (counting aliases each time they are used), or ""."""
    nodes = 0
    stack = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            return f"document has more than {MAX_NODES} nodes (aliases count each time they are used)"
        if depth > MAX_DEPTH:
            return f"document is nested more than {MAX_DEPTH} levels deep"
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((v, depth + 1) for v in reversed(list(children)))  # popped in the file's order
    return ""
