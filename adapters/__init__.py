"""Built-in framework adapters, one module per framework, imported only in that framework's process.

The registry maps a framework name to "module:Class" so that listing frameworks imports nothing; the
built-in ones, what each requires and what its trials cost are the table of adapters/frameworks.py; other
packages add theirs through the `harness.adapters` entry points.
"""

from __future__ import annotations

import importlib
import importlib.util
from importlib.metadata import entry_points

from adapters.api import Adapter
from adapters.frameworks import FRAMEWORKS
from harness.core import settings

ENTRY_POINT_GROUP = "harness.adapters"

# name -> "module:Class" of the built-in adapters (adapters/frameworks.py)
BUILTIN: dict[str, str] = {f.name: f.adapter for f in FRAMEWORKS}
_REQUIRES: dict[str, tuple[str, ...]] = {f.name: f.requires for f in FRAMEWORKS}


def registry() -> dict[str, str]:
    """Built-in adapters, those registered by installed packages under the entry-point group, and
    those named in HARNESS_ADAPTERS ("name=module:Class,name2=module:Class") for unpackaged ones."""
    out = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        out.setdefault(ep.name, ep.value)
    for name, target in settings.extra_adapters():
        out[name] = target
    return out


def missing_modules(name: str) -> list[str]:
    """Modules a framework needs that are not importable (without importing them)."""
    return [m for m in _REQUIRES.get(name, ()) if importlib.util.find_spec(m) is None]


def installed() -> list[str]:
    """The registered frameworks whose required modules are importable (without importing them)."""
    return [n for n in registry() if not missing_modules(n)]


def load(name: str) -> Adapter:
    """The framework's adapter, with the custom loss paths claimed for it (adapters/custom.py) added."""
    from adapters import custom

    target = registry()[name]
    module, _, cls = target.partition(":")
    return custom.attach(getattr(importlib.import_module(module), cls)())
