"""Derivative orders beyond the gradient (harness/schema/orders.py): the oracle against mpmath's high-precision
differentiation of the written-out loss (tests/mp_orders.py) on every case of cases/orders.yaml in every dtype,
the judge's mutation test for the orders, the case file's checks, and torch's rows of the behaviours issue 17
names (the others' in their frameworks' test files)."""

from __future__ import annotations

import numpy as np
import pytest

from harness import oracle
from harness.judge import tolerances
from harness.judge.verdicts import judge
from harness.oracle import orders
from harness.schema import load_paths, load_text
from harness.schema.orders import ORDERS
from harness.trials import Trial, direction, materialize
from tests import mp_orders
from tests.conftest import ROOT

EPS = np.finfo(np.float64).eps
CASES = load_paths([ROOT / "cases" / "orders.yaml"])
TRIALS = [(c, d, o) for c in CASES for d in c.dtypes for o in c.orders]


def _ids(t):
    return f"{t[0].id}-{t[1]}-{t[2]}"


def _order(case, dtype, order):
    trial = Trial(case, dtype)
    inputs, v = materialize(trial), direction(trial)
    ref = oracle.compute(case, inputs, dtype)
    tol = tolerances.for_trial(case, dtype, ref, inputs)
    oref = orders.derivative(case, inputs, ref, order, v)
    return inputs, v, ref, oref, tolerances.for_order(case, dtype, order, tol, ref, oref, inputs, v)


@pytest.mark.parametrize("t", TRIALS, ids=_ids)
def test_oracle_matches_mpmath_differentiation(t):
    """Per element: the same infinity or NaN, else within 4 float64 ULPs of the exact value plus 8 eps times the
    output's largest magnitude (the resolution of a difference the order forms, e.g. v_c - p.v)."""
    case, dtype, order = t
    inputs, v, _, oref, _ = _order(case, dtype, order)
    exact = mp_orders.exact(case, inputs, order, v)
    got = np.asarray(oref.grad, dtype=np.float64)
    assert got.shape == exact.shape
    fin = np.isfinite(exact)
    assert np.array_equal(np.isfinite(got), fin) and np.array_equal(got[~fin], exact[~fin])
    scale = np.max(np.abs(exact[fin]), initial=0.0)
    bound = 4 * EPS * np.abs(exact[fin]) + 8 * EPS * scale + 1e-300
    assert np.all(np.abs(got[fin] - exact[fin]) <= bound), (got, exact)


MUTATIONS = {
    "negated": lambda g, i: -g,
    "zeroed": lambda g, i: np.zeros_like(g),
    "off by 32 eps": lambda g, i: _bump(g, i),
}


def _bump(g, i):
    out = g.copy().reshape(-1)
    out[i] += 32 * np.finfo(g.dtype).eps * max(abs(out[i]), 1.0)
    return out.reshape(g.shape)


@pytest.mark.parametrize("name", ["orders-dense", "orders-sigmoid", "orders-weston-watkins", "orders-kl-targets",
                                  "orders-kl-log-targets"])
def test_judge_of_orders_is_tested_by_mutation(name):
    """The exact order passes in every dtype; negated, zeroed, or 32 eps off in its largest element, it fails."""
    from adapters.api import Observation
    from harness.core.dtypes import cast

    case = next(c for c in CASES if c.id == name)
    for dtype in case.dtypes:
        for order in case.orders:
            inputs, v, ref, oref, tol = _order(case, dtype, order)
            exact = cast(oref.grad, dtype)
            loss = cast(ref.loss, dtype)
            ok = judge(case, oref, Observation(dtype=dtype, loss=loss, grad=exact), tol)
            assert ok.verdict == "pass", (dtype, order, ok.message)
            worst = int(np.argmax(np.abs(np.asarray(oref.grad)).reshape(-1)))
            for mname, mutate in MUTATIONS.items():
                bad = cast(mutate(np.asarray(oref.grad, dtype=np.float64), worst), dtype)
                if np.array_equal(bad, exact):
                    continue  # a zero order (a piecewise-linear loss's Hessian) is its own negation
                out = judge(case, oref, Observation(dtype=dtype, loss=loss, grad=bad), tol)
                assert out.verdict == "grad_mismatch", (dtype, order, mname)


def test_an_order_row_judges_the_order_not_the_loss():
    """A wrong loss beside an exact order passes the order's row: the loss is the trial's own row's to judge."""
    from adapters.api import Observation

    case = CASES[0]
    _, _, ref, oref, tol = _order(case, "float32", "hvp")
    obs = Observation(dtype="float32", loss=np.asarray(ref.loss) * 2 + 1, grad=oref.grad.astype(np.float32))
    assert judge(case, oref, obs, tol).verdict == "pass"


BASE = """
- id: o
  family: {family}
  description: d
  logits: [[1.0, 2.0, 3.0]]
  labels: {labels}
  params: {{reduction: {reduction}}}
  orders: {orders}
"""


@pytest.mark.parametrize(("family", "labels", "reduction", "orders_", "message"), [
    ("softmax_cross_entropy", "[[0, 0, 1]]", "sum", "[hessian]", "unknown order 'hessian'"),
    ("sparse_softmax_cross_entropy", "[2]", "sum", "[label_grad]", "class indices have no derivative"),
    ("softmax_cross_entropy", "[[0, 0, 1]]", "weighted_mean", "[mixed]", "depends on the labels"),
    ("softmax_cross_entropy", "[[0, 0, 1]]", "sum", "[jvp, jvp]", "listed twice"),
    ("ctc", None, "sum", "[hvp]", "is defined for"),
])
def test_a_wrong_order_names_its_file_line_and_field(family, labels, reduction, orders_, message):
    if family == "ctc":
        text = ("- id: o\n  family: ctc\n  description: d\n  logits: [[[0.1, 0.2], [0.3, 0.1]]]\n  labels: [[1]]\n"
                f"  params: {{reduction: {reduction}}}\n  orders: {orders_}\n")
    else:
        text = BASE.format(family=family, labels=labels, reduction=reduction, orders=orders_)
    with pytest.raises(Exception) as err:
        load_text(text, "mine.yaml")
    assert "mine.yaml:" in str(err.value) and "o.orders" in str(err.value) and message in str(err.value)


def test_every_order_is_in_the_library():
    asked = {o for c in CASES for o in c.orders}
    assert asked == set(ORDERS)


def test_an_order_at_a_kink_is_not_judged():
    text = BASE.format(family="hinge", labels="[[1, 1, -1]]", reduction="sum", orders="[jvp]").replace(
        "[[1.0, 2.0, 3.0]]", "[[1.0, 2.0, 3.0]]")
    (case,) = load_text(text, "kink.yaml")
    inputs = materialize(Trial(case, "float64"))
    ref = oracle.compute(case, inputs, "float64")
    with pytest.raises(orders.NotJudged):
        orders.derivative(case, inputs, ref, "jvp", direction(Trial(case, "float64")))


torch = pytest.importorskip("torch")


def _torch_rows(case_id, order, method, api):
    from adapters.api import run_order
    from adapters.torch_adapter import PATHS, TorchAdapter

    case = next(c for c in CASES if c.id == case_id)
    path = next(p for p in PATHS if p.name == api)
    inputs, v, _, oref, tol = _order(case, "float32", order)
    obs = run_order(TorchAdapter(), path, case, inputs, "float32", "cpu", order, method, v)
    return obs, judge(case, oref, obs, tol)


def test_torch_multi_margin_loss_has_no_double_backward():
    obs, out = _torch_rows("orders-weston-watkins", "hvp", "rev-rev", "F.multi_margin_loss")
    assert out.verdict == "error" and "derivative for aten::multi_margin_loss_backward is not implemented" in obs.error
    obs, out = _torch_rows("orders-weston-watkins", "jvp", "fwd", "F.multi_margin_loss")
    assert out.verdict == "error" and "forward AD" in obs.error


@pytest.mark.parametrize(("order", "method"), [("jvp", "fwd"), ("jvp", "double-vjp"), ("hvp", "rev-rev"),
                                               ("hvp", "fwd-rev"), ("label_grad", "rev"), ("mixed", "rev-rev")])
def test_torch_cross_entropy_computes_every_order(order, method):
    obs, out = _torch_rows("orders-dense", order, method, "F.cross_entropy")
    assert out.verdict == "pass", out.message
    assert "torch." in obs.call


def test_the_jvp_of_a_mean_over_nothing_is_nan():
    """Every row ignored: the loss is NaN and its gradient 0 (reverse mode never meets the NaN), its jvp NaN."""
    (case,) = load_text("""
- id: none-kept
  family: sparse_softmax_cross_entropy
  description: every row ignored
  logits: [[1.0, 2.0], [0.5, 0.0]]
  labels: [-100, -100]
  params: {reduction: mean, ignore_index: -100}
  orders: [jvp, hvp]
""", "mine.yaml")
    inputs, v, ref, oref, _ = _order(case, "float32", "jvp")
    assert np.isnan(ref.loss) and not np.any(ref.grad) and np.isnan(oref.grad)
    _, _, _, hvp, _ = _order(case, "float32", "hvp")
    assert not np.any(hvp.grad)


def _smallest_case_per_family():
    from harness.schema.orders import APPLIES

    library = [c for c in load_paths([ROOT / "cases"]) if not c.expect.error and "float64" in c.dtypes]
    out = {}
    for c in library:
        size = int(np.prod(c.predictions.shape))
        if size and c.family in APPLIES["jvp"] and (c.family not in out or size < out[c.family][0]):
            out[c.family] = (size, c)
    return [c for _, c in sorted(out.values(), key=lambda t: t[1].family)]


@pytest.mark.parametrize("case", _smallest_case_per_family(), ids=lambda c: c.family)
def test_the_jvp_of_every_family_is_its_exact_gradient_along_v(case):
    """Every loss family has a jvp (its analytic gradient along v, summed as the loss sums): on the family's smallest
    library case in float64, against mpmath's independent gradient (tests/mp_reference.py) along the same v."""
    from dataclasses import replace

    case = replace(case, orders=("jvp",))
    trial = Trial(case, "float64")
    inputs, v = materialize(trial), direction(trial)
    ref = oracle.compute(case, inputs, "float64")
    try:
        oref = orders.derivative(case, inputs, ref, "jvp", v)
    except orders.NotJudged:
        pytest.skip("the family's smallest case has a kink")
    exact = mp_orders._jvp_from_gradient(case, inputs, v)
    got = np.asarray(oref.grad, dtype=np.float64)
    fin = np.isfinite(exact)
    assert got.shape == exact.shape and np.array_equal(np.isfinite(got), fin)
    scale = np.max(np.abs(exact[fin]), initial=0.0)
    assert np.all(np.abs(got[fin] - exact[fin]) <= 4 * EPS * np.abs(exact[fin]) + 8 * EPS * scale + 1e-300)
