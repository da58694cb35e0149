"""The multi-class hinges written by hand, where a framework has no loss of its own, once over each framework's ops.

Each adapter supplies its `naive.Ops` and a `HingeOps` (the max over classes and max(v, 0) as its users write
them); the formulas below compose them as the definitions read (classes last, integer labels one-hot
encoded, the label's score picked by a product with the one-hot, as optax and Keras do):

    manual:weston_watkins   sum(max(m - x_y + x, 0)^p * (1 - onehot)) / C        x_y = sum(x * onehot)
    manual:crammer_singer   max(x + m (1 - onehot)) - sum(x * onehot)            optax's form
    manual:categorical_hinge max(max((1 - t) x) - sum(t x) + m, 0)               Keras' form

adapters/repro/hinge_script.py writes the same lines as text for the reproducer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adapters.api import ApiPath, Call
from adapters.naive import Ops


@dataclass(frozen=True)
class HingeOps:
    ops: Ops
    max_classes: Callable[[Any], Any]  # the max over the last axis
    max_name: str
    relu: Callable[[Any], Any]  # max(v, 0)
    relu_name: str


def _one_hot(h: HingeOps, c: Call):
    return h.ops.one_hot(c.labels, int(c.logits.shape[-1]), c.logits)


def _reduced(h: HingeOps, c: Call, per_row, chain: str):
    red = c.params.reduction
    return h.ops.reduce(per_row, red), f"manual: {chain}{h.ops.reduce_names[red]}"


def weston_watkins(h: HingeOps) -> Callable[[Call], tuple[Any, str]]:
    def fn(c: Call):
        x, m, pw = c.logits, c.params.margin, c.params.p
        t = _one_hot(h, c)
        xy = h.ops.sum_keep(x * t, -1)
        z = h.relu(m - xy + x) * (1 - t)
        if pw == 2:
            z = z * z
        C = int(x.shape[-1])
        per_row = h.ops.sum_classes(z, -1) / C
        sq = " ** 2" if pw == 2 else ""
        return _reduced(h, c, per_row, f"{h.ops.sum_name}({h.relu_name}({m!r} - x_y + x){sq} * (1 - onehot)) / {C}, "
                                       f"x_y = {h.ops.sum_name}(x * {h.ops.one_hot_name}(labels))")
    return fn


def crammer_singer(h: HingeOps) -> Callable[[Call], tuple[Any, str]]:
    def fn(c: Call):
        x, m = c.logits, c.params.margin
        t = _one_hot(h, c)
        per_row = h.max_classes(x + m * (1 - t)) - h.ops.sum_classes(x * t, -1)
        return _reduced(h, c, per_row, f"{h.max_name}(x + {m!r} * (1 - onehot)) - {h.ops.sum_name}(x * onehot), "
                                       f"onehot = {h.ops.one_hot_name}(labels)")
    return fn


def categorical_hinge(h: HingeOps) -> Callable[[Call], tuple[Any, str]]:
    def fn(c: Call):
        x, t, m = c.logits, c.labels, c.params.margin
        pos = h.ops.sum_classes(t * x, -1)
        neg = h.max_classes((1 - t) * x)
        per_row = h.relu(neg - pos + m)
        return _reduced(h, c, per_row, f"{h.relu_name}({h.max_name}((1 - t) * x) - {h.ops.sum_name}(t * x) + {m!r})")
    return fn


def _last_axis(case, dtype) -> str | None:
    nd = len(case.predictions.shape)
    return None if case.params.axis % nd == nd - 1 else "the hand-written hinge takes classes on the last axis"


def paths(h: HingeOps, families: tuple[str, ...]) -> list[ApiPath]:
    """The hand-written paths of the named families (those the framework has no loss for)."""
    table = {
        "weston_watkins_hinge": ("manual:weston_watkins", weston_watkins, {"margin", "p", "axis"},
                                 "sum over the other classes of max(0, m - x_y + x_j)^p, over C"),
        "crammer_singer_hinge": ("manual:crammer_singer", crammer_singer, {"margin", "axis"},
                                 "optax's form: max_j(x_j + m [j != y]) - x_y"),
        "categorical_hinge": ("manual:categorical_hinge", categorical_hinge, {"margin", "axis"},
                              "Keras' form: max(max((1 - t) x) - sum(t x) + m, 0)"),
    }
    out = []
    for fam in families:
        name, make, options, doc = table[fam]
        out.append(ApiPath(name, frozenset({fam}), make(h), options=frozenset(options), check=_last_axis, doc=doc))
    return out
