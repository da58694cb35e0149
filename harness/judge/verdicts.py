"""Verdict logic: compare an observation with the oracle's reference under a tolerance."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adapters.api import Observation
from harness.core.dtypes import blocks, cast, eps, finite_stats, ulp_distance
from harness.judge import kinks
from harness.judge.tolerances import Tolerance
from harness.oracle import Reference
from harness.schema import Case

# Flag thresholds (relative to the oracle's largest gradient entry).
VANISH_REF_MIN = 1e-4  # the oracle's gradient must be at least this large for "vanishing" to mean anything
VANISH_RATIO = 1e-2  # ... and the framework's below this fraction of it
EXPLODE_RATIO = 1e2


@dataclass
class Outcome:
    verdict: str
    metrics: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    message: str = ""


def judge(case: Case, ref: Reference | None, obs: Observation, tol: Tolerance | None) -> Outcome:
    if obs.unsupported:
        return Outcome("unsupported", message=obs.unsupported)
    missing = _missing_output(case, obs)
    if missing:
        return missing
    if case.expect.error:
        if obs.error:
            wrong = _not_the_expected_error(case, obs)
            if wrong:
                return Outcome("error", message=wrong)
            return Outcome("expected_error", message=obs.error)
        loss = np.asarray(obs.loss, dtype=np.float64).reshape(-1)
        shown = ", ".join(repr(float(v)) for v in loss[:4]) + (", ..." if loss.size > 4 else "")
        m = {"loss": float(loss[0]) if loss.size else None,
             "nan_count": int(np.isnan(loss).sum()), "inf_count": int(np.isinf(loss).sum())}
        return Outcome(
            "missing_error", m,
            message=f"returned loss [{shown}] where the case expects an error ({case.expect.reason or 'invalid input'})",
        )
    if obs.error:
        return Outcome("error", message=obs.error)
    assert ref is not None and tol is not None
    loss = np.asarray(obs.loss, dtype=np.float64)
    if obs.no_grad:
        return _judge_loss_only(ref, obs, tol, loss)
    grad = np.asarray(obs.grad)  # in its own dtype: widened to float64 block by block
    if (tol.judge_loss and loss.shape != ref.loss.shape) or grad.shape != ref.grad.shape:
        return Outcome(
            "loss_mismatch" if loss.shape != ref.loss.shape else "grad_mismatch",
            message=f"shape: loss {list(loss.shape)}, grad {list(grad.shape)}, "
            f"but should be loss {list(ref.loss.shape)}, grad {list(ref.grad.shape)}",
        )
    m: dict[str, Any] = {}
    ref_grad, sub_bad = ref.grad, ""
    if ref.subgradient is not None:  # at a kink every element of the subdifferential is correct: the nearest one
        ref_grad, km = kinks.nearest(ref.subgradient, ref.grad, grad)
        m.update(km)
        if ref.subgradient.row_sum is not None:  # ties: the rows' sums too (a box alone needs no allowances here)
            sub_bad = kinks.row_sums(ref.subgradient, grad, tol.grad_full(ref_grad))
    # a derivative order's row judges the order only (harness/judge/tolerances/orders.py)
    lm = _metrics(loss, ref.loss, tol, "loss", obs_dtype=obs.dtype) if tol.judge_loss else dict(_NOT_JUDGED, metrics={})
    gm = _metrics(grad, ref_grad, tol, "grad", obs_dtype=obs.dtype)
    m.update(lm.pop("metrics"))
    m.update(gm.pop("metrics"))
    g_nan, g_inf, m["grad_norm"] = finite_stats(grad)
    r_nan, r_inf, m["ref_grad_norm"] = finite_stats(ref.grad)
    judged = loss if tol.judge_loss else loss.reshape(-1)[:0]
    m["nan_count"] = int(np.isnan(judged).sum()) + g_nan
    m["inf_count"] = int(np.isinf(judged).sum()) + g_inf
    m["ref_nan_count"] = int(np.isnan(ref.loss).sum()) + r_nan
    m["ref_inf_count"] = int(np.isinf(ref.loss).sum()) + r_inf

    flags = []
    if ref.saturated:
        flags.append("saturated")
    # a NaN gradient is broken, not vanishing
    if g_nan + g_inf == 0 and m["ref_grad_norm"] >= VANISH_REF_MIN and m["grad_norm"] < VANISH_RATIO * m["ref_grad_norm"]:
        flags.append("vanishing_grad")
    if g_nan + g_inf < grad.size and (m["grad_norm"] > EXPLODE_RATIO * max(m["ref_grad_norm"], 1.0) or (g_inf and not r_inf)):
        flags.append("exploding_grad")

    if lm["nonfinite"] or gm["nonfinite"]:
        d = lm if lm["nonfinite"] else gm
        return Outcome("nonfinite", m, flags, d["nonfinite"])
    if lm["bad"]:
        return Outcome("loss_mismatch", m, flags, lm["bad"])
    if gm["bad"] or sub_bad:
        return Outcome("grad_mismatch", m, flags, gm["bad"] or sub_bad)
    return Outcome("pass", m, flags)


_NOT_JUDGED = {"nonfinite": "", "bad": "", "metrics": {}}


def _judge_loss_only(ref: Reference, obs: Observation, tol: Tolerance, loss: np.ndarray) -> Outcome:
    """A framework without autodiff: the loss is judged, the gradient is not observed (flag `loss_only`,
    and the observation's reason in the message). Nothing stands in for the missing gradient."""
    if loss.shape != ref.loss.shape:
        return Outcome("loss_mismatch", flags=["loss_only"],
                       message=f"shape: loss {list(loss.shape)}, but should be {list(ref.loss.shape)}; {obs.no_grad}")
    lm = _metrics(loss, ref.loss, tol, "loss", obs_dtype=obs.dtype)
    m: dict[str, Any] = lm.pop("metrics")
    m["nan_count"], m["inf_count"] = int(np.isnan(loss).sum()), int(np.isinf(loss).sum())
    m["ref_nan_count"], m["ref_inf_count"] = int(np.isnan(ref.loss).sum()), int(np.isinf(ref.loss).sum())
    flags = ["loss_only", *(["saturated"] if ref.saturated else [])]
    if lm["nonfinite"]:
        return Outcome("nonfinite", m, flags, f"{lm['nonfinite']}; {obs.no_grad}")
    if lm["bad"]:
        return Outcome("loss_mismatch", m, flags, f"{lm['bad']}; {obs.no_grad}")
    return Outcome("pass", m, flags, obs.no_grad)


@dataclass
class Comparison:
    """Elementwise comparison of an observation with a reference, reduced (see `compare`)."""

    n_disagree: int  # elements non-finite on one side only (or non-finite unlike the other side)
    n_out: int  # elements, finite on both sides, whose difference exceeds the allowance
    worst: int  # flat index: the first disagreement, else the first largest excess over the allowance
    max_abs: float
    max_rel: float
    max_ulp: float


def compare(obs: np.ndarray, ref: np.ndarray, allowed: Callable[[np.ndarray, int, int], np.ndarray],
            dtype: str) -> Comparison:
    """Compare two arrays of one shape element by element, in blocks of the flattened arrays that stay
    in cache (so a large trial costs a few passes and no full-size temporaries). NaN agrees with NaN
    and an infinity with the same infinity, or with an exact value that rounds to it in the dtype. allowed(ref_block, start, stop) is the allowed |obs - ref|
    of the block's elements. The worst element and every maximum are those of one pass over the
    whole array (np.argmax's first maximum, a NaN excess above all)."""
    o_flat, r_flat = np.asarray(obs).reshape(-1), np.asarray(ref).reshape(-1)
    c = Comparison(0, 0, 0, 0.0, 0.0, 0.0)
    first_disagree = -1
    worst_excess = -np.inf
    for s, e in blocks(o_flat.size):
        o = np.asarray(o_flat[s:e], dtype=np.float64)
        r = np.asarray(r_flat[s:e], dtype=np.float64)
        both_finite = np.isfinite(o) & np.isfinite(r)
        same_nonfinite = (np.isnan(o) & np.isnan(r)) | (np.isinf(o) & np.isinf(r) & (np.sign(o) == np.sign(r)))
        # an exact value beyond the dtype's range rounds to its infinity: that infinity is the correctly rounded
        # answer (a float32 loss of 6e38 is inf), found by the search (harness/search/)
        overflow = np.isinf(o) & np.isfinite(r) & (np.sign(o) == np.sign(r))
        if overflow.any():
            same_nonfinite |= overflow & np.isinf(cast(np.where(overflow, r, 0.0), dtype))
        disagree = ~(both_finite | same_nonfinite)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            abs_err = np.where(both_finite, np.abs(o - r), 0.0)
            rel_err = np.where(both_finite & (r != 0), abs_err / np.abs(r), np.where(abs_err > 0, np.inf, 0.0))
            ulps = np.where(both_finite, ulp_distance(o, r, dtype), 0.0)
            excess = np.where(both_finite, abs_err - allowed(r, s, e), -np.inf)
        nd = int(disagree.sum())
        if nd and first_disagree < 0:
            first_disagree = s + int(np.argmax(disagree))
        c.n_disagree += nd
        c.n_out += int((excess > 0).sum())
        c.max_abs = max(c.max_abs, float(abs_err.max()))
        c.max_rel = max(c.max_rel, float(rel_err.max()))
        c.max_ulp = max(c.max_ulp, float(ulps.max()))
        i = int(np.argmax(excess))
        x = float(excess[i])
        if s == 0 or x > worst_excess or (np.isnan(x) and not np.isnan(worst_excess)):
            worst_excess, c.worst = x, s + i
    if c.n_disagree:
        c.worst = first_disagree
    return c


def _metrics(obs: np.ndarray, ref: np.ndarray, tol: Tolerance, q: str, obs_dtype: str) -> dict:
    """Error metrics of one quantity and whether it is outside its per-element allowance or non-finite where
    the oracle is not."""
    out: dict[str, Any] = {"nonfinite": "", "bad": ""}
    metrics: dict[str, Any] = {}
    if obs.size == 0:  # an empty batch: nothing to compare
        out["metrics"] = {"loss_abs_err" if q == "loss" else "grad_max_abs_err": 0.0}
        return out
    if q == "loss":
        la = np.asarray(tol.loss_allowed(ref), dtype=np.float64).reshape(-1)
        allowed = lambda r, s, e: la[s:e]  # noqa: E731
    else:
        allowed = tol.grad_allowed
    c = compare(obs, ref, allowed, obs_dtype)
    worst = np.unravel_index(c.worst, obs.shape)
    idx = [int(i) for i in worst]
    o_w, r_w = float(np.asarray(obs).reshape(-1)[c.worst]), float(np.asarray(ref).reshape(-1)[c.worst])
    a_w = float(np.asarray(allowed(np.asarray(ref).reshape(-1)[c.worst: c.worst + 1], c.worst, c.worst + 1))[0])
    why = tol.explain(q, c.worst, r_w)
    if q == "loss":
        metrics.update(loss=o_w, ref_loss=r_w, loss_worst_index=idx, loss_abs_err=c.max_abs, loss_rel_err=c.max_rel,
                       loss_ulp=c.max_ulp, loss_allowed=a_w, loss_allowance=why)
    else:
        metrics.update(grad=o_w, ref_grad=r_w, grad_worst_index=idx, grad_max_abs_err=c.max_abs,
                       grad_max_rel_err=c.max_rel, grad_ulp=c.max_ulp, grad_allowed=a_w, grad_allowance=why)
    where = f" at {idx}" if obs.ndim else ""
    if c.n_disagree:
        out["nonfinite"] = (
            f"{q}{where}={o_w!r}, but should be {r_w!r} "
            f"({c.n_disagree} of {obs.size} elements non-finite on one side only)"
        )
    elif c.n_out:
        with np.errstate(invalid="ignore", over="ignore"):
            u_w = float(ulp_distance(np.float64(o_w), np.float64(r_w), obs_dtype))
        out["bad"] = (
            f"{q}{where}={o_w!r}, but should be {r_w!r} "
            f"(abs err {abs(o_w - r_w):.3g} > allowed {why}; "
            f"{u_w:.3g} ULP; {c.n_out} of {obs.size} elements out)"
        )
    out["metrics"] = metrics
    return out


def clipped(obs: Observation, ref: Reference, tol: Tolerance,
            guards: list[tuple[str, np.ndarray, np.ndarray]]) -> str | None:
    """The `clipped` flag: the observed loss is off the oracle, and wherever it is off, a guard explains it:
    the guard bites there (it clips a probability or clamps a log that counts: families.clipped_losses) and
    the observation is what the guard gives. A loss the guard leaves alone is not explained by it, even where
    it equals the guarded value (an exact answer judged against a wrong reference). The guard is matched to a
    few ULPs of the trial dtype (not the loss tolerance, whose absolute part grows with the logits).
    Returns the guard's name, or None."""
    if obs.loss is None:
        return None
    loss = np.asarray(obs.loss, dtype=np.float64)
    if loss.shape != np.shape(ref.loss):
        return None
    e = 8 * max(eps(obs.dtype) if obs.dtype else 0.0, 1e-7)
    allowed = np.asarray(tol.loss_allowed(ref.loss), dtype=np.float64)

    def differs(v: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            finite = np.isfinite(v) & np.isfinite(ref.loss)
            same = (finite & (np.abs(v - ref.loss) <= allowed)) | (np.isnan(v) & np.isnan(ref.loss)) | (v == ref.loss)
        return ~same

    with np.errstate(invalid="ignore"):
        off = differs(loss)
        if not off.any():
            return None
        for name, alt, bites in guards:
            alt = np.asarray(alt, dtype=np.float64)
            if alt.shape != loss.shape or np.shape(bites) != loss.shape:
                continue
            if np.asarray(bites)[off].all() and np.isclose(loss[off], alt[off], rtol=e, atol=e).all():
                return name
    return None


# An expected error is the framework refusing the invalid input. These classes raised from the harness's
# own code (the innermost frame in one of OUR_PACKAGES) are a bug there instead: a typo, a missing import,
# a wrong call. What the frameworks raise for bad labels and shapes (cases/errors.yaml) is ValueError,
# IndexError, RuntimeError, tf.errors.InvalidArgumentError, and TypeError raised inside torch, TensorFlow,
# JAX, optax or Keras; a TypeError whose innermost frame is ours is ours (a C function that our line calls
# raises from our frame, and torch's argument parser raises TypeError only for a wrong Python type).
PROGRAMMING_ERRORS = frozenset(f"builtins.{n}" for n in
                               ("TypeError", "AttributeError", "NameError", "ImportError", "AssertionError", "KeyError"))
OUR_PACKAGES = ("harness", "adapters")
_ATTRIBUTE_PROTOCOL = ("__getattr__", "__getattribute__")


def _not_the_expected_error(case: Case, obs: Observation) -> str:
    """Why the error an observation raised is not the one its case expects ("" when it is): a programming
    error raised by our own code, or, where the case names the classes it expects (expect.raises), another
    class. The origin is the innermost frame (adapter_api.error_trace), except that an AttributeError raised
    by a tensor's own __getattr__ (TensorFlow's, JAX's tracers') belongs to the frame that asked for it."""
    types = obs.error_types or (f"builtins.{obs.error.partition(':')[0].strip()}",)
    names = {t.rpartition(".")[2] for t in types} | set(types)
    if case.expect.raises and not names & set(case.expect.raises):
        return (f"{obs.error} [raised {types[0].rpartition('.')[2]}, but the case expects "
                f"{' or '.join(case.expect.raises)}: {case.expect.reason or 'invalid input'}]")
    kind = next((t for t in types if t in PROGRAMMING_ERRORS), "")
    frames = list(obs.error_frames)
    if kind == "builtins.AttributeError":
        while len(frames) > 1 and frames[-1].rpartition(":")[2] in _ATTRIBUTE_PROTOCOL:
            frames.pop()
    if kind and frames and frames[-1].partition(":")[0].split(".")[0] in OUR_PACKAGES:
        return (f"{obs.error} [a {types[0].rpartition('.')[2]} raised in {frames[-1]}: a bug in the harness or its "
                f"adapter, not the framework refusing the invalid input the case expects an error for]")
    return ""


def _missing_output(case: Case, obs: Observation) -> Outcome | None:
    """An observation that neither raised nor returned what it owes is an `error`: a loss of None would read
    as NaN (and pass where the oracle's loss is NaN), a gradient of None as no number at all. Only a path
    that says why (`no_grad`) may leave the gradient out. Where the case expects an error, a loss without a
    gradient is left to the `missing_error` verdict, the graver finding."""
    if obs.error:
        return None
    if obs.loss is None:
        return Outcome("error", message=f"returned no loss and raised nothing ({obs.call or 'no call recorded'})")
    if obs.grad is None and not obs.no_grad and not case.expect.error:
        return Outcome("error", message=f"returned no gradient and gives no reason (no_grad) ({obs.call or 'no call recorded'})")
    return None
