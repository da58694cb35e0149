"""The report, from rows: one self-contained index.html with its tables and charts, results.csv and summary.md.

`write_report` writes the three files. Modules, one job each: order (the rows' and the verdict columns'
order), values (a row's values as text and floats), tables (results.csv, summary.md), codec (the compact
row data the page embeds), page (the HTML page), findings_html (its first screen: the findings of
harness/results/findings.py and the per-framework view), sections (its server-rendered summary), environment
(the shards' environments), markup (small HTML pieces), device_pairs (the CPU against the GPU),
plots/ (inline SVG); static/ holds the page's style and script.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.report import device_pairs
from harness.report.order import sort_key
from harness.report.page import page
from harness.report.tables import csv_text, markdown
from harness.results.rows import Row
from harness.results.shards import atomic_write


def write_report(rows: list[Row], envs: list[dict], out_dir: Path, *, partial: bool = False,
                 warnings: Sequence[str] = ()) -> dict[str, Path]:
    """Write out_dir/index.html, out_dir/results.csv, out_dir/summary.md; return their paths
    under the keys "html", "csv" and "md"."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ordered = sorted(rows, key=sort_key)
    warnings = [*warnings, *device_pairs.unseen_gpus(envs)]
    paths = {"html": out_dir / "index.html", "csv": out_dir / "results.csv", "md": out_dir / "summary.md"}
    atomic_write(paths["csv"], csv_text(ordered))
    atomic_write(paths["md"], markdown(ordered, partial, list(warnings)))
    atomic_write(paths["html"], page(ordered, envs, partial, list(warnings)))
    return paths
