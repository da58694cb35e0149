"""Keras 3's part of a reproducer: KERAS_BACKEND set before Keras is imported, the backend's tensors and autodiff
(adapters/keras_adapter.py), and the Keras call of each path of adapters/keras_paths.py.

The loss class and its constructor arguments come from keras_paths' own table (`LOSSES`, `loss_kwargs`), so a
script calls the class the run called with the arguments it passed. The backend's part mirrors its adapter:
tensors made and the loss computed inside `keras.device(...)`; tf.GradientTape, jax.value_and_grad run eagerly,
torch.autograd.grad; none on NumPy, whose rows hold the loss only.
"""

from __future__ import annotations

from adapters.keras_hinge import CLASSES as HINGE_CLASSES
from adapters.keras_hinge import REDUCTION as HINGE_REDUCTION
from adapters.keras_paths import KERAS_REDUCTION, LOSSES, loss_kwargs
from adapters.repro import ctc_script, hinge_script, jax_script, tensorflow_script, torch_script
from adapters.repro.target import Code, NoScript, Target, device_index, indent, python, unknown_path
from harness.schema import Case

Lines = list[str]
BACKENDS = ("tensorflow", "jax", "torch", "numpy")


def _loss_class(case: Case, x: str, from_logits: bool) -> Lines:
    entry = LOSSES[case.family]
    kw = loss_kwargs(entry, case.params, from_logits)
    args = ", ".join(f"{k}={python(v)}" for k, v in kw.items())
    lines = [f"loss_fn = keras.losses.{entry.cls}({args})"]
    if from_logits or entry.activation is None:
        y_pred = x
    elif entry.activation == "softmax":
        lines.append(f"y_pred = keras.ops.softmax({x}, axis={case.params.axis})")
        y_pred = "y_pred"
    else:
        lines.append(f"y_pred = keras.ops.{entry.activation}({x})")
        y_pred = "y_pred"
    sw = ", sample_weight=sample_weights" if case.params.sample_weights is not None else ""
    return [*lines, f"out = loss_fn(labels, {y_pred}{sw})"]


def _ops_loss(name: str, axis: bool):
    def lines(case: Case, x: str) -> Lines:
        kw = "from_logits=False" + (f", axis={case.params.axis}" if axis else "")
        red = case.params.reduction
        return [f"out = keras.ops.{name}(labels, {x}, {kw})"] + ([] if red == "none" else [f"out = keras.ops.{red}(out)"])
    return lines


def _hinge_class(case: Case, x: str) -> Lines:
    """adapters/keras_hinge.py: the class with the reduction only, on the scores."""
    cls, red = HINGE_CLASSES[case.family], HINGE_REDUCTION[case.params.reduction]
    sw = ", sample_weight=sample_weights" if case.params.sample_weights is not None else ""
    return [f"loss_fn = keras.losses.{cls}(reduction={red!r})", f"out = loss_fn(labels, {x}{sw})"]


def _ops_reduced(case: Case, lines: Lines) -> Lines:
    red = case.params.reduction
    return lines + ([] if red == "none" else [f"out = keras.ops.{red}(out)"])


CALLS = {
    "keras.losses.Hinge": _hinge_class,
    "keras.losses.SquaredHinge": _hinge_class,
    "keras.ops.categorical_crossentropy": _ops_loss("categorical_crossentropy", True),
    "keras.ops.binary_crossentropy": _ops_loss("binary_crossentropy", False),
    "keras.losses(from_logits=True)": lambda case, x: _loss_class(case, x, True),
    "keras.losses(from_logits=False)": lambda case, x: _loss_class(case, x, False),
    **hinge_script.KERAS_CALLS,
    # adapters/keras_logprob.py: Keras' KL on the probabilities keras.ops.exp(log_probabilities)
    "keras.losses.KLDivergence": lambda case, x: [
        f"loss_fn = keras.losses.KLDivergence(reduction={python(KERAS_REDUCTION[case.params.reduction])})",
        f"out = loss_fn(labels, keras.ops.exp({x})"
        + (", sample_weight=sample_weights)" if case.params.sample_weights is not None else ")")],
    "keras.losses.kl_divergence": lambda case, x: _ops_reduced(
        case, [f"out = keras.losses.kl_divergence(labels, keras.ops.exp({x}))"]),
    "manual:-take_along_axis(log_probabilities)": lambda case, x: _ops_reduced(case, [
        f"picked = keras.ops.take_along_axis({x}, keras.ops.expand_dims(labels, -1), axis=-1)",
        "out = -keras.ops.squeeze(picked, -1)"]),
    **ctc_script.KERAS,
}


def _tensors(backend: str, t: Target, x: str) -> Lines:
    """Each backend adapter's `_tensor`: the first input and the weights in the trial dtype, the labels too unless they
    are class indices (int64 on TensorFlow, JAX and NumPy; their own dtype on torch)."""
    case = t.case
    names = [(x, t.dtype), ("labels", None if case.integer_labels else t.dtype)]
    if case.params.sample_weights is not None:
        names.append(("sample_weights", t.dtype))
    if t.order:  # a derivative order's direction, in the trial dtype
        names.append(("v", t.dtype))
    out = []
    for name, dtype in names:
        if backend == "torch":
            expr = torch_script.tensor(name, dtype, t.device)
        elif backend == "tensorflow":
            expr = tensorflow_script.constant(name, dtype) if dtype else f"tf.constant({name}_np.astype(np.int64))"
        elif backend == "jax":
            expr = f"jax.device_put({jax_script.array(name, dtype) if dtype else f'{name}_np.astype(np.int64)'}, device)"
        else:
            expr = (f"{name}_np.astype('bfloat16')" if dtype == "bfloat16" else
                    f"np.asarray({name}_np, dtype=np.{dtype or 'int64'})")
        out.append(f"{name} = {expr}")
    return out


def _autodiff(backend: str, x: str, call: Lines) -> tuple[Lines, str]:
    """The lines under keras.device() after the tensors, and the conversion of (out, grad) to numpy."""
    if backend == "tensorflow":
        return (["with tf.GradientTape() as tape:", f"    tape.watch({x})", *indent(call),
                 f"grad = tape.gradient(out, {x})"],
                f"grad = tf.zeros_like({x}) if grad is None else grad\n"
                "return out.numpy().astype(np.float64), grad.numpy().astype(np.float64)")
    if backend == "jax":
        return ([f"def total({x}):", *indent(call), "    return jnp.sum(out), out", "",
                 f"(_, out), grad = jax.value_and_grad(total, has_aux=True)({x})"],
                "return np.asarray(out).astype(np.float64), np.asarray(grad).astype(np.float64)")
    if backend == "torch":
        return ([f"{x}.requires_grad_(True)", *call, "grad = None", "if out.requires_grad:",
                 f"    (grad,) = torch.autograd.grad(out, {x}, grad_outputs=torch.ones_like(out), allow_unused=True)"],
                f"grad = torch.zeros_like({x}) if grad is None else grad\n"
                "return out.detach().cpu().double().numpy(), grad.detach().cpu().double().numpy()")
    return ([*call, "# the NumPy backend has no autodiff: the loss only"], "return np.asarray(out).astype(np.float64), None")


def _prelude(backend: str, t: Target) -> Lines:
    env = [f"os.environ['KERAS_BACKEND'] = {backend!r}"]
    f = t.flags
    settings = [f"keras.config.set_floatx({f['keras_floatx']!r})"] if "keras_floatx" in f else []
    if "keras_epsilon" in f:
        settings.append(f"keras.config.set_epsilon({python(float(f['keras_epsilon']))})")
    if backend == "jax":
        return [*env, "os.environ.setdefault('XLA_PYTHON_CLIENT_PREALLOCATE', 'false')", "", "import jax", "",
                *jax_script.precision(t), "", "import jax.numpy as jnp", "import keras", "import numpy as np", "", *settings]
    if backend == "tensorflow":
        return [*env, "", "import keras", "import numpy as np", "import tensorflow as tf", "", *settings,
                *tensorflow_script.precision(t)]
    if backend == "torch":
        return [*env, "", "import keras", "import numpy as np", "import torch", "", *settings, *torch_script.precision(t)]
    return [*env, "", "import keras", "import numpy as np", "", *settings]


def _backend(t: Target) -> str:
    backend = t.framework.removeprefix("keras-")
    if backend not in BACKENDS:
        raise NoScript(f"no Keras backend {backend!r} (known: {', '.join(BACKENDS)})")
    if t.path not in CALLS:
        raise unknown_path(t)
    return backend


def code(t: Target) -> Code:
    backend, x = _backend(t), t.case.input_kind
    under, tail = (_order(backend, t, x) if t.order else _autodiff(backend, x, CALLS[t.path](t.case, x)))
    head = [f"device = {jax_script.device(t)}"] if backend == "jax" else []
    kdev = "cpu:0" if t.device == "cpu" else f"gpu:{device_index(t.device)}"
    body = [*head, f"with keras.device({kdev!r}):", *indent([*_tensors(backend, t, x), *under]),
            *tail.split("\n")]
    module = {"tensorflow": "tf", "jax": "jax", "torch": "torch", "numpy": "np"}[backend]
    return Code(prelude=_prelude(backend, t), body=body, requires=f"keras and {backend}" if backend != "numpy" else "keras",
                version=f'f"{{keras.__version__}} ({backend} {{{module}.__version__}})"')


# --------------------------------------------------------------------------- derivative orders (adapters/keras_orders.py)

ORDER_METHODS = {  # through each backend's own autodiff; none on NumPy
    "tensorflow": tensorflow_script.ORDER_METHODS, "torch": torch_script.ORDER_METHODS,
    "jax": {"jvp": ("fwd",), "hvp": ("rev-rev", "fwd-rev"), "label_grad": ("rev",), "mixed": ("rev-rev",)},
}


def order_methods(framework: str) -> dict[str, tuple[str, ...]]:
    return ORDER_METHODS.get(framework.removeprefix("keras-"), {})


def _jax_order(order: str, method: str, x: str) -> Lines:
    """keras_orders.on_jax: JAX's transformations, eagerly."""
    if order == "jvp":
        return [f"out, value = jax.jvp(loss, ({x},), (v,))"]
    head = [f"def total({x}, labels=labels):", f"    return jnp.sum(loss({x}, labels))", "", f"out = loss({x})"]
    if order == "label_grad":
        return [*head, f"value = jax.grad(total, argnums=1)({x}, labels)"]
    if order == "hvp" and method == "fwd-rev":
        return [*head, f"_, value = jax.jvp(jax.grad(total), ({x},), (v,))"]
    argnums = 1 if order == "mixed" else 0
    return [*head, f"value = jax.grad(lambda lx, ly: jnp.vdot(jax.grad(total)(lx, ly), v), argnums={argnums})({x}, labels)"]


def _order(backend: str, t: Target, x: str) -> tuple[Lines, str]:
    """The path's Keras call as a function of the first input (labels and sample weights held), then the order as
    the backend's autodiff computes it (adapters/keras_orders.py), and the conversion of (out, value) to numpy."""
    order, _, method = t.order.partition(":")
    loss = ["", f"def loss({x}, labels=labels):", *indent(CALLS[t.path](t.case, x)), "    return out", ""]
    if backend == "tensorflow":
        return ([*tensorflow_script.NO_GRADIENT, *loss, *tensorflow_script.order_lines(order, method, x)],
                "\n".join([*tensorflow_script.no_value(t),
                           "return out.numpy().astype(np.float64), value.numpy().astype(np.float64)"]))
    if backend == "torch":
        return ([*loss, *torch_script.order_lines(order, method, x)],
                "return out.detach().cpu().double().numpy(), value.detach().cpu().double().numpy()")
    return ([*loss, *_jax_order(order, method, x)],
            "return np.asarray(out).astype(np.float64), np.asarray(value).astype(np.float64)")


def order_code(t: Target) -> Code:
    return code(t)
