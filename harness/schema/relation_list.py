"""The relations a case declares: its `relations:` list parsed, and each checked against the rules of its kind
(harness/schema/relation_rules.py).

    relations: [one_hot, {kind: move_axis, to: 0}, {kind: sum_mean, name: totals}]
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from harness.core import yamlfile
from harness.core.fields import Field, Table, check_values, finite, is_int, unknown_keys
from harness.core.yamlfile import Problem, at, did_you_mean, plain
from harness.schema import relation_rules as rules
from harness.schema.model import Case, Relation

ARGUMENTS = {"int": (is_int, "expected an integer, got {value!r}"),  # a kind of argument -> its rule
             "float": (lambda v: finite(v) is not None, "expected a finite number, got {value!r}")}


@cache
def _table(kind: str) -> Table:
    """The keys a relation of this kind may have: kind, name and its arguments."""
    return Table((Field("kind"), Field("name"), *(Field(k, (ARGUMENTS[t],)) for k, t in rules.KINDS[kind].items())))


def relations(case: Case, m: dict, name: str, prefix: str) -> tuple[Case | None, list[Problem]]:
    """The case with the relations its mapping declares; None and the problems when one is wrong."""
    if "relations" not in m:
        return case, []
    where = f"{prefix}relations"
    v = m["relations"]
    if not isinstance(v, list) or not v:
        return None, [Problem(at(name, m, "relations"), where, "expected a non-empty list of relation kinds or mappings")]
    out: list[Relation] = []
    problems: list[Problem] = []
    for i, item in enumerate(v):
        rel, more = _relation(case, item, at(name, v, i), name, f"{where}[{i}]", out)
        problems += more
        if rel is not None:
            out.append(rel)
    if len(out) != len(v):
        return None, problems
    return replace(case, relations=tuple(out)), problems


def _relation(case: Case, item, loc: yamlfile.Location, name: str, w: str,
              before: list[Relation]) -> tuple[Relation | None, list[Problem]]:
    if isinstance(item, str):
        item = {"kind": item}
    if not isinstance(item, dict):
        return None, [Problem(loc, w, f"expected a relation kind or a mapping, got {yamlfile.kind(item)}")]
    kind = plain(item.get("kind"))
    if not isinstance(kind, str) or kind not in rules.KINDS:
        hint = did_you_mean(kind, rules.KINDS)
        return None, [Problem(loc, f"{w}.kind", f"unknown relation {kind!r}; known: {', '.join(rules.KINDS)}"
                              + (f"; {hint}" if hint else ""))]
    problems = unknown_keys(item, _table(kind), name, f"{w}.")
    label = plain(item.get("name", kind))
    if not isinstance(label, str) or not label or any(c.isspace() or c in "[]~" for c in label):
        return None, [*problems, Problem(loc, f"{w}.name", "expected a non-empty string without spaces, brackets or '~'")]
    args, bad = check_values(item, Table(_table(kind).fields[2:]), name, f"{w}.")
    problems += bad
    if problems:
        return None, problems
    rel = Relation(kind=kind, name=label, args=tuple(args.items()), location=loc)
    if any(r.name == label for r in before):
        return None, [Problem(loc, f"{w}.name", f"relation {label!r} is listed twice; tell them apart with name:")]
    why = rules.problem(case, rel)
    if why:
        return None, [Problem(loc, w, f"{kind}: {why}")]
    return rel, []
