"""The report's plots, drawn once as inline SVG when the report is built (the page needs no plotting library).

Every function takes result rows (or CPU/GPU pairs) and returns an HTML fragment: figures holding
`<svg class="plot">` elements, or a short note when the run has no data for that plot. Every text taken
from a row is escaped. One module per kind: heatmaps, sweeps, fields (the two-class gradient field),
cpu_gpu; svg holds what they share.
"""

from __future__ import annotations

from harness.report.plots.cpu_gpu import cpu_gpu_errors
from harness.report.plots.fields import gradient_field_section
from harness.report.plots.heatmaps import heatmap_section
from harness.report.plots.svg import BAD
from harness.report.plots.sweeps import sweep_section
from harness.results.rows import Row

__all__ = ["BAD", "cpu_gpu_errors", "gradient_field_section", "heatmap_section", "section", "sweep_section"]


def section(rows: list[Row]) -> str:
    """The page's plots section: worst-error heatmaps, scale sweeps, two-class gradient fields."""
    return ('<h3>Worst error by family and dtype</h3>' + heatmap_section(rows)
            + '<h3>Loss and gradient norm against logit scale</h3>' + sweep_section(rows)
            + '<h3>Two-class gradient field</h3>' + gradient_field_section(rows))
