"""A conformance harness for classification losses across TensorFlow, PyTorch and JAX."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # `harness.check(...)` without importing pandas into every framework process that imports harness
    if name == "check":
        from harness.user_loss import check

        return check
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
