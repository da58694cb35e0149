"""What a process of the harness may use and was told: its version, its CPUs (and, later, the HARNESS_* variables)."""

from __future__ import annotations

import os

VERSION = "0.1.0"


def available_cores() -> int:
    """The CPUs this process may run on (its affinity where the OS tells it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
