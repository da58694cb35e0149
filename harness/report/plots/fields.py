"""The two-class gradient field: a case's gradient over the logit plane, the oracle's beside every path's."""

from __future__ import annotations

import base64
import math
import struct
import zlib
from collections.abc import Callable, Sequence

from harness.report.plots.svg import BAD, Point, coord, escape, path_key, svg_plot
from harness.results.rows import Row

_MAX_FIELD_GROUPS = 8


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
            cross.append(f"M{coord(cx - 3)} {coord(cy - 3)}l6 6m0-6l-6 6")
            continue
        k = 0.95 * cell / big
        dx, dy = gx * k, -gy * k
        length = math.hypot(dx, dy)
        if length > 1.3 * cell:  # larger than any oracle arrow: clip, it is red anyway
            dx, dy, length = dx * 1.3 * cell / length, dy * 1.3 * cell / length, 1.3 * cell
        if length < 0.4:
            d = f"M{coord(cx - .4)} {coord(cy)}h.8"
        else:  # a thin triangle from a base at the tail to its tip
            wx, wy = -dy / length * 1.4, dx / length * 1.4
            d = (f"M{coord(cx - dx / 2 + wx)} {coord(cy - dy / 2 + wy)}l{coord(dx - wx)} {coord(dy - wy)}"
                 f"l{coord(-dx - wx)} {coord(-dy - wy)}z")
        (red if bad(i) else good).append(d)
    side = coord(n * cell)
    limit = int(size / 5.3)
    if len(subtitle) > limit:  # keep both ends of a long API path
        subtitle = subtitle[:limit // 2 - 1] + "\u2026" + subtitle[-(limit - limit // 2):]
    body = [f'<text x="{size / 2:.0f}" y="10" text-anchor="middle" font-weight="bold">{escape(title)}</text>'
            f'<text x="{size / 2:.0f}" y="21" text-anchor="middle" font-size="9">{escape(subtitle)}</text>']
    pixels = _background(loss, loss_top)
    if pixels is not None and len(pixels) == n * n:
        body.append(f'<image x="{pad}" y="{top}" width="{side}" height="{side}" preserveAspectRatio="none" '
                    f'href="{_png(n, n, pixels)}"/>')
    body.append(f'<rect x="{pad}" y="{top}" width="{side}" height="{side}" fill="none" stroke="#bbb"/>'
                f'<text x="{pad}" y="{coord(top + n * cell + 10)}">-4</text>'
                f'<text x="{coord(pad + n * cell)}" y="{coord(top + n * cell + 10)}" text-anchor="end">z1 4</text>'
                f'<text x="{pad - 2}" y="{top + 8}" text-anchor="end">4</text>'
                f'<text x="{pad - 2}" y="{coord(top + n * cell)}" text-anchor="end">z2</text>')
    if good:
        body.append(f'<path d="{"".join(good)}" fill="#222" stroke="#222" stroke-width=".3"/>')
    if red:
        body.append(f'<path d="{"".join(red)}" fill="{BAD}" stroke="{BAD}" stroke-width=".3"/>')
    if cross:
        body.append(f'<path d="{"".join(cross)}" stroke="{BAD}" stroke-width="1.5"/>')
    return svg_plot(size, int(top + n * cell + 14), f"{title} {subtitle}", "".join(body))


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
                panels.append(f'<div class="nodata"><b>{escape(title)}</b><br>{escape(r.api)}<br>{escape(r.verdict)}: '
                              f'{escape(r.message[:200])}</div>')
                continue
            panels.append(quiver(title, r.api, grad, ref, _disagrees(r), _floats(r.loss_values, len(ref) // 2), top))
        out.append(f'<figure class="field"><figcaption>{escape(case)} &middot; {escape(dtype)}: the gradient of the loss over '
                   f'the logit plane (z1, z2) over the loss (white 0, blue the largest); red where a path disagrees with '
                   f'the oracle</figcaption>{"".join(panels)}</figure>')
    return "".join(out)
