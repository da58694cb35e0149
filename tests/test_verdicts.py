"""Verdict logic and known differences, on small numpy-only observations."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from adapters.api import Observation
from harness import oracle
from harness.judge import expectations, tolerances
from harness.judge.verdicts import judge
from harness.results.rows import Row
from harness.schema import CaseFileError, load_text
from harness.trials import Trial, materialize

ROOT = Path(__file__).resolve().parent.parent

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
    return case, ref, tolerances.for_trial(case, "float32", ref, inputs)


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
    with pytest.raises(CaseFileError, match=r"known\.yaml:1:1: \[0\]\.link: required") as e:
        expectations.load(p)
    assert [p.field for p in e.value.problems] == ["[0].link"]


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
    from harness.judge.verdicts import clipped
    from harness.oracle import clipped as families

    (case,) = load_text(CONFIDENT, "c.yaml")
    inputs = materialize(Trial(case, "float32"))
    ref = oracle.compute(case, inputs, "float32")
    tol = tolerances.for_trial(case, "float32", ref, inputs)
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
    from harness.core import dtypes

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
    ref = oracle.Reference(loss=loss, grad=ref_grad, precision="float64", saturated=False, rows=13,
                           classes=11)
    obs = Observation(dtype="float32", loss=loss.astype(np.float32), grad=grad)
    tol = tolerances.Tolerance.fixed(1e-6, 1e-7, 1e-6, 1e-7, "test")
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
    from harness.core import dtypes

    rng = np.random.default_rng(3)
    a = rng.standard_normal(50) * 100
    a[[3, 17]] = np.nan
    a[[5, 40, 41]] = [np.inf, -np.inf, np.inf]
    monkeypatch.setattr(dtypes, "BLOCK", 8)
    fin = a[np.isfinite(a)]
    assert dtypes.finite_stats(a.astype(np.float32)) == (2, 3, float(np.abs(fin.astype(np.float32)).max()))
    assert dtypes.finite_stats(fin) == (0, 0, float(np.abs(fin).max()))
    assert dtypes.finite_stats(np.full(9, np.nan)) == (9, 0, 0.0)


# --------------------------------------------------------------------------- per-element allowances (the judge
# must never pass a wrong answer): each example below passed under the trial-wide policy


def _library_trial(case_id: str, dtype: str):
    from harness.schema import load_paths

    case = next(c for c in load_paths([ROOT / "cases"]) if c.id == case_id)
    inputs = materialize(Trial(case, dtype))
    ref = oracle.compute(case, inputs, dtype)
    return case, inputs, ref, tolerances.for_trial(case, dtype, ref, inputs)


def _text_trial(text: str, dtype: str):
    (case,) = load_text(text, "t.yaml")
    inputs = materialize(Trial(case, dtype))
    ref = oracle.compute(case, inputs, dtype)
    return case, inputs, ref, tolerances.for_trial(case, dtype, ref, inputs)


@pytest.mark.parametrize("wrong", [0.0, 100.0, 400.0])
def test_a_sigmoid_loss_at_1e9_gets_no_allowance_from_elements_whose_loss_is_zero(wrong):
    case, _, ref, tol = _library_trial("published-optax-sigmoid-1e9-right", "float32")
    out = judge(case, ref, Observation(dtype="float32", loss=np.float32(wrong), grad=ref.grad), tol)
    assert out.verdict == "loss_mismatch", out.message


def test_a_row_at_1e4_widens_no_other_row():
    text = ("- id: mixed\n  family: sparse_softmax_cross_entropy\n  description: d\n"
            "  logits: [[1.0e4, 0.0, 0.0], [0.1, 0.2, 0.3]]\n  labels: [0, 2]\n")
    case, _, ref, tol = _text_trial(text, "float32")
    loss = ref.loss.copy()
    loss[1] *= 1.004
    out = judge(case, ref, Observation(dtype="float32", loss=loss, grad=ref.grad), tol)
    assert out.verdict == "loss_mismatch" and out.metrics["loss_worst_index"] == [1], out.message


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_log_sum_exp_rounded_at_the_scale_of_its_own_max_passes_and_no_more(dtype):
    """logsumexp(x) - x_t with logsumexp formed in the dtype (optax's integer-label path) loses u |max| at
    logits [490, 495, 500]: the row's own max and target logit are in its allowance, and an error a few
    times that size is still caught."""
    case, inputs, ref, tol = _library_trial("seed-softmax-saturation-large", dtype)
    dt = np.dtype(dtype).type
    x = np.asarray(inputs.logits, dtype=dt)[0]
    m = x.max()
    lse = dt(m + np.log(np.exp(x - m).sum(dtype=dt)))  # rounded at the scale of 500
    loss = np.asarray([lse - x[int(inputs.labels[0])]], dtype=np.float64)
    assert loss[0] != ref.loss[0]  # the rounding shows
    assert judge(case, ref, Observation(dtype=dtype, loss=loss, grad=ref.grad), tol).verdict == "pass"
    far = ref.loss + 4 * np.finfo(dt).eps * 1000
    assert judge(case, ref, Observation(dtype=dtype, loss=far, grad=ref.grad), tol).verdict == "loss_mismatch"


def test_a_heavy_weight_widens_no_other_row():
    case, inputs, ref, tol = _library_trial("imbalanced-weights-1000-none", "float16")
    cw = np.asarray(inputs.class_weights, dtype=np.float64)
    light = int(np.flatnonzero(cw[np.asarray(inputs.labels)] == cw.min())[0])
    grad = ref.grad.copy()
    grad[light] = -grad[light]
    out = judge(case, ref, Observation(dtype="float16", loss=ref.loss, grad=grad), tol)
    assert out.verdict == "grad_mismatch" and out.metrics["grad_worst_index"][0] == light, out.message


def test_probabilities_are_judged_as_probabilities():
    """A float16 softmax over 70,000 tied classes is 1/70000 = 1.43e-5 in every class (a float16 subnormal);
    all zeros (a row that sums to 0) is wrong."""
    text = ("- id: wide\n  family: softmax\n  description: d\n"
            "  logits: {generate: full, shape: [1, 70000], value: 0.0}\n  dtypes: [float16]\n")
    case, _, ref, tol = _text_trial(text, "float16")
    assert np.allclose(ref.loss, 1 / 70000)
    out = judge(case, ref, Observation(dtype="float16", loss=np.zeros_like(ref.loss), grad=ref.grad), tol)
    assert out.verdict == "loss_mismatch", out.message
    exact = judge(case, ref, Observation(dtype="float16", loss=ref.loss.astype(np.float16), grad=ref.grad), tol)
    assert exact.verdict == "pass", exact.message


def test_the_row_records_the_allowance_of_its_worst_element_and_what_it_is_made_of():
    case, _, ref, tol = _library_trial("extreme-1e4-confident-wrong", "bfloat16")
    out = judge(case, ref, Observation(dtype="bfloat16", loss=ref.loss, grad=-ref.grad), tol)
    assert out.verdict == "grad_mismatch"
    allowed = out.metrics["grad_allowed"]
    assert 0 < allowed < 0.1 and out.metrics["grad_allowance"].startswith(f"{allowed:.3g} (mostly ")


ALL_IGNORED = """\
- id: all-ignored
  family: sparse_softmax_cross_entropy
  description: every row ignored, so the oracle's mean is NaN
  logits: [[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]]
  labels: [-100, -100]
  params: {ignore_index: -100, reduction: mean}
"""


@pytest.fixture
def nan_trial():
    (case,) = load_text(ALL_IGNORED, "n.yaml")
    inputs = materialize(Trial(case, "float32"))
    ref = oracle.compute(case, inputs, "float32")
    assert np.isnan(ref.loss).all()  # the premise: a missing loss read as NaN would match it
    return case, ref, tolerances.for_trial(case, "float32", ref, inputs)


def test_a_missing_loss_is_an_error_even_where_the_oracle_is_nan(trial, nan_trial):
    for case, ref, tol in (nan_trial, trial):
        out = judge(case, ref, Observation(dtype="float32", loss=None, grad=ref.grad), tol)
        assert out.verdict == "error" and "returned no loss" in out.message, out
    # and where the case expects an error: nothing raised and nothing returned is not the expected error
    (err_case,) = load_text(CASE.replace("[2, 0]", "[3, 0]") + "  expect: {error: true}\n", "v.yaml")
    out = judge(err_case, None, Observation(dtype="float32"), None)
    assert out.verdict == "error" and "returned no loss" in out.message, out


def test_a_missing_gradient_is_an_error_unless_the_path_says_why(trial, nan_trial):
    for case, ref, tol in (nan_trial, trial):
        out = judge(case, ref, Observation(dtype="float32", loss=ref.loss, grad=None), tol)
        assert out.verdict == "error" and "returned no gradient" in out.message, out
        why = "this framework has no autodiff"
        out = judge(case, ref, Observation(dtype="float32", loss=ref.loss, grad=None, no_grad=why), tol)
        assert out.verdict == "pass" and "loss_only" in out.flags and why in out.message, out


# --------------------------------------------------------------------------- which error is the expected one

ERR_CASE = CASE.replace("[2, 0]", "[3, 0]") + "  expect: {error: true, reason: label 3 is out of range}\n"


def _defined_in(module: str, source: str):
    """The function `f` of `source`, compiled as if it lived in `module` (its frames carry that module's name),
    so that a test can raise from a framework's code or from the harness's own without either being there."""
    namespace = {"__name__": module}
    exec(compile(source, f"<{module}>", "exec"), namespace)
    return namespace["f"]


def _observe(fn, case) -> Observation:
    """What Adapter.run records when the path raises: fn(labels) is the whole path."""
    from adapters.api import Adapter, ApiPath

    class Raising(Adapter):
        name = "raising"

        def evaluate(self, path, case, inputs, dtype, device):
            return fn(inputs.labels), None, "fn", device

    path = ApiPath("fn", frozenset({case.family}), lambda c: None)
    return Raising().run(path, case, materialize(Trial(case, "float32")), "float32", "cpu")


FRAMEWORK_OP = "def f(labels):\n    raise TypeError('labels must be integers in [0, classes)')\n"
# a tensor class whose __getattr__ raises, as TensorFlow's Tensor and JAX's tracers do
FRAMEWORK_TENSOR = ("class T:\n    def __getattr__(self, name):\n        raise AttributeError(name)\n"
                    "def f(labels):\n    return T()\n")


@pytest.mark.parametrize("where, source, want", [
    # raised by the framework (its module is not ours): the framework refusing the labels
    ("torchlike.nn.functional", FRAMEWORK_OP, "expected_error"),
    ("tflike.ops", "def f(labels):\n    raise KeyError('no kernel for labels of this dtype')\n", "expected_error"),
    # raised by our own code: a bug, whatever the case expects
    ("adapters.buggy", "def f(labels):\n    return labels.lables\n", "error"),
    ("adapters.buggy", "def f(labels):\n    return undefined_helper(labels)\n", "error"),
    ("harness.buggy", "def f(labels):\n    return {}['reduction']\n", "error"),
    ("harness.buggy", "def f(labels):\n    import no_such_module_here\n", "error"),
    ("adapters.buggy", "def f(labels):\n    assert labels.ndim == 2\n", "error"),
    ("adapters.buggy", "def f(labels):\n    return len(labels, 1)\n", "error"),  # a C function, called wrongly
    # other classes from our own code are the framework's, passed on (a RuntimeError from a C op on our line)
    ("adapters.fine", "def f(labels):\n    raise RuntimeError('index 3 is out of bounds')\n", "expected_error"),
])
def test_an_expected_error_is_the_frameworks_not_a_bug_of_ours(where, source, want):
    (case,) = load_text(ERR_CASE, "v.yaml")
    o = _observe(_defined_in(where, source), case)
    assert o.error and o.error_frames[-1].startswith(where + ":"), o
    out = judge(case, None, o, None)
    assert out.verdict == want, out
    if want == "error":
        assert o.error in out.message and f"raised in {where}:f" in out.message and "bug" in out.message


def test_an_attribute_error_from_a_tensors_getattr_is_the_callers():
    """TensorFlow's Tensor and JAX's tracers raise a misspelt attribute's AttributeError in their own
    __getattr__: the frame that asked for the attribute is where it came from."""
    (case,) = load_text(ERR_CASE, "v.yaml")
    make = _defined_in("tflike.tensor", FRAMEWORK_TENSOR)
    ours = _defined_in("adapters.buggy", "def f(labels):\n    return make(labels).lables\n")
    ours.__globals__["make"] = make
    o = _observe(ours, case)
    assert o.error_frames[-2:] == ("adapters.buggy:f", "tflike.tensor:__getattr__")
    out = judge(case, None, o, None)
    assert out.verdict == "error" and "raised in adapters.buggy:f" in out.message, out


def test_a_framework_error_raised_again_from_our_frame_is_still_the_frameworks():
    """TensorFlow's autograph catches an error inside tf.function and raises a copy of the same class whose
    traceback ends in (the rewritten copy of) our own function, the framework's frames filtered out; the
    original, with them, is its __context__. The judge follows it."""
    (case,) = load_text(ERR_CASE, "v.yaml")
    op = _defined_in("tflike.ops", FRAMEWORK_OP)
    traced = _defined_in("adapters.traced", "def f(labels):\n    try:\n        op(labels)\n"
                                            "    except TypeError as e:\n        raise TypeError(f'in user code: {e}') from None\n")
    traced.__globals__["op"] = op
    o = _observe(traced, case)
    assert o.error_frames[-1] == "tflike.ops:f" and "adapters.traced:f" in o.error_frames
    assert judge(case, None, o, None).verdict == "expected_error"
    # a different class raised while handling one is a new error, not a copy: its own frames decide
    wrapped = _defined_in("adapters.traced", "def f(labels):\n    try:\n        op(labels)\n"
                                             "    except TypeError as e:\n        raise AttributeError(e)\n")
    wrapped.__globals__["op"] = op
    o = _observe(wrapped, case)
    assert o.error_frames[-1] == "adapters.traced:f" and judge(case, None, o, None).verdict == "error"


def test_a_case_may_name_the_errors_it_expects():
    (case,) = load_text(ERR_CASE.replace("reason:", "raises: [IndexError, InvalidArgumentError], reason:"), "v.yaml")
    assert case.expect.raises == ("IndexError", "InvalidArgumentError")
    raising = {name: _defined_in("fw.ops", f"class InvalidArgumentError(Exception):\n    pass\n"
                                           f"def f(labels):\n    raise {name}('label 3 is out of range')\n")
               for name in ("IndexError", "InvalidArgumentError", "ValueError")}
    assert judge(case, None, _observe(raising["IndexError"], case), None).verdict == "expected_error"
    assert judge(case, None, _observe(raising["InvalidArgumentError"], case), None).verdict == "expected_error"
    out = judge(case, None, _observe(raising["ValueError"], case), None)
    assert out.verdict == "error" and "raised ValueError, but the case expects IndexError or InvalidArgumentError" in out.message
    # a subclass counts (by any class it derives from), and so does the qualified name it is defined under
    (base,) = load_text(ERR_CASE.replace("reason:", "raises: LookupError, reason:"), "v.yaml")
    assert judge(base, None, _observe(raising["IndexError"], base), None).verdict == "expected_error"
    (qual,) = load_text(ERR_CASE.replace("reason:", "raises: fw.ops.InvalidArgumentError, reason:"), "v.yaml")
    assert judge(qual, None, _observe(raising["InvalidArgumentError"], qual), None).verdict == "expected_error"


@pytest.mark.parametrize("expect, fragment", [
    ("{error: true, raises: []}", "v.expect.raises: expected an exception class name or a list of them"),
    ("{error: true, raises: [1]}", "v.expect.raises: expected an exception class name"),
    ("{error: true, raises: 'not a name'}", "v.expect.raises: expected an exception class name"),
    ("{raises: IndexError}", "v.expect.raises: names the expected error: set error: true"),
])
def test_expect_raises_is_validated(expect, fragment):
    with pytest.raises(CaseFileError, match=re.escape(fragment)):
        load_text(CASE.replace("[2, 0]", "[3, 0]") + f"  expect: {expect}\n", "v.yaml")


# --------------------------------------------------------------------------- the clipped flag

PROBS = """\
- id: p
  family: binary_crossentropy
  description: a certain wrong prediction, a tiny probability on a positive label, and an ordinary one
  probabilities: [[1.0, 1.0e-9, 0.3]]
  labels: [[0.0, 1.0, 1.0]]
"""


def _keras_binary_crossentropy(p: np.ndarray, z: np.ndarray) -> np.ndarray:
    """keras.losses.BinaryCrossentropy(reduction='none') on one row, elementwise, as Keras computes it: the
    inputs converted to the loss's float32 dtype policy, then clipped to [epsilon, 1 - epsilon] there
    (keras.src.backend.numpy.nn.binary_crossentropy, with backend.epsilon() = 1e-7)."""
    p, z = p.astype(np.float32), z.astype(np.float32)
    one, epsilon = np.float32(1), np.float32(1e-7)
    p = np.clip(p, epsilon, one - epsilon)
    return -(z * np.log(p) + (one - z) * np.log(one - p))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_the_clipped_flag_knows_keras_clips_in_float32_whatever_the_input_dtype(dtype):
    """In a float16 or bfloat16 trial the trial-dtype clip is not Keras': 1 - 1e-7 rounds to 1 there (so it
    clips nothing, and p = 1 with label 0 stays infinite), and float16's 1e-7 is 2**-23."""
    from harness.judge.verdicts import clipped
    from harness.oracle import clipped as families

    (case,) = load_text(PROBS, "p.yaml")
    inputs = materialize(Trial(case, dtype))
    ref = oracle.compute(case, inputs, dtype)
    tol = tolerances.for_trial(case, dtype, ref, inputs)
    loss = _keras_binary_crossentropy(inputs.logits, inputs.labels)
    assert np.isinf(ref.loss[0, 0]) and np.isfinite(loss).all()  # the premise: Keras' clip changes the loss
    obs = Observation(dtype=dtype, loss=loss, grad=np.zeros((1, 3), np.float32))
    guards = families.clipped_losses(case, inputs, dtype)
    name = clipped(obs, ref, tol, guards)
    assert name is not None and "in float32" in name, [g[0] for g in guards]
    # the trial-dtype clip alone does not explain it: its 1 - 1e-7 is 1
    assert clipped(obs, ref, tol, [g for g in guards if "float32" not in g[0]]) is None


def test_the_clipped_flag_is_not_set_on_an_exact_answer_judged_against_a_wrong_reference():
    """Where the guard bites nowhere that the observation is off, it explains nothing, even when the
    observation equals the guarded loss there (it equals the true loss wherever the guard does not bite)."""
    from harness.judge.verdicts import clipped
    from harness.oracle import clipped as families

    (case,) = load_text(CONFIDENT, "c.yaml")
    inputs = materialize(Trial(case, "float32"))
    ref = oracle.compute(case, inputs, "float32")
    tol = tolerances.for_trial(case, "float32", ref, inputs)
    guards = families.clipped_losses(case, inputs, "float32")
    exact = Observation(dtype="float32", loss=ref.loss.copy(), grad=ref.grad)
    wrong = oracle.Reference(**{**ref.__dict__, "loss": ref.loss * np.array([1.0, 1.01])})  # row 1: no clip bites
    assert judge(case, wrong, exact, tol).verdict == "loss_mismatch"
    assert clipped(exact, wrong, tol, guards) is None
    # and where the guard does bite (row 0), a clipped observation is flagged as before
    clipped_row0 = Observation(dtype="float32", loss=_clipped_softmax_loss(inputs.logits, inputs.labels), grad=ref.grad)
    assert "clipped" in clipped(clipped_row0, ref, tol, guards)


def test_an_infinity_agrees_with_an_exact_value_beyond_the_dtypes_range():
    """A float32 loss of 6e38 rounds to inf: inf is the correctly rounded answer, and 3e38 (finite in float32) is not."""
    from harness.judge.verdicts import compare

    nothing = lambda r, s, e: np.zeros(e - s)  # noqa: E731
    beyond = float(np.finfo(np.float32).max) * 1.0001
    assert compare(np.array([np.inf], dtype=np.float32), np.array([beyond]), nothing, "float32").n_disagree == 0
    assert compare(np.array([np.inf], dtype=np.float32), np.array([3e38]), nothing, "float32").n_disagree == 1
    assert compare(np.array([-np.inf], dtype=np.float32), np.array([beyond]), nothing, "float32").n_disagree == 1
    assert compare(np.array([np.inf]), np.array([beyond]), nothing, "float64").n_disagree == 1
