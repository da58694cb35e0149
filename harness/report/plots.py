"""Draw the report's plots as inline SVG: scale sweeps, two-class gradient fields, worst-error heatmaps.

Every function takes result rows and returns an HTML fragment (figures holding `<svg class="plot">`
elements, or a short note when the run has no data for that plot). Plots are drawn once, when the
report is built, so the page needs no plotting library; every text taken from a row is escaped.
"""

from __future__ import annotations

import base64
import html
import math
import struct
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from harness.results.rows import Row

# Series colours (colour-blind friendly, Okabe-Ito then Tableau), assigned to paths in sorted order.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#8c564b", "#7f7f7f",
           "#bcbd22", "#17becf", "#9467bd", "#f0e442")
ORACLE = "#222"
BAD = "#d62728"
_MAX_SWEEP_GROUPS = 12
_MAX_FIELD_GROUPS = 8
Point = tuple[float, float]


def _e(s: object) -> str:
    return html.escape(str(s), quote=True)


def as_float(v: object) -> float | None:
    """A float of a row value (None, numbers, or the strings "nan"/"inf"), None when absent."""
    if v is None or isinstance(v, bool):
        return None
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _g(v: float) -> str:
    """A short coordinate for SVG text."""
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _tick(v: float) -> str:
    return f"{v:g}" if 1e-3 <= abs(v) < 1e4 or v == 0 else f"{v:.0e}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def _svg(w: int, h: int, title: str, body: str) -> str:
    return (f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
            f'role="img" font-size="10" font-family="system-ui,sans-serif"><title>{_e(title)}</title>{body}</svg>')


def path_key(r: Row) -> str:
    return f"{r.framework} {r.api} {r.device}"


_DASHES = ("", "5 2.5", "1.2 2")  # after the palette's colours, the same colours dashed, then dotted
Style = tuple[str, str]  # (colour, stroke-dasharray)


def _styles(keys: Iterable[str]) -> dict[str, Style]:
    n = len(PALETTE)
    return {k: (PALETTE[i % n], _DASHES[(i // n) % len(_DASHES)]) for i, k in enumerate(sorted(set(keys)))}


def _legend(styles: dict[str, Style]) -> str:
    def swatch(colour: str, dash: str) -> str:
        kind = "dotted" if dash == _DASHES[2] else "dashed" if dash else "solid"
        return f'<i style="border-top:3px {kind} {colour}"></i>'
    items = [f"<span>{swatch(ORACLE, '')}oracle (on a grey band)</span>"]
    items += [f"<span>{swatch(c, d)}{_e(k)}</span>" for k, (c, d) in styles.items()]
    items.append(f'<span><b style="color:{BAD}">&times;</b> NaN or Inf, at the top edge; '
                 "&#9675; zero on a log axis, at the bottom edge</span>")
    return f'<div class="legend">{"".join(items)}</div>'


# --------------------------------------------------------------------------- line charts (scale sweeps)


@dataclass
class _Axis:
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


def _axis(values: list[float], a: float, b: float, log: bool | None = None) -> _Axis:
    pos = [v for v in values if v > 0]
    if log is None:
        log = bool(pos) and len(pos) == len(values) and max(pos) / min(pos) > 100
    if log:
        lo, hi = min(pos), max(pos)
        if lo == hi:
            lo, hi = lo / 10, hi * 10
        return _Axis(lo, hi, True, a, b)
    lo, hi = min(values, default=0.0), max(values, default=1.0)
    if lo == hi:
        lo, hi = lo - (abs(lo) or 1.0) * 0.5, hi + (abs(hi) or 1.0) * 0.5
    return _Axis(lo, hi, False, a, b)


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
    xa = _axis(xs, left, right, log=True)
    ya = _axis(pos if ylog else ys, bottom, top, log=ylog)
    out = [f'<text x="{w / 2:.0f}" y="11" text-anchor="middle" font-weight="bold">{_e(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="none" stroke="#bbb"/>']
    for t in xa.ticks():
        x = xa(t)
        out.append(f'<line x1="{_g(x)}" y1="{top}" x2="{_g(x)}" y2="{bottom}" stroke="#eee"/>'
                   f'<text x="{_g(x)}" y="{bottom + 12}" text-anchor="middle">{_tick(t)}</text>')
    for t in ya.ticks():
        y = ya(t)
        out.append(f'<line x1="{left}" y1="{_g(y)}" x2="{right}" y2="{_g(y)}" stroke="#eee"/>'
                   f'<text x="{left - 3}" y="{_g(y + 3)}" text-anchor="end">{_tick(t)}</text>')
    out.append(f'<text x="{(left + right) / 2:.0f}" y="{h - 4}" text-anchor="middle">logit scale</text>'
               f'<text x="10" y="{(top + bottom) / 2:.0f}" transform="rotate(-90 10 {(top + bottom) / 2:.0f})" '
               f'text-anchor="middle">{_e(ylabel)}{" (log)" if ylog else ""}</text>')

    def draw(label: str, pts: list[Point], colour: str, width: float, dash: str = "", dots: bool = True) -> None:
        d: list[Point | None] = []
        crosses, zeros, bad_at = [], [], []
        for x, y in sorted(pts):
            if not math.isfinite(y):
                crosses.append(f"M{_g(xa(x) - 3)} {top + 1}l6 6m0-6l-6 6")
                bad_at.append(f"{'NaN' if math.isnan(y) else 'Inf'} at {x:g}")
                d.append(None)
            elif ylog and y <= 0:
                zeros.append(f'<circle cx="{_g(xa(x))}" cy="{bottom}" r="3" fill="#fff" stroke="{colour}"/>')
                d.append(None)
            else:
                d.append((xa(x), ya(y)))
        segs, cur = [], []
        for p in [*d, None]:
            if p is None:
                if cur:
                    segs.append("M" + "L".join(f"{_g(px)} {_g(py)}" for px, py in cur))
                cur = []
            else:
                cur.append(p)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        if segs:
            out.append(f'<path d="{"".join(segs)}" fill="none" stroke="{colour}" stroke-width="{width}"{dash_attr}/>')
        marks = "".join(f"M{_g(p[0] - 1.6)} {_g(p[1])}h3.2" for p in d if p)
        if marks and dots:
            out.append(f'<path d="{marks}" stroke="{colour}" stroke-width="3.2"/>')
        out.extend(zeros)
        if crosses:
            out.append(f'<path d="{"".join(crosses)}" stroke="{BAD}" stroke-width="1.6"><title>{_e(label)}: '
                       f'{_e(", ".join(bad_at))}</title></path>')

    draw("oracle", oracle, "#ccc", 5, dots=False)
    for key, pts in series.items():
        colour, dash = styles[key]
        draw(key, pts, colour, 1.3, dash)
    draw("oracle", oracle, ORACLE, 1.2, "4 3", dots=False)
    return _svg(w, h, title, "".join(out))


def _mean(v: Sequence[float] | None, fallback: object) -> float | None:
    if v:
        return math.fsum(v) / len(v)
    return as_float(fallback)


_DTYPE_ORDER = ("float64", "float32", "float16", "bfloat16")
_MEASURES = (("loss", lambda r: _mean(r.loss_values, r.loss), lambda r: _mean(r.ref_loss_values, r.ref_loss)),
             ("gradient norm", lambda r: as_float(r.grad_norm), lambda r: as_float(r.ref_grad_norm)))


def _dtype_key(d: str) -> tuple[int, str]:
    return (_DTYPE_ORDER.index(d) if d in _DTYPE_ORDER else len(_DTYPE_ORDER), d)


def sweep_section(rows: list[Row]) -> str:
    """Loss and gradient norm against logit scale, per swept case (sweep case ids are `<id>@scale=<v>`)
    and dtype, every path over the oracle (the rows' reference values)."""
    groups: dict[str, dict[str, list[Row]]] = {}
    for r in rows:
        if r.sweep == "scale" and as_float(r.sweep_value) and r.framework != "oracle":
            groups.setdefault(r.case.split("@", 1)[0], {}).setdefault(r.dtype, []).append(r)
    if not groups:
        return '<p class="note">No sweep cases in this run.</p>'
    styles = _styles(path_key(r) for by_dtype in groups.values() for rs in by_dtype.values() for r in rs)
    out = [_legend(styles)]
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
        out.append(f'<figure class="sweep"><figcaption>{_e(case)}</figcaption>{"".join(charts)}</figure>')
    return "".join(out)


# --------------------------------------------------------------------------- gradient fields


def _grid(n_points: int) -> list[Point] | None:
    """The logits of a gradient-field case, which rows do not carry.

    ASSUMPTION: a row tagged `gradient-field` with shape [N, 2] comes from a case whose logits are an
    n x n grid over [-4, 4]^2 in row-major order with z1 varying fastest (the `grid2d` generator's
    defaults): n = sqrt(N), z1 = linspace(-4, 4, n)[i % n], z2 = linspace(-4, 4, n)[i // n].
    """
    n = math.isqrt(n_points)
    if n < 2 or n * n != n_points:
        return None
    z = [-4.0 + 8.0 * k / (n - 1) for k in range(n)]
    return [(z[i % n], z[i // n]) for i in range(n_points)]


def _field_rows(rows: list[Row]) -> dict[tuple[str, str], list[Row]]:
    groups: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        if "gradient-field" not in r.tags or not r.shape or len(r.shape) != 2 or r.shape[1] != 2:
            continue
        n = r.shape[0]
        if _grid(n) is None or (r.ref_grad_values is None or len(r.ref_grad_values) != 2 * n):
            continue
        groups.setdefault((r.case, r.dtype), []).append(r)
    return groups


def _png(width: int, height: int, pixels: Sequence[tuple[int, int, int]]) -> str:
    """A data: URI of an RGB PNG (pixels in row-major order, top row first)."""
    raw = b"".join(b"\x00" + bytes(c for px in pixels[y * width:(y + 1) * width] for c in px) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _background(loss: Sequence[float] | None, top: float) -> list[tuple[int, int, int]] | None:
    if not loss:
        return None
    out = []
    n = math.isqrt(len(loss))
    for row in reversed(range(n)):  # the image's top row is the largest z2
        for col in range(n):
            v = loss[row * n + col]
            if not math.isfinite(v):
                out.append((240, 80, 80))
                continue
            t = max(0.0, min(1.0, v / top)) if top > 0 else 0.0
            out.append((int(255 - 150 * t), int(255 - 110 * t), int(255 - 40 * t)))
    return out


def quiver(title: str, subtitle: str, grad: Sequence[float], ref: Sequence[float] | None, bad: Callable[[int], bool],
           loss: Sequence[float] | None = None, loss_top: float = 0.0, size: int = 196) -> str:
    """Arrows of a gradient over the grid (scaled by the oracle's largest arrow) over the loss (shaded
    from white at 0 to blue at the oracle's largest loss); red where the path disagrees with the
    oracle, a red cross where its gradient is not finite."""
    pts = _grid(len(grad) // 2) or []
    n = math.isqrt(len(pts))
    pad, top = 18, 26
    cell = (size - pad - 4) / n
    scale_src = ref if ref is not None else grad
    mags = [math.hypot(scale_src[2 * i], scale_src[2 * i + 1]) for i in range(len(pts))]
    big = max((m for m in mags if math.isfinite(m)), default=0.0) or 1.0
    good, red, cross = [], [], []
    for i, (z1, z2) in enumerate(pts):
        cx = pad + ((z1 + 4.0) / 8.0 * (n - 1) + 0.5) * cell  # z1 to the right, z2 up
        cy = top + ((4.0 - z2) / 8.0 * (n - 1) + 0.5) * cell
        gx, gy = grad[2 * i], grad[2 * i + 1]
        if not (math.isfinite(gx) and math.isfinite(gy)):
            cross.append(f"M{_g(cx - 3)} {_g(cy - 3)}l6 6m0-6l-6 6")
            continue
        k = 0.95 * cell / big
        dx, dy = gx * k, -gy * k
        length = math.hypot(dx, dy)
        if length > 1.3 * cell:  # larger than any oracle arrow: clip, it is red anyway
            dx, dy, length = dx * 1.3 * cell / length, dy * 1.3 * cell / length, 1.3 * cell
        if length < 0.4:
            d = f"M{_g(cx - .4)} {_g(cy)}h.8"
        else:  # a thin triangle from a base at the tail to its tip
            wx, wy = -dy / length * 1.4, dx / length * 1.4
            d = (f"M{_g(cx - dx / 2 + wx)} {_g(cy - dy / 2 + wy)}l{_g(dx - wx)} {_g(dy - wy)}"
                 f"l{_g(-dx - wx)} {_g(-dy - wy)}z")
        (red if bad(i) else good).append(d)
    side = _g(n * cell)
    limit = int(size / 5.3)
    if len(subtitle) > limit:  # keep both ends of a long API path
        subtitle = subtitle[:limit // 2 - 1] + "\u2026" + subtitle[-(limit - limit // 2):]
    body = [f'<text x="{size / 2:.0f}" y="10" text-anchor="middle" font-weight="bold">{_e(title)}</text>'
            f'<text x="{size / 2:.0f}" y="21" text-anchor="middle" font-size="9">{_e(subtitle)}</text>']
    pixels = _background(loss, loss_top)
    if pixels is not None and len(pixels) == n * n:
        body.append(f'<image x="{pad}" y="{top}" width="{side}" height="{side}" preserveAspectRatio="none" '
                    f'href="{_png(n, n, pixels)}"/>')
    body.append(f'<rect x="{pad}" y="{top}" width="{side}" height="{side}" fill="none" stroke="#bbb"/>'
                f'<text x="{pad}" y="{_g(top + n * cell + 10)}">-4</text>'
                f'<text x="{_g(pad + n * cell)}" y="{_g(top + n * cell + 10)}" text-anchor="end">z1 4</text>'
                f'<text x="{pad - 2}" y="{top + 8}" text-anchor="end">4</text>'
                f'<text x="{pad - 2}" y="{_g(top + n * cell)}" text-anchor="end">z2</text>')
    if good:
        body.append(f'<path d="{"".join(good)}" fill="#222" stroke="#222" stroke-width=".3"/>')
    if red:
        body.append(f'<path d="{"".join(red)}" fill="{BAD}" stroke="{BAD}" stroke-width=".3"/>')
    if cross:
        body.append(f'<path d="{"".join(cross)}" stroke="{BAD}" stroke-width="1.5"/>')
    return _svg(size, int(top + n * cell + 14), f"{title} {subtitle}", "".join(body))


def _disagrees(r: Row) -> Callable[[int], bool]:
    g, ref = r.grad_values or [], r.ref_grad_values or []
    allowed = r.grad_allowed_values or [0.0] * len(ref)

    def bad(i: int) -> bool:
        for j in (2 * i, 2 * i + 1):
            a, b = g[j], ref[j]
            if math.isfinite(a) != math.isfinite(b) or (math.isfinite(b) and abs(a - b) > allowed[j] + 1e-300):
                return True
        return False
    return bad


def _floats(v: Sequence[float] | None, n: int) -> list[float] | None:
    return [float(x) for x in v] if v is not None and len(v) == n else None


def gradient_field_section(rows: list[Row]) -> str:
    """Per gradient-field case and dtype: the oracle's field, then every path's beside it."""
    groups = _field_rows(rows)
    if not groups:
        return '<p class="note">No gradient-field cases in this run.</p>'
    out = []
    for n, ((case, dtype), rs) in enumerate(sorted(groups.items())):
        if n == _MAX_FIELD_GROUPS:
            out.append(f'<p class="note">... and {len(groups) - n} more gradient-field groups, not drawn.</p>')
            break
        ref = [float(v) for v in rs[0].ref_grad_values or []]
        ref_loss = _floats(rs[0].ref_loss_values, len(ref) // 2)
        top = max((v for v in ref_loss or [] if math.isfinite(v)), default=0.0)
        panels = [quiver("oracle", dtype, ref, None, lambda i: False, ref_loss, top)]
        for r in sorted(rs, key=path_key):
            if r.framework == "oracle":
                continue
            title = r.framework + (f" {r.device}" if r.device != "cpu" else "")
            grad = _floats(r.grad_values, len(ref))
            if grad is None:
                panels.append(f'<div class="nodata"><b>{_e(title)}</b><br>{_e(r.api)}<br>{_e(r.verdict)}: '
                              f'{_e(r.message[:200])}</div>')
                continue
            panels.append(quiver(title, r.api, grad, ref, _disagrees(r), _floats(r.loss_values, len(ref) // 2), top))
        out.append(f'<figure class="field"><figcaption>{_e(case)} &middot; {_e(dtype)}: the gradient of the loss over '
                   f'the logit plane (z1, z2) over the loss (white 0, blue the largest); red where a path disagrees with '
                   f'the oracle</figcaption>{"".join(panels)}</figure>')
    return "".join(out)


# --------------------------------------------------------------------------- worst-error heatmap


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
    out = [f'<text x="4" y="12" font-weight="bold">{_e(title)}</text>']
    for j, fw in enumerate(fws):
        out.append(f'<text x="{_g(lw + cw * (j + 0.5))}" y="{top - 6}" text-anchor="middle">{_e(fw)}</text>')
    for i, (fam, dt) in enumerate(lines):
        y = top + ch * i
        out.append(f'<text x="{_g(lw - 6)}" y="{y + 14}" text-anchor="end">{_e(fam)} {_e(dt)}</text>')
        for j, fw in enumerate(fws):
            v = cells.get((fam, dt, fw))
            if v is None:
                continue
            x = lw + cw * j
            bad = not math.isfinite(v)
            fill = "#6a1b9a" if bad else _heat_colour(v)
            text = "NaN" if math.isnan(v) else ("Inf" if bad else f"{v:.3g}")
            style = ' fill="#fff" font-weight="bold"' if bad else ""
            out.append(f'<rect x="{_g(x + 1)}" y="{y + 1}" width="{cw - 2}" height="{ch - 2}" fill="{fill}"><title>'
                       f'{_e(fam)} {_e(dt)} {_e(fw)}: {text} ULP</title></rect><text x="{_g(x + cw / 2)}" y="{y + 14}" '
                       f'text-anchor="middle"{style}>{text}</text>')
    return _svg(w, h, title, "".join(out))


def heatmap_section(rows: list[Row]) -> str:
    maps = [heatmap("worst loss error (ULP)", rows, lambda r: r.loss_ulp),
            heatmap("worst gradient error (ULP)", rows, lambda r: r.grad_ulp)]
    maps = [m for m in maps if m]
    if not maps:
        return '<p class="note">No ULP errors recorded in this run.</p>'
    return f'<figure class="heat">{"".join(maps)}</figure>'


# --------------------------------------------------------------------------- device against device


def device_scatter(title: str, points: dict[str, list[Point]], w: int = 330, h: int = 250) -> str:
    """Log-log scatter of each trial's error against the oracle on the CPU (x) and on a GPU (y), in ULPs of
    its dtype, one colour per framework; the diagonal is 'the same error on both'. Zero errors sit at
    the lowest tick (log axes cannot show 0), so exact agreement on both lands in the corner."""
    flat = [v for pts in points.values() for p in pts for v in p if math.isfinite(v)]
    if not flat:
        return ""
    floor = min([v for v in flat if v > 0], default=1.0) / 2
    lo, hi = floor, max(max(flat), floor * 10)
    left, right, top, bottom = 46, w - 12, 18, h - 30
    xa, ya = _Axis(lo, hi, True, left, right), _Axis(lo, hi, True, bottom, top)
    out = [f'<text x="{w / 2:.0f}" y="11" text-anchor="middle" font-weight="bold">{_e(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="none" stroke="#bbb"/>',
           f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{top}" stroke="#999" stroke-dasharray="4 3"/>']
    for t in xa.ticks():
        out.append(f'<text x="{_g(xa(t))}" y="{bottom + 12}" text-anchor="middle">{_tick(t)}</text>'
                   f'<text x="{left - 3}" y="{_g(ya(t) + 3)}" text-anchor="end">{_tick(t)}</text>')
    out.append(f'<text x="{(left + right) / 2:.0f}" y="{h - 4}" text-anchor="middle">CPU: ULP from the oracle</text>'
               f'<text x="10" y="{(top + bottom) / 2:.0f}" transform="rotate(-90 10 {(top + bottom) / 2:.0f})" '
               'text-anchor="middle">GPU: ULP from the oracle</text>')
    styles = _styles(points)
    for key, pts in points.items():
        colour = styles[key][0]
        dots = []
        for x, y in pts:
            if not (math.isfinite(x) and math.isfinite(y)):
                continue
            cx, cy = xa(min(max(x, lo), hi)), ya(min(max(y, lo), hi))
            dots.append(f'<circle cx="{_g(cx)}" cy="{_g(cy)}" r="2.6" fill="{colour}" fill-opacity=".7">'
                        f"<title>{_e(key)}: CPU {x:.3g}, GPU {y:.3g} ULP</title></circle>")
        out.extend(dots)
    legend = "".join(f'<text x="{left + 4}" y="{top + 12 + 11 * i}" fill="{styles[k][0]}">{_e(k)}</text>'
                     for i, k in enumerate(sorted(points)))
    return _svg(w, h, title, "".join(out) + legend)


def device_section(pairs: Sequence) -> str:
    """The CPU's and the GPU's gradient error against the oracle for each trial (harness.device_compare pairs)."""
    pts: dict[str, list[Point]] = {}
    for p in pairs:
        x, y = as_float(p.cpu_grad_ulp), as_float(p.device_grad_ulp)
        if x is not None and y is not None:
            pts.setdefault(f"{p.framework} {p.device}", []).append((x, y))
    svg = device_scatter("gradient error: CPU against GPU", pts)
    return f'<figure class="devices">{svg}</figure>' if svg else ""
