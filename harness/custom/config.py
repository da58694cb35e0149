"""The project config file: custom loss paths declared in harness.yaml or in pyproject.toml's [tool.harness].

    # harness.yaml                                  # pyproject.toml
    custom:                                         [[tool.harness.custom]]
      - callable: my_pkg.losses:clipped_ce          callable = "my_pkg.losses:clipped_ce"
        family: softmax_cross_entropy               family = "softmax_cross_entropy"
        framework: tensorflow                       framework = "tensorflow"

`framework` is one name or a list; `returns` (none, sum or mean) says what a callable without a
`reduction` parameter returns; `name` replaces the api name `custom:<callable>`. Modules are
imported with the config file's folder on the path. `python -m harness run` reads ./harness.yaml
(or ./harness.yml), else ./pyproject.toml, or the file given with --config.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from adapters.custom import Spec
from harness.core import yamlfile
from harness.core.fields import Field, Table, check
from harness.core.yamlfile import CaseFileError, Problem, at, plain, suggestion


def _unknown(where: str, key: Any, keys: tuple[str, ...]) -> tuple[str, str]:
    """An unknown key is reported under the table that holds it."""
    return where.removesuffix(": "), f"unknown key {key!r} ({suggestion(key, keys)})"


TOP = Table((Field("custom", ((lambda v: isinstance(v, list), lambda v: f"expected a list of tables, got {type(v).__name__}"),)),),
            unknown=_unknown)
ITEM = Table((Field("callable", required=True), Field("family", required=True), Field("framework", required=True),
              Field("returns"), Field("name")), unknown=_unknown)  # a custom loss path; Spec checks the values
KEYS = ITEM.keys
NAMES = ("harness.yaml", "harness.yml", "pyproject.toml")


class ConfigError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def find(folder: Path) -> Path | None:
    """The config file of a folder: harness.yaml, harness.yml, or a pyproject.toml with a [tool.harness] table."""
    for name in NAMES:
        p = folder / name
        if p.is_file() and (name != "pyproject.toml" or _harness_table(p) is not None):
            return p
    return None


def _harness_table(path: Path) -> dict | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    table = data.get("tool", {}).get("harness")
    return table if isinstance(table, dict) else None


def load(path: Path) -> list[Spec]:
    """The custom paths a config file declares; ConfigError lists every problem at once."""
    path = Path(path)
    name = str(path)
    if path.suffix == ".toml":
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ConfigError([f"{path}: {e}"]) from None
        table = data.get("tool", {}).get("harness", {})
        where = "[tool.harness]"
    else:
        try:
            table = yamlfile.load(path.read_text(encoding="utf-8"), name) or {}
        except CaseFileError as e:
            raise ConfigError([_text(p) for p in e.problems]) from None
        where = "top level"
    if not isinstance(table, dict):
        raise ConfigError([f"{path}: {where}: expected a table with a 'custom' list"])
    top = check(table, TOP, name, f"{where}: ")
    problems = top.problems
    if not top.ok:
        raise ConfigError([_text(p) for p in problems])
    items = table.get("custom", [])
    specs = []
    for i, item in enumerate(items):
        at_item = f"custom[{i}]"
        if not isinstance(item, dict):
            problems.append(Problem(at(name, items, i), at_item, f"expected a table, got {type(plain(item)).__name__}"))
            continue
        fields = check(item, ITEM, name, f"{at_item}: ")
        problems += fields.problems
        if not fields.ok:
            continue
        v = {k: plain(x) for k, x in fields.values.items()}
        fw = v["framework"]
        frameworks = tuple(fw) if isinstance(fw, list) else tuple(str(fw).split(","))
        spec = Spec(target=str(v["callable"]), family=str(v["family"]),
                    frameworks=tuple(f.strip() for f in frameworks if str(f).strip()),
                    returns=str(v.get("returns", "none")), name=str(v.get("name", "")),
                    path=str(path.resolve().parent))
        problems += [Problem(at(name, items, i), at_item, p) for p in spec.problems()]
        specs.append(spec)
    if problems:
        raise ConfigError([_text(p) for p in problems])
    return specs


def _text(p: Problem) -> str:
    """A problem as the config's readers see it: file:line:col, or only the file where it has no positions (TOML)."""
    return f"{p.location if p.location.line else p.location.file}: {p.field}: {p.message}"
