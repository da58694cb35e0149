"""Built-in framework adapters, one module per framework, imported only in that framework's process.

The registry maps a framework name to "module:Class" so that listing frameworks imports nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
from importlib.metadata import entry_points

from adapters.api import Adapter
from harness.core import settings

ENTRY_POINT_GROUP = "harness.adapters"

BUILTIN: dict[str, str] = {
    "torch": "adapters.torch_adapter:TorchAdapter",
    "tensorflow": "adapters.tensorflow_adapter:TensorFlowAdapter",
    "jax": "adapters.jax_adapter:JaxAdapter",
    # Keras 3 on each of its backends: one framework (and process) per backend, the same paths
    "keras-tensorflow": "adapters.keras_adapter:KerasTensorFlowAdapter",
    "keras-jax": "adapters.keras_adapter:KerasJaxAdapter",
    "keras-torch": "adapters.keras_adapter:KerasTorchAdapter",
    "keras-numpy": "adapters.keras_adapter:KerasNumpyAdapter",
}
# The import that must succeed for a framework to count as installed.
REQUIRES: dict[str, tuple[str, ...]] = {
    "torch": ("torch",),
    "tensorflow": ("tensorflow",),
    "jax": ("jax", "optax"),
    "keras-tensorflow": ("keras", "tensorflow"),
    "keras-jax": ("keras", "jax"),
    "keras-torch": ("keras", "torch"),
    "keras-numpy": ("keras",),
}


def registry() -> dict[str, str]:
    """Built-in adapters, those registered by installed packages under the entry-point group, and
    those named in HARNESS_ADAPTERS ("name=module:Class,name2=module:Class") for unpackaged ones."""
    out = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        out.setdefault(ep.name, ep.value)
    for name, target in settings.extra_adapters():
        out[name] = target
    return out


def missing_modules(name: str) -> list[str]:
    """Modules a framework needs that are not importable (without importing them)."""
    return [m for m in REQUIRES.get(name, ()) if importlib.util.find_spec(m) is None]


def load(name: str) -> Adapter:
    """The framework's adapter, with the custom loss paths claimed for it (adapters/custom.py) added."""
    from adapters import custom

    target = registry()[name]
    module, _, cls = target.partition(":")
    return custom.attach(getattr(importlib.import_module(module), cls)())
