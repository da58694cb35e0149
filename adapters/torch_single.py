"""PyTorch's paths for the losses only one framework ships: poly-1 written by hand (the paper's listing), the
perceptrons written by hand (F.relu(-y x) as for the hinge; max minus the label's score); declared absences."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from adapters import builders, single_checks, torch_hinge
from adapters.api import ApiPath, Call

REDUCE = {"none": (lambda v: v, ""), "sum": (lambda v: v.sum(), ".sum()"), "mean": (lambda v: v.mean(), ".mean()")}


def _poly(c: Call):
    eps = c.params.epsilon
    ce = F.cross_entropy(c.logits, c.labels, reduction="none")
    pt = (c.labels * torch.softmax(c.logits, dim=-1)).sum(dim=-1)
    fn, red = REDUCE[c.params.reduction]
    return fn(ce + eps * (1 - pt)), (f"F.cross_entropy(logits, labels, reduction='none') + {eps!r} * "
                                     f"(1 - (labels * torch.softmax(logits, dim=-1)).sum(dim=-1)){red}")


def _perceptron(c: Call):
    y, yname = torch_hinge.signed(c)
    return torch_hinge.weighted(c, F.relu(-y * c.logits), f"F.relu(-{yname} * logits)")


def _multiclass_perceptron(c: Call):
    picked = c.logits.gather(-1, c.labels.unsqueeze(-1)).squeeze(-1)
    fn, red = REDUCE[c.params.reduction]
    return fn(c.logits.max(dim=-1).values - picked), (
        f"logits.max(dim=-1).values - logits.gather(-1, labels.unsqueeze(-1)).squeeze(-1){red}")


def _classes_last(case, dtype) -> str | None:
    nd = len(case.predictions.shape)
    return None if case.params.axis % nd == nd - 1 else "the formula as written takes the classes on the last axis"


PATHS = [
    ApiPath("manual:F.relu(-y*x)", frozenset({"perceptron"}), _perceptron, options=torch_hinge.MARGIN_OPTIONS,
            doc="torch has no perceptron loss: max(0, -y x) as users write it (F.relu: slope 0 at a score of 0)"),
    ApiPath("manual:max(x)-x[y]", frozenset({"multiclass_perceptron"}), _multiclass_perceptron,
            options=frozenset({"axis"}), check=_classes_last,
            doc="torch has no multi-class perceptron loss: logits.max(dim=-1).values minus the gathered label score "
                "(at a tie torch.max's gradient goes to the one index it returns)"),
    ApiPath("manual:poly1(F.cross_entropy)", frozenset({"poly1_cross_entropy"}), _poly, options=frozenset({"epsilon"}),
            check=single_checks.poly_manual, doc=single_checks.POLY_DOC),
    builders.absent("(no sparsemax loss in torch)", frozenset({"binary_sparsemax", "multiclass_sparsemax"}),
                    "PyTorch has no sparsemax, sparse_plus or simplex projection; a user would have to write the "
                    "sort-based projection first"),
    builders.absent("(no generalized cross-entropy in torch)", frozenset({"generalized_cross_entropy"}),
                    "PyTorch has no generalized cross-entropy; users write (1 - p_y**q) / q themselves, as Keras does"),
]
