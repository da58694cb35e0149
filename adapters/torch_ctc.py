"""PyTorch's CTC paths: torch.nn.functional.ctc_loss and torch.nn.CTCLoss on log_softmax of time-major logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from adapters.api import ApiPath, Call
from adapters.torch_calls import fmt
from harness.oracle.ctc import input_lengths

CTC = frozenset({"ctc"})
OPTIONS = frozenset({"blank", "zero_infinity", "input_lengths"})
# reduction='mean' divides each loss by its target length, then averages: the harness's label_length_mean
REDUCTIONS = {"none": "none", "sum": "sum", "label_length_mean": "mean"}


def _arguments(c: Call):
    """(log_probs [T, B, C], targets, input_lengths, target_lengths, keyword arguments) as users pass them: the
    batch-major logits through log_softmax and transposed to time-major, padded targets with their lengths."""
    p = c.params
    frames = input_lengths(c.case)
    log_probs = F.log_softmax(c.logits, dim=-1).transpose(0, 1)
    kw = {"blank": p.blank, "reduction": REDUCTIONS[p.reduction], "zero_infinity": p.zero_infinity}
    dev = c.logits.device
    target_lengths = (c.labels != p.blank).sum(-1)  # the labels that are not the blank (its padding)
    return log_probs, c.labels, torch.as_tensor(frames, device=dev), target_lengths, kw



def _ctc_loss(c: Call):
    lp, targets, il, tl, kw = _arguments(c)
    return (F.ctc_loss(lp, targets, il, tl, **kw),
            f"torch.nn.functional.ctc_loss(torch.nn.functional.log_softmax(logits, dim=-1).transpose(0, 1), "
            f"targets, input_lengths, target_lengths=(targets != blank).sum(-1), {fmt(kw)})")


def _ctc_module(c: Call):
    lp, targets, il, tl, kw = _arguments(c)
    return (torch.nn.CTCLoss(**kw)(lp, targets, il, tl),
            f"torch.nn.CTCLoss({fmt(kw)})(torch.nn.functional.log_softmax(logits, dim=-1).transpose(0, 1), "
            f"targets, input_lengths, target_lengths=(targets != blank).sum(-1))")


_WHY_MEAN = ("reduction='mean' divides each item's loss by its target length before averaging (label_length_mean); "
             "a plain mean over items is reduction='none' followed by .mean()")

# the kernels (ATen's CPU and CUDA ctc_loss) are instantiated for float32 and float64 only: a half-precision
# call raises NotImplementedError ("ctc_loss_cpu" not implemented for 'Half'); users upcast, which is emulation
HALF = "PyTorch's ctc_loss kernels exist for float32 and float64 only (NotImplementedError for {})"
DTYPES = {d: HALF.format(d) for d in ("float16", "bfloat16")}

PATHS = [
    ApiPath("F.ctc_loss", CTC, _ctc_loss, options=OPTIONS, reductions=frozenset(REDUCTIONS), dtypes=DTYPES,
            doc="log_softmax over classes, time-major (T, B, C), padded targets with target_lengths; " + _WHY_MEAN),
    ApiPath("nn.CTCLoss", CTC, _ctc_module, options=OPTIONS, reductions=frozenset(REDUCTIONS), dtypes=DTYPES),
]
