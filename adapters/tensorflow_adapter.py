"""TensorFlow adapter: tf.nn fused ops with tf.reduce_*, GradientTape gradients, CPU and GPU."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from harness.adapter_api import Adapter, ApiPath, Call  # noqa: E402

DTYPES = {"float64": tf.float64, "float32": tf.float32, "float16": tf.float16, "bfloat16": tf.bfloat16}

# Precision knobs that change results: TF32 off; GPU memory growth so other frameworks can share it.
tf.config.experimental.enable_tensor_float_32_execution(False)
for _gpu in tf.config.list_physical_devices("GPU"):
    try:
        tf.config.experimental.set_memory_growth(_gpu, True)
    except RuntimeError:
        pass


def _reduce(loss, c: Call):
    """Reduce per-row losses the way a user writes it after a tf.nn op."""
    red = c.params.reduction
    if red == "none":
        return loss, ""
    if red == "sum":
        return tf.reduce_sum(loss), " -> tf.reduce_sum"
    return tf.reduce_mean(loss), " -> tf.reduce_mean"


def _softmax_xent(c: Call):
    axis = c.params.axis
    loss = tf.nn.softmax_cross_entropy_with_logits(labels=c.labels, logits=c.logits, axis=axis)
    out, red = _reduce(loss, c)
    return out, f"tf.nn.softmax_cross_entropy_with_logits(axis={axis}){red}"


def _sparse_softmax_xent(c: Call):
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=c.labels, logits=c.logits)
    out, red = _reduce(loss, c)
    return out, f"tf.nn.sparse_softmax_cross_entropy_with_logits{red}"


def _last_axis(case, dtype):
    nd = len(case.logits.shape)
    if case.params.axis % nd != nd - 1:
        return "tf.nn.sparse_softmax_cross_entropy_with_logits has no axis argument: classes are the last dimension"
    return None


PATHS = [
    ApiPath("tf.nn.softmax_cross_entropy_with_logits", frozenset({"softmax_cross_entropy"}), _softmax_xent,
            options=frozenset({"axis"})),
    ApiPath("tf.nn.sparse_softmax_cross_entropy_with_logits", frozenset({"sparse_softmax_cross_entropy"}),
            _sparse_softmax_xent, options=frozenset({"axis"}), check=_last_axis),
]


def _device_name(device: str) -> str:
    return "/CPU:0" if device == "cpu" else "/GPU:" + device.split(":")[1]


def _actual(t) -> str:
    d = t.device.upper()
    if "GPU:" in d:
        return "cuda:" + d.rsplit("GPU:", 1)[1].split("/")[0]
    return "cpu"


class TensorFlowAdapter(Adapter):
    name = "tensorflow"

    def version(self) -> str:
        return tf.__version__

    def devices(self) -> list[str]:
        return ["cpu"] + [f"cuda:{i}" for i, _ in enumerate(tf.config.list_physical_devices("GPU"))]

    def paths(self) -> list[ApiPath]:
        return PATHS

    def environment(self) -> dict:
        env = super().environment()
        env["precision"] = {"tensor_float_32_execution": tf.config.experimental.tensor_float_32_execution_enabled()}
        build = tf.sysconfig.get_build_info()
        if build.get("cuda_version"):
            env["cuda"] = build.get("cuda_version")
        return env

    def evaluate(self, path, case, inputs, dtype, device):
        tdt = DTYPES[dtype]
        with tf.device(_device_name(device)):
            # every trial value is exact in float64, so the cast from it is lossless
            x = tf.cast(tf.constant(np.asarray(inputs.logits, dtype=np.float64)), tdt)
            if case.sparse:
                labels = tf.constant(np.asarray(inputs.labels, dtype=np.int64))
            else:
                labels = tf.cast(tf.constant(np.asarray(inputs.labels, dtype=np.float64)), tdt)
            with tf.GradientTape() as tape:
                tape.watch(x)
                out, call = path.fn(Call(logits=x, labels=labels, case=case, xp=tf))
            g = tape.gradient(out, x)  # gradient of the sum of the outputs
        if g is None:
            g = tf.zeros_like(x)
        return (
            tf.cast(out, tf.float64).numpy(),
            tf.cast(g, tf.float64).numpy(),
            call,
            _actual(out),
        )
