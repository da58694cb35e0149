"""The derivatives beyond the gradient in TensorFlow (harness/schema/orders.py), each the way its users compute it.

    jvp        fwd        tf.autodiff.ForwardAccumulator(logits, v): acc.jvp(f(logits))          forward mode
    hvp        rev-rev    outer.gradient(inner.gradient(S, logits), logits, output_gradients=v)  nested GradientTapes
               fwd-rev    ForwardAccumulator(logits, v) over GradientTape: acc.jvp(tape.gradient(S, logits))
    label_grad rev        tape.watch(labels); tape.gradient(S, labels)
    mixed      rev-rev    outer (watching the labels) over inner (the logits):
                          outer.gradient(inner.gradient(S, logits), labels, output_gradients=v)

f is the path's loss as a function of the logits (labels and weights held), S the sum of its values (a tape's
gradient of a non-scalar target is the gradient of its sum). The TensorFlow adapter runs these in the path's mode
(eager, tf.function, tf.function(jit_compile=True)); Keras on TensorFlow (adapters/keras_orders.py) runs them
eagerly, as it takes the gradient. A derivative TensorFlow finds no connection for (the constant gradient of a
piecewise-linear loss) is asked for as zeros, with TensorFlow's own unconnected_gradients=ZERO, as the torch paths
read autograd's None (adapters/torch_orders.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

METHODS = {"jvp": ("fwd",), "hvp": ("rev-rev", "fwd-rev"), "label_grad": ("rev",), "mixed": ("rev-rev",)}

Loss = Callable[[Any, Any], tuple[Any, str]]  # (logits, labels) -> (loss, call chain)


def compute(f: Loss, x, labels, order: str, method: str, v) -> tuple[Any, Any, str]:
    """(loss, the order's value or None, call chain) of f at (x, labels) along v, with TensorFlow's autodiff."""
    if order == "jvp":
        with tf.autodiff.ForwardAccumulator(primals=x, tangents=v) as acc:
            out, call = f(x, labels)
        return out, acc.jvp(out, unconnected_gradients=tf.UnconnectedGradients.ZERO), f"tf.autodiff.ForwardAccumulator(logits, v).jvp({call}, ZERO)"
    if order == "hvp" and method == "fwd-rev":
        with tf.autodiff.ForwardAccumulator(primals=x, tangents=v) as acc:
            with tf.GradientTape() as tape:
                tape.watch(x)
                out, call = f(x, labels)
            g = tape.gradient(out, x)
        return out, acc.jvp(g, unconnected_gradients=tf.UnconnectedGradients.ZERO), f"tf.autodiff.ForwardAccumulator(logits, v).jvp(tf.GradientTape.gradient({call}, logits), ZERO)"
    if order == "label_grad":
        with tf.GradientTape() as tape:
            tape.watch(labels)
            out, call = f(x, labels)
        return out, tape.gradient(out, labels, unconnected_gradients=tf.UnconnectedGradients.ZERO), f"tf.GradientTape.gradient({call}, labels, ZERO)"
    wrt = labels if order == "mixed" else x
    with tf.GradientTape() as outer:
        outer.watch(wrt)
        with tf.GradientTape() as inner:
            inner.watch(x)
            out, call = f(x, labels)
        g = inner.gradient(out, x)
    value = None if g is None else outer.gradient(g, wrt, output_gradients=v, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    name = "labels" if order == "mixed" else "logits"
    return out, value, f"tf.GradientTape.gradient(tf.GradientTape.gradient({call}, logits), {name}, output_gradients=v, ZERO)"
