"""Verdict logic and known differences, on small numpy-only observations."""

from __future__ import annotations

import numpy as np
import pytest

from harness import expectations, oracle, tolerances
from harness.adapter_api import Observation
from harness.rows import Row
from harness.schema import load_text
from harness.trials import Trial, materialize
from harness.verdicts import judge

CASE = """\
- id: v
  family: sparse_softmax_cross_entropy
  description: d
  logits: [[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]]
  labels: [2, 0]
"""


@pytest.fixture
def trial():
    (case,) = load_text(CASE, "v.yaml")
    inputs = materialize(Trial(case, "float32"))
    ref = oracle.compute(case, inputs, "float32")
    return case, ref, tolerances.for_trial(case, "float32", ref, inputs.logits)


def obs(loss, grad, **kw):
    return Observation(dtype="float32", loss=np.asarray(loss, float), grad=np.asarray(grad, float), **kw)


def test_exact_answer_passes_and_float32_rounding_passes(trial):
    case, ref, tol = trial
    assert judge(case, ref, obs(ref.loss, ref.grad), tol).verdict == "pass"
    r32 = obs(ref.loss.astype(np.float32), ref.grad.astype(np.float32))
    out = judge(case, ref, r32, tol)
    assert out.verdict == "pass" and out.metrics["loss_ulp"] <= 0.5


def test_loss_off_by_1e_3_is_a_loss_mismatch_naming_the_element(trial):
    case, ref, tol = trial
    bad = ref.loss.copy()
    bad[1] *= 1.001
    out = judge(case, ref, obs(bad, ref.grad), tol)
    assert out.verdict == "loss_mismatch" and "loss at [1]" in out.message
    assert out.metrics["loss_worst_index"] == [1]


def test_gradient_error_and_vanishing_flag(trial):
    case, ref, tol = trial
    out = judge(case, ref, obs(ref.loss, ref.grad * 1e-6), tol)
    assert out.verdict == "grad_mismatch" and "vanishing_grad" in out.flags
    out = judge(case, ref, obs(ref.loss, ref.grad * 1e4), tol)
    assert "exploding_grad" in out.flags


def test_nan_where_oracle_is_finite_is_nonfinite(trial):
    case, ref, tol = trial
    bad = ref.loss.copy()
    bad[0] = np.nan
    out = judge(case, ref, obs(bad, ref.grad), tol)
    assert out.verdict == "nonfinite" and out.metrics["nan_count"] == 1


def test_errors_unsupported_and_expected_errors(trial):
    case, ref, tol = trial
    assert judge(case, ref, Observation(dtype="float32", error="ValueError: x"), tol).verdict == "error"
    assert judge(case, ref, Observation(dtype="float32", unsupported="no"), tol).verdict == "unsupported"
    (err_case,) = load_text(CASE.replace("[2, 0]", "[3, 0]") + "  expect: {error: true}\n", "v.yaml")
    assert judge(err_case, None, Observation(dtype="float32", error="IndexError"), None).verdict == "expected_error"
    out = judge(err_case, None, obs([1.5, np.nan], ref.grad), None)
    assert out.verdict == "missing_error" and "1.5" in out.message


def _row(verdict: str, **kw) -> Row:
    base = dict(row_id="x", case="masked-a", family="f", framework="torch", api="F.cross_entropy", device="cpu", dtype="float32")
    base.update(kw)
    return Row(verdict=verdict, **base)


def test_known_fixed_and_unused_entries(tmp_path):
    p = tmp_path / "known.yaml"
    p.write_text("- case: masked-*\n  framework: torch\n  verdict: nonfinite\n  reason: r\n  link: https://x/1\n"
                 "- case: other\n  framework: torch\n  verdict: nonfinite\n  reason: r\n  link: https://x/2\n"
                 "- case: elsewhere\n  framework: torch\n  reason: r\n  link: https://x/3\n"
                 "- case: other\n  framework: torch\n  api: F.nll_loss*\n  reason: r\n  link: https://x/4\n"
                 "- case: other\n  framework: torch\n  strict: false\n  reason: r\n  link: https://x/5\n")
    entries = expectations.load(p)
    r = _row("nonfinite")
    assert expectations.apply(r, entries) is entries[0] and r.verdict == "known" and r.raw_verdict == "nonfinite"
    r2 = _row("loss_mismatch")
    assert expectations.apply(r2, entries) is None and r2.verdict == "loss_mismatch"  # another verdict stays new
    r3 = _row("pass")
    expectations.apply(r3, entries)
    assert r3.verdict == "fixed"
    other = _row("unsupported", case="other")  # entry 2's row ran, but can no longer fail: the entry is stale
    assert expectations.apply(other, entries) is None and other.verdict == "unsupported"
    rows = [r, r2, r3, other]
    # entry 3 names a case this run did not include, entry 4 a path that gave no row here: neither could have
    # matched a row of this run, so neither is reported; entry 5 lets its rows pass (strict: false)
    assert expectations.in_scope(entries[1], rows) and not expectations.in_scope(entries[2], rows)
    assert not expectations.in_scope(entries[3], rows) and expectations.in_scope(entries[4], rows)
    assert expectations.unused(entries, rows) == [entries[1]]
    # a framework whose only row says it is unavailable did not run
    gone = _row("unavailable", case="*", framework="torch", api="*", device="*", dtype="*")
    assert expectations.unused(entries, [gone]) == []


def test_known_entry_without_link_is_refused(tmp_path):
    p = tmp_path / "known.yaml"
    p.write_text("- case: a\n  reason: r\n")
    with pytest.raises(Exception) as e:
        expectations.load(p)
    assert "link" in str(e.value)


CONFIDENT = """\
- id: c
  family: sparse_softmax_cross_entropy
  description: one confidently wrong row, one right
  logits: [[40.0, 0.0, -5.0], [1.0, 2.0, 3.0]]
  labels: [1, 2]
"""


def _clipped_softmax_loss(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """What a hand-written clipped loss computes, in float32 numpy."""
    x = logits.astype(np.float32)
    p = np.exp(x - x.max(-1, keepdims=True))
    p = p / p.sum(-1, keepdims=True)
    return -np.log(np.clip(p, np.float32(1e-7), np.float32(1 - 1e-7)))[np.arange(len(labels)), labels]


def test_the_clipped_flag_names_the_guard_that_explains_a_wrong_loss():
    from harness import families
    from harness.verdicts import clipped

    (case,) = load_text(CONFIDENT, "c.yaml")
    inputs = materialize(Trial(case, "float32"))
    ref = oracle.compute(case, inputs, "float32")
    tol = tolerances.for_trial(case, "float32", ref, inputs.logits)
    guards = families.clipped_losses(case, inputs, "float32")
    loss = _clipped_softmax_loss(inputs.logits, inputs.labels)
    assert not np.allclose(loss, ref.loss)  # the clip changes the confidently wrong row
    obs = Observation(dtype="float32", loss=loss, grad=np.zeros((2, 3), np.float32))
    assert judge(case, ref, obs, tol).verdict == "loss_mismatch"
    assert "clipped" in clipped(obs, ref, tol, guards)
    # the true loss is not clipped, and neither is a loss that is wrong in another way
    exact = Observation(dtype="float32", loss=ref.loss.astype(np.float32), grad=ref.grad.astype(np.float32))
    assert clipped(exact, ref, tol, guards) is None
    other = Observation(dtype="float32", loss=(ref.loss * 0.5).astype(np.float32), grad=ref.grad.astype(np.float32))
    assert clipped(other, ref, tol, guards) is None


@pytest.mark.parametrize("seed", range(6))
def test_judging_in_blocks_gives_what_judging_the_whole_array_gives(seed, monkeypatch):
    """A large trial is judged in blocks; the metrics, the worst element and the message must be those of
    one block over the whole array, for any values: NaN and infinities on either side, ties, all within."""
    from harness import dtypes

    rng = np.random.default_rng(seed)
    shape = (13, 11)
    ref_grad = rng.standard_normal(shape)
    grad = (ref_grad + rng.standard_normal(shape) * 10.0 ** rng.integers(-9, -3)).astype(np.float32)
    specials = [np.nan, np.inf, -np.inf, 0.0, 1e30]
    for a in (grad, ref_grad):
        for _ in range(seed if seed < 5 else 0):  # more special values with each seed (none at seeds 0 and 5)
            a[tuple(rng.integers(0, n) for n in shape)] = specials[rng.integers(len(specials))]
    if seed == 5:  # equal largest excesses in two blocks: the first must win
        grad[2, 3] = grad[9, 9] = np.float32(5.0)
        ref_grad[2, 3] = ref_grad[9, 9] = 0.0
    loss = np.asarray(rng.standard_normal(13))
    ref = oracle.Reference(loss=loss, grad=ref_grad, precision="float64", saturated=False, max_abs_logit=1.0,
                           rows=13, classes=11)
    obs = Observation(dtype="float32", loss=loss.astype(np.float32), grad=grad)
    tol = tolerances.Tolerance(loss_rtol=1e-6, loss_atol=1e-7, grad_rtol=1e-6, grad_atol=1e-7, source="test")
    (case,) = load_text(CASE, "v.yaml")
    whole = judge(case, ref, obs, tol)
    monkeypatch.setattr(dtypes, "BLOCK", 7)  # 21 blocks, the last one short
    blocked = judge(case, ref, obs, tol)
    assert (blocked.verdict, blocked.flags, blocked.message) == (whole.verdict, whole.flags, whole.message)
    assert blocked.metrics.keys() == whole.metrics.keys()
    for k, v in whole.metrics.items():
        assert blocked.metrics[k] == v or (isinstance(v, float) and np.isnan(v) and np.isnan(blocked.metrics[k])), k
    if seed == 5:
        assert whole.verdict == "grad_mismatch" and whole.metrics["grad_worst_index"] == [2, 3]


def test_finite_stats_in_blocks_counts_and_takes_the_largest_finite_value(monkeypatch):
    from harness import dtypes

    rng = np.random.default_rng(3)
    a = rng.standard_normal(50) * 100
    a[[3, 17]] = np.nan
    a[[5, 40, 41]] = [np.inf, -np.inf, np.inf]
    monkeypatch.setattr(dtypes, "BLOCK", 8)
    fin = a[np.isfinite(a)]
    assert dtypes.finite_stats(a.astype(np.float32)) == (2, 3, float(np.abs(fin.astype(np.float32)).max()))
    assert dtypes.finite_stats(fin) == (0, 0, float(np.abs(fin).max()))
    assert dtypes.finite_stats(np.full(9, np.nan)) == (9, 0, 0.0)
