"""PyTorch's part of a reproducer: the tensors, the call chain of each path of adapters/torch_adapter.py, autograd.

The lines mirror the adapter: tensors from the numpy inputs on the row's device (bfloat16 converted by torch
from its exact float32 values), the path's call with the same keyword arguments, and the gradient of the sum of
the outputs (a building block: the vector-Jacobian product with the case's cotangent).
"""

from __future__ import annotations

from collections.abc import Callable

from adapters.repro import ctc_script, naive_script
from adapters.repro.target import Code, Target, python, unknown_path
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
    "F.nll_loss(F.log_softmax)": _call("F.nll_loss(F.log_softmax({x}, dim=1), labels, {kw})"),
    "F.binary_cross_entropy_with_logits": _call("F.binary_cross_entropy_with_logits({x}, labels, {kw})", bce=True),
    "nn.BCEWithLogitsLoss": _call("torch.nn.BCEWithLogitsLoss({kw})({x}, labels)", bce=True),
    "F.binary_cross_entropy(torch.sigmoid)": _call("F.binary_cross_entropy(torch.sigmoid({x}), labels, {kw})", bce=True),
    "F.binary_cross_entropy": _call("F.binary_cross_entropy({x}, labels, {kw})", bce=True),
    "nn.BCELoss": _call("torch.nn.BCELoss({kw})({x}, labels)", bce=True),
    "F.log_softmax": lambda case, x: [f"out = F.log_softmax({x}, dim={case.params.axis})"],
    "F.softmax": lambda case, x: [f"out = F.softmax({x}, dim={case.params.axis})"],
    "torch.logsumexp": lambda case, x: [f"out = torch.logsumexp({x}, dim={case.params.axis})"],
    **naive_script.calls(OPS),
    **ctc_script.TORCH,
}
CALLS["naive:clip(logits)+F.cross_entropy"] = naive_script.clipped_logits(CALLS["F.cross_entropy"], OPS)


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
    prelude = ["import numpy as np", "import torch", "import torch.nn.functional as F", "", *precision(t)]
    return Code(prelude=prelude, body=body, requires="torch", version="torch.__version__")
