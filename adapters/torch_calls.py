"""How a torch path writes its keyword arguments into the call chain it records: tensors as <tensor>, the rest by repr."""

from __future__ import annotations

import torch


def fmt(kw: dict) -> str:
    return ", ".join(f"{k}={'<tensor>' if torch.is_tensor(v) else repr(v)}" for k, v in kw.items())
