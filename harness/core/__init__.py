"""The shared vocabulary: float dtypes and ULPs, a process's precision mode. Imports nothing else of the harness."""
