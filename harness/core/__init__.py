"""The shared vocabulary: float dtypes and ULPs, a process's precision mode, YAML files read with positions and
field tables. Imports nothing else of the harness."""
