"""Root conftest: YAML files under cases/ become conformance test items (see harness/run/plugin.py, items.py).

    pytest cases/ -k "torch and float32"      # one framework, one dtype
    pytest cases/ --framework jax -k seed     # the seed cases on JAX only
"""

pytest_plugins = ["harness.run.plugin"]
