"""Worst-error heatmaps: families and dtypes by frameworks, each cell the worst ULP error of its rows."""

from __future__ import annotations

import math
from collections.abc import Callable

from harness.report.plots.svg import coord, escape, svg_plot
from harness.report.values import as_float
from harness.results.rows import Row


def _heat_colour(v: float) -> str:
    """Green at 0 ULP, yellow near 2^8, red from 2^24 ULP on (log scale)."""
    t = min(1.0, math.log2(1.0 + v) / 24.0)
    if t < 0.5:
        r, g, b = 0xd3 + (0xff - 0xd3) * 2 * t, 0xf2 + (0xe6 - 0xf2) * 2 * t, 0xd3 + (0x99 - 0xd3) * 2 * t
    else:
        s = 2 * t - 1
        r, g, b = 0xff + (0xe0 - 0xff) * s, 0xe6 + (0x60 - 0xe6) * s, 0x99 + (0x60 - 0x99) * s
    return f"#{int(r):02x}{int(g):02x}{int(b):02x}"


def heatmap(title: str, rows: list[Row], value: Callable[[Row], object]) -> str:
    """Families x dtypes (rows) by frameworks (columns); each cell the worst value of its rows."""
    cells: dict[tuple[str, str, str], float] = {}
    for r in rows:
        v = as_float(value(r))
        if v is None:
            continue
        k = (r.family, r.dtype, r.framework)
        old = cells.get(k)
        cells[k] = v if old is None or math.isnan(v) or (not math.isnan(old) and v > old) else old
    if not cells:
        return ""
    fws = sorted({k[2] for k in cells})
    lines = sorted({k[:2] for k in cells})
    lw, cw, ch, top = 12 + 6.2 * max(len(f"{a} {b}") for a, b in lines), 86, 20, 34
    w, h = int(lw + cw * len(fws) + 4), top + ch * len(lines) + 4
    out = [f'<text x="4" y="12" font-weight="bold">{escape(title)}</text>']
    for j, fw in enumerate(fws):
        out.append(f'<text x="{coord(lw + cw * (j + 0.5))}" y="{top - 6}" text-anchor="middle">{escape(fw)}</text>')
    for i, (fam, dt) in enumerate(lines):
        y = top + ch * i
        out.append(f'<text x="{coord(lw - 6)}" y="{y + 14}" text-anchor="end">{escape(fam)} {escape(dt)}</text>')
        for j, fw in enumerate(fws):
            v = cells.get((fam, dt, fw))
            if v is None:
                continue
            x = lw + cw * j
            bad = not math.isfinite(v)
            fill = "#6a1b9a" if bad else _heat_colour(v)
            text = "NaN" if math.isnan(v) else ("Inf" if bad else f"{v:.3g}")
            style = ' fill="#fff" font-weight="bold"' if bad else ""
            out.append(f'<rect x="{coord(x + 1)}" y="{y + 1}" width="{cw - 2}" height="{ch - 2}" fill="{fill}"><title>'
                       f'{escape(fam)} {escape(dt)} {escape(fw)}: {text} ULP</title></rect><text x="{coord(x + cw / 2)}" y="{y + 14}" '
                       f'text-anchor="middle"{style}>{text}</text>')
    return svg_plot(w, h, title, "".join(out))


def heatmap_section(rows: list[Row]) -> str:
    maps = [heatmap("worst loss error (ULP)", rows, lambda r: r.loss_ulp),
            heatmap("worst gradient error (ULP)", rows, lambda r: r.grad_ulp)]
    maps = [m for m in maps if m]
    if not maps:
        return '<p class="note">No ULP errors recorded in this run.</p>'
    return f'<figure class="heat">{"".join(maps)}</figure>'
