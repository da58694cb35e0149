"""The case language's modules: each has one job, said in its first docstring line, and stays small; the relation
rules build on the model alone (so nothing that loads case files imports them back)."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT

MODULES = sorted([*(ROOT / "harness" / "schema").glob("*.py"), *(ROOT / "harness" / "core").glob("*.py")])


@pytest.mark.parametrize("path", MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_module_says_its_job_and_stays_small(path):
    text = path.read_text(encoding="utf-8")
    assert ast.get_docstring(ast.parse(text)), f"{path.name} has no docstring"
    assert text.count("\n") <= 350, f"{path.name} has {text.count(chr(10))} lines"


def test_the_relation_rules_import_only_the_model():
    tree = ast.parse((ROOT / "harness" / "schema" / "relation_rules.py").read_text(encoding="utf-8"))
    project = sorted({n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
                      and n.module.split(".")[0] in ("harness", "adapters")})
    assert project == ["harness.schema.model"]
