"""The `clipped` flag's losses: each cross-entropy case's loss as the common guards (a clip, a clamped log) compute it."""

from __future__ import annotations

import numpy as np

from harness.core.dtypes import cast
from harness.oracle.core import (
    class_weights,
    dense_targets,
    elementwise_weights,
    kept_labels,
    log_softmax,
    reduce,
    sample_weights,
    smoothed,
    to_rows,
)
from harness.schema.model import Case
from harness.trials import Inputs

CLIP_EPS = 1e-7  # Keras' epsilon and the tutorials' clip
LOG_FLOOR = -100.0  # PyTorch's clamp of the log in binary_cross_entropy


def clipped_losses(case: Case, inputs: Inputs, dtype: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The case's loss as the common guards would compute it, for the `clipped` flag: probabilities clipped
    to [eps, 1 - eps] with eps = 1e-7 rounded to the trial dtype (a clip written in that dtype); the same clip
    in float32, where that rounds differently (Keras' loss classes compute in their float32 dtype policy
    whatever the input dtype, and keras.ops on the NumPy backend promotes bfloat16 to float32:
    -log(float32(1e-7)) = 16.11809 where float16's 1e-7 gives 15.94238, and a float16 or bfloat16
    1 - 1e-7 is 1, which clips nothing); and the log clamped at -100.
    Each entry is (name, the loss with the guard, where the guard bites): the second has the loss's shape,
    True where the guard changes a term that counts (a clipped probability, a clamped log), so that a loss
    the guard leaves alone is never said to be explained by it. Cross-entropy families only (not the focal
    ones, the building blocks or the families on log-probabilities); float64."""
    fam = case.family
    # log-probabilities and CTC: no probability is clipped
    if case.block or fam.endswith("focal_crossentropy") or case.input_kind == "log_probabilities" or fam == "ctc":
        return []

    def clip(lo: float, hi: float):  # log q, log(1 - q), and where the clip changes q (in either term)
        def changes(q):
            return (q < lo) | (q > hi)
        return lambda q: np.log(np.clip(q, lo, hi)), lambda q: np.log1p(-np.clip(q, lo, hi)), changes, changes

    bounds = [(float(cast(np.array([CLIP_EPS]), d)[0]), float(cast(np.array([1 - CLIP_EPS]), d)[0]), d)
              for d in (dtype, "float32")]
    guards = [(f"probabilities clipped to [{lo:.3g}, 1 - {1 - hi:.3g}]"
               + (" in float32 (as Keras clips, whatever the input dtype)" if d != dtype else ""),
               *clip(lo, hi)) for i, (lo, hi, d) in enumerate(bounds) if i == 0 or (lo, hi) != bounds[0][:2]]
    guards.append(("log clamped at -100", lambda q: np.maximum(np.log(q), LOG_FLOOR), lambda q: np.maximum(np.log1p(-q), LOG_FLOOR),
                   lambda q: np.log(q) < LOG_FLOOR, lambda q: np.log1p(-q) < LOG_FLOOR))
    p = case.params
    out = []
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if case.elementwise:
            x = np.asarray(inputs.logits, dtype=np.float64)
            q = x if case.input_kind == "probabilities" else 1 / (1 + np.exp(-x))
            z = np.asarray(inputs.labels, dtype=np.float64)
            zs = smoothed(z, p.label_smoothing, 2)
            qw = 1.0 if p.pos_weight is None else np.asarray(p.pos_weight, dtype=np.float64)
            a, b = qw * zs, 1 - zs
            weight = np.asarray(elementwise_weights(inputs, x.shape, np.float64))
            for name, log_q, log_1mq, bites_q, bites_1mq in guards:
                loss = -weight * (np.where(a == 0, 0, a * log_q(q)) + np.where(b == 0, 0, b * log_1mq(q)))
                bites = (weight != 0) & (((a != 0) & bites_q(q)) | ((b != 0) & bites_1mq(q)))
                red = reduce(loss, loss, p.reduction, x.size, weight.sum, np.float64)[0]
                out.append((name, red, bites if p.reduction == "none" else np.asarray(bites.any())))
            return out
        x, batch_shape, C = to_rows(np.asarray(inputs.logits), p.axis, np.float64)
        R = x.shape[0]
        q = x if case.input_kind == "probabilities" else log_softmax(x)[1]
        if case.sparse:
            kept, safe = kept_labels(inputs, R, p.ignore_index)
            t = np.zeros((R, C))
            t[np.arange(R)[kept], safe[kept]] = 1
        else:
            kept = np.ones(R, dtype=bool)
            t = dense_targets(inputs, R, C, np.float64, p.axis)
        ts = smoothed(t, p.label_smoothing, C)
        cw = class_weights(inputs, C, np.float64)
        sw = sample_weights(inputs, R, np.float64)
        a = np.where(kept[:, None], cw[None, :] * ts, 0)
        for name, log_q, _, bites_q, _ in guards:
            loss = -sw * np.where(a == 0, 0, a * log_q(q)).sum(-1)
            bites = (sw != 0) & ((a != 0) & bites_q(q)).any(-1)
            red = reduce(loss, loss, p.reduction, int(kept.sum()),
                         lambda: (sw * np.where(kept, (cw[None, :] * t).sum(-1), 0)).sum(), np.float64)[0]
            if p.reduction == "none":
                out.append((name, red.reshape(batch_shape), bites.reshape(batch_shape)))
            else:
                out.append((name, red, np.asarray(bites.any())))
    return out
