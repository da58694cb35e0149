"""TensorFlow's part of a reproducer: the constants, the call chain of each path of adapters/tensorflow_adapter.py,
GradientTape, and the tf.function / XLA wrapping of the `@tf.function` and `@xla` paths.

The lines mirror the adapter's `_step` and `evaluate`: a step function computing the path under a GradientTape and
its gradient (a building block's with the case's cotangent as output_gradients), wrapped in tf.function (with
jit_compile=True for XLA) for the compiled modes, called on constants made on the row's device.
"""

from __future__ import annotations

from collections.abc import Callable

from adapters.repro import ctc_script, hinge_script, naive_script
from adapters.repro.target import Code, Target, device_index, indent, python, unknown_path
from harness.schema import Case

Lines = list[str]

REDUCE = {"none": "{v}", "sum": "tf.reduce_sum({v})", "mean": "tf.reduce_mean({v})"}
OPS = naive_script.OpsText(
    softmax="tf.nn.softmax({x}, axis={a})", log="tf.math.log({x})", clip="tf.clip_by_value({x}, {lo}, {hi})",
    one_hot="tf.one_hot({y}, {n}, dtype={like}.dtype)", sum_classes="tf.reduce_sum({v}, axis={a})", reduce=REDUCE,
    exp="tf.math.exp({x})", sum_keep="tf.reduce_sum({v}, axis={a}, keepdims=True)",
)


def _reduced(case: Case, expr: str) -> Lines:
    return [f"out = {expr}", *naive_script.reduced(OPS, case)]


def _softmax_xent(case: Case, x: str) -> Lines:
    return _reduced(case, f"tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits={x}, axis={case.params.axis})")


def _sparse_softmax_xent(case: Case, x: str) -> Lines:
    return _reduced(case, f"tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits={x})")


def _weighted(case: Case, x: str) -> Lines:
    pw = case.params.pos_weight if case.params.pos_weight is not None else 1.0
    return [f"q = tf.constant({python(pw)}, dtype={x}.dtype)",
            *_reduced(case, f"tf.nn.weighted_cross_entropy_with_logits(labels=labels, logits={x}, pos_weight=q)")]


def _block(fn: str) -> Callable[[Case, str], Lines]:
    return lambda case, x: [f"out = {fn}({x}, axis={case.params.axis})"]


def _v1_hinge(case: Case, x: str) -> Lines:
    """adapters/tensorflow_hinge.py: class weights times each row's sample weight as weights=; mean is the default
    reduction (SUM_BY_NONZERO_WEIGHTS), the others named."""
    p = case.params
    lines, w = [], "1.0"
    nd = len(case.predictions.shape)
    if p.class_weights is not None:
        row = ", ".join(["1"] * (nd - 1) + ["-1"])
        lines.append(f"class_weights = tf.reshape(tf.constant({python(list(p.class_weights))}, dtype={x}.dtype), ({row},))")
        w = "class_weights"
    if p.sample_weights is not None:
        shape = ", ".join(["-1"] + ["1"] * (nd - 1))
        other = "class_weights" if p.class_weights is not None else f"tf.ones_like({x})"
        lines.append(f"weights = tf.reshape(sample_weights, ({shape},)) * {other}")
        w = "weights"
    red = {"none": "NONE", "sum": "SUM", "weighted_mean": "MEAN"}.get(p.reduction)
    kw = f", reduction=tf.compat.v1.losses.Reduction.{red}" if red else ""
    return [*lines, f"out = tf.compat.v1.losses.hinge_loss(labels, {x}, weights={w}{kw})"]


CALLS: dict[str, Callable[[Case, str], Lines]] = {
    "tf.nn.softmax_cross_entropy_with_logits": _softmax_xent,
    "tf.nn.sparse_softmax_cross_entropy_with_logits": _sparse_softmax_xent,
    "naive:clip(logits)+tf.nn.sparse_softmax_cross_entropy_with_logits": naive_script.clipped_logits(_sparse_softmax_xent, OPS),
    "tf.nn.sigmoid_cross_entropy_with_logits":
        lambda case, x: _reduced(case, f"tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits={x})"),
    "tf.nn.weighted_cross_entropy_with_logits": _weighted,
    "tf.nn.log_softmax": _block("tf.nn.log_softmax"),
    "tf.nn.softmax": _block("tf.nn.softmax"),
    "tf.reduce_logsumexp": _block("tf.reduce_logsumexp"),
    "tf.compat.v1.losses.hinge_loss": _v1_hinge,
    **naive_script.calls(OPS),
    **hinge_script.manual_calls(hinge_script.HingeText(OPS, "tf.reduce_max({v}, axis=-1)", "tf.maximum({v}, 0.0)")),
    "manual:poly1(tf.nn.softmax_cross_entropy_with_logits)": lambda case, x: [  # adapters/tensorflow_single.py
        f"pt = tf.reduce_sum(labels * tf.nn.softmax({x}), axis=-1)",
        f"ce = tf.nn.softmax_cross_entropy_with_logits(labels, {x})",
        f"out = ce + {python(case.params.epsilon)} * (1 - pt)", *naive_script.reduced(OPS, case)],
    # adapters/tensorflow_logprob.py: the labels' every axis is a batch axis of the gather
    "manual:-tf.gather(log_probabilities)": lambda case, x: _reduced(
        case, f"-tf.gather({x}, labels, axis=-1, batch_dims={len(case.predictions.shape) - 1})"),
    **ctc_script.TENSORFLOW,
}

_DTYPES = {"float64": "tf.float64", "float32": "tf.float32", "float16": "tf.float16", "bfloat16": "tf.bfloat16"}


def constant(name: str, dtype: str | None) -> str:
    """tensorflow_adapter._const: a constant in the trial dtype (bfloat16 as TensorFlow's numpy type); None: as is."""
    if dtype is None:
        return f"tf.constant({name}_np)"
    if dtype == "bfloat16":
        return f"tf.constant({name}_np.astype(tf.bfloat16.as_numpy_dtype), dtype=tf.bfloat16)"
    return f"tf.constant({name}_np, dtype={_DTYPES[dtype]})"


def device_name(device: str) -> str:
    return "/CPU:0" if device == "cpu" else f"/GPU:{device_index(device)}"


def precision(t: Target) -> Lines:
    """TF32 off when pinned, op determinism as recorded (tensorflow_adapter), memory growth on a GPU."""
    f = t.flags
    if t.mode_name == "pinned":
        f = {"tensor_float_32_execution": "False", **f}
    lines = []
    if f.get("tensor_float_32_execution") in ("True", "False"):
        lines.append(f"tf.config.experimental.enable_tensor_float_32_execution({f['tensor_float_32_execution']})")
    if f.get("op_determinism") == "True":
        lines.append("tf.config.experimental.enable_op_determinism()")
    if t.device != "cpu":
        lines += ["for gpu in tf.config.list_physical_devices('GPU'):",
                  "    tf.config.experimental.set_memory_growth(gpu, True)"]
    return lines


def call_lines(t: Target, x: str) -> Lines:
    if t.path not in CALLS:
        raise unknown_path(t)
    return CALLS[t.path](t.case, x)


def code(t: Target) -> Code:
    case, x = t.case, t.case.input_kind
    grad = f"tape.gradient(out, {x}, output_gradients=labels)" if case.block else f"tape.gradient(out, {x})"
    body = [f"def step({x}, labels):",
            "    with tf.GradientTape() as tape:",
            f"        tape.watch({x})",
            *indent(call_lines(t, x), 8),
            f"    return out, {grad}",
            ""]
    body += mode_lines(t)
    body += [f"with tf.device({device_name(t.device)!r}):",
             f"    {x} = {constant(x, t.dtype)}",
             f"    labels = {constant('labels', None if case.sparse else t.dtype)}",
             *([f"    sample_weights = {constant('sample_weights', t.dtype)}"] if case.params.sample_weights is not None else []),
             f"    labels = {constant('labels', None if case.integer_labels else t.dtype)}",
             f"    out, grad = step({x}, labels)",
             f"grad = tf.zeros_like({x}) if grad is None else grad",
             "return out.numpy().astype(np.float64), grad.numpy().astype(np.float64)"]
    return Code(prelude=prelude(t), body=body, requires="tensorflow", version="tf.__version__")


def mode_lines(t: Target) -> Lines:
    """`step` wrapped as the path's mode runs it (eager: as it is)."""
    wrap = {"tf.function": "tf.function(step)", "xla": "tf.function(step, jit_compile=True)"}.get(t.mode)
    return [f"step = {wrap}", ""] if wrap else []


def prelude(t: Target) -> Lines:
    return ["os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')", "", "import numpy as np", "import tensorflow as tf", "",
            *precision(t)]


# --------------------------------------------------------------------------- derivative orders (adapters/tensorflow_orders.py)

ORDER_METHODS = {"jvp": ("fwd",), "hvp": ("rev-rev", "fwd-rev"), "label_grad": ("rev",), "mixed": ("rev-rev",)}
ZERO = "unconnected_gradients=tf.UnconnectedGradients.ZERO"  # as adapters/tensorflow_orders.py asks
NO_GRADIENT = ["class NoGradient(Exception):",
               '    """TensorFlow found no connection (the value is None): the harness\'s row is this error."""', ""]


def order_methods(framework: str) -> dict[str, tuple[str, ...]]:
    return ORDER_METHODS


def order_lines(order: str, method: str, x: str) -> Lines:
    """tensorflow_orders.compute: the order of `loss` at ({x}, labels) along v, as `out` (the loss) and `value`
    (None where TensorFlow finds no connection)."""
    if order == "jvp":
        return [f"with tf.autodiff.ForwardAccumulator(primals={x}, tangents=v) as acc:", f"    out = loss({x}, labels)",
                f"value = acc.jvp(out, {ZERO})"]
    if order == "hvp" and method == "fwd-rev":
        return [f"with tf.autodiff.ForwardAccumulator(primals={x}, tangents=v) as acc:",
                "    with tf.GradientTape() as tape:", f"        tape.watch({x})", f"        out = loss({x}, labels)",
                f"    grad = tape.gradient(out, {x})", f"value = acc.jvp(grad, {ZERO})"]
    if order == "label_grad":
        return ["with tf.GradientTape() as tape:", "    tape.watch(labels)", f"    out = loss({x}, labels)",
                f"value = tape.gradient(out, labels, {ZERO})"]
    wrt = "labels" if order == "mixed" else x  # hvp and mixed: nested tapes, the outer on the input or the labels
    return ["with tf.GradientTape() as outer:", f"    outer.watch({wrt})", "    with tf.GradientTape() as inner:",
            f"        inner.watch({x})", f"        out = loss({x}, labels)", f"    grad = inner.gradient(out, {x})",
            f"value = None if grad is None else outer.gradient(grad, {wrt}, output_gradients=v, {ZERO})"]


def no_value(t: Target) -> Lines:
    """adapters/api.py run_order: a value of None is the row's error NoGradient."""
    order = t.order.partition(":")[0]
    wrt = "labels" if order in ("label_grad", "mixed") else "input"
    message = f"{t.api} returned no {order} (the framework's autodiff found no dependence on the {wrt})"
    return ["if value is None:", f"    raise NoGradient({message!r})"]


def order_code(t: Target) -> Code:
    """The adapter's `_order_step`: the path's call as a function of (input, labels) inside a step that computes the
    order, wrapped as the path's mode runs it, called on constants on the row's device."""
    case, x = t.case, t.case.input_kind
    order, _, method = t.order.partition(":")
    sw = ", sample_weights" if case.params.sample_weights is not None else ""
    body = [*NO_GRADIENT, f"def step({x}, labels{sw}, v):", f"    def loss({x}, labels):", *indent(call_lines(t, x), 8),
            "        return out", "", *indent(order_lines(order, method, x)), "    return out, value", ""]
    body += mode_lines(t)
    body += [f"with tf.device({device_name(t.device)!r}):",
             f"    {x} = {constant(x, t.dtype)}",
             f"    labels = {constant('labels', None if case.integer_labels else t.dtype)}",
             *([f"    sample_weights = {constant('sample_weights', t.dtype)}"] if sw else []),
             f"    v = {constant('v', t.dtype)}",
             f"    out, value = step({x}, labels{sw}, v)",
             *no_value(t),
             "return out.numpy().astype(np.float64), value.numpy().astype(np.float64)"]
    return Code(prelude=prelude(t), body=body, requires="tensorflow", version="tf.__version__")
