"""The YAML files' shared reading: positions, did-you-mean, field tables that report every problem at once."""

from __future__ import annotations

import pytest

from harness.core import yamlfile
from harness.core.fields import Field, Table, check, is_int
from harness.core.yamlfile import CaseFileError, at, did_you_mean, suggestion
from harness.custom import config
from harness.judge import expectations

TABLE = Table((
    Field("name", ((lambda v: isinstance(v, str), "expected a string"),), str.upper, required=True),
    Field("size", ((is_int, "expected an integer, got {value!r}"), (lambda v: v > 0, "expected a size > 0")), required=True),
    Field("tags", ((lambda v: isinstance(v, list), "expected a list, got {kind}"),), tuple),
))


def test_a_table_reports_every_problem_of_a_mapping_at_its_position():
    doc = yamlfile.load("name: 3\nsize: x\ntagz: [a]\ntags: 4\n", "t.yaml")
    c = check(doc, TABLE, "t.yaml", "thing.")
    assert not c.ok
    assert [str(p) for p in c.problems] == [
        "t.yaml:3:7: thing.tagz: unknown key; did you mean 'tags'?",
        "t.yaml:1:7: thing.name: expected a string",
        "t.yaml:2:7: thing.size: expected an integer, got 'x'",
        "t.yaml:4:7: thing.tags: expected a list, got int 4",
    ]


def test_a_table_converts_valid_values_and_leaves_absent_ones_out():
    c = check(yamlfile.load("name: box\nsize: 2\n", "t.yaml"), TABLE, "t.yaml")
    assert c.ok and c.problems == [] and c.values == {"name": "BOX", "size": 2}
    c = check(yamlfile.load("size: 0\ncolour: red\n", "t.yaml"), TABLE, "t.yaml")
    assert [(p.field, p.message) for p in c.problems] == [
        ("colour", "unknown key; allowed: name, size, tags"), ("name", "required key is missing"), ("size", "expected a size > 0")]


def test_an_unknown_key_alone_spoils_nothing():
    c = check(yamlfile.load("name: a\nsize: 1\nextra: 1\n", "t.yaml"), TABLE, "t.yaml")
    assert c.ok and len(c.problems) == 1 and c.values["size"] == 1


def test_syntax_errors_and_duplicate_keys_name_their_position():
    with pytest.raises(CaseFileError) as e:
        yamlfile.load("a: [1,\n", "t.yaml")
    assert str(e.value.problems[0]).startswith("t.yaml:2:1: yaml: ")
    with pytest.raises(CaseFileError, match=r"t\.yaml:2:1: yaml: found duplicate key"):
        yamlfile.load("a: 1\na: 2\n", "t.yaml")


def test_at_finds_values_items_and_falls_back():
    doc = yamlfile.load("- {a: 1, b: [x, y]}\n- 2\n", "t.yaml")
    assert str(at("t.yaml", doc[0], "b")) == "t.yaml:1:13"
    assert str(at("t.yaml", doc[0]["b"], 1)) == "t.yaml:1:17"
    assert str(at("t.yaml", doc, 1)) == "t.yaml:2:3"
    assert str(at("t.yaml", doc[0], "missing")) == "t.yaml:1:3"  # the mapping itself
    assert str(at("t.yaml", {"a": 1}, "a")) == "t.yaml:0:0"  # not from the loader (a TOML table)


def test_did_you_mean():
    assert did_you_mean("famly", ("family", "framework")) == "did you mean 'family'?"
    assert did_you_mean("zzz", ("family",)) == ""
    assert suggestion("zzz", ("a", "b")) == "allowed: a, b"


def test_known_differences_report_every_problem_of_an_entry(tmp_path):
    p = tmp_path / "known.yaml"
    p.write_text("- case: a\n  framwork: torch\n  verdict: pass\n  reason: r\n")
    with pytest.raises(CaseFileError) as e:
        expectations.load(p)
    assert [str(x).split(": ", 1)[1] for x in e.value.problems] == [
        "[0].framwork: unknown key; did you mean 'framework'?",
        "[0].link: required: every known difference says why and links upstream",
        f"[0].verdict: expected '*' or one of {', '.join(sorted(expectations.FAILING))}",
    ]
    assert all(str(x.location) == f"{p}:1:1" for x in e.value.problems)  # the entry's line, as before
    p.write_text("- case: [a\n")
    with pytest.raises(CaseFileError, match=r"known\.yaml:2:1: yaml: "):
        expectations.load(p)


def test_config_problems_name_their_line_in_yaml_and_the_file_in_toml(tmp_path):
    p = tmp_path / "harness.yaml"
    p.write_text("custom:\n  - callable: m:f\n    famly: softmax_cross_entropy\n    framework: torch\n")
    with pytest.raises(config.ConfigError) as e:
        config.load(p)
    assert e.value.problems == [f"{p}:3:12: custom[0]: unknown key 'famly' (did you mean 'family'?)",
                                f"{p}:2:5: custom[0]: family: required key is missing"]
    t = tmp_path / "pyproject.toml"
    t.write_text("[[tool.harness.custom]]\ncallable = 'm:f'\nframework = 'torch'\n")
    with pytest.raises(config.ConfigError) as e:
        config.load(t)
    assert e.value.problems == [f"{t}: custom[0]: family: required key is missing"]
