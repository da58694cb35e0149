"""Fixtures for the harness's own tests (meta tests), kept apart from the conformance cases."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Inputs of the tests (case files, a plugin package): not conformance cases of `pytest tests`.
collect_ignore_glob = ["data/*"]


def have(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `python -m harness ...` as a user would; returns the completed process."""
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT)
    if env:
        e.update(env)
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True,
                          env=e, cwd=str(cwd or ROOT), timeout=timeout)


@pytest.fixture
def write_cases(tmp_path):
    """Write a YAML text to a case file in a fresh folder and return its path."""
    def _write(text: str, name: str = "cases.yaml") -> Path:
        d = tmp_path / "cases"
        d.mkdir(exist_ok=True)
        p = d / name
        p.write_text(text)
        return p
    return _write
