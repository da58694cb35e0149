"""The built-in frameworks, one row each: the adapter, the imports that make it installed, and the cost of its trials.

This table is the one list of the built-in frameworks: adding one is its adapter module and its row here. A
framework from another package is its adapter and an entry point in that package (group `harness.adapters`),
or a HARNESS_ADAPTERS entry; it has no row, nothing is required of it and its trials cost DEFAULT_COST_NS.
Nothing else names the frameworks: the CI matrix (tox.ini) runs `--frameworks installed` in environments that
install a framework's requirements, and tests/test_frameworks.py checks that each built-in one lands in exactly
one of them. Nothing here imports a framework: listing frameworks, telling whether one is installed
(importlib.util.find_spec) and planning the shards and workers of a run happen in processes that must not pay
for, or be broken by, a framework's import.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Framework:
    name: str  # on the command line (--frameworks) and in every row
    adapter: str  # "module:Class", the value of its entry point
    requires: tuple[str, ...]  # the modules that must be importable for it to count as installed
    # Expected cost of one trial (case x dtype, every API path) in its process, in nanoseconds: a fixed part
    # (pytest, conversions; for JAX a jit compile per shape and dtype) and a part per logits element (oracle,
    # framework calls, judge). See COSTS below.
    cost_ns: tuple[int, int]


# The costs are least-squares fits to the row durations of one `make conformance` of the built-in suite on
# 2 CPU cores, all frameworks in parallel (so each includes its share of waiting for a core). Only relative
# costs matter: they split shards and plan workers (harness/run/schedule.py). They are data, not a
# measurement, so every machine splits alike.
FRAMEWORKS: tuple[Framework, ...] = (
    Framework("torch", "adapters.torch_adapter:TorchAdapter", ("torch",), (100_000_000, 10_000)),
    Framework("tensorflow", "adapters.tensorflow_adapter:TensorFlowAdapter", ("tensorflow",), (160_000_000, 10_000)),
    Framework("jax", "adapters.jax_adapter:JaxAdapter", ("jax", "optax"), (730_000_000, 26_000)),
    # Keras 3 on each of its backends: one framework (and process) per backend, the same paths (two per
    # trial); on JAX it runs eagerly, compiling each op per new shape
    Framework("keras-tensorflow", "adapters.keras_adapter:KerasTensorFlowAdapter", ("keras", "tensorflow"), (30_000_000, 1_300)),
    Framework("keras-jax", "adapters.keras_adapter:KerasJaxAdapter", ("keras", "jax"), (340_000_000, 22_000)),
    Framework("keras-torch", "adapters.keras_adapter:KerasTorchAdapter", ("keras", "torch"), (70_000_000, 4_600)),
    # Keras's NumPy backend imports jax (backend/numpy/nn.py) and scipy (backend/numpy/linalg.py) when it loads
    Framework("keras-numpy", "adapters.keras_adapter:KerasNumpyAdapter", ("keras", "jax", "scipy"), (8_000_000, 1_000)),
)
DEFAULT_COST_NS = (10_000_000, 1_000)  # a framework with no row here
