"""JAX's part of a reproducer: the arrays, the call chain of each path of adapters/jax_adapter.py, jax.value_and_grad,
under jax.jit unless the path is `@eager`.

The lines mirror the adapter's `_fn` and `evaluate`: x64 on and matmul precision pinned before anything runs,
`total` the sum of the path's output (a building block: its product with the case's cotangent) with the output as
aux, value_and_grad of it, jitted for every mode but eager, on arrays put on the row's device.
"""

from __future__ import annotations

from collections.abc import Callable

from adapters.repro import ctc_script, hinge_script, naive_script
from adapters.repro.target import Code, Target, classes, device_index, indent, python, unknown_path
from harness.schema import Case

Lines = list[str]

REDUCE = {"none": "{v}", "sum": "jnp.sum({v})", "mean": "jnp.mean({v})"}
OPS = naive_script.OpsText(
    softmax="jax.nn.softmax({x}, axis={a})", log="jnp.log({x})", clip="jnp.clip({x}, {lo}, {hi})",
    one_hot="jax.nn.one_hot({y}, {n}, dtype={like}.dtype)", sum_classes="jnp.sum({v}, axis={a})", reduce=REDUCE,
    exp="jnp.exp({x})", sum_keep="jnp.sum({v}, axis={a}, keepdims=True)",
)


def _reduced(case: Case, expr: str) -> Lines:
    return [f"out = {expr}", *naive_script.reduced(OPS, case)]


def _optax_integer(case: Case, x: str) -> Lines:
    return _reduced(case, f"optax.softmax_cross_entropy_with_integer_labels({x}, labels, axis={case.params.axis})")


def _smoothed(case: Case, x: str) -> Lines:
    """Label smoothing as optax users write it: smooth_labels on (one-hot) targets, then the dense loss."""
    e, axis = python(case.params.label_smoothing), case.params.axis
    head = [f"targets = jax.nn.one_hot(labels, {classes(case)}, dtype={x}.dtype, axis={axis})"] if case.sparse else []
    t = "targets" if case.sparse else "labels"
    return [*head, *_reduced(
        case, f"optax.softmax_cross_entropy({x}, optax.smooth_labels({t}, {e}, axis={axis}), axis={axis})")]


def _log_softmax_gather(case: Case, x: str) -> Lines:
    a = case.params.axis
    return [f"logp = jax.nn.log_softmax({x}, axis={a})",
            f"picked = jnp.take_along_axis(logp, jnp.expand_dims(labels, {a}), axis={a})",
            *_reduced(case, f"-jnp.squeeze(picked, {a})")]


def _focal(case: Case, x: str) -> Lines:
    p = case.params
    return _reduced(case, f"optax.sigmoid_focal_loss({x}, labels, alpha={python(p.alpha)}, gamma={python(p.gamma)})")


def _block(fn: str) -> Callable[[Case, str], Lines]:
    return lambda case, x: [f"out = {fn}({x}, axis={case.params.axis})"]


def _signed(case: Case) -> str:
    return "2 * labels - 1" if case.params.label_convention == "01" else "labels"


def _hinge(squared: bool) -> Callable[[Case, str], Lines]:
    """adapters/jax_hinge.py: labels -1/1 (2 y - 1 for 0/1 labels) into optax.hinge_loss, squared by hand."""
    def lines(case: Case, x: str) -> Lines:
        y = "2 * labels - 1" if case.params.label_convention == "01" else "labels"
        expr = f"optax.hinge_loss({x}, {y})"
        return _reduced(case, f"jnp.square({expr})" if squared else expr)
    return lines


CALLS: dict[str, Callable[[Case, str], Lines]] = {
    "optax.softmax_cross_entropy":
        lambda case, x: _reduced(case, f"optax.softmax_cross_entropy({x}, labels, axis={case.params.axis})"),
    "optax.softmax_cross_entropy_with_integer_labels": _optax_integer,
    "optax.safe_softmax_cross_entropy": lambda case, x: _reduced(case, f"optax.safe_softmax_cross_entropy({x}, labels)"),
    "optax.smooth_labels+optax.softmax_cross_entropy": _smoothed,
    "jax.nn.log_softmax+take_along_axis": _log_softmax_gather,
    "optax.sigmoid_binary_cross_entropy": lambda case, x: _reduced(case, f"optax.sigmoid_binary_cross_entropy({x}, labels)"),
    "naive:clip(logits)+optax.softmax_cross_entropy_with_integer_labels": naive_script.clipped_logits(_optax_integer, OPS),
    "optax.sigmoid_focal_loss": _focal,
    "optax.losses.poly_loss_cross_entropy": lambda case, x: _reduced(
        case, f"optax.losses.poly_loss_cross_entropy({x}, labels, epsilon={python(case.params.epsilon)}, axis={case.params.axis})"),
    # adapters/jax_single.py: the losses only optax ships
    "optax.losses.perceptron_loss": lambda case, x: _reduced(case, f"optax.losses.perceptron_loss({x}, {_signed(case)})"),
    "optax.losses.multiclass_perceptron_loss": lambda case, x: _reduced(
        case, f"optax.losses.multiclass_perceptron_loss({x}, labels)"),
    "optax.losses.sparsemax_loss": lambda case, x: _reduced(case, f"optax.losses.sparsemax_loss({x}, labels)"),
    "optax.losses.multiclass_sparsemax_loss": lambda case, x: _reduced(
        case, f"optax.losses.multiclass_sparsemax_loss({x}, labels)"),
    "jax.nn.log_softmax": _block("jax.nn.log_softmax"),
    "jax.nn.softmax": _block("jax.nn.softmax"),
    "jax.nn.logsumexp": _block("jax.nn.logsumexp"),
    "optax.hinge_loss": _hinge(False),
    "manual:jnp.square(optax.hinge_loss)": _hinge(True),
    **naive_script.calls(OPS),
    "optax.losses.multiclass_hinge_loss": hinge_script.optax_hinge(OPS),
    **hinge_script.manual_calls(hinge_script.HingeText(OPS, "jnp.max({v}, axis=-1)", "jnp.maximum({v}, 0)")),
    # adapters/jax_logprob.py
    "optax.kl_divergence": lambda case, x: _reduced(case, f"optax.kl_divergence({x}, labels, axis={case.params.axis})"),
    "optax.losses.kl_divergence_with_log_targets": lambda case, x: _reduced(
        case, f"optax.losses.kl_divergence_with_log_targets({x}, labels, axis={case.params.axis})"),
    "manual:-take_along_axis(log_probabilities)": lambda case, x: [
        f"picked = jnp.take_along_axis({x}, jnp.expand_dims(labels, {case.params.axis}), axis={case.params.axis})",
        *_reduced(case, f"-jnp.squeeze(picked, {case.params.axis})")],
    **ctc_script.JAX,
}


def array(name: str, dtype: str | None) -> str:
    """The numpy input in the trial dtype (bfloat16 as JAX's numpy type); None: as is (class indices)."""
    return f"{name}_np.astype(jnp.bfloat16)" if dtype == "bfloat16" else f"{name}_np"


def device(t: Target) -> str:
    return "jax.devices('cpu')[0]" if t.device == "cpu" else f"jax.devices('gpu')[{device_index(t.device)}]"


def precision(t: Target) -> Lines:
    """jax_adapter: x64 on (float64 trials, int64 labels); float32 matmuls at 'highest' when pinned."""
    f = t.flags
    lines = ["jax.config.update('jax_enable_x64', True)"]
    matmul = f.get("jax_default_matmul_precision", "highest" if t.mode_name == "pinned" else "None")
    if matmul not in ("None", ""):
        lines.append(f"jax.config.update('jax_default_matmul_precision', {matmul!r})")
    return lines


def call_lines(t: Target, x: str) -> Lines:
    if t.path not in CALLS:
        raise unknown_path(t)
    return CALLS[t.path](t.case, x)


def code(t: Target) -> Code:
    case, x = t.case, t.case.input_kind
    body = [f"def total({x}, labels):",
            *indent(call_lines(t, x)),
            "    return " + ("jnp.sum(out * labels)" if case.block else "jnp.sum(out)") + ", out",
            "",
            f"def run({x}, labels):",
            f"    (_, out), grad = jax.value_and_grad(total, has_aux=True)({x}, labels)",
            "    return out, grad",
            ""]
    if t.mode != "eager":
        body += ["run = jax.jit(run)", ""]
    body += [f"device = {device(t)}",
             f"out, grad = run(jax.device_put({array(x, t.dtype)}, device), "
             f"jax.device_put({array('labels', None if case.integer_labels else t.dtype)}, device))",
             "return np.asarray(out).astype(np.float64), np.asarray(grad).astype(np.float64)"]
    return Code(prelude=prelude(t), body=body, requires="jax and optax",
                version='f"{jax.__version__} (optax {optax.__version__})"')


def prelude(t: Target) -> Lines:
    return ["os.environ.setdefault('XLA_PYTHON_CLIENT_PREALLOCATE', 'false')", "",
            "import jax", "", *precision(t), "", "import jax.numpy as jnp", "import numpy as np", "import optax"]


# --------------------------------------------------------------------------- derivative orders (adapters/jax_orders.py)

ORDER_METHODS = {"jvp": ("fwd", "linearize"), "hvp": ("fwd-rev", "rev-rev"), "label_grad": ("rev",), "mixed": ("rev-rev",)}
RUNS = {  # jax_orders.build: the body of run(x, labels, v) -> (loss, the order's value)
    ("jvp", "fwd"): ["return jax.jvp(lambda {x}: loss({x}, labels), ({x},), (v,))"],
    ("jvp", "linearize"): ["out, lin = jax.linearize(lambda {x}: loss({x}, labels), {x})", "return out, lin(v)"],
    ("hvp", "fwd-rev"): ["return loss({x}, labels), jax.jvp(jax.grad(lambda {x}: total({x}, labels)), ({x},), (v,))[1]"],
    ("hvp", "rev-rev"): ["return loss({x}, labels), jax.grad(lambda {x}: jnp.vdot(jax.grad(total)({x}, labels), v))({x})"],
    ("label_grad", "rev"): ["return loss({x}, labels), jax.grad(total, argnums=1)({x}, labels)"],
    ("mixed", "rev-rev"): ["return loss({x}, labels), jax.grad(lambda labels: jnp.vdot(jax.grad(total)({x}, labels), v))(labels)"],
}


def order_methods(framework: str) -> dict[str, tuple[str, ...]]:
    return ORDER_METHODS


def order_code(t: Target) -> Code:
    """The path's call as a function of (input, labels), its sum, and the order's composition in one function, under
    jax.jit unless the path is an `@eager` variant, on the row's device."""
    case, x = t.case, t.case.input_kind
    order, _, method = t.order.partition(":")
    body = [f"def loss({x}, labels):", *indent(call_lines(t, x)), "    return out", "",
            f"def total({x}, labels):", f"    return jnp.sum(loss({x}, labels))", "",
            f"def run({x}, labels, v):", *indent([line.format(x=x) for line in RUNS[order, method]]), ""]
    if t.mode != "eager":
        body += ["run = jax.jit(run)", ""]
    body += [f"device = {device(t)}",
             f"out, value = run(jax.device_put({array(x, t.dtype)}, device),",
             f"                 jax.device_put({array('labels', None if case.integer_labels else t.dtype)}, device),",
             f"                 jax.device_put({array('v', t.dtype)}, device))",
             "return np.asarray(out).astype(np.float64), np.asarray(value).astype(np.float64)"]
    return Code(prelude=prelude(t), body=body, requires="jax and optax",
                version='f"{jax.__version__} (optax {optax.__version__})"')
