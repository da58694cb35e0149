"""TensorFlow adapter: tf.nn fused ops and Keras losses, eager, tf.function and XLA, GradientTape gradients."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from harness import naive, precision  # noqa: E402
from harness.adapter_api import Adapter, ApiPath, Call  # noqa: E402
from harness.schema import Case  # noqa: E402

DTYPES = {"float64": tf.float64, "float32": tf.float32, "float16": tf.float16, "bfloat16": tf.bfloat16}

# Precision knobs that change results: TF32 off, unless the run is "as deployed"; op determinism only on
# request, since it swaps the fused softmax cross-entropy kernels for a composite (harness/precision.py).
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


def _keras_bce(c: Call):
    p = c.params
    kw = {"from_logits": True, "reduction": KERAS_REDUCTION[p.reduction]}
    if p.label_smoothing:
        kw["label_smoothing"] = p.label_smoothing
    args = ", ".join(f"{k}={v!r}" for k, v in kw.items())
    loss_obj = keras.losses.BinaryCrossentropy(**kw)
    if c.sample_weights is not None:
        return loss_obj(c.labels, c.logits, sample_weight=c.sample_weights), f"keras.losses.BinaryCrossentropy({args})(labels, logits, sample_weight=...)"
    return loss_obj(c.labels, c.logits), f"keras.losses.BinaryCrossentropy({args})(labels, logits)"


def _keras_bce_check(case: Case, dtype: str) -> str | None:
    red = case.params.reduction
    if red == "none" or (red == "sum" and case.logits.shape[-1] > 1):
        return ("keras.losses.BinaryCrossentropy averages over the last axis: it returns one loss per row, so "
                f"per-element losses (and their {red}) are not expressible")
    return None


def _last_axis(case: Case, dtype: str) -> str | None:
    nd = len(case.logits.shape)
    if case.params.axis % nd != nd - 1:
        return "tf.nn.sparse_softmax_cross_entropy_with_logits has no axis argument: classes are the last dimension"
    return None


# Keras 3 reductions: "sum_over_batch_size" divides by the number of elements (our mean, even with
# sample weights); "mean_with_sample_weight" divides by the sum of the sample weights.
KERAS_REDUCTION = {"none": "none", "sum": "sum", "mean": "sum_over_batch_size", "weighted_mean": "mean_with_sample_weight"}


def _keras(from_logits: bool):
    def fn(c: Call):
        p = c.params
        kw = {"from_logits": from_logits, "axis": p.axis, "reduction": KERAS_REDUCTION[p.reduction]}
        if c.case.sparse:
            if p.ignore_index is not None:
                kw["ignore_class"] = p.ignore_index
            loss_obj, cls = keras.losses.SparseCategoricalCrossentropy(**kw), "SparseCategoricalCrossentropy"
        else:
            if p.label_smoothing:
                kw["label_smoothing"] = p.label_smoothing
            loss_obj, cls = keras.losses.CategoricalCrossentropy(**kw), "CategoricalCrossentropy"
        y_pred, pred = (c.logits, "logits") if from_logits else (tf.nn.softmax(c.logits, axis=p.axis), f"tf.nn.softmax(logits, axis={p.axis})")
        args = ", ".join(f"{k}={v!r}" for k, v in kw.items())
        if c.sample_weights is not None:
            return loss_obj(c.labels, y_pred, sample_weight=c.sample_weights), f"keras.losses.{cls}({args})(labels, {pred}, sample_weight=...)"
        return loss_obj(c.labels, y_pred), f"keras.losses.{cls}({args})(labels, {pred})"
    return fn


def _keras_check(case: Case, dtype: str) -> str | None:
    p = case.params
    nd = len(case.logits.shape)
    if p.axis % nd != nd - 1:
        return "Keras 3 cross-entropy losses support only axis=-1 (they raise 'Only axis=-1 is currently supported')"
    if p.reduction == "weighted_mean" and p.ignore_index is not None:
        return "Keras masks ignored classes through the sample weights; weighted_mean with ignore_class is not a documented combination"
    if p.label_smoothing and case.sparse:
        return "keras.losses.SparseCategoricalCrossentropy has no label_smoothing"
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
)

_FUSED = [
    ApiPath("tf.nn.softmax_cross_entropy_with_logits", DENSE, _softmax_xent, options=frozenset({"axis"})),
    ApiPath("tf.nn.sparse_softmax_cross_entropy_with_logits", SPARSE, _sparse_softmax_xent,
            options=frozenset({"axis"}), check=_last_axis),
]
KERAS_OPTIONS = frozenset({"axis", "label_smoothing", "ignore_index", "sample_weights"})
ALL_REDUCTIONS = frozenset({"none", "sum", "mean", "weighted_mean"})

PATHS = [
    *_FUSED,
    *(p.variant("tf.function") for p in _FUSED),
    *(p.variant("xla") for p in _FUSED),
    ApiPath("keras.losses(from_logits=True)", BOTH, _keras(True), options=KERAS_OPTIONS, reductions=ALL_REDUCTIONS,
            check=_keras_check, doc="CategoricalCrossentropy / SparseCategoricalCrossentropy on logits"),
    ApiPath("keras.losses(from_logits=False)", BOTH, _keras(False), options=KERAS_OPTIONS, reductions=ALL_REDUCTIONS,
            check=_keras_check, doc="the same on tf.nn.softmax outputs, as a Dense(activation='softmax') model does"),
    *naive.paths(OPS),
    naive.clipped_logits(_sparse_softmax_xent, OPS, "tf.nn.sparse_softmax_cross_entropy_with_logits", SPARSE,
                         options=frozenset({"axis"}), check=_last_axis),
    ApiPath("tf.nn.sigmoid_cross_entropy_with_logits", frozenset({"sigmoid_cross_entropy"}), _sigmoid_xent),
    ApiPath("tf.nn.weighted_cross_entropy_with_logits", frozenset({"sigmoid_cross_entropy", "weighted_sigmoid_cross_entropy"}),
            _weighted_xent, options=frozenset({"pos_weight"})),
    ApiPath("keras.losses.BinaryCrossentropy(from_logits=True)", frozenset({"sigmoid_cross_entropy"}), _keras_bce,
            options=frozenset({"label_smoothing", "sample_weights"}), reductions=ALL_REDUCTIONS, check=_keras_bce_check,
            doc="Keras averages over the last axis before its reduction"),
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


class TensorFlowAdapter(Adapter):
    name = "tensorflow"

    def __init__(self):
        self._functions: dict = {}

    def version(self) -> str:
        return f"{tf.__version__} (keras {keras.__version__})"

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
            "keras_floatx": keras.backend.floatx(),
        }
        build = tf.sysconfig.get_build_info()
        if build.get("cuda_version"):
            env["cuda"] = build.get("cuda_version")
        return env

    def _step(self, path: ApiPath, case: Case):
        """Loss and gradient of the path; wrapped in tf.function (optionally XLA) for compiled modes."""
        key = (path.name, case.family, case.params, case.logits.shape)  # a step may serve several cases
        if key not in self._functions:
            calls: list[str] = []

            def step(x, labels, sw):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    out, call = path.fn(Call(logits=x, labels=labels, case=case, sample_weights=sw))
                calls.append(call)
                return out, tape.gradient(out, x)  # the gradient of the sum of the outputs

            if path.mode == "tf.function":
                step = tf.function(step)
            elif path.mode == "xla":
                step = tf.function(step, jit_compile=True)
            self._functions[key] = (step, calls)
        return self._functions[key]

    def evaluate(self, path, case, inputs, dtype, device):
        with tf.device(_device_name(device)):
            x = _const(inputs.logits, dtype)
            labels = tf.constant(np.asarray(inputs.labels, dtype=np.int64)) if case.sparse else _const(inputs.labels, dtype)
            sw = None if inputs.sample_weights is None else _const(inputs.sample_weights, dtype)
            step, calls = self._step(path, case)
            out, g = step(x, labels, sw)
        if g is None:
            g = tf.zeros_like(x)
        wrap = {"tf.function": "tf.function({})", "xla": "tf.function({}, jit_compile=True)"}.get(path.mode, "{}")
        return (
            out.numpy(),  # in the trial dtype; the judge upcasts
            g.numpy(),
            wrap.format(calls[-1] if calls else path.name),
            _actual(out),
        )
