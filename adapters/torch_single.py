"""PyTorch's paths for the losses only one framework ships: poly-1 written by hand (the paper's listing); declared absences."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from adapters import builders, single_checks
from adapters.api import ApiPath, Call

REDUCE = {"none": (lambda v: v, ""), "sum": (lambda v: v.sum(), ".sum()"), "mean": (lambda v: v.mean(), ".mean()")}


def _poly(c: Call):
    eps = c.params.epsilon
    ce = F.cross_entropy(c.logits, c.labels, reduction="none")
    pt = (c.labels * torch.softmax(c.logits, dim=-1)).sum(dim=-1)
    fn, red = REDUCE[c.params.reduction]
    return fn(ce + eps * (1 - pt)), (f"F.cross_entropy(logits, labels, reduction='none') + {eps!r} * "
                                     f"(1 - (labels * torch.softmax(logits, dim=-1)).sum(dim=-1)){red}")


PATHS = [
    ApiPath("manual:poly1(F.cross_entropy)", frozenset({"poly1_cross_entropy"}), _poly, options=frozenset({"epsilon"}),
            check=single_checks.poly_manual, doc=single_checks.POLY_DOC),
    builders.absent("(no perceptron loss in torch)", frozenset({"perceptron", "multiclass_perceptron"}),
                    "PyTorch has no perceptron loss; it is the hinge at margin 0, which torch also lacks (users write "
                    "max(0, -y x) by hand: the manual: hinge paths at another margin)"),
    builders.absent("(no sparsemax loss in torch)", frozenset({"binary_sparsemax", "multiclass_sparsemax"}),
                    "PyTorch has no sparsemax, sparse_plus or simplex projection; a user would have to write the "
                    "sort-based projection first"),
    builders.absent("(no generalized cross-entropy in torch)", frozenset({"generalized_cross_entropy"}),
                    "PyTorch has no generalized cross-entropy; users write (1 - p_y**q) / q themselves, as Keras does"),
]
