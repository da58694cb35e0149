"""The two-class gradient field: a case's gradient over the logit plane, the oracle's beside every path's."""

from __future__ import annotations

import base64
import math
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.judge.inputs import FIELD_TAG
from harness.report.plots.svg import BAD, coord, escape, path_key, svg_plot
from harness.results.rows import Row

_MAX_FIELD_GROUPS = 8


@dataclass(frozen=True)
class _Grid:
    """Where a field's points sit: an n x n grid, each point's (column, row) counted from the smallest z1
    and the smallest z2, and the extent of each axis."""

    n: int
    cells: list[tuple[int, int]]
    z1: tuple[float, float]
    z2: tuple[float, float]


def _grid(logits: Sequence[float] | None) -> _Grid | None:
    """The grid of a two-class field from the row's own logits ([N, 2] flattened, z1 and z2 of each point,
    in any order): n distinct finite values of each, every pair once. None when the row has no logits (rows
    from before they carried them) or they are not such a grid."""
    if not logits or len(logits) % 2 or not all(math.isfinite(v) for v in logits):
        return None
    z1s, z2s = [float(v) for v in logits[0::2]], [float(v) for v in logits[1::2]]
    xs, ys = sorted(set(z1s)), sorted(set(z2s))
    n = len(xs)
    if n < 2 or len(ys) != n or n * n != len(z1s):
        return None
    col, row = {v: k for k, v in enumerate(xs)}, {v: k for k, v in enumerate(ys)}
    cells = [(col[a], row[b]) for a, b in zip(z1s, z2s, strict=True)]
    if len(set(cells)) != len(cells):
        return None
    return _Grid(n, cells, (xs[0], xs[-1]), (ys[0], ys[-1]))


def _field_rows(rows: list[Row]) -> tuple[dict[tuple[str, str], tuple[_Grid, list[Row]]], bool]:
    """The grid and the rows of each gradient-field case and dtype that can be drawn, and whether any such
    case's rows were left out for want of their logits."""
    groups: dict[tuple[str, str], tuple[_Grid, list[Row]]] = {}
    unplaced = False
    for r in rows:
        if FIELD_TAG not in r.tags or not r.shape or len(r.shape) != 2 or r.shape[1] != 2:
            continue
        n = r.shape[0]
        if r.ref_grad_values is None or len(r.ref_grad_values) != 2 * n:
            continue
        grid = _grid(r.logit_values)
        if grid is None or len(grid.cells) != n:
            unplaced = True
            continue
        groups.setdefault((r.case, r.dtype), (grid, []))[1].append(r)
    return groups, unplaced


def _png(width: int, height: int, pixels: Sequence[tuple[int, int, int]]) -> str:
    """A data: URI of an RGB PNG (pixels in row-major order, top row first)."""
    raw = b"".join(b"\x00" + bytes(c for px in pixels[y * width:(y + 1) * width] for c in px) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _background(grid: _Grid, loss: Sequence[float] | None, top: float) -> list[tuple[int, int, int]] | None:
    if not loss or len(loss) != len(grid.cells):
        return None
    at = {cell: i for i, cell in enumerate(grid.cells)}
    out = []
    for row in reversed(range(grid.n)):  # the image's top row is the largest z2
        for col in range(grid.n):
            v = loss[at[col, row]]
            if not math.isfinite(v):
                out.append((240, 80, 80))
                continue
            t = max(0.0, min(1.0, v / top)) if top > 0 else 0.0
            out.append((int(255 - 150 * t), int(255 - 110 * t), int(255 - 40 * t)))
    return out


def quiver(title: str, subtitle: str, grid: _Grid, grad: Sequence[float], ref: Sequence[float] | None,
           bad: Callable[[int], bool], loss: Sequence[float] | None = None, loss_top: float = 0.0, size: int = 196) -> str:
    """Arrows of a gradient over the grid (scaled by the oracle's largest arrow) over the loss (shaded
    from white at 0 to blue at the oracle's largest loss); red where the path disagrees with the
    oracle, a red cross where its gradient is not finite."""
    n = grid.n
    pad, top = 18, 26
    cell = (size - pad - 4) / n
    scale_src = ref if ref is not None else grad
    mags = [math.hypot(scale_src[2 * i], scale_src[2 * i + 1]) for i in range(len(grid.cells))]
    big = max((m for m in mags if math.isfinite(m)), default=0.0) or 1.0
    good, red, cross = [], [], []
    for i, (col, row) in enumerate(grid.cells):
        cx = pad + (col + 0.5) * cell  # z1 to the right, z2 up
        cy = top + (n - 1 - row + 0.5) * cell
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
    pixels = _background(grid, loss, loss_top)
    if pixels is not None and len(pixels) == n * n:
        body.append(f'<image x="{pad}" y="{top}" width="{side}" height="{side}" preserveAspectRatio="none" '
                    f'href="{_png(n, n, pixels)}"/>')
    body.append(f'<rect x="{pad}" y="{top}" width="{side}" height="{side}" fill="none" stroke="#bbb"/>'
                f'<text x="{pad}" y="{coord(top + n * cell + 10)}">{grid.z1[0]:g}</text>'
                f'<text x="{coord(pad + n * cell)}" y="{coord(top + n * cell + 10)}" text-anchor="end">z1 {grid.z1[1]:g}</text>'
                f'<text x="{pad - 2}" y="{top + 8}" text-anchor="end">{grid.z2[1]:g}</text>'
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
    groups, unplaced = _field_rows(rows)
    if not groups:
        return ('<p class="note">The gradient-field rows of this run do not carry their logits (rows from an older '
                'run): not drawn.</p>' if unplaced else '<p class="note">No gradient-field cases in this run.</p>')
    out = []
    for n, ((case, dtype), (grid, rs)) in enumerate(sorted(groups.items(), key=lambda kv: kv[0])):
        if n == _MAX_FIELD_GROUPS:
            out.append(f'<p class="note">... and {len(groups) - n} more gradient-field groups, not drawn.</p>')
            break
        ref = [float(v) for v in rs[0].ref_grad_values or []]
        ref_loss = _floats(rs[0].ref_loss_values, len(ref) // 2)
        top = max((v for v in ref_loss or [] if math.isfinite(v)), default=0.0)
        panels = [quiver("oracle", dtype, grid, ref, None, lambda i: False, ref_loss, top)]
        for r in sorted(rs, key=path_key):
            if r.framework == "oracle":
                continue
            title = r.framework + (f" {r.device}" if r.device != "cpu" else "")
            grad = _floats(r.grad_values, len(ref))
            if grad is None:
                panels.append(f'<div class="nodata"><b>{escape(title)}</b><br>{escape(r.api)}<br>{escape(r.verdict)}: '
                              f'{escape(r.message[:200])}</div>')
                continue
            panels.append(quiver(title, r.api, grid, grad, ref, _disagrees(r), _floats(r.loss_values, len(ref) // 2), top))
        out.append(f'<figure class="field"><figcaption>{escape(case)} &middot; {escape(dtype)}: the gradient of the loss over '
                   f'the logit plane (z1, z2) over the loss (white 0, blue the largest); red where a path disagrees with '
                   f'the oracle</figcaption>{"".join(panels)}</figure>')
    return "".join(out)
