"""A conformance harness for classification losses across TensorFlow, PyTorch and JAX."""

from harness.core.settings import VERSION as __version__

__all__ = ["__version__", "check"]


def __getattr__(name: str):
    # `harness.check(...)` without importing pandas into every framework process that imports harness
    if name == "check":
        from harness.custom.check import check

        return check
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
