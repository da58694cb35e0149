"""JAX adapter: optax losses under jax.jit, jax.grad gradients, CPU and GPU."""

from __future__ import annotations

import os

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax  # noqa: E402

from harness.core import precision  # noqa: E402

jax.config.update("jax_enable_x64", True)  # float64 trials; int64 labels
if precision.pinned():  # full float32 matmuls (no TF32), unless the run is "as deployed"
    jax.config.update("jax_default_matmul_precision", "highest")

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from adapters import (  # noqa: E402
    builders,
    jax_ctc,
    jax_hinge,
    jax_logprob,
    jax_multiclass_hinge,
    jax_orders,
    jax_single,
    naive,
)
from adapters.api import Adapter, ApiPath, Call  # noqa: E402
from harness.core.dtypes import np_dtype  # noqa: E402


def _reduce(loss, c: Call):
    red = c.params.reduction
    return OPS.reduce(loss, red), OPS.reduce_names[red]


def _optax_softmax(c: Call):
    axis = c.params.axis
    out, red = _reduce(optax.softmax_cross_entropy(c.logits, c.labels, axis=axis), c)
    return out, f"optax.softmax_cross_entropy(axis={axis}){red}"


def _optax_safe_softmax(c: Call):
    out, red = _reduce(optax.safe_softmax_cross_entropy(c.logits, c.labels), c)
    return out, f"optax.safe_softmax_cross_entropy{red}"


def _optax_integer(c: Call):
    axis = c.params.axis
    out, red = _reduce(optax.softmax_cross_entropy_with_integer_labels(c.logits, c.labels, axis=axis), c)
    return out, f"optax.softmax_cross_entropy_with_integer_labels(axis={axis}){red}"


def _smoothed(c: Call):
    """Label smoothing as optax users write it: smooth_labels on (one-hot) targets, then the dense loss."""
    e, axis = c.params.label_smoothing, c.params.axis
    if c.case.sparse:
        t, tname = jax.nn.one_hot(c.labels, c.logits.shape[axis], dtype=c.logits.dtype, axis=axis), "jax.nn.one_hot(labels)"
    else:
        t, tname = c.labels, "labels"
    out, red = _reduce(optax.softmax_cross_entropy(c.logits, optax.smooth_labels(t, e, axis=axis), axis=axis), c)
    return out, f"optax.softmax_cross_entropy(optax.smooth_labels({tname}, {e}, axis={axis}), axis={axis}){red}"


def _log_softmax_gather(c: Call):
    axis = c.params.axis
    logp = jax.nn.log_softmax(c.logits, axis=axis)
    picked = jnp.take_along_axis(logp, jnp.expand_dims(c.labels, axis), axis=axis)
    out, red = _reduce(-jnp.squeeze(picked, axis), c)
    return out, f"-jnp.take_along_axis(jax.nn.log_softmax(axis={axis}), labels){red}"


def _optax_sigmoid(c: Call):
    out, red = _reduce(optax.sigmoid_binary_cross_entropy(c.logits, c.labels), c)
    return out, f"optax.sigmoid_binary_cross_entropy{red}"


def _last_axis(case, dtype):
    nd = len(case.predictions.shape)
    return None if case.params.axis % nd == nd - 1 else "optax.safe_softmax_cross_entropy has no axis argument"


OPS = naive.Ops(
    prefix="jnp",
    softmax=lambda x, a: jax.nn.softmax(x, axis=a), softmax_name="jax.nn.softmax",
    log=jnp.log, log_name="jnp.log",
    clip=jnp.clip, clip_name="jnp.clip",
    one_hot=lambda y, n, like: jax.nn.one_hot(y, n, dtype=like.dtype), one_hot_name="jax.nn.one_hot",
    sum_classes=lambda v, a: jnp.sum(v, axis=a),
    reduce=lambda v, r: {"none": lambda: v, "sum": lambda: jnp.sum(v), "mean": lambda: jnp.mean(v)}[r](),
    reduce_names={"none": "", "sum": " -> jnp.sum", "mean": " -> jnp.mean"},
    exp=jnp.exp, exp_name="jnp.exp",
    sum_keep=lambda v, a: jnp.sum(v, axis=a, keepdims=True), sum_name="jnp.sum",
)

SPARSE = frozenset({"sparse_softmax_cross_entropy"})
DENSE = frozenset({"softmax_cross_entropy"})
_OPTAX = [
    ApiPath("optax.softmax_cross_entropy", DENSE, _optax_softmax, options=frozenset({"axis"})),
    ApiPath("optax.softmax_cross_entropy_with_integer_labels", SPARSE, _optax_integer, options=frozenset({"axis"})),
]

PATHS = [
    *_OPTAX,
    *(p.variant("eager") for p in _OPTAX),
    ApiPath("optax.safe_softmax_cross_entropy", DENSE, _optax_safe_softmax, check=_last_axis,
            doc="optax's loss for masked (-inf) logits"),
    ApiPath("optax.smooth_labels+optax.softmax_cross_entropy", SPARSE | DENSE, _smoothed,
            options=frozenset({"axis", "label_smoothing"})),
    ApiPath("jax.nn.log_softmax+take_along_axis", SPARSE, _log_softmax_gather, options=frozenset({"axis"})),
    ApiPath("optax.sigmoid_binary_cross_entropy", frozenset({"sigmoid_cross_entropy"}), _optax_sigmoid),
    *naive.paths(OPS),
    naive.clipped_logits(_optax_integer, OPS, "optax.softmax_cross_entropy_with_integer_labels", SPARSE,
                         options=frozenset({"axis"})),
]


# --------------------------------------------------------------------------- focal, blocks, probabilities


def _optax_focal(c: Call):
    p = c.params
    out, red = _reduce(optax.sigmoid_focal_loss(c.logits, c.labels, alpha=p.alpha, gamma=p.gamma), c)
    return out, f"optax.sigmoid_focal_loss(alpha={p.alpha!r}, gamma={p.gamma!r}){red}"


_MORE = [
    ApiPath("optax.sigmoid_focal_loss", frozenset({"binary_focal_crossentropy"}), _optax_focal,
            options=frozenset({"gamma", "alpha"})),
    builders.framework_block("log_softmax", jax.nn.log_softmax, "jax.nn.log_softmax"),
    builders.framework_block("softmax", jax.nn.softmax, "jax.nn.softmax"),
    builders.framework_block("logsumexp", jax.nn.logsumexp, "jax.nn.logsumexp"),
]
PATHS += [
    *_MORE,
    *(p.variant("eager") for p in _MORE),
    *naive.block_paths(OPS),
    *naive.probability_paths(OPS),
    builders.absent("(no optax loss on probabilities)", frozenset({"categorical_crossentropy", "binary_crossentropy"}),
                 "optax's cross-entropies take logits; from probabilities JAX users write the loss by hand (the manual: path)"),
    builders.absent("(no categorical focal loss in optax)", frozenset({"categorical_focal_crossentropy"}),
                 "optax has sigmoid_focal_loss only; there is no softmax (categorical) focal loss"),
    *jax_multiclass_hinge.paths(OPS),
    *jax_hinge.PATHS,
    *jax_single.PATHS,
    *jax_logprob.PATHS,
    *jax_ctc.PATHS,
]


def _device(name: str):
    if name == "cpu":
        return jax.devices("cpu")[0]
    return jax.devices("gpu")[int(name.split(":")[1])]


def _gpus():
    try:
        return jax.devices("gpu")
    except RuntimeError:
        return []


class JaxAdapter(Adapter):
    name = "jax"
    order_methods = jax_orders.METHODS

    def __init__(self):
        self._compiled = {}

    def version(self) -> str:
        return f"{jax.__version__} (optax {optax.__version__})"

    def devices(self) -> list[str]:
        return ["cpu"] + [f"cuda:{i}" for i, _ in enumerate(_gpus())]

    def paths(self) -> list[ApiPath]:
        return PATHS

    def environment(self) -> dict:
        env = super().environment()
        env["precision"] = {
            "mode": precision.mode(),
            "jax_default_matmul_precision": jax.config.jax_default_matmul_precision,
            "jax_enable_x64": jax.config.jax_enable_x64,
            "XLA_PYTHON_CLIENT_PREALLOCATE": os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE", ""),
        }
        env["backend"] = jax.default_backend()
        return env

    def tensor_like(self, values, like):
        return jnp.asarray(values)

    def sum_or_mean(self, losses, reduction, chain):
        return getattr(jnp, reduction)(losses), f"jnp.{reduction}({chain})"

    def _fn(self, path, case):
        """jit(value_and_grad(sum of the path's output)), compiled once per (path, case)."""
        key = (path.name, case.family, case.params, case.predictions.shape)  # a step may serve several cases
        if key not in self._compiled:
            calls: list[str] = []

            def total(x, labels):
                out, call = path.fn(Call(logits=x, labels=labels, case=case))
                calls.append(call)  # the call chain is recorded while tracing
                # a loss: the gradient of the sum of its values; a building block: the product with the cotangent
                return jnp.sum(out * labels) if case.block else jnp.sum(out), out

            def run(x, labels):
                (_, out), g = jax.value_and_grad(total, has_aux=True)(x, labels)
                return out, g

            self._compiled[key] = (run if path.mode == "eager" else jax.jit(run), calls)
        return self._compiled[key]

    def evaluate(self, path, case, inputs, dtype, device):
        dev = _device(device)
        x = jax.device_put(np.asarray(inputs.logits, dtype=np_dtype(dtype)), dev)
        labels = np.asarray(inputs.labels) if case.integer_labels else np.asarray(inputs.labels, dtype=np_dtype(dtype))
        labels = jax.device_put(labels, dev)  # class indices keep their dtype
        fn, calls = self._fn(path, case)
        out, g = fn(x, labels)
        # the inputs' buffers go before the results are copied out to numpy, so that the copy reuses
        # their memory instead of faulting in fresh pages (about 10% of a large trial's time on CPU)
        del x, labels
        out.block_until_ready()
        inner = f"jax.value_and_grad({calls[-1]})" if calls else path.name
        call = inner if path.mode == "eager" else f"jax.jit({inner})"
        return np.asarray(out), np.asarray(g), call, _ran_on(out)  # in the trial dtype; the judge upcasts

    def evaluate_order(self, path, case, inputs, dtype, device, order, method, v):
        """One derivative order by one method (adapters/jax_orders.py), compiled once per (path, case, order,
        method) like `_fn`."""
        key = (path.name, case.family, case.params, case.predictions.shape, order, method)
        if key not in self._compiled:
            self._compiled[key] = jax_orders.build(path, case, order, method)
        fn, calls = self._compiled[key]
        dev = _device(device)
        x = jax.device_put(np.asarray(inputs.logits, dtype=np_dtype(dtype)), dev)
        labels = np.asarray(inputs.labels) if case.integer_labels else np.asarray(inputs.labels, dtype=np_dtype(dtype))
        out, value = fn(x, jax.device_put(labels, dev), jax.device_put(np.asarray(v, dtype=np_dtype(dtype)), dev))
        out.block_until_ready()
        return np.asarray(out), np.asarray(value), jax_orders.chain(path, order, method, calls), _ran_on(out)


def _ran_on(out) -> str:
    """The device that actually computed `out` (JAX falls back to CPU with only a warning)."""
    actual = next(iter(out.devices()))
    return "cpu" if actual.platform == "cpu" else f"cuda:{actual.id}"
