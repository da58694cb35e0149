"""The derivatives beyond the gradient in PyTorch (harness/schema/orders.py), each the way its users compute it.

    jvp        fwd        torch.func.jvp(f, (x,), (v,))                       forward mode
               double-vjp torch.autograd.functional.jvp(f, x, v)             the double-backward trick (two vjps)
    hvp        rev-rev    torch.autograd.grad(torch.autograd.grad(S, x, create_graph=True), x, grad_outputs=v)
               fwd-rev    torch.func.jvp(torch.func.grad(S), (x,), (v,))      forward over reverse
    label_grad rev        torch.autograd.grad(S, labels)
    mixed      rev-rev    torch.autograd.grad(torch.autograd.grad(S, x, create_graph=True), labels, grad_outputs=v)

f is the path's loss as a function of the logits (labels and weights held), S the sum of its values.
"""

from __future__ import annotations

import torch

from adapters.api import Call

METHODS = {"jvp": ("fwd", "double-vjp"), "hvp": ("rev-rev", "fwd-rev"), "label_grad": ("rev",), "mixed": ("rev-rev",)}


def evaluate(path, case, x, labels, cw, sw, order: str, method: str, v):
    """(loss, the order's value or None, call chain) of the path on tensors already on the device."""
    calls: list[str] = []

    def f(logits, lab=labels):
        out, call = path.fn(Call(logits=logits, labels=lab, case=case, class_weights=cw, sample_weights=sw))
        calls.append(call)
        return out

    if order == "jvp" and method == "fwd":
        out, t = torch.func.jvp(f, (x,), (v,))
        return out, t, f"torch.func.jvp({calls[-1]}, (logits,), (v,))"
    if order == "jvp":
        out, t = torch.autograd.functional.jvp(f, x, v)
        return out, t, f"torch.autograd.functional.jvp({calls[-1]}, logits, v)"
    if order == "hvp" and method == "fwd-rev":
        g = torch.func.grad(lambda logits: f(logits).sum())
        _, h = torch.func.jvp(g, (x,), (v,))
        return f(x).detach(), h, f"torch.func.jvp(torch.func.grad({calls[-1]}.sum()), (logits,), (v,))"
    if order == "label_grad":
        y = labels.detach().requires_grad_(True)
        out = f(x, y)
        (g,) = torch.autograd.grad(out.sum(), y, allow_unused=True)
        return out, *_zero_if_none(g, y, f"torch.autograd.grad({calls[-1]}.sum(), labels)")
    y = labels.detach().requires_grad_(order == "mixed")
    xx = x.detach().requires_grad_(True)
    out = f(xx, y)
    (g,) = torch.autograd.grad(out.sum(), xx, create_graph=True)
    target = xx if order == "hvp" else y
    wrt = "logits" if order == "hvp" else "labels"
    call = f"torch.autograd.grad(torch.autograd.grad({calls[-1]}.sum(), logits, create_graph=True), {wrt}, grad_outputs=v)"
    if not g.requires_grad:  # the gradient is constant (a piecewise-linear loss): autograd has no graph to go on
        return out, *_zero_if_none(None, target, call)
    (h,) = torch.autograd.grad(g, target, grad_outputs=v, allow_unused=True)
    return out, *_zero_if_none(h, target, call)


def _zero_if_none(value, like, call: str):
    """Autograd's None (the output does not depend on `like`) read as zeros, as torch.autograd.functional does
    with strict=False, and said in the call chain."""
    if value is not None:
        return value, call
    return torch.zeros_like(like), f"{call} [no dependence in the graph: zeros]"
