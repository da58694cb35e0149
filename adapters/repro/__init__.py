"""Standalone reproducers: one trial on one framework path as a Python script that imports only numpy and the framework.

    target.py             what a script reproduces (Target), and numbers and arrays written as Python
    script.py             the script: inputs, the framework's part, the exact answer, the lines that compare them
    torch_script.py       each framework's part, keyed by api path, mirroring its adapter: conversions, the call
    tensorflow_script.py  chain, the tf.function / XLA / jit wrapping of the path's mode, autodiff, and the
    jax_script.py         precision settings the row records
    keras_script.py
    naive_script.py       the naive and manual formulations (adapters/naive.py) over a framework's ops

Nothing here imports a framework: a script is text, written by `python -m harness repro` (harness/run/repro.py).
tests/test_repro.py runs the scripts of rows of every framework and family and holds their values to the rows'.
"""

from adapters.repro.script import Script, framework_code, write
from adapters.repro.target import NoScript, Target

__all__ = ["NoScript", "Script", "Target", "framework_code", "write"]
