"""TensorFlow adapter: tf.nn fused ops, eager, tf.function and XLA, GradientTape gradients.

Keras losses on TensorFlow are the framework `keras-tensorflow` (adapters/keras_adapter.py).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from adapters import (  # noqa: E402
    builders,
    naive,
    tensorflow_ctc,
    tensorflow_hinge,
    tensorflow_logprob,
    tensorflow_multiclass_hinge,
    tensorflow_orders,
    tensorflow_single,
)
from adapters.api import Adapter, ApiPath, Call  # noqa: E402
from harness.core import precision
from harness.schema import Case  # noqa: E402

DTYPES = {"float64": tf.float64, "float32": tf.float32, "float16": tf.float16, "bfloat16": tf.bfloat16}

# Precision knobs that change results: TF32 off, unless the run is "as deployed"; op determinism only on
# request, since it swaps the fused softmax cross-entropy kernels for a composite (harness/core/precision.py).
# GPU memory growth in every mode, so that other frameworks can share the GPU.
if precision.pinned():
    tf.config.experimental.enable_tensor_float_32_execution(False)
if precision.tf_op_determinism():
    tf.config.experimental.enable_op_determinism()
for _gpu in tf.config.list_physical_devices("GPU"):
    try:
        tf.config.experimental.set_memory_growth(_gpu, True)
    except RuntimeError:
        pass



def _op_determinism() -> bool | str:
    """Whether op determinism is on, as TensorFlow reports it (no public getter: its config module's)."""
    try:
        from tensorflow.python.framework import config as tf_config

        return bool(tf_config.is_op_determinism_enabled())
    except (ImportError, AttributeError):
        return "unknown"


SPARSE = frozenset({"sparse_softmax_cross_entropy"})
DENSE = frozenset({"softmax_cross_entropy"})
BOTH = SPARSE | DENSE


def _reduce(loss, c: Call):
    """Reduce per-row losses the way a user writes it after a tf.nn op."""
    red = c.params.reduction
    return OPS.reduce(loss, red), OPS.reduce_names[red]


def _softmax_xent(c: Call):
    axis = c.params.axis
    loss = tf.nn.softmax_cross_entropy_with_logits(labels=c.labels, logits=c.logits, axis=axis)
    out, red = _reduce(loss, c)
    return out, f"tf.nn.softmax_cross_entropy_with_logits(axis={axis}){red}"


def _sparse_softmax_xent(c: Call):
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=c.labels, logits=c.logits)
    out, red = _reduce(loss, c)
    return out, f"tf.nn.sparse_softmax_cross_entropy_with_logits{red}"


def _sigmoid_xent(c: Call):
    loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=c.labels, logits=c.logits)
    out, red = _reduce(loss, c)
    return out, f"tf.nn.sigmoid_cross_entropy_with_logits{red}"


def _weighted_xent(c: Call):
    pw = c.params.pos_weight if c.params.pos_weight is not None else 1.0
    q = tf.constant(pw, dtype=c.logits.dtype)
    loss = tf.nn.weighted_cross_entropy_with_logits(labels=c.labels, logits=c.logits, pos_weight=q)
    out, red = _reduce(loss, c)
    return out, f"tf.nn.weighted_cross_entropy_with_logits(pos_weight={pw!r}){red}"


def _last_axis(case: Case, dtype: str) -> str | None:
    nd = len(case.predictions.shape)
    if case.params.axis % nd != nd - 1:
        return "tf.nn.sparse_softmax_cross_entropy_with_logits has no axis argument: classes are the last dimension"
    return None


def _one_hot(y, n, like):
    return tf.one_hot(y, n, dtype=like.dtype)


OPS = naive.Ops(
    prefix="tf",
    softmax=lambda x, a: tf.nn.softmax(x, axis=a), softmax_name="tf.nn.softmax",
    log=tf.math.log, log_name="tf.math.log",
    clip=tf.clip_by_value, clip_name="tf.clip_by_value",
    one_hot=_one_hot, one_hot_name="tf.one_hot",
    sum_classes=lambda v, a: tf.reduce_sum(v, axis=a),
    reduce=lambda v, r: {"none": lambda: v, "sum": lambda: tf.reduce_sum(v), "mean": lambda: tf.reduce_mean(v)}[r](),
    reduce_names={"none": "", "sum": " -> tf.reduce_sum", "mean": " -> tf.reduce_mean"},
    exp=tf.math.exp, exp_name="tf.math.exp",
    sum_keep=lambda v, a: tf.reduce_sum(v, axis=a, keepdims=True), sum_name="tf.reduce_sum",
)

_FUSED = [
    ApiPath("tf.nn.softmax_cross_entropy_with_logits", DENSE, _softmax_xent, options=frozenset({"axis"})),
    ApiPath("tf.nn.sparse_softmax_cross_entropy_with_logits", SPARSE, _sparse_softmax_xent,
            options=frozenset({"axis"}), check=_last_axis),
]

PATHS = [
    *_FUSED,
    *(p.variant("tf.function") for p in _FUSED),
    *(p.variant("xla") for p in _FUSED),
    *naive.paths(OPS),
    naive.clipped_logits(_sparse_softmax_xent, OPS, "tf.nn.sparse_softmax_cross_entropy_with_logits", SPARSE,
                         options=frozenset({"axis"}), check=_last_axis),
    ApiPath("tf.nn.sigmoid_cross_entropy_with_logits", frozenset({"sigmoid_cross_entropy"}), _sigmoid_xent),
    ApiPath("tf.nn.weighted_cross_entropy_with_logits", frozenset({"sigmoid_cross_entropy", "weighted_sigmoid_cross_entropy"}),
            _weighted_xent, options=frozenset({"pos_weight"})),
]


# --------------------------------------------------------------------------- probabilities (hand-written), blocks


_BLOCKS = [
    builders.framework_block("log_softmax", tf.nn.log_softmax, "tf.nn.log_softmax"),
    builders.framework_block("softmax", tf.nn.softmax, "tf.nn.softmax"),
    builders.framework_block("logsumexp", tf.reduce_logsumexp, "tf.reduce_logsumexp"),
]
PATHS += [
    *naive.probability_paths(OPS),
    *_BLOCKS,
    *(p.variant("tf.function") for p in _BLOCKS),
    *(p.variant("xla") for p in _BLOCKS),
    *naive.block_paths(OPS),
    *tensorflow_multiclass_hinge.paths(OPS),
    *tensorflow_hinge.PATHS,
    *tensorflow_single.PATHS,
    *tensorflow_logprob.PATHS,
    *tensorflow_ctc.PATHS,
]


def _device_name(device: str) -> str:
    return "/CPU:0" if device == "cpu" else "/GPU:" + device.split(":")[1]


def _actual(t) -> str:
    d = t.device.upper()
    if "GPU:" in d:
        return "cuda:" + d.rsplit("GPU:", 1)[1].split("/")[0]
    return "cpu"


def _const(a: np.ndarray, dtype: str):
    """A constant from a numpy array already in the trial dtype (bfloat16 is ml_dtypes', as TF's own)."""
    return tf.constant(np.asarray(a), dtype=DTYPES[dtype])


def _tensor_like(values: np.ndarray, like):
    """Values in the trial dtype as a constant of the dtype of `like` (a user's own loss, adapters/custom.py)."""
    return tf.constant(values, dtype=like.dtype)


def _sum_or_mean(losses, reduction: str, chain: str):
    """Per-row losses summed or averaged as TensorFlow users do: tf.reduce_sum, tf.reduce_mean."""
    op = {"sum": tf.reduce_sum, "mean": tf.reduce_mean}[reduction]
    return op(losses), f"tf.reduce_{reduction}({chain})"


_WRAP = {"tf.function": "tf.function({})", "xla": "tf.function({}, jit_compile=True)"}


def _compiled(fn, mode: str):
    """The function as the path's mode runs it: eagerly, in tf.function, or in tf.function compiled by XLA."""
    if mode == "tf.function":
        return tf.function(fn)
    if mode == "xla":
        return tf.function(fn, jit_compile=True)
    return fn


class TensorFlowAdapter(Adapter):
    name = "tensorflow"
    order_methods = tensorflow_orders.METHODS

    def __init__(self):
        self._functions: dict = {}

    def version(self) -> str:
        return tf.__version__

    def devices(self) -> list[str]:
        return ["cpu"] + [f"cuda:{i}" for i, _ in enumerate(tf.config.list_physical_devices("GPU"))]

    def paths(self) -> list[ApiPath]:
        return PATHS

    def environment(self) -> dict:
        env = super().environment()
        env["precision"] = {
            "mode": precision.mode(),
            "tensor_float_32_execution": tf.config.experimental.tensor_float_32_execution_enabled(),
            "op_determinism": _op_determinism(),
            "memory_growth": [tf.config.experimental.get_memory_growth(g) for g in tf.config.list_physical_devices("GPU")],
        }
        build = tf.sysconfig.get_build_info()
        if build.get("cuda_version"):
            env["cuda"] = build.get("cuda_version")
        return env

    def tensor_like(self, values, like):
        return _tensor_like(values, like)

    def sum_or_mean(self, losses, reduction, chain):
        return _sum_or_mean(losses, reduction, chain)

    def _step(self, path: ApiPath, case: Case):
        """Loss and gradient of the path; wrapped in tf.function (optionally XLA) for compiled modes."""
        key = (path.name, case.family, case.params, case.predictions.shape)  # a step may serve several cases
        if key not in self._functions:
            calls: list[str] = []

            def step(x, labels, sw):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    out, call = path.fn(Call(logits=x, labels=labels, case=case, sample_weights=sw))
                calls.append(call)
                # a loss: the gradient of the sum of the outputs; a building block: the product with the cotangent
                return out, tape.gradient(out, x, output_gradients=labels if case.block else None)

            self._functions[key] = (_compiled(step, path.mode), calls)
        return self._functions[key]

    def _order_step(self, path: ApiPath, case: Case, order: str, method: str):
        """One derivative order of the path by one method (adapters/tensorflow_orders.py), in the path's mode."""
        key = (path.name, case.family, case.params, case.predictions.shape, order, method)
        if key not in self._functions:
            calls: list[str] = []

            def step(x, labels, sw, v):
                def f(logits, lab):
                    return path.fn(Call(logits=logits, labels=lab, case=case, sample_weights=sw))

                out, value, call = tensorflow_orders.compute(f, x, labels, order, method, v)
                calls.append(call)
                return out, value

            self._functions[key] = (_compiled(step, path.mode), calls)
        return self._functions[key]

    def evaluate_order(self, path, case, inputs, dtype, device, order, method, v):
        with tf.device(_device_name(device)):
            x, labels, sw = self._inputs(case, inputs, dtype)
            step, calls = self._order_step(path, case, order, method)
            out, value = step(x, labels, sw, _const(v, dtype))
        return (out.numpy(), None if value is None else value.numpy(),
                _WRAP.get(path.mode, "{}").format(calls[-1] if calls else path.name), _actual(out))

    def _inputs(self, case: Case, inputs, dtype: str):
        """The logits, labels (indices keep their dtype) and sample weights as constants on the current device."""
        x = _const(inputs.logits, dtype)
        labels = tf.constant(np.asarray(inputs.labels)) if case.integer_labels else _const(inputs.labels, dtype)
        sw = None if inputs.sample_weights is None else _const(inputs.sample_weights, dtype)
        return x, labels, sw

    def evaluate(self, path, case, inputs, dtype, device):
        with tf.device(_device_name(device)):
            x, labels, sw = self._inputs(case, inputs, dtype)
            step, calls = self._step(path, case)
            out, g = step(x, labels, sw)
        if g is None:
            g = tf.zeros_like(x)
        wrap = _WRAP.get(path.mode, "{}")
        return (
            out.numpy(),  # in the trial dtype; the judge upcasts
            g.numpy(),
            wrap.format(calls[-1] if calls else path.name),
            _actual(out),
        )
