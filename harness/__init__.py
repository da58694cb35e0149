"""A conformance harness for classification losses across TensorFlow, PyTorch and JAX."""

__version__ = "0.1.0"
