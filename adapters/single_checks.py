"""Limits the hand-written poly-1 paths share across frameworks (no framework imported): what the paper's listing assumes."""

from __future__ import annotations

import numpy as np

from harness.schema import Case
from harness.schema.model import Literal

POLY_DOC = ("the PolyLoss paper's own listing (Leng et al. 2022, Code 1): CE + epsilon * (1 - sum(labels * softmax)); "
            "with labels that sum to 1 per row it is optax's CE + epsilon * sum(labels * (1 - softmax))")


def poly_manual(case: Case, dtype: str) -> str | None:
    """The listing writes 1 - p_t with p_t = sum(labels * softmax): labels must sum to 1, classes last."""
    nd = len(case.predictions.shape)
    if case.params.axis % nd != nd - 1:
        return "the paper's listing reduces over the last axis"
    labels = case.labels
    if not isinstance(labels, Literal):
        return "the paper's listing assumes labels that sum to 1 per row; generated labels are not checked"
    t = np.asarray(labels.values, dtype=np.float64).reshape(-1, case.predictions.shape[-1])
    if not np.all(t.sum(-1) == 1.0):
        return "labels that do not sum to 1 per row: the listing's 1 - sum(t p) is not optax's sum(t (1 - p))"
    return None
