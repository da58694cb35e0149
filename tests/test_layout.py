"""The house: every module imports only its own layer or the ones below it, there are no import circles, and the
framework processes never import pandas."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. A module may import its own layer and the layers below it, never one above.
LAYERS = (
    "harness.core",      # dtypes, precision, YAML, settings: imports nothing else of the project
    "harness.schema",    # the case language
    "harness.trials",    # a case x dtype and its inputs
    "harness.oracle",    # exact answers
    "adapters",          # the framework adapters, the interface they implement, and the paths they share
    "harness.results",   # rows and shards
    "harness.judge",     # tolerances, verdicts, relations, known differences
    "harness.report",    # the report, from rows
    "harness.run",       # the pytest plugin, the scheduler, the runner, the console
    "harness.custom",    # a user's own loss: check(), the assertion, the config file
    "harness.bench",     # make bench
    "harness.search",    # the search for disagreements no case covers (python -m harness search)
    "harness.cli",       # the command line
    "harness.__main__",
    "harness",           # the package itself: `harness.check` resolved lazily
)


def _layer(module: str) -> int:
    best = None
    for i, name in enumerate(LAYERS):
        if module == name or module.startswith(name + "."):
            if best is None or len(name) > len(LAYERS[best]):
                best = i
    assert best is not None, module
    return best


def _modules() -> dict[str, Path]:
    out = {}
    for top in ("harness", "adapters"):
        for p in sorted((ROOT / top).rglob("*.py")):
            parts = list(p.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = p
    return out


def _imports(path: Path, name: str, known: set[str]) -> list[tuple[str, int]]:
    """The project modules a module imports (at any depth of its code), with the line of each import."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.append((t, node.lineno))
    return found


def test_no_module_imports_a_layer_above_its_own():
    mods = _modules()
    known = set(mods)
    upward = []
    for name, path in mods.items():
        for target, line in _imports(path, name, known):
            if name == "harness" or target.startswith(name + "."):
                continue  # the package's own lazy `check`; a package's __init__ naming its own modules
            if _layer(target) > _layer(name):
                upward.append(f"{path.relative_to(ROOT)}:{line}: {name} imports {target}")
    assert upward == [], "\n".join(upward)


def test_there_are_no_import_circles():
    mods = _modules()
    known = set(mods)
    graph = {n: {t for t, _ in _imports(p, n, known) if not n.startswith(t + ".") or t == n} for n, p in mods.items()}
    # a package's __init__ that re-exports its modules and a module importing its package's __init__ are one unit
    circles = []
    state: dict[str, int] = {}

    def visit(n: str, stack: list[str]) -> None:
        state[n] = 1
        for t in sorted(graph.get(n, ())):
            if n.startswith(t + ".") or t.startswith(n + "."):
                continue
            if state.get(t) == 1:
                circles.append(" -> ".join([*stack[stack.index(t):], t]) if t in stack else f"{n} -> {t}")
            elif t not in state:
                visit(t, [*stack, t])
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n, [n])
    assert circles == [], "\n".join(circles)


def test_the_plugin_and_the_adapters_do_not_import_pandas():
    code = ("import sys; import harness.run.plugin, adapters, adapters.api, adapters.naive, adapters.custom; "
            "print('pandas' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


MAX_LINES = 350


def test_every_module_is_small_and_says_its_one_job_first():
    """No module over about 350 lines; each opens with a docstring whose first line says what it is for."""
    problems = []
    for path in _modules().values():
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines > MAX_LINES:
            problems.append(f"{path.relative_to(ROOT)}: {lines} lines")
        doc = ast.get_docstring(ast.parse(text))
        if not doc or not doc.splitlines()[0].strip():
            problems.append(f"{path.relative_to(ROOT)}: no docstring saying its job")
    assert problems == [], "\n".join(problems)
