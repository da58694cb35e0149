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

import difflib
import tomllib
from pathlib import Path
from typing import Any

from adapters.custom import Spec

KEYS = ("callable", "family", "framework", "returns", "name")
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
    if path.suffix == ".toml":
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ConfigError([f"{path}: {e}"]) from None
        table = data.get("tool", {}).get("harness", {})
        where = "[tool.harness]"
    else:
        from ruamel.yaml import YAML
        from ruamel.yaml.error import YAMLError

        try:
            table = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8")) or {}
        except YAMLError as e:
            raise ConfigError([f"{path}: {e}"]) from None
        where = "top level"
    problems: list[str] = []
    if not isinstance(table, dict):
        raise ConfigError([f"{path}: {where}: expected a table with a 'custom' list"])
    for key in table:
        if key != "custom":
            problems.append(f"{path}: {where}: unknown key {key!r}{_hint(key, ('custom',))}")
    items = table.get("custom", [])
    if not isinstance(items, list):
        raise ConfigError([*problems, f"{path}: custom: expected a list of tables, got {type(items).__name__}"])
    specs = []
    for i, item in enumerate(items):
        at = f"{path}: custom[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{at}: expected a table, got {type(item).__name__}")
            continue
        problems += [f"{at}: unknown key {k!r}{_hint(k, KEYS)}" for k in item if k not in KEYS]
        problems += [f"{at}: {k}: required" for k in ("callable", "family", "framework") if k not in item]
        if any(k not in item for k in ("callable", "family", "framework")):
            continue
        fw = item["framework"]
        frameworks = tuple(fw) if isinstance(fw, list) else tuple(str(fw).split(","))
        spec = Spec(target=str(item["callable"]), family=str(item["family"]),
                    frameworks=tuple(f.strip() for f in frameworks if str(f).strip()),
                    returns=str(item.get("returns", "none")), name=str(item.get("name", "")),
                    path=str(path.resolve().parent))
        problems += [f"{at}: {p}" for p in spec.problems()]
        specs.append(spec)
    if problems:
        raise ConfigError(problems)
    return specs


def _hint(key: Any, known) -> str:
    close = difflib.get_close_matches(str(key), known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
