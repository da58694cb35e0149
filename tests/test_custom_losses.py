"""Bring your own loss: custom callables in each framework through the command, the Python function and the
assertion helper; custom paths from a config file; a framework adapter installed from its own package.

Every expectation comes from the harness or the mathematics: a user's clipped loss must get the verdicts
and flags of the built-in naive:log(clip(softmax)) path on the same trials, its capped loss is
-log(1e-7) rounded to the trial dtype, and so on. The losses are in tests/user_losses/.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pytest

import adapters
from adapters import custom
from adapters.api import ApiPath
from harness.core.dtypes import np_dtype
from harness.custom import config
from harness.custom.check import SpecError, describe, frame, specs_for, target_of
from harness.results.rows import FAILING
from harness.results.shards import read_rows
from harness.schema import load_file
from tests.conftest import ROOT, have, run_cli

FAMILY = "softmax_cross_entropy"
CASES = [str(ROOT / "examples" / "cases.yaml"), str(ROOT / "tests" / "data" / "custom_cases.yaml")]
LOSSES = ("correct", "naive", "clipped", "ignores_smoothing")
EXAMPLES = {"torch": ("clipped_ce", "fused_ce"), "tensorflow": ("clipped_onehot_loss", "fused_ce"), "jax": ("clipped_ce", "fused_ce")}
NEEDS = {"torch": ("torch",), "tensorflow": ("tensorflow",), "jax": ("jax", "optax")}


def trials(paths, keep=lambda case: True) -> set[tuple[str, str]]:
    """(case, dtype) of every trial of the case files whose case passes `keep`."""
    return {(c.id, d) for p in paths for c in load_file(p) if keep(c) for d in c.dtypes}


def plain_options(case) -> bool:
    """A case a loss without options can express: no option set, and a reduction the harness can apply to its rows."""
    return not case.params.non_default() and case.params.reduction in ("none", "sum", "mean")


def api(framework: str, fn: str) -> str:
    return f"custom:tests.user_losses.{framework}_losses:{fn}"


def example_api(framework: str, fn: str) -> str:
    return f"custom:examples.{framework}_losses:{fn}"


# --------------------------------------------------------------------------- signatures and specs (no framework)


def _plain(logits, labels):
    return logits


def _keras(y_true, y_pred, reduction: Literal["none", "mean"] = "none", label_smoothing=0.0, **kwargs):
    return y_pred


def test_signature_declares_options_order_and_reductions():
    d = custom.declared(_plain)
    assert (d.options, d.keras_order, d.reductions) == (frozenset(), False, custom.REDUCTIONS)
    d = custom.declared(_keras)
    # **kwargs claims nothing: an option counts only when it is named
    assert d.options == {"reduction", "label_smoothing"} and d.keras_order and d.reductions == ("none", "mean")
    with pytest.raises(TypeError, match="logits, labels"):
        custom.declared(lambda x: x)


def _case(text: str, tmp_path: Path):
    p = tmp_path / "c.yaml"
    p.write_text(textwrap.dedent(text))
    return load_file(p)


def test_undeclared_options_and_reductions_are_unsupported_with_the_reason(tmp_path):
    cases = _case("""\
        - id: smooth-mean
          family: softmax_cross_entropy
          description: d
          logits: [[1.0, 2.0]]
          labels: [[0.0, 1.0]]
          params: {reduction: mean, label_smoothing: 0.1}
        - id: plain
          family: softmax_cross_entropy
          description: d
          logits: [[1.0, 2.0]]
          labels: [[0.0, 1.0]]
        - id: weighted-mean
          family: softmax_cross_entropy
          description: d
          logits: [[1.0, 2.0]]
          labels: [[0.0, 1.0]]
          params: {reduction: weighted_mean}
        - id: sparse
          family: sparse_softmax_cross_entropy
          description: d
          logits: [[1.0, 2.0]]
          labels: [1]
        """, tmp_path)
    by = {c.id: c for c in cases}
    me = f"{__name__}:_plain"
    plain = custom.custom_path(custom.Spec(me, FAMILY, ("numpy",)))
    assert isinstance(plain, ApiPath) and plain.name == f"custom:{me}"
    assert "does not accept label_smoothing (the options it declares: none)" in plain.supports(by["smooth-mean"], "float32")
    why = plain.supports(by["weighted-mean"], "float32")  # it returns per-row losses: the path can sum or average them
    assert "takes no reduction parameter and returns one loss per row" in why and "'weighted_mean'" in why
    assert plain.supports(by["plain"], "float32") is None
    assert "does not implement sparse_softmax_cross_entropy" in plain.supports(by["sparse"], "float32")
    mean = custom.custom_path(custom.Spec(me, FAMILY, ("numpy",), returns="mean"))
    assert "returns the mean of the losses; the case asks for reduction='none'" in mean.supports(by["plain"], "float32")
    keras = custom.custom_path(custom.Spec(f"{__name__}:_keras", FAMILY, ("numpy",)))
    assert keras.supports(by["smooth-mean"], "float32") is None
    missing = custom.custom_path(custom.Spec("no_such_module_here:fn", FAMILY, ("numpy",)))
    assert missing.supports(by["plain"], "float32") is None  # runs, so that its row shows the import error
    with pytest.raises(ImportError, match="no_such_module_here"):
        missing.fn(None)


def test_specs_name_importable_callables_only():
    target, root = target_of(_plain)
    assert target == f"{__name__}:_plain" and root == ROOT
    for bad in (lambda x, y: x, _closure()):
        with pytest.raises(SpecError, match="importable"):
            target_of(bad)
    with pytest.raises(SpecError) as e:
        specs_for("not a target", family="softmax_xent", framework="tourch")
    msg = str(e.value)
    assert "module:function" in msg and "unknown family 'softmax_xent'" in msg and "unknown framework 'tourch'" in msg


def _closure():
    def inner(logits, labels):
        return logits
    return inner


def test_describe_reads_like_the_report():
    rows = read_rows_from({"verdict": "loss_mismatch", "flags": ["vanishing_grad"], "loss": 16.1, "ref_loss": 40.0,
                           "loss_worst_index": [1], "grad": 0.0, "ref_grad": -1.0, "grad_worst_index": [1, 0],
                           "loss_allowance": "2e-05 (mostly log S)", "case": "c@scale=10", "framework": "torch", "device": "cpu",
                           "dtype": "float32"})
    text = describe(rows[0])
    assert text.startswith("loss_mismatch (vanishing_grad): loss[1]=16.1, but should be 40; grad[1, 0]=0, but should be -1")
    assert text.endswith("[c@scale=10, torch, cpu, float32; allowed 2e-05 (mostly log S)]")


def read_rows_from(d: dict):
    from harness.results.rows import Row

    base = {"row_id": "r", "case": "c", "family": FAMILY, "framework": "torch", "api": "a", "device": "cpu",
            "dtype": "float32", "verdict": "pass"}
    return [Row.from_dict({**base, **d})]


# --------------------------------------------------------------------------- config files (no framework)


def test_config_from_pyproject_and_yaml(tmp_path):
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent("""\
        [project]
        name = "team"

        [[tool.harness.custom]]
        callable = "team.losses:clipped"
        family = "softmax_cross_entropy"
        framework = "torch"

        [[tool.harness.custom]]
        callable = "team.losses:fused"
        family = "sparse_softmax_cross_entropy"
        framework = ["jax", "tensorflow"]
        returns = "mean"
        name = "team:fused"
        """))
    assert config.find(tmp_path) == tmp_path / "pyproject.toml"
    specs = config.load(tmp_path / "pyproject.toml")
    assert [(s.api, s.family, s.frameworks, s.returns) for s in specs] == [
        ("custom:team.losses:clipped", FAMILY, ("torch",), "none"),
        ("team:fused", "sparse_softmax_cross_entropy", ("jax", "tensorflow"), "mean")]
    (tmp_path / "harness.yaml").write_text("custom:\n  - {callable: 'team.losses:clipped', family: softmax_cross_entropy, framework: torch}\n")
    assert config.find(tmp_path) == tmp_path / "harness.yaml"  # the YAML file wins
    assert config.load(tmp_path / "harness.yaml") == specs[:1]
    assert custom.from_env({custom.ENV: custom.encode(specs)}) == specs


def test_config_problems_are_listed_at_once(tmp_path):
    p = tmp_path / "harness.yaml"
    p.write_text("custom:\n  - callable: team.losses:x\n    famly: softmax_cross_entropy\n    framework: torch\n"
                 "  - callable: nocolon\n    family: softmax_cross_entropy\n    framework: torch\n    returns: max\n"
                 "cases: []\n")
    with pytest.raises(config.ConfigError) as e:
        config.load(p)
    text = "\n".join(e.value.problems)
    assert "unknown key 'famly' (did you mean 'family'?)" in text and "custom[0]: family: required" in text
    assert "expected 'module:function'" in text and "returns: expected one of none, sum, mean" in text
    assert "unknown key 'cases'" in text
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    p.unlink()
    assert config.find(tmp_path) is None  # a pyproject.toml without [tool.harness] is not a config file


# --------------------------------------------------------------------------- each framework, end to end


def _check_torch_through_the_command(out: Path) -> list:
    targets = [f"tests.user_losses.torch_losses:{f}" for f in LOSSES] + [f"examples.torch_losses:{f}" for f in EXAMPLES["torch"]]
    r = run_cli("check", *targets, "--family", FAMILY, "--framework", "torch", "--beside", "all", "-k", "custom: or naive:",
                *[a for c in CASES for a in ("--cases", c)], "--out", str(out))
    assert r.returncode == 1, r.stdout + r.stderr  # the naive, clipped and smoothing-ignoring losses disagree
    assert f"{api('torch', 'clipped')}: loss_mismatch" in r.stdout and "report:" in r.stdout
    return read_rows(out / "results.jsonl")


def _check_through_the_function(framework: str, out: Path) -> pd.DataFrame:
    import harness

    targets = [f"tests.user_losses.{framework}_losses:{f}" for f in LOSSES]
    targets += [f"examples.{framework}_losses:{f}" for f in EXAMPLES[framework]]
    # beside the built-in naive paths, whose formulas two of the losses repeat (-k keeps the run short)
    df = harness.check(targets, family=FAMILY, framework=framework, cases=CASES, out=out, beside="all", keyword="custom: or naive:")
    assert df.attrs["custom_apis"] == [f"custom:{t}" for t in targets]
    assert Path(df.attrs["report"]).is_file()
    return df


@pytest.fixture(scope="module")
def torch_rows(tmp_path_factory) -> list:
    """The torch losses checked through `python -m harness check` (its rows, as the command wrote them)."""
    if not have("torch"):
        pytest.skip("torch is not installed")
    return _check_torch_through_the_command(tmp_path_factory.mktemp("check-torch"))


@pytest.fixture(scope="module", params=["torch", "tensorflow", "jax"])
def checked(request, tmp_path_factory):
    """Each framework's losses: torch through the command, TensorFlow and JAX through harness.check()."""
    fw = request.param
    if not have(*NEEDS[fw]):
        pytest.skip(f"{fw} is not installed")
    if fw == "torch":
        return fw, frame(request.getfixturevalue("torch_rows"))
    return fw, _check_through_the_function(fw, tmp_path_factory.mktemp(f"check-{fw}"))


def _trials(df: pd.DataFrame, api_name: str) -> dict[tuple[str, str], pd.Series]:
    return {(r.case, r.dtype): r for r in df[df.api == api_name].itertuples()}


def test_correct_loss_passes_everything_it_declares(checked):
    fw, df = checked
    rows = _trials(df, api(fw, "correct"))
    assert set(rows) == trials(CASES)
    # every option reaches it, class and sample weights as tensors in the trial dtype
    assert {r.verdict for r in rows.values()} == {"pass"}, [(k, r.message) for k, r in rows.items() if r.verdict != "pass"]
    assert "class_weights=<tensor>, sample_weights=<tensor>" in rows[("custom-weights-weighted-mean", "float32")].call


@pytest.mark.parametrize("mine, builtin", [("clipped", "naive:log(clip(softmax))"), ("naive", "naive:log(softmax)")])
def test_naive_formulations_fail_as_the_builtin_ones_do(checked, mine, builtin):
    """The user's hand-written loss gets, trial by trial, the verdict and flags of the built-in path with the same formula."""
    fw, df = checked
    ours, theirs = _trials(df, api(fw, mine)), _trials(df, builtin)
    judged = {k: r for k, r in ours.items() if r.verdict != "unsupported"}
    assert set(judged) == trials(CASES, plain_options)  # a case with an option it does not declare is not run
    for key, r in judged.items():
        ref = theirs[key]
        assert (r.verdict, sorted(r.flags)) == (ref.raw_verdict, sorted(ref.flags)), (key, r.message, ref.message)
    assert judged[("example-moderate-logits", "float64")].verdict == "pass"
    large = judged[("example-large-logits@scale=10000", "float32")]
    assert large.verdict in FAILING
    smooth = ours[("custom-label-smoothing", "float32")]
    assert smooth.verdict == "unsupported" and "does not accept label_smoothing" in smooth.message
    weights = ours[("custom-class-weights", "float64")]
    assert weights.verdict == "unsupported" and "does not accept class_weights" in weights.message
    assert "sum(" in ours[("custom-sum", "float64")].call or ".sum()" in ours[("custom-sum", "float64")].call


def test_clipped_loss_is_capped_at_minus_log_of_the_clip_and_its_gradient_vanishes(checked):
    fw, df = checked
    for (case, dtype), r in _trials(df, api(fw, "clipped")).items():
        if case != "example-large-logits@scale=10000":
            continue
        # row 1 puts the target 1e4 below another class: its probability is clipped to 1e-7 (in the trial dtype)
        cap = -math.log(float(np.asarray(1e-7, dtype=np_dtype(dtype))))
        assert r.loss_values[1] == pytest.approx(cap, rel=1e-6) and r.ref_loss_values[1] > 1e3 * cap
        assert r.verdict == "loss_mismatch" and "vanishing_grad" in r.flags, r.message


def test_ignoring_an_option_it_declares_is_a_mismatch(checked):
    fw, df = checked
    rows = _trials(df, api(fw, "ignores_smoothing"))
    for (case, dtype), r in rows.items():
        if case == "custom-label-smoothing":
            assert r.verdict == "loss_mismatch", r.message
        elif case == "custom-weights-weighted-mean":  # its Literal leaves weighted_mean out
            assert r.verdict == "unsupported" and "declares reduction: Literal['none', 'sum', 'mean']" in r.message
        elif case == "custom-class-weights":
            assert r.verdict == "unsupported" and "does not accept class_weights" in r.message
        else:
            assert r.verdict == "pass", (case, dtype, r.message)


def test_examples_clipped_fails_at_large_logits_and_fused_passes(checked):
    fw, df = checked
    clipped_name, fused_name = EXAMPLES[fw]
    clipped = df[df.api == example_api(fw, clipped_name)]
    fused = df[df.api == example_api(fw, fused_name)]
    judged = fused[fused.verdict != "unsupported"]
    assert len(judged) >= 10 and set(judged.verdict) == {"pass"}
    large = clipped[clipped.case.str.endswith("@scale=10000")]
    assert len(large) == 2 and all("vanishing_grad" in f for f in large["flags"]) and set(large.verdict) <= FAILING
    assert set(clipped[clipped.case == "example-moderate-logits"].verdict) == {"pass"}


def test_custom_rows_sit_beside_the_builtin_paths_with_their_call(checked):
    fw, df = checked
    mine = df[df.api.str.startswith("custom:")]
    assert set(mine.framework) == {fw} and set(mine.family) == {FAMILY}
    builtin = df[~df.api.str.startswith("custom:")]
    assert len(builtin) and set(builtin.family) == {FAMILY}
    calls = set(df[df.api == api(fw, "correct")].call)
    assert f"tests.user_losses.{fw}_losses:correct(logits, labels, reduction='sum')" in " ".join(calls)


def test_report_rerun_command_of_a_custom_row_is_a_check(torch_rows, tmp_path):
    from urllib.parse import quote

    chromium = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    if chromium is None:
        pytest.skip("headless Chromium is not installed")
    from harness.report import write_report
    from tests import browser

    row = next(r for r in torch_rows if r.api == api("torch", "clipped") and r.verdict in FAILING)
    write_report(torch_rows, [], tmp_path)
    url = (tmp_path / "index.html").as_uri() + "#open=" + quote(row.row_id, safe="")
    dom = browser.dump_dom(chromium, url, timeout=120).stdout
    want = (f"python -m harness check tests.user_losses.torch_losses:clipped --family {FAMILY} --framework torch "
            f"--cases {row.source.rsplit(':', 2)[0]} --beside none -k ")
    assert want in dom


# --------------------------------------------------------------------------- the assertion helper


needs_torch = pytest.mark.skipif(not have("torch"), reason="torch is not installed")


@needs_torch
def test_assert_loss_conforms_passes_and_returns_the_rows(tmp_path):
    from harness.custom.testing import assert_loss_conforms
    from tests.user_losses import torch_losses

    df = assert_loss_conforms(torch_losses.correct, family=FAMILY, framework="torch", cases=CASES[1], out=tmp_path)
    assert set(df.api) == {api("torch", "correct")} and set(df.verdict) == {"pass"}
    assert {(c, d) for c, d in zip(df.case, df.dtype, strict=True)} == trials(CASES[1:])


@needs_torch
def test_assert_loss_conforms_lists_each_failing_case_with_observed_and_expected(torch_rows, tmp_path):
    from harness.custom.testing import assert_loss_conforms
    from tests.user_losses import torch_losses

    with pytest.raises(AssertionError) as e:
        assert_loss_conforms([torch_losses.correct, torch_losses.clipped], family=FAMILY, framework="torch",
                             cases=CASES[0], out=tmp_path)
    msg = str(e.value)
    failing = [r for r in torch_rows if r.api == api("torch", "clipped") and r.verdict in FAILING]
    judged = 2 * len(trials(CASES[:1]))  # both losses on every trial of the example cases
    assert failing and f"disagrees with the oracle in {len(failing)} of {judged} judged trials" in msg
    for r in failing:  # the same trials with the same values as the command's run, one line each
        assert f"  {r.api}: {describe(r)}\n" in msg + "\n"
    assert f"{api('torch', 'correct')}: " not in msg.split("\n", 1)[1]  # the correct loss lists nothing


@needs_torch
def test_assert_loss_conforms_fails_when_nothing_was_judged(tmp_path):
    from harness.custom.testing import assert_loss_conforms
    from tests.user_losses import torch_losses

    with pytest.raises(AssertionError, match="no case was judged") as e:
        assert_loss_conforms(torch_losses.naive, family=FAMILY, framework="torch", cases=CASES[1], out=tmp_path,
                             keyword="smoothing or weights")
    assert "does not accept class_weights" in str(e.value) and "does not accept label_smoothing" in str(e.value)


# --------------------------------------------------------------------------- the config file, through `run`


@needs_torch
def test_run_checks_the_losses_a_config_file_declares(tmp_path):
    # the team's package is called `tests`, like this project's: it must still be the team's that is imported
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "__init__.py").write_text("")
    (tmp_path / "tests" / "team_losses.py").write_text(textwrap.dedent("""\
        import torch

        def clipped(logits, labels):
            p = torch.clamp(torch.softmax(logits, dim=-1), 1e-7, 1 - 1e-7)
            return -(labels * torch.log(p)).sum(dim=-1)
        """))
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent("""\
        [[tool.harness.custom]]
        callable = "tests.team_losses:clipped"
        family = "softmax_cross_entropy"
        framework = "torch"
        name = "team:clipped"
        """))
    r = run_cli("run", "--cases", CASES[0], "--frameworks", "torch", "--out", str(tmp_path / "out"), "-k", "large",
                cwd=tmp_path)
    assert "1 custom loss path(s) from" in r.stdout, r.stdout + r.stderr
    rows = read_rows(tmp_path / "out" / "results.jsonl")
    team = {(x.case, x.dtype): x for x in rows if x.api == "team:clipped"}
    builtin = {(x.case, x.dtype): x for x in rows if x.api == "naive:log(clip(softmax))"}
    assert set(team) == trials(CASES[:1], lambda c: "large" in c.id) == set(builtin)
    for k, x in team.items():
        assert (x.verdict, x.flags) == (builtin[k].raw_verdict, builtin[k].flags), k
    assert r.returncode == 1 and "team:clipped" in r.stdout  # the team's loss is a new disagreement


def test_run_refuses_a_bad_config_file(tmp_path):
    (tmp_path / "harness.yaml").write_text("custom:\n  - {callable: 'm:f', family: softmax_cross_entropy, framework: mxnet}\n")
    r = run_cli("run", "--cases", CASES[0], "--frameworks", "oracle", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 2 and "unknown framework 'mxnet'" in r.stderr


# --------------------------------------------------------------------------- plugins


def test_the_built_in_adapters_are_registered_once_by_their_table_not_also_by_entry_points():
    """adapters/frameworks.py registers the built-in frameworks; the entry-point group is for other packages'."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert adapters.ENTRY_POINT_GROUP not in project.get("entry-points", {})
    assert set(adapters.BUILTIN) <= set(adapters.registry())


def test_a_plugin_package_adds_a_framework_to_the_report(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "tests" / "data" / "plugin_pkg", src)  # pip builds in the source folder: not in the tree
    site = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                          "--no-build-isolation", "--no-index", "--target", str(site), str(src)],
                         capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stderr
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT), str(site)])}
    r = run_cli("run", "--cases", CASES[0], "--frameworks", "numpy", "--out", str(tmp_path / "out"), env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = read_rows(tmp_path / "out" / "results.jsonl")
    assert {(x.framework, x.api) for x in rows} == {("numpy", "numpy:log_softmax")}
    assert {(x.case, x.dtype) for x in rows} == trials(CASES[:1]) and {x.verdict for x in rows} == {"pass"}
    env_file = json.loads((tmp_path / "out" / "shards" / "numpy.env.json").read_text())
    assert env_file["frameworks"]["numpy"]["version"] == np.__version__
    assert "numpy:log_softmax" in (tmp_path / "out" / "index.html").read_text()


def test_adapter_doc_shows_the_plugin_verbatim():
    doc = (ROOT / "docs" / "adapters.md").read_text()
    for name in ("harness_numpy_plugin.py", "pyproject.toml"):
        assert (ROOT / "tests" / "data" / "plugin_pkg" / name).read_text() in doc, name
    assert "docs/adapters.md" in (ROOT / "README.md").read_text()
