"""Case files are parsed once per run: the framework processes load the parse from the run's folder."""

from __future__ import annotations

from harness.schema import cache as case_cache
from harness.schema import load_file

CASE = """\
- id: cached-{n}
  family: sparse_softmax_cross_entropy
  description: a case
  logits: [[1.0, 2.0, {n}.0]]
  labels: [0]
"""


def test_a_parse_is_stored_once_reused_and_redone_when_the_file_changes(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(case_cache.ENV, str(folder))
    monkeypatch.setattr(case_cache, "_MEMO", {})
    f = tmp_path / "c.yaml"
    f.write_text(CASE.format(n=3))
    first = load_file(f)
    stored = list(folder.glob("*.pickle"))
    assert len(stored) == 1 and [c.id for c in first] == ["cached-3"]
    monkeypatch.setattr(case_cache, "_MEMO", {})  # as a fresh framework process would start
    calls = []
    monkeypatch.setattr("harness.schema.load.load_text", lambda text, name: calls.append(name) or [])
    again = load_file(f)
    assert calls == [] and [c.id for c in again] == ["cached-3"]  # loaded, not parsed
    assert again[0].predictions.values == first[0].predictions.values == [[1.0, 2.0, 3.0]]
    monkeypatch.undo()
    monkeypatch.setenv(case_cache.ENV, str(folder))
    f.write_text(CASE.format(n=4))
    assert [c.id for c in load_file(f)] == ["cached-4"] and len(list(folder.glob("*.pickle"))) == 2
