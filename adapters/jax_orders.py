"""The derivatives beyond the gradient in JAX (harness/schema/orders.py), each the way its users compute it.

    jvp        fwd        jax.jvp(f, (x,), (v,))                              forward mode
               linearize  jax.linearize(f, x)[1](v)                           forward mode, partially evaluated
                                                                              (the linear map jax.vjp transposes)
    hvp        fwd-rev    jax.jvp(jax.grad(S), (x,), (v,))                    forward over reverse
               rev-rev    jax.grad(lambda x: jnp.vdot(jax.grad(S)(x), v))     reverse over reverse
    label_grad rev        jax.grad(S, argnums=1)(x, labels)
    mixed      rev-rev    jax.grad(lambda y: jnp.vdot(jax.grad(S)(x, y), v))(labels)

f is the path's loss as a function of the logits (labels held), S = jnp.sum of its values. A path run under
`jax.jit` (every JAX path but the `@eager` variants) has the whole computation, derivative and loss, inside one
`jax.jit`; an eager one runs it op by op. The loss beside the derivative is the primal of jax.jvp and
jax.linearize, and f(x) itself for the reverse compositions (in the same jitted function).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from adapters.api import Call

METHODS = {"jvp": ("fwd", "linearize"), "hvp": ("fwd-rev", "rev-rev"), "label_grad": ("rev",), "mixed": ("rev-rev",)}

# the call chain of each (order, method), around the path's own chain `{f}`
CHAINS = {
    ("jvp", "fwd"): "jax.jvp({f}, (logits,), (v,))",
    ("jvp", "linearize"): "jax.linearize({f}, logits)[1](v)",
    ("hvp", "fwd-rev"): "jax.jvp(jax.grad(jnp.sum({f})), (logits,), (v,))",
    ("hvp", "rev-rev"): "jax.grad(lambda logits: jnp.vdot(jax.grad(jnp.sum({f}))(logits), v))(logits)",
    ("label_grad", "rev"): "jax.grad(jnp.sum({f}), argnums=1)(logits, labels)",
    ("mixed", "rev-rev"): "jax.grad(lambda labels: jnp.vdot(jax.grad(jnp.sum({f}))(logits, labels), v))(labels)",
}


def build(path, case, order: str, method: str):
    """(run(x, labels, v) -> (loss, the order's value), the list the path's call chain is recorded into while
    tracing); run is jitted unless the path is an `@eager` variant."""
    calls: list[str] = []

    def f(x, y):
        out, call = path.fn(Call(logits=x, labels=y, case=case))
        calls[:] = [call]  # recorded while tracing (jit) or running (eager)
        return out

    def S(x, y):
        return jnp.sum(f(x, y))

    if (order, method) == ("jvp", "fwd"):
        def run(x, y, v):
            return jax.jvp(lambda x: f(x, y), (x,), (v,))
    elif (order, method) == ("jvp", "linearize"):
        def run(x, y, v):
            out, lin = jax.linearize(lambda x: f(x, y), x)
            return out, lin(v)
    elif (order, method) == ("hvp", "fwd-rev"):
        def run(x, y, v):
            return f(x, y), jax.jvp(jax.grad(lambda x: S(x, y)), (x,), (v,))[1]
    elif (order, method) == ("hvp", "rev-rev"):
        def run(x, y, v):
            return f(x, y), jax.grad(lambda x: jnp.vdot(jax.grad(S)(x, y), v))(x)
    elif (order, method) == ("label_grad", "rev"):
        def run(x, y, v):
            return f(x, y), jax.grad(S, argnums=1)(x, y)
    elif (order, method) == ("mixed", "rev-rev"):
        def run(x, y, v):
            return f(x, y), jax.grad(lambda y: jnp.vdot(jax.grad(S)(x, y), v))(y)
    else:
        raise ValueError(f"no JAX method {method!r} of {order!r}; known: {METHODS}")
    return (run if path.mode == "eager" else jax.jit(run)), calls


def chain(path, order: str, method: str, calls: list[str]) -> str:
    """The call chain that ran: the order's composition around the path's own chain, in jax.jit unless eager."""
    inner = CHAINS[order, method].format(f=calls[-1] if calls else path.name)
    return inner if path.mode == "eager" else f"jax.jit({inner})"
