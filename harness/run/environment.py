"""Environment capture: what a shard's rows ran on (the harness's version and commit, Python, the machine, each
framework's versions, devices and precision), written beside the shard as <shard>.env.json."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from adapters.api import machine
from harness.core import precision
from harness.core.settings import VERSION
from harness.run.session import Session


def harness_env() -> dict:
    """The harness's side: its version and git commit, Python, the platform, the time, the pid, the machine."""
    commit = ""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                timeout=5, cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return {"version": VERSION, "commit": commit, "python": sys.version.split()[0],
            "platform": platform.platform(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "pid": os.getpid(), **machine()}


def capture(st: Session) -> dict:
    """The environment of this process's frameworks (loading each adapter); a framework that cannot load is left
    out (its reason is in st.unavailable). Each framework's precision line, for its rows, goes to st.precision."""
    env = {"harness": harness_env(), "frameworks": {}}
    for fw in st.frameworks:
        ad = st.adapter(fw)
        if ad is not None:
            env["frameworks"][fw] = ad.environment()
            st.precision[fw] = precision.describe(env["frameworks"][fw].get("precision"))
    return env


def write(shard: str | Path, env: dict) -> None:
    Path(shard).with_suffix(".env.json").write_text(json.dumps(env, indent=1, default=str))
