"""Loss and gradient norm against logit scale: one line chart per swept case, measure and dtype."""

from __future__ import annotations

import math
from collections.abc import Sequence

from harness.report.order import DTYPES
from harness.report.plots.svg import (
    BAD,
    ORACLE,
    Point,
    Style,
    axis_for,
    coord,
    escape,
    legend,
    path_key,
    series_styles,
    svg_plot,
    tick,
)
from harness.report.values import as_float
from harness.results.rows import Row

_MAX_SWEEP_GROUPS = 12


def line_chart(title: str, ylabel: str, series: dict[str, list[Point]], styles: dict[str, Style],
               oracle: list[Point], w: int = 330, h: int = 210) -> str:
    """A log-x chart of every series over the oracle; NaN/Inf points become red crosses at the top
    edge, values a log y axis cannot show (<= 0) hollow circles at the bottom edge."""
    left, right, top, bottom = 52, w - 16, 18, h - 30
    everything = [p for pts in [oracle, *series.values()] for p in pts]
    xs = [x for x, _ in everything if x > 0 and math.isfinite(x)]
    ys = [y for _, y in everything if math.isfinite(y)]
    if not xs or not ys:
        return ""
    pos = [y for y in ys if y > 0]
    ylog = bool(pos) and max(pos) / min(pos) > 1e3
    xa = axis_for(xs, left, right, log=True)
    ya = axis_for(pos if ylog else ys, bottom, top, log=ylog)
    out = [f'<text x="{w / 2:.0f}" y="11" text-anchor="middle" font-weight="bold">{escape(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="none" stroke="#bbb"/>']
    for t in xa.ticks():
        x = xa(t)
        out.append(f'<line x1="{coord(x)}" y1="{top}" x2="{coord(x)}" y2="{bottom}" stroke="#eee"/>'
                   f'<text x="{coord(x)}" y="{bottom + 12}" text-anchor="middle">{tick(t)}</text>')
    for t in ya.ticks():
        y = ya(t)
        out.append(f'<line x1="{left}" y1="{coord(y)}" x2="{right}" y2="{coord(y)}" stroke="#eee"/>'
                   f'<text x="{left - 3}" y="{coord(y + 3)}" text-anchor="end">{tick(t)}</text>')
    out.append(f'<text x="{(left + right) / 2:.0f}" y="{h - 4}" text-anchor="middle">logit scale</text>'
               f'<text x="10" y="{(top + bottom) / 2:.0f}" transform="rotate(-90 10 {(top + bottom) / 2:.0f})" '
               f'text-anchor="middle">{escape(ylabel)}{" (log)" if ylog else ""}</text>')

    def draw(label: str, pts: list[Point], colour: str, width: float, dash: str = "", dots: bool = True) -> None:
        d: list[Point | None] = []
        crosses, zeros, bad_at = [], [], []
        for x, y in sorted(pts):
            if not math.isfinite(y):
                crosses.append(f"M{coord(xa(x) - 3)} {top + 1}l6 6m0-6l-6 6")
                bad_at.append(f"{'NaN' if math.isnan(y) else 'Inf'} at {x:g}")
                d.append(None)
            elif ylog and y <= 0:
                zeros.append(f'<circle cx="{coord(xa(x))}" cy="{bottom}" r="3" fill="#fff" stroke="{colour}"/>')
                d.append(None)
            else:
                d.append((xa(x), ya(y)))
        segs, cur = [], []
        for p in [*d, None]:
            if p is None:
                if cur:
                    segs.append("M" + "L".join(f"{coord(px)} {coord(py)}" for px, py in cur))
                cur = []
            else:
                cur.append(p)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        if segs:
            out.append(f'<path d="{"".join(segs)}" fill="none" stroke="{colour}" stroke-width="{width}"{dash_attr}/>')
        marks = "".join(f"M{coord(p[0] - 1.6)} {coord(p[1])}h3.2" for p in d if p)
        if marks and dots:
            out.append(f'<path d="{marks}" stroke="{colour}" stroke-width="3.2"/>')
        out.extend(zeros)
        if crosses:
            out.append(f'<path d="{"".join(crosses)}" stroke="{BAD}" stroke-width="1.6"><title>{escape(label)}: '
                       f'{escape(", ".join(bad_at))}</title></path>')

    draw("oracle", oracle, "#ccc", 5, dots=False)
    for key, pts in series.items():
        colour, dash = styles[key]
        draw(key, pts, colour, 1.3, dash)
    draw("oracle", oracle, ORACLE, 1.2, "4 3", dots=False)
    return svg_plot(w, h, title, "".join(out))


def _mean(v: Sequence[float] | None, fallback: object) -> float | None:
    if v:
        return math.fsum(v) / len(v)
    return as_float(fallback)


_MEASURES = (("loss", lambda r: _mean(r.loss_values, r.loss), lambda r: _mean(r.ref_loss_values, r.ref_loss)),
             ("gradient norm", lambda r: as_float(r.grad_norm), lambda r: as_float(r.ref_grad_norm)))


def _dtype_key(d: str) -> tuple[int, str]:
    return (DTYPES.index(d) if d in DTYPES else len(DTYPES), d)


def sweep_section(rows: list[Row]) -> str:
    """Loss and gradient norm against logit scale, per swept case (sweep case ids are `<id>@scale=<v>`)
    and dtype, every path over the oracle (the rows' reference values)."""
    groups: dict[str, dict[str, list[Row]]] = {}
    for r in rows:
        if r.sweep == "scale" and as_float(r.sweep_value) and r.framework != "oracle":
            groups.setdefault(r.case.split("@", 1)[0], {}).setdefault(r.dtype, []).append(r)
    if not groups:
        return '<p class="note">No sweep cases in this run.</p>'
    styles = series_styles(path_key(r) for by_dtype in groups.values() for rs in by_dtype.values() for r in rs)
    out = [legend(styles)]
    for n, (case, by_dtype) in enumerate(sorted(groups.items())):
        if n == _MAX_SWEEP_GROUPS:
            out.append(f'<p class="note">... and {len(groups) - n} more swept cases, not drawn.</p>')
            break
        charts = []
        for ylabel, obs, ref in _MEASURES:
            for dtype in sorted(by_dtype, key=_dtype_key):
                series: dict[str, list[Point]] = {}
                oracle: dict[float, float] = {}
                for r in by_dtype[dtype]:
                    x = float(r.sweep_value)  # type: ignore[arg-type]
                    y, yr = obs(r), ref(r)
                    if y is not None:
                        series.setdefault(path_key(r), []).append((x, y))
                    if yr is not None:
                        oracle.setdefault(x, yr)
                charts.append(line_chart(f"{ylabel} \u00b7 {dtype}", ylabel, series, styles, sorted(oracle.items())))
        out.append(f'<figure class="sweep"><figcaption>{escape(case)}</figcaption>{"".join(charts)}</figure>')
    return "".join(out)
