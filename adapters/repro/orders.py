"""What a reproducer of a derivative order (harness/schema/orders.py) says about it, and which orders have scripts.

A row of an order computes the path's loss exactly as the loss row does, then the order by one method, along the
direction v of the trial (harness/trials.py `direction`). Each framework's script module that writes orders has
`order_methods(framework)` (the orders and methods its `order_code` writes, those of the framework's adapter
module, e.g. adapters/torch_orders.py) and `order_code(target)`: the path's call as a function of the first
input, wrapped in the adapter's composition of autodiff calls.
"""

from __future__ import annotations

import re

from harness.schema.orders import ORDERS

METHODS = {  # the ways of computing an order, as the adapters name them
    "fwd": "forward mode",
    "double-vjp": "the double-vjp trick (two reverse passes)",
    "linearize": "linearization",
    "rev-rev": "reverse over reverse (double backward)",
    "fwd-rev": "forward over reverse",
    "rev": "reverse mode",
}


SHORT = {  # each order in a few words, for the lines a script prints
    "jvp": "the directional derivative along v",
    "hvp": "the Hessian-vector product along v",
    "label_grad": "the gradient with respect to the labels",
    "mixed": "d/dlabels <v, gradient>",
}


def split(order: str) -> tuple[str, str]:
    """('hvp', 'rev-rev') of a row's order column 'hvp:rev-rev'."""
    name, _, method = order.partition(":")
    return name, method


def short(order: str) -> str:
    """A row's order column with a few words: 'hvp:rev-rev (the Hessian-vector product along v)'."""
    name, _ = split(order)
    return f"{order} ({SHORT[name]})" if name in SHORT else order


def describe(order: str) -> str:
    """A row's order column in words: 'hvp:rev-rev: the Hessian-vector product ... along v, reverse over reverse'."""
    name, method = split(order)
    what = re.sub(r" \(.*\)$", "", ORDERS.get(name, name))  # jvp's "(forward mode)": the method says how
    return f"{order}: {what}, by {METHODS.get(method, method)}"


def refusal(framework: str, order: str, written: dict[str, tuple[str, ...]]) -> str:
    """Why no script writes this order of the framework ('' when one does); `written`: the orders and methods the
    framework's script module writes (empty when it writes none)."""
    name, method = split(order)
    if method in written.get(name, ()):
        return ""
    if not written:
        return (f"a derivative order ({order}) of {framework}: the reproducers do not write {framework}'s derivative "
                "orders yet; the call chain says what ran")
    return (f"a derivative order ({order}) of {framework}: the reproducers write "
            f"{', '.join(f'{o}:{m}' for o, ms in written.items() for m in ms)} of {framework}, not this one; "
            "the call chain says what ran")
