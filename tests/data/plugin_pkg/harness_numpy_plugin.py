"""A complete framework adapter in one module: NumPy, registered under the `harness.adapters` entry points."""

from __future__ import annotations

import numpy as np

from adapters.api import Adapter, ApiPath, Call


def _softmax_xent(c: Call):
    """Softmax cross-entropy written with NumPy, and its gradient (NumPy has no autodiff, so it returns both)."""
    x = c.logits
    t = np.eye(x.shape[-1], dtype=x.dtype)[c.labels] if c.case.sparse else c.labels
    shifted = x - x.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    per_row = -(t * (shifted - lse)).sum(axis=-1)
    grad = np.exp(shifted - lse) * t.sum(axis=-1, keepdims=True) - t  # d(sum of per_row)/dx
    if c.params.reduction == "sum":
        return (per_row.sum(), grad), "numpy: -sum(t * log_softmax(x)).sum()"
    if c.params.reduction == "mean":
        return (per_row.mean(), grad / per_row.size), "numpy: -sum(t * log_softmax(x)).mean()"
    return (per_row, grad), "numpy: -sum(t * log_softmax(x))"


PATHS = [
    ApiPath("numpy:log_softmax", frozenset({"softmax_cross_entropy", "sparse_softmax_cross_entropy"}), _softmax_xent,
            dtypes={"bfloat16": "numpy has no bfloat16 arithmetic"}, doc="a hand-written reference in NumPy"),
]


class NumpyAdapter(Adapter):
    name = "numpy"

    def version(self) -> str:
        return np.__version__

    def devices(self) -> list[str]:
        return ["cpu"]

    def paths(self) -> list[ApiPath]:
        return PATHS

    def evaluate(self, path, case, inputs, dtype, device):
        (loss, grad), call = path.fn(Call(logits=inputs.logits, labels=inputs.labels, case=case))
        return np.asarray(loss), np.asarray(grad), call, "cpu"
