"""The derivatives beyond the gradient (harness/schema/orders.py) of the Keras paths, through each backend's autodiff.

A Keras user who needs a Hessian-vector product or a label gradient writes it with the backend's own autodiff,
as the Keras adapter takes the gradient (adapters/keras_adapter.py), so each backend computes the orders the way
that framework's users do:

    tensorflow  ForwardAccumulator and nested GradientTapes, eagerly (adapters/tensorflow_orders.py)
    torch       torch.func.jvp, autograd.functional.jvp, double backward, forward over reverse (adapters/torch_orders.py)
    jax         eagerly, not under jit (as the Keras adapter's gradient):
                jvp        fwd      jax.jvp(f, (logits,), (v,))
                hvp        rev-rev  jax.grad(lambda x: jnp.vdot(jax.grad(S)(x), v))(logits)
                           fwd-rev  jax.jvp(jax.grad(S), (logits,), (v,))
                label_grad rev      jax.grad(S, argnums=1)(logits, labels)
                mixed      rev-rev  jax.grad(lambda x, y: jnp.vdot(jax.grad(S)(x, y), v), argnums=1)(logits, labels)
    numpy       none: the backend has no autodiff

Nothing here imports a backend at module import: the functions import theirs when called, after the adapter has
chosen the Keras backend.
"""

from __future__ import annotations

from adapters.api import ApiPath, Call
from harness.schema import Case

JAX_METHODS = {"jvp": ("fwd",), "hvp": ("rev-rev", "fwd-rev"), "label_grad": ("rev",), "mixed": ("rev-rev",)}


def methods(backend: str) -> dict[str, tuple[str, ...]]:
    """The ways the backend's users compute each order (none on the NumPy backend)."""
    if backend == "tensorflow":
        from adapters import tensorflow_orders

        return tensorflow_orders.METHODS
    if backend == "torch":
        from adapters import torch_orders

        return torch_orders.METHODS
    return JAX_METHODS if backend == "jax" else {}


def on_tensorflow(path: ApiPath, case: Case, x, labels, sw, order: str, method: str, v):
    """(loss, value or None, call chain) with TensorFlow's autodiff, eagerly."""
    from adapters import tensorflow_orders

    def f(logits, lab):
        return path.fn(Call(logits=logits, labels=lab, case=case, sample_weights=sw))

    return tensorflow_orders.compute(f, x, labels, order, method, v)


def on_torch(path: ApiPath, case: Case, x, labels, sw, order: str, method: str, v):
    """(loss, value or None, call chain) with torch's autodiff: the torch adapter's, over the Keras path."""
    from adapters import torch_orders

    return torch_orders.evaluate(path, case, x, labels, None, sw, order, method, v)


def on_jax(path: ApiPath, case: Case, x, labels, sw, order: str, method: str, v):
    """(loss, value, call chain) with JAX's transformations, eagerly."""
    import jax
    import jax.numpy as jnp

    calls: list[str] = []

    def f(logits, lab=labels):
        out, call = path.fn(Call(logits=logits, labels=lab, case=case, sample_weights=sw))
        calls.append(call)
        return out

    def total(logits, lab=labels):
        return jnp.sum(f(logits, lab))

    if order == "jvp":
        out, t = jax.jvp(f, (x,), (v,))
        return out, t, f"jax.jvp({calls[-1]}, (logits,), (v,))"
    out = f(x)
    call = calls[-1]
    if order == "label_grad":
        return out, jax.grad(total, argnums=1)(x, labels), f"jax.grad(jnp.sum({call}), argnums=1)(logits, labels)"
    if order == "hvp" and method == "fwd-rev":
        _, h = jax.jvp(jax.grad(total), (x,), (v,))
        return out, h, f"jax.jvp(jax.grad(jnp.sum({call})), (logits,), (v,))"
    argnums = 1 if order == "mixed" else 0
    h = jax.grad(lambda lx, ly: jnp.vdot(jax.grad(total)(lx, ly), v), argnums=argnums)(x, labels)
    return out, h, (f"jax.grad(lambda x, y: jnp.vdot(jax.grad(jnp.sum({call}))(x, y), v), argnums={argnums})"
                    "(logits, labels)")
