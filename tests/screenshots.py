"""The README's pictures, kept current: docs/report.png and docs/check-report.png, taken in headless Chromium.

`make screenshots` (python -m tests.screenshots) runs what they show, as a user would, and photographs the
reports: a run of a few built-in case files on PyTorch and the oracle (its first screen: the findings
and the per-framework view) and the README's check of the tutorials' clipped loss beside the fused
one in TensorFlow. It needs torch, tensorflow and Chromium (tests/browser.py); about three minutes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests import browser

ROOT = Path(__file__).resolve().parent.parent
REPORT_CASES = ("masked_classes", "extreme_logits", "sigmoid", "probabilities", "blocks", "published_values")
CHECK = ("check", "examples.tensorflow_losses:clipped_onehot_loss", "examples.tensorflow_losses:fused_ce",
         "--family", "softmax_cross_entropy", "--framework", "tensorflow", "--cases", "examples/cases.yaml")
# name -> (the command, what of its page to show, the window's height)
PICTURES = {
    "report.png": (("run", *(a for c in REPORT_CASES for a in ("--cases", f"cases/{c}.yaml")), "--frameworks", "torch,oracle"),
                   "", 1400),
    "check-report.png": (CHECK, "", 1100),
}


def harness(args: tuple[str, ...], out: Path) -> Path:
    """Run `python -m harness ...` from the project's root; the report it writes. Exit code 1 (disagreements) is fine."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "harness", *args, "--out", str(out)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=1800)
    if p.returncode not in (0, 1) or not (out / "index.html").is_file():
        raise SystemExit(f"python -m harness {' '.join(args)} failed ({p.returncode}):\n{p.stdout[-3000:]}{p.stderr[-3000:]}")
    return out / "index.html"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.screenshots", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs"), help="where the pictures go (default: docs/)")
    ap.add_argument("--only", choices=sorted(PICTURES), action="append", help="just this picture (repeatable)")
    args = ap.parse_args(argv)
    chrome = browser.chromium()
    if chrome is None:
        print("headless Chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        for name in args.only or PICTURES:
            command, view, height = PICTURES[name]
            page = harness(command, Path(work) / Path(name).stem)
            browser.screenshot(chrome, page.as_uri() + view, out / name, 1400, height, timeout=120)
            print(f"{out / name}: {' '.join(command)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
