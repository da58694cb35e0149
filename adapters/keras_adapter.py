"""Keras 3 adapters: the shared Keras loss paths on each Keras backend, one backend per process.

Keras reads KERAS_BACKEND once, at its first import, so each backend is its own framework
(`keras-tensorflow`, `keras-jax`, `keras-torch`, `keras-numpy`) and runs in its own process. The
paths are the same on every backend (`adapters.keras_paths`); what differs is only here: how the
inputs become the backend's native tensors on the device, and which autodiff takes the gradient
(tf.GradientTape, jax.value_and_grad run eagerly, torch.autograd; the NumPy backend has none, so its
rows carry the loss only and say so).

Nothing here imports Keras at module import: the adapter's constructor picks the backend first.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from adapters.api import Adapter, ApiPath, Call
from harness.core import precision
from harness.core.dtypes import np_dtype


def select_backend(backend: str):
    """Import Keras with the given backend and return the module; refuse a process where Keras
    already runs on another backend (it cannot switch once imported)."""
    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != backend:
            raise RuntimeError(
                f"Keras is already imported with the {keras.backend.backend()} backend in this process; "
                f"keras-{backend} needs a process of its own (`python -m harness run` starts one per framework)")
        return keras
    os.environ["KERAS_BACKEND"] = backend
    import keras

    if keras.backend.backend() != backend:
        raise RuntimeError(f"KERAS_BACKEND={backend} was set, but Keras chose {keras.backend.backend()}")
    return keras


def _keras_device(device: str) -> str:
    """The harness's device name ('cpu', 'cuda:N') as keras.device() takes it ('cpu:0', 'gpu:N')."""
    return "cpu:0" if device == "cpu" else "gpu:" + device.split(":")[1]


class KerasAdapter(Adapter):
    """One Keras backend. Subclasses supply tensors, autodiff and devices; the paths are shared."""

    backend = ""

    def __init__(self):
        self.keras = select_backend(self.backend)
        from adapters import keras_logprob, keras_multiclass_hinge, keras_orders, keras_paths

        self._paths = keras_paths.paths() + keras_multiclass_hinge.paths() + keras_logprob.paths()
        self.order_methods = keras_orders.methods(self.backend)  # through the backend's autodiff
        self._order = getattr(keras_orders, f"on_{self.backend}", None)

    def version(self) -> str:
        return f"{self.keras.__version__} ({self.backend} {self._backend_version()})"

    def paths(self) -> list[ApiPath]:
        return self._paths

    def environment(self) -> dict:
        env = super().environment()
        env["keras_backend"] = self.keras.backend.backend()
        env["precision"] = {"mode": precision.mode(), "keras_floatx": self.keras.config.floatx(),
                            "keras_epsilon": self.keras.config.epsilon(), **self._precision()}
        return env

    def evaluate(self, path, case, inputs, dtype, device):
        with self.keras.device(_keras_device(device)):
            x, labels, sw = self._inputs(case, inputs, dtype, device)

            def loss(logits):
                return path.fn(Call(logits=logits, labels=labels, case=case, sample_weights=sw))

            out, grad, call = self._value_and_grad(loss, x)
        return self._numpy(out), None if grad is None else self._numpy(grad), call, self._device_of(out)

    def evaluate_order(self, path, case, inputs, dtype, device, order, method, v):
        """One derivative order through the backend's own autodiff (adapters/keras_orders.py)."""
        with self.keras.device(_keras_device(device)):
            x, labels, sw = self._inputs(case, inputs, dtype, device)
            out, value, call = self._order(path, case, x, labels, sw, order, method, self._tensor(v, dtype, device))
        return self._numpy(out), None if value is None else self._numpy(value), call, self._device_of(out)

    def _inputs(self, case, inputs, dtype, device):
        """The logits, labels (indices as int64) and sample weights as the backend's tensors on the device."""
        x = self._tensor(inputs.logits, dtype, device)
        labels = self._tensor(inputs.labels, None if case.integer_labels else dtype, device)
        return x, labels, None if inputs.sample_weights is None else self._tensor(inputs.sample_weights, dtype, device)

    # -- what each backend supplies
    def _backend_version(self) -> str:
        raise NotImplementedError

    def _precision(self) -> dict[str, Any]:
        return {}

    def _tensor(self, a: np.ndarray, dtype: str | None, device: str):
        """The backend's native tensor on the device, in the trial dtype (None: int64 labels)."""
        raise NotImplementedError

    def _value_and_grad(self, loss, x) -> tuple[Any, Any, str]:
        """(loss, d(sum of loss)/dx or None, call chain) with the backend's own autodiff."""
        raise NotImplementedError

    def _numpy(self, t) -> np.ndarray:
        raise NotImplementedError

    def _device_of(self, t) -> str:
        raise NotImplementedError


class KerasTensorFlowAdapter(KerasAdapter):
    name = "keras-tensorflow"
    backend = "tensorflow"

    def __init__(self):
        super().__init__()
        from adapters import tensorflow_adapter  # TF32 off, memory growth, TF's conversions

        self._tf_adapter = tensorflow_adapter

    def _backend_version(self) -> str:
        import tensorflow as tf

        return tf.__version__

    def devices(self) -> list[str]:
        import tensorflow as tf

        return ["cpu"] + [f"cuda:{i}" for i, _ in enumerate(tf.config.list_physical_devices("GPU"))]

    def _precision(self):
        import tensorflow as tf

        return {"tensor_float_32_execution": tf.config.experimental.tensor_float_32_execution_enabled()}

    def _tensor(self, a, dtype, device):
        import tensorflow as tf

        if dtype is None:
            return tf.constant(np.asarray(a, dtype=np.int64))
        return self._tf_adapter._const(a, dtype)

    def _value_and_grad(self, loss, x):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            out, call = loss(x)
        g = tape.gradient(out, x)  # the gradient of the sum of the outputs
        return out, tf.zeros_like(x) if g is None else g, f"tf.GradientTape: {call}"

    def _numpy(self, t):
        return t.numpy()

    def tensor_like(self, values, like):
        return self._tf_adapter._tensor_like(values, like)

    def sum_or_mean(self, losses, reduction, chain):
        return self._tf_adapter._sum_or_mean(losses, reduction, chain)

    def _device_of(self, t):
        return self._tf_adapter._actual(t)


class KerasJaxAdapter(KerasAdapter):
    """Keras on JAX, eagerly: jax.value_and_grad of a function calling the Keras loss, not under jax.jit.
    The JAX adapter's optax paths cover jit and eager; for the Keras paths, jax.jit per trial measured no
    cheaper than eager here (every trial compiles either way: a new shape or dtype)."""

    name = "keras-jax"
    backend = "jax"

    def __init__(self):
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        import jax

        jax.config.update("jax_enable_x64", True)  # float64 trials stay float64; int64 labels
        if precision.pinned():  # full float32 matmuls, unless the run is "as deployed" (harness/core/precision.py)
            jax.config.update("jax_default_matmul_precision", "highest")
        super().__init__()

    def _backend_version(self) -> str:
        import jax

        return jax.__version__

    def _gpus(self):
        import jax

        try:
            return jax.devices("gpu")
        except RuntimeError:
            return []

    def devices(self) -> list[str]:
        return ["cpu"] + [f"cuda:{i}" for i, _ in enumerate(self._gpus())]

    def _precision(self):
        import jax

        return {"jax_enable_x64": jax.config.jax_enable_x64,
                "jax_default_matmul_precision": jax.config.jax_default_matmul_precision}

    def _tensor(self, a, dtype, device):
        import jax

        dev = jax.devices("cpu")[0] if device == "cpu" else self._gpus()[int(device.split(":")[1])]
        return jax.device_put(np.asarray(a, dtype=np.int64 if dtype is None else np_dtype(dtype)), dev)

    def _value_and_grad(self, loss, x):
        import jax
        import jax.numpy as jnp

        calls: list[str] = []

        def total(logits):
            out, call = loss(logits)
            calls.append(call)
            return jnp.sum(out), out

        (_, out), g = jax.value_and_grad(total, has_aux=True)(x)
        return out, g, f"jax.value_and_grad({calls[-1]})"

    def _numpy(self, t):
        return np.asarray(t)  # in its own dtype (bfloat16 as ml_dtypes'); the judge upcasts

    def _device_of(self, t):
        d = next(iter(t.devices()))
        return "cpu" if d.platform == "cpu" else f"cuda:{d.id}"

    # as the JAX adapter's, which this one does not import (it needs optax, which Keras on JAX does not)
    def tensor_like(self, values, like):
        import jax.numpy as jnp

        return jnp.asarray(values)

    def sum_or_mean(self, losses, reduction, chain):
        import jax.numpy as jnp

        return getattr(jnp, reduction)(losses), f"jnp.{reduction}({chain})"


class KerasTorchAdapter(KerasAdapter):
    name = "keras-torch"
    backend = "torch"

    def __init__(self):
        super().__init__()
        from adapters import torch_adapter  # TF32 off, torch's conversions

        self._torch_adapter = torch_adapter

    def _backend_version(self) -> str:
        import torch

        return torch.__version__

    def devices(self) -> list[str]:
        import torch

        return ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]

    def _precision(self):
        import torch

        return {"cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
                "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32}

    def _tensor(self, a, dtype, device):
        return self._torch_adapter._tensor(a, dtype, device)

    def _value_and_grad(self, loss, x):
        import torch

        x.requires_grad_(True)
        out, call = loss(x)
        g = None
        if out.requires_grad:
            (g,) = torch.autograd.grad(out, x, grad_outputs=torch.ones_like(out), allow_unused=True)
        return out, torch.zeros_like(x) if g is None else g, f"torch.autograd.grad({call})"

    def _numpy(self, t):
        return self._torch_adapter._numpy(t)

    def tensor_like(self, values, like):
        return self._torch_adapter._tensor_like(values, like)

    def _device_of(self, t):
        return str(t.device)


class KerasNumpyAdapter(KerasAdapter):
    """Keras on NumPy: inference only. The loss is judged; there is no gradient to judge."""

    name = "keras-numpy"
    backend = "numpy"
    no_grad = "loss only: the Keras numpy backend has no autodiff"

    def _backend_version(self) -> str:
        return np.__version__

    def devices(self) -> list[str]:
        return ["cpu"]

    def _tensor(self, a, dtype, device):
        return np.asarray(a, dtype=np.int64 if dtype is None else np_dtype(dtype))

    def _value_and_grad(self, loss, x):
        out, call = loss(x)
        return out, None, call

    def _numpy(self, t):
        return np.asarray(t)

    def _device_of(self, t):
        return "cpu"
