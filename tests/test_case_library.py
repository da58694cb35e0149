"""The built-in case library: every case says what it shows, files keep to a theme, and the traps are covered."""

from __future__ import annotations

from collections import Counter

from harness.core.dtypes import FLOAT_DTYPES
from harness.judge import relations
from harness.schema import generators, load_paths
from tests.conftest import ROOT

CASES = load_paths([ROOT / "cases"])
FILES = sorted((ROOT / "cases").glob("*.yaml"))
assert len(CASES) != 0 and len(FILES) != 0

# Themes the issue asks the library to cover, each a tag at least one case carries.
THEMES = ("seed", "published", "claim-wrong", "relations", "masked", "imbalanced", "class-weights", "ties",
          "mixed-signs", "confident-correct", "confident-wrong", "large-logits", "huge-logits", "large-vocabulary",
          "sweep", "error", "label-smoothing", "soft-labels", "one-hot", "sparse", "dense", "sigmoid", "tail")


def test_every_case_has_tags_and_a_description_of_what_it_shows():
    for c in CASES:
        assert c.tags, f"{c.location}: {c.id} has no tags"
        assert len(c.description.split()) >= 3, f"{c.location}: {c.id}: description {c.description!r} says too little"


def test_every_file_opens_with_its_theme():
    for f in FILES:
        first = f.read_text(encoding="utf-8").lstrip().splitlines()[0]
        assert first.startswith("# ") and len(first.split()) >= 4, f"{f.name}: no header comment saying its theme"


def test_the_library_covers_every_theme():
    tags = Counter(t for c in CASES for t in c.tags)
    missing = [t for t in THEMES if not tags[t]]
    assert not missing, f"no case tagged {missing}"


def test_every_float_dtype_every_relation_and_the_new_generators_are_used():
    assert {d for c in CASES for d in c.dtypes} == set(FLOAT_DTYPES)
    assert {r.kind for c in CASES for r in c.relations} == set(relations.KINDS)
    used = {spec.name for c in CASES for spec in (c.predictions, c.labels) if hasattr(spec, "name")}
    assert {"masked", "imbalanced", "imbalanced_one_hot"} <= used
    assert any(c.params.class_weights and max(c.params.class_weights) / min(c.params.class_weights) >= 1000 for c in CASES)
    assert generators.masked_classes(next(c.predictions for c in CASES if c.id == "masked-inf-sparse-generated")) == (0, 3, 7)


def test_published_values_name_their_source_and_include_losses_below_1e_15():
    published = [c for c in CASES if "published" in c.tags]
    assert len(published) >= 10
    for c in published:
        assert c.expect.loss is not None and c.expect.reason, f"{c.id}: a published value needs its golden loss and source"
    tiny = [c.id for c in CASES if c.expect.loss and any(0 < v < 1e-15 for v in c.expect.loss)]
    assert len(tiny) >= 2, tiny
