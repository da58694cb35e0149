"""Two ways to write softmax cross-entropy in PyTorch: the tutorials' clipped probabilities, and the fused op.

    python -m harness check examples.torch_losses:clipped_ce examples.torch_losses:fused_ce \\
        --family softmax_cross_entropy --framework torch --cases examples/cases.yaml --out reports/check-torch

`clipped_ce` caps the loss at -log(1e-7) = 16.1 and has a zero gradient wherever a probability is
clipped: at large logits the harness reports `loss_mismatch` with the flag `vanishing_grad`.
`fused_ce` passes the same cases.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F


def clipped_ce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """-sum(labels * log(clip(softmax(logits), 1e-7, 1 - 1e-7))) per row: logits [batch, classes], labels likewise."""
    probs = torch.clamp(torch.softmax(logits, dim=-1), 1e-7, 1 - 1e-7)
    return -(labels * torch.log(probs)).sum(dim=-1)


def fused_ce(logits: torch.Tensor, labels: torch.Tensor, reduction: Literal["none", "sum", "mean"] = "none", label_smoothing: float = 0.0) -> torch.Tensor:
    """F.cross_entropy with probability targets: log-softmax inside, no probability ever rounds to 0.

    Its reduction='mean' divides by the batch size; a mean weighted by the targets is not offered (Literal).
    """
    return F.cross_entropy(logits, labels, reduction=reduction, label_smoothing=label_smoothing)
