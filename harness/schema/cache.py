"""Parsed case files, parsed once per run: every framework process of a run loads the same files (and the known differences).

`cached(text, name, parse)` returns parse(text, name), memoized in the process by the text's hash,
and, where HARNESS_CASE_CACHE names a directory (the runner sets it to one inside the run's output
folder), shared through a pickle there named by the hash of the text, the file name and this
project's schema code, so an edited case file or schema is parsed afresh. Only this project's own
processes write and read that directory.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from harness.core import settings

ENV = settings.CASE_CACHE
_MEMO: dict[str, Any] = {}


@cache
def _code_key() -> str:
    """Every module that loading a case file runs: the schema package (model, checks, relation rules,
    generators, this cache) and the core it builds on; an edit to any of them invalidates the cache."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for p in sorted([*here.glob("*.py"), *(here.parent / "core").glob("*.py")]):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16]


def cached(text: str, name: str, parse: Callable[[str, str], Any], salt: str = "") -> Any:
    """salt: what else the parse depends on (the code of a parser outside the schema package)."""
    key = hashlib.sha256(f"{_code_key()}\0{salt}\0{name}\0{text}".encode()).hexdigest()
    if key in _MEMO:
        return _MEMO[key]
    folder = settings.case_cache()
    path = Path(folder) / f"{key}.pickle" if folder else None
    value = None
    if path is not None and path.exists():
        try:
            value = pickle.loads(path.read_bytes())
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            value = None
    if value is None:
        value = parse(text, name)  # a CaseFileError propagates and nothing is stored
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
                tmp.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
                os.replace(tmp, path)
            except OSError:
                pass
    _MEMO[key] = value
    return value
