"""Derivative orders beyond the loss and its gradient: the `orders:` list a case declares, and where each applies.

    orders: [jvp, hvp, label_grad, mixed]
    direction_seed: 7        # the seed of the direction v (default 0)

Every trial has its loss-and-gradient row; each order a case lists adds one row per way a framework computes
it (harness/run/items.py), judged against the oracle's analytic value (harness/oracle/orders.py). With x the
first input, y the labels, S the sum of the loss's returned values, and v a direction drawn from the seed
(standard normal, shaped like x, rounded to the trial dtype; harness/trials.py):

    jvp         the directional derivative of the returned loss along v:  d/de loss(x + e v) at e = 0
                (the loss's shape: per row for reduction none)
    hvp         the Hessian-vector product  d/de grad_x S(x + e v) at e = 0  (the shape of x)
    label_grad  the gradient with respect to the labels,  grad_y S  (the shape of y)
    mixed       the derivative with respect to the labels of <v, grad_x S>,  grad_y <v, grad_x S>  (the shape of y)

Each row keeps the loss beside the derivative (the frameworks return it with the derivative) and judges the
derivative where a loss row judges the gradient: a wrong one is a `grad_mismatch`.
"""

from __future__ import annotations

from dataclasses import replace

from harness.core.fields import is_int
from harness.core.yamlfile import Problem, at, did_you_mean, plain
from harness.schema.model import FAMILIES, Case

ORDERS = {
    "jvp": "the directional derivative of the loss along v (forward mode)",
    "hvp": "the Hessian-vector product with respect to the first input along v",
    "label_grad": "the gradient with respect to the labels",
    "mixed": "the derivative with respect to the labels of <v, gradient>",
}
# the families the oracle knows each order of (harness/oracle/orders.py), and why the others are refused
SOFTMAX = ("softmax_cross_entropy", "sparse_softmax_cross_entropy")
SIGMOID = ("sigmoid_cross_entropy", "weighted_sigmoid_cross_entropy")
MARGIN = ("hinge", "squared_hinge", "weston_watkins_hinge")
APPLIES = {
    # the jvp is the gradient along v, summed as the loss sums its elements: every loss family has it
    "jvp": tuple(f for f, spec in FAMILIES.items() if not spec.get("block")),
    "hvp": SOFTMAX + SIGMOID + MARGIN,
    "label_grad": ("softmax_cross_entropy", "kl_divergence") + SIGMOID,
    "mixed": ("softmax_cross_entropy", "kl_divergence") + SIGMOID,
}
LABEL_ORDERS = ("label_grad", "mixed")


def refusal(case: Case, order: str) -> str | None:
    """Why the order cannot be asked of the case, or None."""
    if case.family not in APPLIES[order]:
        return (f"{order} is defined for {', '.join(APPLIES[order])}, not {case.family}"
                + (" (labels that are class indices have no derivative)" if order in LABEL_ORDERS and case.integer_labels
                   else ""))
    if order in LABEL_ORDERS and case.params.reduction == "weighted_mean":
        return f"{order} with reduction weighted_mean: its denominator depends on the labels; not defined here yet"
    if case.expect.error:
        return "a case that expects an error has no derivative to judge"
    return None


def orders(case: Case | None, m: dict, name: str, prefix: str) -> tuple[Case | None, list[Problem]]:
    """The case with the orders (and direction seed) its mapping declares; None and the problems when one is wrong."""
    if case is None or ("orders" not in m and "direction_seed" not in m):
        return case, []
    problems: list[Problem] = []
    seed = plain(m.get("direction_seed", 0))
    if not (is_int(seed) and seed >= 0):
        problems.append(Problem(at(name, m, "direction_seed"), f"{prefix}direction_seed",
                                f"expected an integer >= 0, got {seed!r}"))
    v = m.get("orders", [])
    if not isinstance(v, list):
        return None, problems + [Problem(at(name, m, "orders"), f"{prefix}orders",
                                         f"expected a list drawn from {', '.join(ORDERS)}")]
    out: list[str] = []
    for i, item in enumerate(v):
        item = plain(item)
        where, loc = f"{prefix}orders[{i}]", at(name, v, i)
        if item not in ORDERS:
            hint = did_you_mean(item, ORDERS) if isinstance(item, str) else ""
            problems.append(Problem(loc, where, f"unknown order {item!r}; known: {', '.join(ORDERS)}"
                                    + (f"; {hint}" if hint else "")))
        elif item in out:
            problems.append(Problem(loc, where, f"{item} is listed twice"))
        elif refusal(case, item):
            problems.append(Problem(loc, where, refusal(case, item)))
        else:
            out.append(item)
    if problems:
        return None, problems
    return replace(case, orders=tuple(out), direction_seed=int(seed)), []


def with_orders(case: Case, asked: tuple[str, ...]) -> Case:
    """The case with the orders of the command line (`--orders`) added where they apply."""
    more = tuple(o for o in asked if o not in case.orders and refusal(case, o) is None)
    return replace(case, orders=case.orders + more) if more else case
