"""Hostile and random case files: the loader accepts them or raises its own error, quickly, never anything else."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.schema import CASE_KEYS, FAMILIES, PARAM_KEYS, CaseFileError, load_text
from tests.conftest import run_cli


def _load(text: str) -> None:
    try:
        cases = load_text(text, "fuzz.yaml")
    except CaseFileError as e:
        assert e.problems and all(str(p).startswith("fuzz.yaml:") for p in e.problems)
        return
    for c in cases:  # what is accepted is a valid case
        assert c.id and c.family in FAMILIES and c.predictions.shape


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_random_text(text):
    _load(text)


scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(list(FAMILIES)))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.sampled_from([*CASE_KEYS, *PARAM_KEYS, "generate", "shape", "seed"]), inner, max_size=5)),
                      max_leaves=25)
cases = st.lists(st.dictionaries(st.sampled_from([*CASE_KEYS, "colour"]), values, max_size=10), max_size=3)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases)
def test_random_documents_of_case_keys(doc):
    _load(json.dumps(doc, allow_nan=True).replace("NaN", ".nan").replace("Infinity", ".inf"))


def test_exponential_aliases_are_refused_by_counting(tmp_path):
    """A billion-laughs document is refused by counting its nodes (the message says so), never by expanding
    10**9 values; run_cli's timeout only guards against a hang (speed is measured in make bench, not here)."""
    lines = ["- &a0 [" + ", ".join(["1.0"] * 10) + "]"]
    lines += [f"- &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]  # 10**9 leaves
    lines += ["- id: laughs", "  family: sparse_softmax_cross_entropy", "  description: d", "  logits: *a8", "  labels: [0]"]
    (tmp_path / "laughs.yaml").write_text("\n".join(lines) + "\n")
    r = run_cli("validate", str(tmp_path / "laughs.yaml"))
    assert r.returncode == 2 and "nodes" in r.stderr and "Traceback" not in r.stderr


def test_deep_nesting_is_refused():
    text = "- id: deep\n  family: sparse_softmax_cross_entropy\n  description: d\n  logits: " + "[" * 200 + "]" * 200 + "\n  labels: [0]\n"
    try:
        load_text(text, "deep.yaml")
    except CaseFileError as e:
        assert any("deep" in str(p) or "nested" in str(p) or "yaml" in str(p) for p in e.problems)
    else:
        raise AssertionError("a 200-deep document was accepted")
