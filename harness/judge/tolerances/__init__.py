"""Tolerance policy: the one place that says how far from the oracle a correct implementation may land.

`for_trial(case, dtype, ref, inputs)` gives a trial's Tolerance: every output element's allowance derived
from that element's own inputs. `policy` states the policy (u, v_n, tiny, K, the gradient's rounding, the
reductions, a case's override) and holds the Tolerance; each family's error model derives its terms:
`softmax` (the softmax families), `elementwise` (sigmoid, binary focal, binary cross-entropy),
`categorical` (categorical cross-entropy from probabilities, categorical focal), `blocks` (the building
blocks), `hinge` (hinge, squared hinge, perceptron, soft margin, multilabel soft margin), `multiclass_hinge`
(Weston-Watkins, Crammer-Singer, Keras' categorical hinge, the multi-class perceptron), `sparsemax` (the
binary and multi-class sparsemax losses), `single` (poly-1, generalized cross-entropy),
`logprob` (nll_loss, kl_divergence on log-probabilities), `ctc` (the CTC loss); `orders` the derivatives beyond
the gradient (jvp, hvp, label_grad, mixed); `layout` serves terms computed by rows as flat blocks of the gradient.
"""

from __future__ import annotations

from harness.core.dtypes import eps
from harness.judge.tolerances.blocks import block_model
from harness.judge.tolerances.categorical import categorical_focal_model, categorical_probabilities_model
from harness.judge.tolerances.ctc import ctc_model
from harness.judge.tolerances.elementwise import elementwise_model
from harness.judge.tolerances.hinge import hinge_model, multilabel_model, soft_margin_model
from harness.judge.tolerances.logprob import kl_model, nll_model
from harness.judge.tolerances.multiclass_hinge import multiclass_hinge_model
from harness.judge.tolerances.orders import for_order as _for_order
from harness.judge.tolerances.policy import Tolerance, eps_acc, floor_tiny, reduced_loss_terms
from harness.judge.tolerances.single import generalized_model, poly1_model
from harness.judge.tolerances.softmax import softmax_model
from harness.judge.tolerances.sparsemax import binary_sparsemax_model, multiclass_sparsemax_model
from harness.oracle import Reference
from harness.schema.model import Case
from harness.trials import Inputs

__all__ = ["Tolerance", "for_order", "for_trial"]

# each family's error model (the softmax families' is chosen by their row quantities, ref.softmax; the sigmoid,
# binary focal and binary cross-entropy families fall to the elementwise one)
MODELS = {
    **dict.fromkeys(("log_softmax", "softmax", "logsumexp"), block_model),
    "categorical_focal_crossentropy": categorical_focal_model,
    "categorical_crossentropy": categorical_probabilities_model,
    **dict.fromkeys(("weston_watkins_hinge", "crammer_singer_hinge", "categorical_hinge", "multiclass_perceptron"),
                    multiclass_hinge_model),
    **dict.fromkeys(("hinge", "squared_hinge", "perceptron"), hinge_model),
    "binary_sparsemax": binary_sparsemax_model,
    "multiclass_sparsemax": multiclass_sparsemax_model,
    "soft_margin": soft_margin_model,
    "multilabel_soft_margin": multilabel_model,
    "poly1_cross_entropy": poly1_model,
    "generalized_cross_entropy": generalized_model,
    "ctc": ctc_model,
    "nll_loss": nll_model,
    "kl_divergence": kl_model,
}


def for_trial(case: Case, dtype: str, ref: Reference, inputs: Inputs) -> Tolerance:
    """The allowances of one trial, from its family's error model and the policy (or the case's override)."""
    u, acc, tiny = eps(dtype), eps_acc(dtype), floor_tiny(dtype)
    if ref.softmax is not None:
        model = softmax_model
    else:
        model = MODELS.get(case.family, elementwise_model)
    row_terms, grad_terms, grad_floor = model(case, ref, inputs, u, acc, tiny)
    loss_terms, loss_floor = reduced_loss_terms(case, ref, row_terms, u, acc, tiny)
    o = case.tolerance
    if o is None:
        return Tolerance(loss_terms, grad_terms, loss_floor, grad_floor, "policy", u=u)
    return Tolerance(loss_terms, grad_terms, loss_floor, grad_floor, f"case: {o.reason}", u=u, override=
                     (o.loss_rtol, o.loss_atol, o.grad_rtol, o.grad_atol))


def for_order(case: Case, dtype: str, order: str, base: Tolerance, ref: Reference, oref: Reference, inputs: Inputs,
              v) -> Tolerance:
    """The allowances of one derivative order's row (harness/judge/tolerances/orders.py)."""
    return _for_order(case, order, base, ref, oref, inputs, v, eps(dtype), eps_acc(dtype), floor_tiny(dtype))
