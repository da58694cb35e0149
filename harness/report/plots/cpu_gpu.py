"""CPU against GPU: each trial's gradient error against the oracle on the CPU and on a GPU, as a scatter."""

from __future__ import annotations

import math
from collections.abc import Sequence

from harness.report.device_pairs import DevicePair
from harness.report.plots.svg import Axis, Point, coord, escape, series_styles, svg_plot, tick
from harness.report.values import as_float


def error_scatter(title: str, points: dict[str, list[Point]], w: int = 330, h: int = 250) -> str:
    """Log-log scatter of each trial's error against the oracle on the CPU (x) and on a GPU (y), in ULPs of
    its dtype, one colour per framework; the diagonal is 'the same error on both'. Zero errors sit at
    the lowest tick (log axes cannot show 0), so exact agreement on both lands in the corner."""
    flat = [v for pts in points.values() for p in pts for v in p if math.isfinite(v)]
    if not flat:
        return ""
    floor = min([v for v in flat if v > 0], default=1.0) / 2
    lo, hi = floor, max(max(flat), floor * 10)
    left, right, top, bottom = 46, w - 12, 18, h - 30
    xa, ya = Axis(lo, hi, True, left, right), Axis(lo, hi, True, bottom, top)
    out = [f'<text x="{w / 2:.0f}" y="11" text-anchor="middle" font-weight="bold">{escape(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="none" stroke="#bbb"/>',
           f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{top}" stroke="#999" stroke-dasharray="4 3"/>']
    for t in xa.ticks():
        out.append(f'<text x="{coord(xa(t))}" y="{bottom + 12}" text-anchor="middle">{tick(t)}</text>'
                   f'<text x="{left - 3}" y="{coord(ya(t) + 3)}" text-anchor="end">{tick(t)}</text>')
    out.append(f'<text x="{(left + right) / 2:.0f}" y="{h - 4}" text-anchor="middle">CPU: ULP from the oracle</text>'
               f'<text x="10" y="{(top + bottom) / 2:.0f}" transform="rotate(-90 10 {(top + bottom) / 2:.0f})" '
               'text-anchor="middle">GPU: ULP from the oracle</text>')
    styles = series_styles(points)
    for key, pts in points.items():
        colour = styles[key][0]
        dots = []
        for x, y in pts:
            if not (math.isfinite(x) and math.isfinite(y)):
                continue
            cx, cy = xa(min(max(x, lo), hi)), ya(min(max(y, lo), hi))
            dots.append(f'<circle cx="{coord(cx)}" cy="{coord(cy)}" r="2.6" fill="{colour}" fill-opacity=".7">'
                        f"<title>{escape(key)}: CPU {x:.3g}, GPU {y:.3g} ULP</title></circle>")
        out.extend(dots)
    legend = "".join(f'<text x="{left + 4}" y="{top + 12 + 11 * i}" fill="{styles[k][0]}">{escape(k)}</text>'
                     for i, k in enumerate(sorted(points)))
    return svg_plot(w, h, title, "".join(out) + legend)


def cpu_gpu_errors(pairs: Sequence[DevicePair]) -> str:
    """The CPU's and the GPU's gradient error against the oracle for each trial (harness/report/device_pairs.py)."""
    pts: dict[str, list[Point]] = {}
    for p in pairs:
        x, y = as_float(p.cpu_grad_ulp), as_float(p.device_grad_ulp)
        if x is not None and y is not None:
            pts.setdefault(f"{p.framework} {p.device}", []).append((x, y))
    chart = error_scatter("gradient error: CPU against GPU", pts)
    return f'<figure class="devices">{chart}</figure>' if chart else ""
