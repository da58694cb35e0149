"""PyTorch's margin-family paths: the soft margin losses it has, and the hinge losses its users write by hand.

torch has no binary hinge loss (torch.nn.functional.hinge_embedding_loss is another loss: it takes distances,
not scores); its users write max(0, 1 - y x) themselves, with torch.clamp(min=0), F.relu or torch.maximum,
which differ at a margin of exactly 0 (the derivative each takes there is recorded in the rows). Labels in
{0, 1} (label_convention 01) are mapped to 2 y - 1 first, as users do; weights multiply the elementwise losses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from adapters.api import ApiPath, Call

HINGE_FORMS = {  # the path's name -> (the call on the margin m, its text)
    "manual:torch.clamp(1-y*x, min=0)": (lambda m: torch.clamp(m, min=0), "torch.clamp({m}, min=0)"),
    "manual:F.relu(1-y*x)": (F.relu, "F.relu({m})"),
    "manual:torch.maximum(1-y*x, 0)": (lambda m: torch.maximum(m, torch.zeros_like(m)),
                                       "torch.maximum({m}, torch.zeros_like({m}))"),
}
REDUCE = {"none": (lambda v: v, ""), "sum": (torch.sum, ".sum()"), "mean": (torch.mean, ".mean()")}
MARGIN_OPTIONS = frozenset({"class_weights", "sample_weights", "label_convention"})


def signed(c: Call) -> tuple[torch.Tensor, str]:
    """The labels as -1/1 (2 y - 1 for 0/1 labels, as users convert them)."""
    if c.params.label_convention == "01":
        return 2 * c.labels - 1, "(2 * labels - 1)"
    return c.labels, "labels"


def weighted(c: Call, v: torch.Tensor, chain: str) -> tuple[torch.Tensor, str]:
    """Elementwise losses times the class weights and the sample weights (one per row), then the reduction."""
    if c.class_weights is not None:
        v, chain = v * c.class_weights, f"{chain} * class_weights"
    if c.sample_weights is not None:
        v = v * c.sample_weights.reshape((-1,) + (1,) * (v.dim() - 1))
        chain = f"{chain} * sample_weights[:, None]"
    fn, name = REDUCE[c.params.reduction]
    return fn(v), f"({chain}){name}" if name else chain


def _hinge(form: str, squared: bool):
    op, text = HINGE_FORMS[form]

    def fn(c: Call):
        y, yname = signed(c)
        h = op(1 - y * c.logits)
        chain = text.format(m=f"1 - {yname} * logits")
        if squared:
            h, chain = h ** 2, f"{chain} ** 2"
        return weighted(c, h, chain)
    return fn


def _soft_margin(module: bool):
    def fn(c: Call):
        red = c.params.reduction
        if module:
            return torch.nn.SoftMarginLoss(reduction=red)(c.logits, c.labels), f"torch.nn.SoftMarginLoss(reduction={red!r})"
        return F.soft_margin_loss(c.logits, c.labels, reduction=red), f"torch.nn.functional.soft_margin_loss(reduction={red!r})"
    return fn


def _multilabel(module: bool):
    def fn(c: Call):
        red = c.params.reduction
        w = "weight=class_weights, " if c.class_weights is not None else ""
        if module:
            loss = torch.nn.MultiLabelSoftMarginLoss(weight=c.class_weights, reduction=red)(c.logits, c.labels)
            return loss, f"torch.nn.MultiLabelSoftMarginLoss({w}reduction={red!r})"
        loss = F.multilabel_soft_margin_loss(c.logits, c.labels, weight=c.class_weights, reduction=red)
        return loss, f"torch.nn.functional.multilabel_soft_margin_loss({w}reduction={red!r})"
    return fn


HINGE = frozenset({"hinge"})
# the relation sigmoid_form's partner (harness/judge/relations.py): the sigmoid cross-entropy of the same API style
F_SIGMOID = (("sigmoid_cross_entropy", "F.binary_cross_entropy_with_logits"),)
NN_SIGMOID = (("sigmoid_cross_entropy", "nn.BCEWithLogitsLoss"),)
PATHS = [
    *(ApiPath(form, HINGE, _hinge(form, False), options=MARGIN_OPTIONS,
              doc="torch has no binary hinge loss: the formula as users write it") for form in HINGE_FORMS),
    ApiPath("manual:torch.clamp(1-y*x, min=0)**2", frozenset({"squared_hinge"}),
            _hinge("manual:torch.clamp(1-y*x, min=0)", True), options=MARGIN_OPTIONS),
    ApiPath("F.soft_margin_loss", frozenset({"soft_margin"}), _soft_margin(False),
            doc="log(1 + exp(-y x)) computed as written, labels -1/1", partners=F_SIGMOID),
    ApiPath("nn.SoftMarginLoss", frozenset({"soft_margin"}), _soft_margin(True), partners=NN_SIGMOID),
    ApiPath("F.multilabel_soft_margin_loss", frozenset({"multilabel_soft_margin"}), _multilabel(False),
            options=frozenset({"class_weights"}), doc="labels in [0, 1]; the mean over classes, then the reduction",
            partners=F_SIGMOID),
    ApiPath("nn.MultiLabelSoftMarginLoss", frozenset({"multilabel_soft_margin"}), _multilabel(True),
            options=frozenset({"class_weights"}), partners=NN_SIGMOID),
]
