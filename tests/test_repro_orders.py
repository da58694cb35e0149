"""`python -m harness repro` of a derivative order's row (harness/schema/orders.py): the script computes the loss as
the loss row does, then the order as the framework's adapter does (adapters/<framework>_orders.py, keras_orders.py),
along the trial's v, and gives the row's observed values bit for bit: torch's on rows of the library's
cases/orders.yaml, every other installed framework's that computes orders on small cases of every order."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from adapters.repro import orders as order_text
from adapters.repro import torch_script
from adapters.repro.script import framework_module, order_refusal
from harness.results.rows import FAILING
from harness.results.shards import read_rows
from harness.run import repro
from tests.conftest import have, run_cli
from tests.test_repro import ALLOWED_IMPORTS, INSTALLED, _bits_equal, _run_alone, _run_scripts

ROOT = Path(__file__).resolve().parent.parent
# every order and method of torch on a softmax path (dense and sparse labels, a saturated row, a masked class), a
# sigmoid path, the hinge written by hand (a constant gradient: the double backward has no graph), torch.sigmoid
# into binary_cross_entropy (infinite label gradients) and multi_margin_loss (no forward mode, no double backward)
SELECT = ("(float32 or bfloat16) and (torch-F.cross_entropy- or nn.BCEWithLogitsLoss or torch.sigmoid or F.relu "
          "or F.multi_margin_loss)")


@pytest.fixture(scope="module")
def order_rows(tmp_path_factory):
    if not have("torch"):
        pytest.skip("torch is not installed")
    d = tmp_path_factory.mktemp("repro-orders")
    r = run_cli("run", "--cases", str(ROOT / "cases" / "orders.yaml"), "--frameworks", "torch", "--out", str(d / "o"),
                "--workers", "0", "-k", SELECT, cwd=d)
    rows = [x for x in read_rows(d / "o" / "results.jsonl") if x.order]
    assert rows, r.stdout + r.stderr
    return d, rows


# the other frameworks' orders (adapters/<framework>_orders.py, keras_orders.py): small cases, every order
OTHER_CASES = """\
- id: o-dense
  family: softmax_cross_entropy
  description: soft labels, per row
  logits: [[2.5, -1.0, 0.8, 4.1, -0.3], [0.1, 0.2, -0.3, 1.0, 0.0]]
  labels: [[0.1, 0.2, 0.0, 0.6, 0.1], [0.0, 0.0, 1.0, 0.0, 0.0]]
  params: {reduction: none}
  orders: [jvp, hvp, label_grad, mixed]
  direction_seed: 1
  dtypes: [float32]
- id: o-sparse
  family: sparse_softmax_cross_entropy
  description: integer labels, a saturated row, sum
  logits: [[1000.0, 0.0, -1000.0], [30.0, -30.0, 0.0]]
  labels: [0, 1]
  params: {reduction: sum}
  orders: [jvp, hvp]
  direction_seed: 2
  dtypes: [bfloat16]
- id: o-sigmoid
  family: sigmoid_cross_entropy
  description: soft and hard labels, mean
  logits: [[2.5, -1.0, 0.8], [0.1, 20.0, -0.3]]
  labels: [[1.0, 0.0, 0.5], [0.0, 1.0, 1.0]]
  params: {reduction: mean}
  orders: [jvp, hvp, label_grad, mixed]
  direction_seed: 6
  dtypes: [float64]
- id: o-hinge
  family: hinge
  description: off its kinks
  logits: [[0.6, -0.4], [1.5, -2.0]]
  labels: [[1, -1], [-1, 1]]
  params: {reduction: mean}
  orders: [jvp, hvp]
  direction_seed: 10
  dtypes: [float32]
"""


def order_text_methods(framework: str) -> dict[str, tuple[str, ...]]:
    return framework_module(framework).order_methods(framework)


def _sample(rows):
    """One row of every (framework, order and method, path, family, dtype) that ran."""
    seen, out = set(), []
    for x in rows:
        key = (x.framework, x.order, x.api, x.family, x.dtype)
        if key not in seen and not repro.refusal(x):
            seen.add(key)
            out.append(x)
    return out


def test_the_scripts_write_every_order_and_method_torch_computes():
    if not have("torch"):
        pytest.skip("torch is not installed")
    from adapters import torch_orders

    assert torch_script.ORDER_METHODS == torch_orders.METHODS


def _check_scripts(d: Path, sample) -> list[str]:
    """Write each row's script, run them in a clean process per framework; what differs from the rows."""
    by_fw: dict[str, list] = {}
    for i, x in enumerate(sample):
        s = repro.script(x, repro.find_case(x, [d / "cases.yaml"]), f"o{i}.npz")
        assert not s.npz and f"DERIVATIVE = {order_text.short(x.order)!r}" in s.text, x.row_id
        path = d / "scripts" / x.framework / f"o{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(s.text)
        imported = {n.split(".")[0] for node in ast.walk(ast.parse(s.text)) for n in
                    ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])}
        assert imported <= ALLOWED_IMPORTS, (x.row_id, imported)
        by_fw.setdefault(x.framework, []).append((x, path, path.with_suffix(".out.npz")))
    failures = []
    for fw, items in by_fw.items():
        loaded = _run_scripts([(p, o) for _, p, o in items], d / "scripts" / fw)
        assert not loaded & {"harness", "adapters"}, loaded
        for x, p, o in items:
            got = np.load(o)
            if "error" in got:  # raised, as in the run (a derivative torch lacks, TensorFlow's None): the same class
                if not ((x.raw_verdict or x.verdict) == "error" and x.message.startswith(str(got["error"]) + ":")):
                    failures.append(f"{x.row_id}: raised {got['error']}, but the row says {x.verdict}: {x.message[:120]}")
                continue
            for name, recorded in (("loss", x.loss_values), ("grad", x.grad_values)):
                if not _bits_equal(got[name], recorded):
                    failures.append(f"{x.row_id}: {name} {got[name].reshape(-1)[:4]}, the row has {recorded[:4]} [{p}]")
    return failures


def test_every_order_rows_script_gives_the_rows_values_bit_for_bit(order_rows):
    d, rows = order_rows
    sample = _sample(rows)
    assert {x.order for x in sample} == {f"{o}:{m}" for o, ms in torch_script.ORDER_METHODS.items() for m in ms}
    verdicts = {x.raw_verdict or x.verdict for x in sample}
    assert {"pass", "grad_mismatch", "nonfinite", "error"} <= verdicts, verdicts
    failures = _check_scripts(d, sample)
    assert failures == [], "\n".join(failures)


def test_the_other_frameworks_order_scripts_give_the_rows_values_bit_for_bit(tmp_path):
    others = [f for f in INSTALLED if f != "torch"]
    if not others:
        pytest.skip("no framework but torch is installed")
    (tmp_path / "cases.yaml").write_text(OTHER_CASES)
    # Keras on JAX compiles every op eagerly per shape: its dense case (every order) stands for it
    r = run_cli("run", "--cases", str(tmp_path / "cases.yaml"), "--frameworks", ",".join(others), "--out",
                str(tmp_path / "o"), "--workers", "0", "-k", "not keras-jax or o-dense", cwd=tmp_path)
    rows = [x for x in read_rows(tmp_path / "o" / "results.jsonl") if x.order]
    if not rows:  # an adapter computes orders where it has `order_methods` (adapters/<framework>_orders.py)
        pytest.skip(f"no framework but torch computes derivative orders in this checkout ({r.returncode=})")
    sample = _sample(rows)
    unwritten = {x.row_id: repro.refusal(x) for x in rows if "derivative order" in repro.refusal(x)}
    assert unwritten == {}, "order rows no script writes"
    for fw in {x.framework for x in rows}:  # every order and method the framework computes
        methods = {f"{o}:{m}" for o, ms in order_text_methods(fw).items() for m in ms}
        assert {x.order for x in sample if x.framework == fw} == methods, fw
    failures = _check_scripts(tmp_path, sample)
    assert failures == [], "\n".join(failures)


def test_a_failing_order_row_carries_its_script_and_the_command_writes_one_that_runs_alone(order_rows):
    d, rows = order_rows
    failing = next(x for x in rows if (x.raw_verdict or x.verdict) in FAILING and x.order == "mixed:rev-rev")
    assert failing.repro == repro.script(failing, repro.find_case(failing, []), "unused.npz").text
    passing = next(x for x in rows if x.verdict == "pass" and x.order == "hvp:fwd-rev" and x.dtype == "bfloat16")
    target = d / "alone" / "hvp.py"
    r = run_cli("repro", passing.row_id, "--results", str(d / "o"), "--out", str(target), cwd=d)
    assert r.returncode == 0, r.stderr
    p, got = _run_alone(target, target.parent)
    assert p.returncode == 0, p.stderr[-2000:]
    assert _bits_equal(got["loss"], passing.loss_values) and _bits_equal(got["grad"], passing.grad_values)
    assert p.stdout.count("the same values as the harness's run") == 2, p.stdout
    assert "hvp:fwd-rev (the Hessian-vector product along v)" in p.stdout and "torch.func.jvp(grad" in target.read_text()


def test_order_rows_without_a_script_say_why():
    assert order_refusal("torch", "hvp:rev-rev") == ""
    why = order_refusal("torch", "hvp:made-up")
    assert "reproducers write jvp:fwd" in why and "not this one" in why, why
    why = order_text.refusal("someframework", "jvp:fwd", {})
    assert "do not write someframework's derivative orders" in why, why
