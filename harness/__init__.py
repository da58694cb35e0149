"""A conformance harness for classification losses across TensorFlow, PyTorch and JAX."""

__version__ = "0.1.0"


def available_cores() -> int:
    """The CPUs this process may run on (its affinity where the OS tells it)."""
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def __getattr__(name: str):
    # `harness.check(...)` without importing pandas into every framework process that imports harness
    if name == "check":
        from harness.user_loss import check

        return check
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
