"""harness/core/settings.py is the one place that names a HARNESS_* environment variable in code."""

from __future__ import annotations

import ast
import re

from harness.core import settings
from tests.conftest import ROOT

NAME = re.compile(r"HARNESS_[A-Z_]+")


def test_only_settings_names_the_variables():
    found = []
    for top in ("harness", "adapters"):
        for p in sorted((ROOT / top).rglob("*.py")):
            if p == ROOT / "harness" / "core" / "settings.py":
                continue
            for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and NAME.fullmatch(node.value):
                    found.append(f"{p.relative_to(ROOT)}:{node.lineno}: {node.value}")
    assert found == []


def test_every_variable_is_documented_in_the_settings_docstring():
    names = [v for k, v in vars(settings).items() if k.isupper() and isinstance(v, str) and NAME.fullmatch(v)]
    assert len(names) == 9
    for n in names:
        assert n in settings.__doc__, n


def test_writers_write_where_they_are_told():
    env: dict[str, str] = {}
    settings.set_precision("as-deployed", env)
    settings.set_custom_paths("[]", env)
    settings.set_custom_beside("fused", env)
    assert env == {settings.PRECISION: "as-deployed", settings.CUSTOM_PATHS: "[]", settings.CUSTOM_BESIDE: "fused"}
    assert settings.custom_paths(env) == "[]"
