"""PyTorch's part of a reproducer: the tensors, the call chain of each path of adapters/torch_adapter.py, autograd.

The lines mirror the adapter: tensors from the numpy inputs on the row's device (bfloat16 converted by torch
from its exact float32 values), the path's call with the same keyword arguments, and the gradient of the sum of
the outputs (a building block: the vector-Jacobian product with the case's cotangent).
"""

from __future__ import annotations

from collections.abc import Callable

from adapters.repro import ctc_script, hinge_script, naive_script
from adapters.repro.target import Code, NoScript, Target, indent, python, unknown_path
from harness.schema import Case

Lines = list[str]

OPS = naive_script.OpsText(
    softmax="torch.softmax({x}, dim={a})", log="torch.log({x})", clip="torch.clamp({x}, {lo}, {hi})",
    one_hot="F.one_hot({y}, {n}).to({like}.dtype)", sum_classes="{v}.sum(dim={a})",
    reduce={"none": "{v}", "sum": "{v}.sum()", "mean": "{v}.mean()"},
    exp="torch.exp({x})", sum_keep="{v}.sum(dim={a}, keepdim=True)",
)


def _ce_kwargs(case: Case) -> str:
    """torch_adapter._kwargs: the reduction ('mean' for a weighted mean), weight=, label_smoothing=, ignore_index=."""
    p = case.params
    kw = [f"reduction={python('mean' if p.reduction == 'weighted_mean' else p.reduction)}"]
    if p.class_weights is not None:
        kw.append("weight=class_weights")
    if p.label_smoothing:
        kw.append(f"label_smoothing={python(p.label_smoothing)}")
    if p.ignore_index is not None:
        kw.append(f"ignore_index={python(p.ignore_index)}")
    return ", ".join(kw)


def _bce(case: Case, x: str) -> tuple[Lines, str]:
    """torch_adapter._bce_kwargs: class and sample weights broadcast together as weight=, pos_weight= as a tensor."""
    p = case.params
    lines: Lines = []
    kw = [f"reduction={python(p.reduction)}"]
    weight = None
    if p.class_weights is not None:
        weight = "class_weights"
    if p.sample_weights is not None:
        nd = len(case.predictions.shape)
        lines.append(f"sw = sample_weights.reshape({', '.join(['-1'] + ['1'] * (nd - 1))})")
        weight = "sw" if weight is None else f"sw * {weight}"
    if weight is not None:
        lines.append(f"weight = {weight}")
        kw.append("weight=weight")
    if p.pos_weight is not None:
        lines.append(f"pos_weight = torch.as_tensor({python(p.pos_weight)}, dtype={x}.dtype, device={x}.device)")
        kw.append("pos_weight=pos_weight")
    return lines, ", ".join(kw)


def _kl_kwargs(case: Case) -> str:
    """torch_logprob.kl_reduction: 'sum', or 'batchmean' for a mean over the rows; log_target as the case says."""
    red = "sum" if case.params.reduction == "sum" else "batchmean"
    return f"reduction={red!r}, log_target={case.params.log_target}"


def _call(template: str, bce: bool = False) -> Callable[[Case, str], Lines]:
    def lines(case: Case, x: str) -> Lines:
        if bce:
            head, kw = _bce(case, x)
        else:
            head, kw = [], _ce_kwargs(case)
        return [*head, "out = " + template.format(x=x, kw=kw)]
    return lines


CALLS: dict[str, Callable[[Case, str], Lines]] = {
    "F.cross_entropy": _call("F.cross_entropy({x}, labels, {kw})"),
    "nn.CrossEntropyLoss": _call("torch.nn.CrossEntropyLoss({kw})({x}, labels)"),
    "F.nll_loss(F.log_softmax)": lambda case, x: _call(  # the class dimension: 1, or 0 for one unbatched example
        f"F.nll_loss(F.log_softmax({{x}}, dim={0 if len(case.predictions.shape) == 1 else 1}), labels, {{kw}})")(case, x),
    "F.binary_cross_entropy_with_logits": _call("F.binary_cross_entropy_with_logits({x}, labels, {kw})", bce=True),
    "nn.BCEWithLogitsLoss": _call("torch.nn.BCEWithLogitsLoss({kw})({x}, labels)", bce=True),
    "F.binary_cross_entropy(torch.sigmoid)": _call("F.binary_cross_entropy(torch.sigmoid({x}), labels, {kw})", bce=True),
    "F.binary_cross_entropy": _call("F.binary_cross_entropy({x}, labels, {kw})", bce=True),
    "nn.BCELoss": _call("torch.nn.BCELoss({kw})({x}, labels)", bce=True),
    "F.log_softmax": lambda case, x: [f"out = F.log_softmax({x}, dim={case.params.axis})"],
    "F.softmax": lambda case, x: [f"out = F.softmax({x}, dim={case.params.axis})"],
    "torch.logsumexp": lambda case, x: [f"out = torch.logsumexp({x}, dim={case.params.axis})"],
    **naive_script.calls(OPS),
    # adapters/torch_logprob.py: nll_loss takes reduction, weight= and ignore_index= as cross_entropy does
    "F.nll_loss": _call("F.nll_loss({x}, labels, {kw})"),
    "nn.NLLLoss": _call("torch.nn.NLLLoss({kw})({x}, labels)"),
    "F.kl_div": lambda case, x: [f"out = F.kl_div({x}, labels, {_kl_kwargs(case)})"],
    "nn.KLDivLoss": lambda case, x: [f"out = torch.nn.KLDivLoss({_kl_kwargs(case)})({x}, labels)"],
    **ctc_script.TORCH,
}
CALLS["naive:clip(logits)+F.cross_entropy"] = naive_script.clipped_logits(CALLS["F.cross_entropy"], OPS)
CALLS.update({
    "F.multi_margin_loss": hinge_script.torch_multi_margin(False),
    "nn.MultiMarginLoss": hinge_script.torch_multi_margin(True),
    **hinge_script.manual_calls(hinge_script.HingeText(OPS, "{v}.max(dim=-1).values", "torch.clamp({v}, min=0)")),
})

HINGE_FORMS = {  # adapters/torch_hinge.py: the hand-written hinges, on the margin m
    "manual:torch.clamp(1-y*x, min=0)": "torch.clamp({m}, min=0)",
    "manual:F.relu(1-y*x)": "F.relu({m})",
    "manual:torch.maximum(1-y*x, 0)": "torch.maximum({m}, torch.zeros_like({m}))",
}


def _hinge(form: str, squared: bool) -> Callable[[Case, str], Lines]:
    """torch_hinge: labels to -1/1 (2 y - 1 for 0/1 labels), the hinge, squared, times the weights, reduced."""
    def lines(case: Case, x: str) -> Lines:
        p = case.params
        y = "(2 * labels - 1)" if p.label_convention == "01" else "labels"
        out = [f"m = 1 - {y} * {x}", f"out = {HINGE_FORMS[form].format(m='m')}" + (" ** 2" if squared else "")]
        return out + _weighted(case)
    return lines


def _weighted(case: Case) -> Lines:
    """The elementwise losses `out` times the class and sample weights, then reduced (adapters/torch_hinge.py)."""
    p, out = case.params, []
    if p.class_weights is not None:
        out.append("out = out * class_weights")
    if p.sample_weights is not None:
        nd = len(case.predictions.shape)
        out.append(f"out = out * sample_weights.reshape({', '.join(['-1'] + ['1'] * (nd - 1))})")
    return out + naive_script.reduced(OPS, case)


def _margin(template: str) -> Callable[[Case, str], Lines]:
    def lines(case: Case, x: str) -> Lines:
        w = "weight=class_weights, " if case.params.class_weights is not None else ""
        return ["out = " + template.format(x=x, w=w, red=python(case.params.reduction))]
    return lines


CALLS.update({
    **{form: _hinge(form, False) for form in HINGE_FORMS},
    "manual:torch.clamp(1-y*x, min=0)**2": _hinge("manual:torch.clamp(1-y*x, min=0)", True),
    "F.soft_margin_loss": _margin("F.soft_margin_loss({x}, labels, reduction={red})"),
    "nn.SoftMarginLoss": _margin("torch.nn.SoftMarginLoss(reduction={red})({x}, labels)"),
    "F.multilabel_soft_margin_loss": _margin("F.multilabel_soft_margin_loss({x}, labels, {w}reduction={red})"),
    "nn.MultiLabelSoftMarginLoss": _margin("torch.nn.MultiLabelSoftMarginLoss({w}reduction={red})({x}, labels)"),
})
CALLS["manual:poly1(F.cross_entropy)"] = lambda case, x: [  # adapters/torch_single.py
    f"ce = F.cross_entropy({x}, labels, reduction='none')",
    f"pt = (labels * torch.softmax({x}, dim=-1)).sum(dim=-1)",
    f"out = ce + {python(case.params.epsilon)} * (1 - pt)", *naive_script.reduced(OPS, case)]


def tensor(name: str, dtype: str | None, device: str) -> str:
    """torch_adapter._tensor: torch.from_numpy on the device; bfloat16 from its exact float32 values."""
    if dtype == "bfloat16":
        return f"torch.from_numpy({name}_np).to({device!r}, torch.bfloat16)"
    return f"torch.from_numpy({name}_np).to({device!r})"


def precision(t: Target) -> Lines:
    """TF32 off and float32 matmuls at 'highest' when pinned (torch_adapter), then each flag the row records."""
    f = t.flags
    lines = []
    if t.mode_name == "pinned":
        f = {"cuda.matmul.allow_tf32": "False", "cudnn.allow_tf32": "False", "float32_matmul_precision": "highest", **f}
    if f.get("cuda.matmul.allow_tf32") in ("True", "False"):
        lines.append(f"torch.backends.cuda.matmul.allow_tf32 = {f['cuda.matmul.allow_tf32']}")
    if f.get("cudnn.allow_tf32") in ("True", "False"):
        lines.append(f"torch.backends.cudnn.allow_tf32 = {f['cudnn.allow_tf32']}")
    if f.get("float32_matmul_precision") in ("highest", "high", "medium"):
        lines.append(f"torch.set_float32_matmul_precision({f['float32_matmul_precision']!r})")
    if f.get("deterministic_algorithms") == "True":
        lines.append("torch.use_deterministic_algorithms(True)")
    return lines


def call_lines(t: Target, x: str) -> Lines:
    if t.path not in CALLS:
        raise unknown_path(t)
    return CALLS[t.path](t.case, x)


def inputs(t: Target, x: str) -> Lines:
    """The tensors a path receives: the first input, the labels (class indices keep their dtype) and the weights."""
    case, dev = t.case, t.device
    lines = [f"{x} = {tensor(x, t.dtype, dev)}", f"labels = {tensor('labels', None if case.integer_labels else t.dtype, dev)}"]
    for w in ("class_weights", "sample_weights"):
        if getattr(case.params, w) is not None:
            lines.append(f"{w} = {tensor(w, t.dtype, dev)}")
    return lines


def code(t: Target) -> Code:
    case, x = t.case, t.case.input_kind
    body = [*inputs(t, x), f"{x}.requires_grad_(True)", *call_lines(t, x),
            "# the gradient of the sum of the outputs" if not case.block else
            "# a building block: the vector-Jacobian product with the cotangent (the case's labels)",
            f"(grad,) = torch.autograd.grad(out, {x}, grad_outputs={'labels' if case.block else 'torch.ones_like(out)'}, "
            "allow_unused=True)",
            f"grad = torch.zeros_like({x}) if grad is None else grad",
            "return out.detach().cpu().double().numpy(), grad.detach().cpu().double().numpy()"]
    return Code(prelude=prelude(t), body=body, requires="torch", version="torch.__version__")


def prelude(t: Target) -> Lines:
    return ["import numpy as np", "import torch", "import torch.nn.functional as F", "", *precision(t)]


# --------------------------------------------------------------------------- derivative orders (adapters/torch_orders.py)

ORDER_METHODS = {"jvp": ("fwd", "double-vjp"), "hvp": ("rev-rev", "fwd-rev"), "label_grad": ("rev",), "mixed": ("rev-rev",)}


def order_methods(framework: str) -> dict[str, tuple[str, ...]]:
    return ORDER_METHODS


def _zeros(value: str, like: str) -> str:
    return f"{value} = torch.zeros_like({like}) if {value} is None else {value}  # autograd's None (no dependence): zeros"


def order_lines(order: str, method: str, x: str) -> Lines:
    """torch_orders.evaluate: the order of `loss` at the inputs along v, as `out` (the loss) and `value`."""
    if order == "jvp" and method == "fwd":
        return [f"out, value = torch.func.jvp(loss, ({x},), (v,))"]
    if order == "jvp":
        return [f"out, value = torch.autograd.functional.jvp(loss, {x}, v)"]
    if order == "hvp" and method == "fwd-rev":
        return [f"grad = torch.func.grad(lambda {x}: loss({x}).sum())", f"_, value = torch.func.jvp(grad, ({x},), (v,))",
                f"out = loss({x}).detach()"]
    if order == "label_grad":
        return ["y = labels.detach().requires_grad_(True)", f"out = loss({x}, y)",
                "(value,) = torch.autograd.grad(out.sum(), y, allow_unused=True)", _zeros("value", "y")]
    target = "y" if order == "mixed" else "xx"  # hvp and mixed: double backward, to the input or the labels
    return [*(["y = labels.detach().requires_grad_(True)"] if order == "mixed" else []),
            f"xx = {x}.detach().requires_grad_(True)", f"out = loss(xx{', y' if order == 'mixed' else ''})",
            "(grad,) = torch.autograd.grad(out.sum(), xx, create_graph=True)",
            "if grad.requires_grad:",
            f"    (value,) = torch.autograd.grad(grad, {target}, grad_outputs=v, allow_unused=True)",
            "else:  # the gradient is constant (a piecewise-linear loss): autograd has no graph to go on",
            "    value = None", _zeros("value", target)]


def order_code(t: Target) -> Code:
    """The path's call as a function of the first input (labels and weights held), then the order by its method."""
    x = t.case.input_kind
    order, _, method = t.order.partition(":")
    if order not in ORDER_METHODS or method not in ORDER_METHODS[order]:
        raise NoScript(f"no torch method {method!r} of {order!r}")
    body = [*inputs(t, x), f"v = {tensor('v', t.dtype, t.device)}", "",
            f"def loss({x}, labels=labels):", *indent(call_lines(t, x)), "    return out", "",
            *order_lines(order, method, x),
            "return out.detach().cpu().double().numpy(), value.detach().cpu().double().numpy()"]
    return Code(prelude=prelude(t), body=body, requires="torch", version="torch.__version__")


# adapters/torch_single.py: the perceptrons written by hand
CALLS["manual:F.relu(-y*x)"] = lambda case, x: [
    f"out = F.relu(-{'(2 * labels - 1)' if case.params.label_convention == '01' else 'labels'} * {x})", *_weighted(case)]
CALLS["manual:max(x)-x[y]"] = lambda case, x: [
    f"out = {x}.max(dim=-1).values - {x}.gather(-1, labels.unsqueeze(-1)).squeeze(-1)", *naive_script.reduced(OPS, case)]
