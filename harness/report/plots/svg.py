"""Shared drawing helpers of the plots: SVG text and numbers, series colours and their legend, axes."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from dataclasses import dataclass

from harness.results.rows import Row

# Series colours (colour-blind friendly, Okabe-Ito then Tableau), assigned to paths in sorted order.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#8c564b", "#7f7f7f",
           "#bcbd22", "#17becf", "#9467bd", "#f0e442")
ORACLE = "#222"
BAD = "#d62728"
Point = tuple[float, float]


def escape(s: object) -> str:
    return html.escape(str(s), quote=True)


def coord(v: float) -> str:
    """A short coordinate for SVG text."""
    return f"{v:.1f}".rstrip("0").rstrip(".")


def tick(v: float) -> str:
    return f"{v:g}" if 1e-3 <= abs(v) < 1e4 or v == 0 else f"{v:.0e}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def svg_plot(w: int, h: int, title: str, body: str) -> str:
    return (f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
            f'role="img" font-size="10" font-family="system-ui,sans-serif"><title>{escape(title)}</title>{body}</svg>')


def path_key(r: Row) -> str:
    return f"{r.framework} {r.api} {r.device}"


_DASHES = ("", "5 2.5", "1.2 2")  # after the palette's colours, the same colours dashed, then dotted


Style = tuple[str, str]  # (colour, stroke-dasharray)


def series_styles(keys: Iterable[str]) -> dict[str, Style]:
    n = len(PALETTE)
    return {k: (PALETTE[i % n], _DASHES[(i // n) % len(_DASHES)]) for i, k in enumerate(sorted(set(keys)))}


def legend(styles: dict[str, Style]) -> str:
    def swatch(colour: str, dash: str) -> str:
        kind = "dotted" if dash == _DASHES[2] else "dashed" if dash else "solid"
        return f'<i style="border-top:3px {kind} {colour}"></i>'
    items = [f"<span>{swatch(ORACLE, '')}oracle (on a grey band)</span>"]
    items += [f"<span>{swatch(c, d)}{escape(k)}</span>" for k, (c, d) in styles.items()]
    items.append(f'<span><b style="color:{BAD}">&times;</b> NaN or Inf, at the top edge; '
                 "&#9675; zero on a log axis, at the bottom edge</span>")
    return f'<div class="legend">{"".join(items)}</div>'


@dataclass
class Axis:
    lo: float
    hi: float
    log: bool
    a: float  # pixel of lo
    b: float  # pixel of hi

    def __call__(self, v: float) -> float:
        t = (math.log10(v) if self.log else v)
        lo, hi = (math.log10(self.lo), math.log10(self.hi)) if self.log else (self.lo, self.hi)
        return self.a + (t - lo) / (hi - lo or 1.0) * (self.b - self.a)

    def ticks(self) -> list[float]:
        if self.log:
            lo, hi = math.floor(math.log10(self.lo)), math.ceil(math.log10(self.hi))
            step = max(1, math.ceil((hi - lo) / 6))
            return [10.0 ** k for k in range(lo, hi + 1, step) if self.lo <= 10.0 ** k <= self.hi]
        span = self.hi - self.lo
        step = 10 ** math.floor(math.log10(span / 4)) if span > 0 else 1.0
        for m in (1, 2, 5, 10):
            if span / (step * m) <= 6:
                step *= m
                break
        first = math.ceil(self.lo / step) * step
        return [first + k * step for k in range(int((self.hi - first) / step) + 1)]


def axis_for(values: list[float], a: float, b: float, log: bool | None = None) -> Axis:
    pos = [v for v in values if v > 0]
    if log is None:
        log = bool(pos) and len(pos) == len(values) and max(pos) / min(pos) > 100
    if log:
        lo, hi = min(pos), max(pos)
        if lo == hi:
            lo, hi = lo / 10, hi * 10
        return Axis(lo, hi, True, a, b)
    lo, hi = min(values, default=0.0), max(values, default=1.0)
    if lo == hi:
        lo, hi = lo - (abs(lo) or 1.0) * 0.5, hi + (abs(hi) or 1.0) * 0.5
    return Axis(lo, hi, False, a, b)
