"""The framework table (adapters/frameworks.py) is the one list of the built-in frameworks: the tox matrix runs each
of them in exactly one environment, the scheduler's costs come from it, and listing frameworks imports none."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys

import adapters
from adapters.frameworks import FRAMEWORKS
from harness.run.schedule import ORACLE, SHARD_COST_NS
from tests.conftest import ROOT


def _tox() -> configparser.ConfigParser:
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(ROOT / "tox.ini")
    return ini


def test_every_built_in_framework_runs_in_exactly_one_tox_factor():
    ini = _tox()
    by_factor = {}  # tox factor -> the frameworks its environments run (the HARNESS_FRAMEWORK lines of set_env)
    for line in ini["testenv"]["set_env"].splitlines():
        m = re.fullmatch(r"\s*([\w-]+):\s*HARNESS_FRAMEWORK\s*=\s*(\S+)\s*", line)
        if m:
            by_factor[m.group(1)] = m.group(2).split(",")
    listed = [f for names in by_factor.values() for f in names]
    assert sorted(listed) == sorted(adapters.BUILTIN), by_factor
    envs = ini["tox"]["env_list"].split()
    for factor in by_factor:
        assert any(factor in e.split("-") for e in envs), f"tox factor {factor!r} names no environment of {envs}"


def test_the_table_names_each_framework_once_and_the_scheduler_costs_it():
    names = [f.name for f in FRAMEWORKS]
    assert len(names) == len(set(names)) and ORACLE not in names
    assert list(adapters.BUILTIN) == names
    for f in FRAMEWORKS:
        assert SHARD_COST_NS[f.name] == f.cost_ns and f.requires and f.adapter.startswith("adapters.")


def test_listing_frameworks_imports_none():
    code = ("import sys, adapters, harness.run.schedule; adapters.registry(); [adapters.missing_modules(n) for n in adapters.BUILTIN]; "
            "print(sorted(m for m in ('torch', 'tensorflow', 'jax', 'keras', 'optax') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
