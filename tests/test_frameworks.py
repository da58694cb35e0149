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


# distribution name -> the module it installs, where the two differ
_MODULE_OF = {"tensorflow-cpu": "tensorflow", "ruamel.yaml": "ruamel", "pytest-xdist": "xdist"}


def _installs(ini: configparser.ConfigParser) -> dict[str, set[str]]:
    """tox environment -> the modules it installs: requirements/core.txt, which every environment installs, and the
    `factor: package==version` deps of each of its factors."""
    core = {_MODULE_OF.get(d, d) for d in (line.split("==")[0].strip() for line in (ROOT / "requirements" / "core.txt").read_text().splitlines()
            if "==" in line and not line.startswith("#"))}
    by_factor: dict[str, set[str]] = {}
    for line in ini["testenv"]["deps"].splitlines():
        m = re.fullmatch(r"\s*([\w-]+):\s*([\w.-]+)==\S+\s*", line)
        if m:
            by_factor.setdefault(m.group(1), set()).add(_MODULE_OF.get(m.group(2), m.group(2)))
    envs = []
    for spec in ini["tox"]["env_list"].split():  # expand "tensorflow-tf{221,220}"
        m = re.fullmatch(r"(.*)\{(.*)\}(.*)", spec)
        envs += [m.group(1) + v + m.group(3) for v in m.group(2).split(",")] if m else [spec]
    return {e: core.union(*(by_factor.get(f, set()) for f in e.split("-"))) for e in envs}


def test_every_built_in_framework_runs_in_exactly_one_tox_environment_group():
    """The matrix runs `--frameworks installed`: a framework runs in each environment that installs all of its
    required modules. Each built-in one runs in every version of exactly one group (torch, tensorflow-*, jax-*)."""
    ini = _tox()
    assert "--frameworks installed" in ini["testenv"]["commands"]
    installs = _installs(ini)
    for f in FRAMEWORKS:
        runs_in = [e for e, mods in installs.items() if set(f.requires) <= mods]
        groups = {e.split("-")[0] for e in runs_in}
        assert len(groups) == 1, (f.name, runs_in)
        assert runs_in == [e for e in installs if e.split("-")[0] in groups], (f.name, runs_in)


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
