"""The case language: the model of a case, loading and checking case files, relation rules, generators, the parse cache.

    model.py          the frozen dataclasses a case file becomes, and the table of loss families
    load.py           files and folders into Cases, within size limits
    parse.py          one case mapping into a Case: the field tables, then the inputs and the semantic checks
    tables.py         the type layer: one field table per mapping (harness/core/fields.py)
    inputs.py         the input arrays: nested lists or generator mappings, and their shapes
    checks.py         the semantic checks: shapes, label ranges, options by family, weights, sweeps
    relation_list.py  the relations a case declares; relation_rules.py, when each kind applies
    generators.py     the named, seeded input generators
    cache.py          a file's parse, once per run
"""

from harness.core.yamlfile import CaseFileError, Location, Problem
from harness.schema.load import load_file, load_paths, load_text
from harness.schema.model import (
    FAMILIES,
    REDUCTIONS,
    Case,
    Expect,
    Generated,
    InputSpec,
    Literal,
    Params,
    Relation,
    ToleranceOverride,
)
from harness.schema.tables import CASE_KEYS, PARAM_KEYS

__all__ = [
    "CASE_KEYS",
    "FAMILIES",
    "PARAM_KEYS",
    "REDUCTIONS",
    "Case",
    "CaseFileError",
    "Expect",
    "Generated",
    "InputSpec",
    "Literal",
    "Location",
    "Params",
    "Problem",
    "Relation",
    "ToleranceOverride",
    "load_file",
    "load_paths",
    "load_text",
]
