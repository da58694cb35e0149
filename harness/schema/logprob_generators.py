"""The generators of log-probability inputs (nll_loss, kl_divergence) and of log-targets, as plain numpy functions.

harness/schema/generators.py registers them in its table beside the others; like them they compute in float64
and are rounded once to the trial dtype.
"""

from __future__ import annotations

import numpy as np


def log_softmax_normal(shape, seed, scale=1.0, classes=None, **_):
    """log_softmax over the last axis of scale * standard normal logits, the listed `classes` at -inf (the others
    renormalised without them): log-probabilities as a log_softmax layer outputs them."""
    z = scale * np.random.default_rng(seed).standard_normal(shape)
    if classes:
        z[..., list(classes)] = -np.inf
    m = z.max(axis=-1, keepdims=True)
    with np.errstate(divide="ignore"):
        return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def log_soft(logits_shape, seed, axis=-1, concentration=1.0, avoid=(), on_masked=False, **_):
    """The log of soft labels drawn from a symmetric Dirichlet (-inf on the classes the input masks): targets
    for kl_divergence with log_target: true."""
    ax = axis % len(logits_shape)
    classes = logits_shape[ax]
    batch = tuple(s for i, s in enumerate(logits_shape) if i != ax)
    allowed = [c for c in range(classes) if on_masked or c not in set(avoid or ())]
    out = np.zeros((*batch, classes))
    out[..., allowed] = np.random.default_rng(seed).dirichlet(np.full(len(allowed), float(concentration)), size=batch)
    with np.errstate(divide="ignore"):
        return np.ascontiguousarray(np.moveaxis(np.log(out), -1, ax))
