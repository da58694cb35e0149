"""The oracle of the CTC loss (connectionist temporal classification): the forward-backward algorithm in extended precision.

The case (harness/schema/checks.py validates it):
    logits    [B, T, C], batch-major (the harness's layout; an adapter transposes to its framework's layout the
              way users do, and its call chain says so). Log-probabilities are log_softmax(logits) over C.
    labels    [B, S] integers: item b's label sequence l_b = labels[b, :L_b], padded after it with the blank,
              which never occurs inside a sequence; so the label length L_b is the count of non-blank entries
              (Keras' keras.losses.CTC convention, with blank 0), and each adapter passes it the way its
              framework takes it (target_lengths, label_length, label_paddings).
    params    blank (class index, default 0), input_lengths (T_b per item, default T for every item; frames
              t >= T_b do not enter), zero_infinity (default false), reduction.

Semantics (Graves et al. 2006). With y_tk = softmax(x_bt)_k for t < T_b and l' the label sequence with a blank
before, between and after its labels (|l'| = 2 L_b + 1):
    Z_b  = sum over paths pi in C^{T_b} with B(pi) = l_b of prod_t y_{t, pi_t}
           (B merges repeated symbols, then removes blanks)
    l_b  = -log Z_b, which is +inf when no path exists (L_b plus the number of adjacent equal labels exceeds
           T_b, or a needed class has probability 0): the exact answer. With zero_infinity, an infinite l_b is 0.
Forward (alpha, emission at t included) and backward (beta, emission at t excluded) in log space:
    alpha_0(0) = log y_{0,blank}, alpha_0(1) = log y_{0,l'_1}
    alpha_t(s) = log y_{t,l'_s} + lse(alpha_{t-1}(s), alpha_{t-1}(s-1), alpha_{t-1}(s-2) if l'_s != blank, l'_{s-2})
    beta_{T_b-1}(|l'|-1) = beta_{T_b-1}(|l'|-2) = 0
    beta_t(s) = lse over s' in {s, s+1, s+2 (if allowed into s')} of beta_{t+1}(s') + log y_{t+1,l'_s'}
    log Z_b = lse(alpha_{T_b-1}(|l'|-1), alpha_{T_b-1}(|l'|-2))
Occupancy gamma_t(k) = sum over s with l'_s = k of exp(alpha_t(s) + beta_t(s) - log Z_b): the posterior
probability that a path emits k at t (sum_k gamma_t(k) = 1). The gradient, analytic:
    dl_b/dx_btk = y_tk - gamma_t(k)   for t < T_b;   0 for t >= T_b (those logits do not enter)
The difference y - gamma is the mathematics' own (it is small where the model fits); nothing else cancels.
Where l_b is +inf the posteriors are 0/0 and the loss is infinite on a neighbourhood of the logits: its
gradient is NaN (undefined) on the frames t < T_b, 0 beyond. With zero_infinity the loss and its gradient are 0
there, as PyTorch defines it. A NaN or +inf logit, or a frame of only -inf logits, at t < T_b makes the
item's loss and gradient NaN.

Reductions: none (the B losses), sum, mean (over the B items), and label_length_mean, PyTorch's 'mean' for
CTC: (1/B) sum_b l_b / max(L_b, 1). The returned `unreduced` are the items' losses already divided by
max(L_b, 1) for label_length_mean (the error model scales each item's allowance by the same factor).

Extended precision (core.working_dtype) carries the recursion: its rounding, about T u_ext |l_b|, stays far
below float64's resolution of the result for the library's lengths (tests/test_oracle_mpmath.py holds it to an
enumeration of the alignments in mpmath). The error a framework may make in the trial dtype, which grows with
the number of frames, is derived in harness/judge/tolerances/ctc.py.
"""

from __future__ import annotations

import numpy as np

from harness.oracle import core
from harness.oracle.core import Reference, log_softmax, reference, saturates
from harness.schema.model import Case
from harness.trials import Inputs


def lengths(case: Case, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(label lengths L_b, input lengths T_b): the non-blank labels of each item, and the case's input lengths
    (T for every item when it gives none)."""
    L = (np.asarray(labels) != case.params.blank).sum(-1).astype(np.int64)
    return L, input_lengths(case)


def input_lengths(case: Case) -> np.ndarray:
    """T_b: the case's input lengths, or every frame for every item."""
    B, T = case.predictions.shape[0], case.predictions.shape[1]
    il = case.params.input_lengths
    return np.full(B, T, dtype=np.int64) if il is None else np.asarray(il, dtype=np.int64)


def extended(label: np.ndarray, blank: int) -> tuple[np.ndarray, np.ndarray]:
    """(l', skip): the label with blanks around and between, and where alpha may skip from s-2 to s."""
    ext = np.full(2 * len(label) + 1, blank, dtype=np.int64)
    ext[1::2] = label
    skip = np.zeros(len(ext), dtype=bool)
    skip[2:] = (ext[2:] != blank) & (ext[2:] != ext[:-2])
    return ext, skip


def forward_backward(logp: np.ndarray, label: np.ndarray, blank: int):
    """(log Z, occupancy [T, C]) of one item from its log-probabilities [T, C] (T >= 1) in their own type;
    occupancy is NaN where log Z is -inf."""
    wd = logp.dtype.type
    T, C = logp.shape
    ext, skip = extended(label, blank)
    S = len(ext)
    e = logp[:, ext]
    ninf = wd(-np.inf)
    alpha = np.full((T, S), ninf, dtype=wd)
    beta = np.full((T, S), ninf, dtype=wd)
    alpha[0, :2] = e[0, :2]
    beta[T - 1, max(S - 2, 0):] = 0
    with np.errstate(invalid="ignore", over="ignore"):
        for t in range(1, T):
            a = alpha[t - 1]
            acc = np.logaddexp(a, _shifted(a, 1))
            acc = np.where(skip, np.logaddexp(acc, _shifted(a, 2)), acc)
            alpha[t] = e[t] + acc
        into = np.zeros(S, dtype=bool)  # s may go to s + 2
        into[: max(S - 2, 0)] = skip[2:]
        for t in range(T - 2, -1, -1):
            b = beta[t + 1] + e[t + 1]
            acc = np.logaddexp(b, _shifted(b, -1))
            acc = np.where(into, np.logaddexp(acc, _shifted(b, -2)), acc)
            beta[t] = acc
        log_z = np.logaddexp(alpha[T - 1, S - 1], alpha[T - 1, S - 2] if S > 1 else ninf)
        occ = np.zeros((T, C), dtype=wd)
        if np.isneginf(log_z) or np.isnan(log_z):
            return log_z, np.full((T, C), np.nan, dtype=wd)
        post = np.exp(alpha + beta - log_z)
        for s in range(S):
            occ[:, ext[s]] += post[:, s]
    return log_z, occ


def _shifted(a: np.ndarray, k: int) -> np.ndarray:
    """a moved k places along (out[s] = a[s - k]), -inf where nothing moves in."""
    out = np.full_like(a, -np.inf)
    if k > 0:
        out[k:] = a[: max(len(a) - k, 0)]
    else:
        out[: max(len(a) + k, 0)] = a[-k:]
    return out


def ctc_loss(case: Case, inputs: Inputs, dtype: str) -> Reference:
    x0 = np.asarray(inputs.logits)
    wd = core.working_dtype(x0.size)
    p = case.params
    labels = np.asarray(inputs.labels, dtype=np.int64)
    B, T, C = x0.shape
    L, Tb = lengths(case, labels)
    x = x0.astype(wd)
    loss = np.zeros(B, dtype=wd)
    grad = np.zeros((B, T, C), dtype=wd)
    probs = []
    for b in range(B):
        t_b = int(Tb[b])
        logp, prob, bad = log_softmax(x[b, :t_b])
        probs.append(prob)
        if bad.any():
            loss[b], grad[b, :t_b] = wd(np.nan), wd(np.nan)
            continue
        log_z, occ = forward_backward(logp, labels[b, : L[b]], p.blank)
        if np.isneginf(log_z):  # no alignment: +inf, or 0 with zero_infinity
            loss[b] = wd(0) if p.zero_infinity else wd(np.inf)
            grad[b, :t_b] = wd(0) if p.zero_infinity else wd(np.nan)
            continue
        loss[b] = -log_z
        grad[b, :t_b] = prob - occ
    scale, per_item = _reduction(p.reduction, B, L, wd)
    unreduced = loss * per_item
    with np.errstate(invalid="ignore"):
        out = unreduced if p.reduction == "none" else unreduced.sum() * scale
        g = grad * (per_item * scale)[:, None, None]
    # an infinite item whose factor is 0 cannot occur: every factor is > 0
    sat = saturates(np.concatenate([q.reshape(-1) for q in probs]) if probs else np.zeros(0), dtype)
    return reference(out, g, wd, saturated=sat, rows=B, classes=C, unreduced=unreduced, scale=scale)


def _reduction(red: str, B: int, L: np.ndarray, wd):
    """(scale, per-item factor): none and sum (1, 1); mean (1/B, 1); label_length_mean (1/B, 1/max(L_b, 1)).
    A mean over no items is NaN (B = 0 does not occur: a case has at least one item)."""
    ones = np.ones(B, dtype=wd)
    if red in ("none", "sum"):
        return wd(1), ones
    scale = wd(1) / wd(B)
    if red == "label_length_mean":
        return scale, ones / np.maximum(L, 1).astype(wd)
    return scale, ones
