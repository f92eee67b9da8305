"""Small standalone SVG charts for the report: scatter, heatmap, grouped bars, histogram, lines.

Each function returns one ``<svg class="chart">`` element string with its data marks
(class ``mark``, each with a ``<title>`` tooltip), axes and legend; no script, no external
resource.  Sizes are in a fixed viewBox, so charts scale with the page.

>>> s = bars(["a", "b"], {"weak": [0.4, 0.6]}, title="t")
>>> s.count('class="mark"'), s.startswith("<svg")
(2, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

import numpy as np

PALETTE = ("#3b6fd8", "#e0803a", "#2f9e78", "#c8506c", "#8a63c9", "#8c8c3c", "#3fa3b8", "#b5653a")
INK, MUTED, GRID = "#1f2430", "#6b7280", "#e6e8ee"
W, H = 560, 320
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 46


def _open(name: str, width: int = W, height: int = H, title: str = "") -> list[str]:
    head = [f'<svg class="chart" data-chart="{escape(name)}" viewBox="0 0 {width} {height}" role="img" '
            f'xmlns="http://www.w3.org/2000/svg" font-family="inherit" font-size="11">']  # fmt: skip
    if title:
        head.append(f"<title>{escape(title)}</title>")
    return head


def ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[lo, hi]``."""
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        hi = lo + 1 if math.isfinite(lo) else 1.0
        lo = lo if math.isfinite(lo) else 0.0
    raw = (hi - lo) / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if raw <= step * m)
    first = math.floor(lo / step) * step
    return [round(first + i * step, 10) for i in range(int(math.ceil((hi - first) / step)) + 1)]


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1e4 else f"{v:,.0f}"


class _Axes:
    """Linear x/y scales on the plot area, with gridlines and labels."""

    def __init__(self, xr: tuple[float, float], yr: tuple[float, float], width: int = W, height: int = H) -> None:
        self.xt, self.yt = ticks(*xr), ticks(*yr)
        self.x0, self.x1, self.y0, self.y1 = self.xt[0], self.xt[-1], self.yt[0], self.yt[-1]
        self.w, self.h = width, height

    def x(self, v: float) -> float:
        return LEFT + (v - self.x0) / (self.x1 - self.x0 or 1) * (self.w - LEFT - RIGHT)

    def y(self, v: float) -> float:
        return self.h - BOTTOM - (v - self.y0) / (self.y1 - self.y0 or 1) * (self.h - TOP - BOTTOM)

    def draw(self, x_label: str, y_label: str, x_ticks: bool = True) -> list[str]:
        out = []
        for t in self.yt:
            out.append(f'<line x1="{LEFT}" x2="{self.w - RIGHT}" y1="{self.y(t):.1f}" y2="{self.y(t):.1f}" stroke="{GRID}"/>')
            out.append(f'<text x="{LEFT - 6}" y="{self.y(t) + 4:.1f}" text-anchor="end" fill="{MUTED}">{_fmt(t)}</text>')
        if x_ticks:
            for t in self.xt:
                out.append(f'<text x="{self.x(t):.1f}" y="{self.h - BOTTOM + 16}" text-anchor="middle" fill="{MUTED}">{_fmt(t)}</text>')
        out.append(f'<line x1="{LEFT}" x2="{self.w - RIGHT}" y1="{self.h - BOTTOM}" y2="{self.h - BOTTOM}" stroke="{MUTED}"/>')
        out.append(f'<text x="{(LEFT + self.w - RIGHT) / 2}" y="{self.h - 8}" text-anchor="middle" fill="{INK}">{escape(x_label)}</text>')
        out.append(f'<text transform="translate(14 {(TOP + self.h - BOTTOM) / 2}) rotate(-90)" text-anchor="middle" '
                   f'fill="{INK}">{escape(y_label)}</text>')  # fmt: skip
        return out


def _legend(names: Sequence[str], width: int = W) -> list[str]:
    out, x, y = [], LEFT, 4
    for i, name in enumerate(names):
        step = 24 + 6.2 * len(name)
        if x > LEFT and x + step > width - RIGHT:  # wrap to a second row
            x, y = LEFT, y + 12
        out.append(f'<rect x="{x}" y="{y}" width="9" height="9" rx="2" fill="{PALETTE[i % len(PALETTE)]}"/>')
        out.append(f'<text x="{x + 13}" y="{y + 8.5}" fill="{INK}" font-size="10.5">{escape(name)}</text>')
        x += step
    return out


def scatter(name: str, points: Sequence[tuple[float, float, str]], x_label: str, y_label: str,
            x_range: tuple[float, float] | None = None, y_range: tuple[float, float] | None = None,
            labels: bool = True, color: str = PALETTE[0], diagonal: bool = False) -> str:  # fmt: skip
    """Points ``(x, y, tooltip)``; ``labels`` writes each tooltip beside its point."""
    pts = [(x, y, t) for x, y, t in points if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
    xs, ys = [p[0] for p in pts] or [0.0, 1.0], [p[1] for p in pts] or [0.0, 1.0]
    ax = _Axes(x_range or (min(xs), max(xs)), y_range or (min(ys), max(ys)))
    out = _open(name) + ax.draw(x_label, y_label)
    if diagonal:
        lo, hi = max(ax.x0, ax.y0), min(ax.x1, ax.y1)
        out.append(f'<line x1="{ax.x(lo):.1f}" y1="{ax.y(lo):.1f}" x2="{ax.x(hi):.1f}" y2="{ax.y(hi):.1f}" '
                   f'stroke="{MUTED}" stroke-dasharray="4 4"/>')  # fmt: skip
    r = 5 if labels else 2.2
    centers = [(ax.x(x), ax.y(y)) for x, y, _ in pts]
    for x, y, t in pts:
        out.append(f'<circle class="mark" cx="{ax.x(x):.1f}" cy="{ax.y(y):.1f}" r="{r}" fill="{color}" '
                   f'fill-opacity="{0.85 if labels else 0.45}"><title>{escape(t)}</title></circle>')  # fmt: skip
    if labels:  # each name beside its point where it overlaps no other name or point; else it is left to the tooltip
        spots = place_labels(centers, [t.split(":")[0] for _, _, t in pts], r, (LEFT, TOP - 12, W - RIGHT, H - BOTTOM))
        for (_, _, t), spot in zip(pts, spots):
            if spot is not None:
                tx, ty, anchor = spot
                out.append(f'<text class="point-label" x="{tx:.1f}" y="{ty:.1f}" fill="{INK}" font-size="{LABEL_FONT}" '
                           f'text-anchor="{anchor}">{escape(t.split(":")[0])}</text>')  # fmt: skip
    return "\n".join(out + ["</svg>"])


LABEL_FONT = 10
CHAR_W = 6.6
"""A generous width per character of a 10 px label (wider than most fonts' average), so that
names placed apart by this estimate are apart in the browser too."""


def place_labels(
    centers: Sequence[tuple[float, float]], names: Sequence[str], r: float, area: tuple[float, float, float, float]
) -> list[tuple[float, float, str] | None]:
    """Where to write each point's name (x, y of the baseline, text-anchor), or None: the first of
    eight spots around the point (right, left, above, below and the diagonals) whose box stays in
    ``area`` (left, top, right, bottom) and overlaps no point and no name placed before."""
    boxes: list[tuple[float, float, float, float]] = [(cx - r - 1, cy - r - 1, cx + r + 1, cy + r + 1) for cx, cy in centers]
    out: list[tuple[float, float, str] | None] = []
    for (cx, cy), name in zip(centers, names):
        w, gap = CHAR_W * len(name) + 2, r + 3
        spot = None
        for dx, dy, anchor in ((gap, 4, "start"), (-gap, 4, "end"), (0, -gap - 1, "middle"), (0, gap + 9, "middle"),
                               (gap - 2, -gap + 1, "start"), (gap - 2, gap + 7, "start"), (-gap + 2, -gap + 1, "end"),
                               (-gap + 2, gap + 7, "end")):  # fmt: skip
            x0 = cx + dx - {"start": 0, "end": w, "middle": w / 2}[anchor]
            box = (x0, cy + dy - LABEL_FONT, x0 + w, cy + dy + 3)
            inside = area[0] <= box[0] and box[2] <= area[2] and area[1] <= box[1] and box[3] <= area[3]
            if inside and not any(_overlap(box, other) for other in boxes):
                spot = (cx + dx, cy + dy, anchor)
                boxes.append(box)
                break
        out.append(spot)
    return out


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def heatmap(name: str, rows: Sequence[str], values: np.ndarray, tips: Sequence[Sequence[str]],
            lo: float = 0.0, hi: float = 1.0) -> str:  # fmt: skip
    """A square matrix of ``values`` (NaN = blank) from red (``lo``) through pale to blue (``hi``)."""
    m = len(rows)
    rows = [r if len(r) <= 24 else r[:23] + "…" for r in rows]
    label_w = 14 + 6.2 * max((len(r) for r in rows), default=4)
    cell = max(6.0, min(28.0, (W - label_w - 20) / max(m, 1)))
    size = label_w + cell * m + 20
    out = _open(name, int(size), int(size))
    for i, row in enumerate(rows):
        y = label_w + i * cell
        if cell >= 9:
            out.append(f'<text x="{label_w - 4}" y="{y + cell / 2 + 3.5:.1f}" text-anchor="end" fill="{INK}" '
                       f'font-size="{min(11, cell * 0.8):.1f}">{escape(row)}</text>')  # fmt: skip
            out.append(f'<text transform="translate({label_w + i * cell + cell / 2 + 3.5:.1f} {label_w - 4}) rotate(-90)" '
                       f'fill="{INK}" font-size="{min(11, cell * 0.8):.1f}">{escape(row)}</text>')  # fmt: skip
        for j in range(m):
            v = values[i, j]
            t = (v - lo) / (hi - lo or 1)
            fill = "#f4f5f8" if not math.isfinite(v) else _diverging(t)
            out.append(f'<rect class="mark" x="{label_w + j * cell:.1f}" y="{y:.1f}" width="{cell - 1:.1f}" '
                       f'height="{cell - 1:.1f}" fill="{fill}"><title>{escape(tips[i][j])}</title></rect>')  # fmt: skip
            if math.isfinite(v) and cell >= CELL_LABEL_MIN:  # the rate itself, in the cell
                ink = "#fff" if abs(t - 0.5) > 0.3 else INK
                out.append(f'<text class="cell-label" x="{label_w + j * cell + (cell - 1) / 2:.1f}" '
                           f'y="{y + (cell - 1) / 2 + 3:.1f}" text-anchor="middle" font-size="{min(9.0, cell * 0.42):.1f}" '
                           f'fill="{ink}" pointer-events="none">{cell_text(v, lo)}</text>')  # fmt: skip
    return "\n".join(out + ["</svg>"])


CELL_LABEL_MIN = 15.0
"""Cells at least this wide (in the chart's units) show their value; smaller ones only in the tooltip."""


def cell_text(value: float, lo: float) -> str:
    """A heatmap cell's value as it is written in the cell: a rate in [0, 1] as a percentage
    (``97``), a correlation with one decimal (``-.5``, ``1.0``)."""
    if lo >= 0:
        return f"{round(value * 100)}"
    return f"{value:.1f}".replace("0.", ".")


def _diverging(t: float) -> str:
    """Red (0) → near white (0.5) → blue (1)."""
    t = min(1.0, max(0.0, t))
    a, mid, b = (200, 80, 92), (246, 244, 240), (52, 108, 212)
    src, u = ((a, mid), t * 2) if t < 0.5 else ((mid, b), (t - 0.5) * 2)
    rgb = [round(src[0][k] + (src[1][k] - src[0][k]) * u) for k in range(3)]
    return f"rgb({rgb[0]},{rgb[1]},{rgb[2]})"


def bars(groups: Sequence[str], series: Mapping[str, Sequence[float]], title: str = "", name: str = "bars",
         y_label: str = "", x_label: str = "") -> str:  # fmt: skip
    """Grouped vertical bars: one group per entry of ``groups``, one bar per series."""
    vals = [v for s in series.values() for v in s if v is not None and math.isfinite(v)]
    ax = _Axes((0, max(len(groups), 1)), (min(0.0, *vals) if vals else 0.0, max(vals, default=1.0) or 1.0))
    out = _open(name, title=title) + ax.draw(x_label, y_label, x_ticks=False)
    k = max(len(series), 1)
    slot = (ax.x(1) - ax.x(0)) * 0.8
    width = ax.x(1) - ax.x(0)
    tilt = any(6.2 * len(g) > width for g in groups)  # names wider than their slot: slanted, shortened
    for g, group in enumerate(groups):
        if not tilt:
            out.append(f'<text x="{ax.x(g + 0.5):.1f}" y="{H - BOTTOM + 16}" text-anchor="middle" fill="{MUTED}">{escape(group)}</text>')
        elif width >= 9:
            out.append(f'<text transform="translate({ax.x(g + 0.5) + 3:.1f} {H - BOTTOM + 10}) rotate(-25)" text-anchor="end" '
                       f'fill="{MUTED}" font-size="{min(10.0, width * 0.9):.1f}">{escape(group[:16])}</text>')  # fmt: skip
        for s, (label, values) in enumerate(series.items()):
            v = values[g]
            if v is None or not math.isfinite(v):
                continue
            x = ax.x(g) + (ax.x(1) - ax.x(0)) * 0.1 + s * slot / k
            top, base = ax.y(max(v, 0)), ax.y(min(v, 0))
            out.append(f'<rect class="mark" x="{x:.1f}" y="{top:.1f}" width="{slot / k - 2:.1f}" height="{max(base - top, 0.5):.1f}" '
                       f'rx="2" fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(f"{group} · {label}: {v:.4g}")}</title></rect>')  # fmt: skip
    return "\n".join(out + (_legend(list(series)) if len(series) > 1 else []) + ["</svg>"])


def histogram(series: Mapping[str, np.ndarray], bins: int = 20, name: str = "histogram", x_label: str = "",
              value_range: tuple[float, float] | None = None, density: bool = True) -> str:  # fmt: skip
    """Overlaid histograms (share of each series per bin, or counts without ``density``)."""
    finite = {k: np.asarray(v, dtype=float)[np.isfinite(v)] for k, v in series.items()}
    allv = np.concatenate([v for v in finite.values()]) if finite else np.array([0.0, 1.0])
    lo, hi = value_range or ((float(allv.min()), float(allv.max())) if allv.size else (0.0, 1.0))
    hi = hi if hi > lo else lo + 1
    edges = np.linspace(lo, hi, bins + 1)
    counts = {k: np.histogram(v, edges)[0] / (max(len(v), 1) if density else 1) for k, v in finite.items()}
    return binned(counts, edges, name, x_label, "share of examples" if density else "examples")


def binned(counts: Mapping[str, np.ndarray], edges: np.ndarray, name: str = "histogram", x_label: str = "",
           y_label: str = "share of examples") -> str:  # fmt: skip
    """Overlaid histograms already binned: per series the height of each bin between ``edges``
    (for values counted part by part)."""
    lo, hi, bins = float(edges[0]), float(edges[-1]), len(edges) - 1
    top = max((float(c.max()) for c in counts.values() if c.size), default=1.0) or 1.0
    ax = _Axes((lo, hi), (0, top))
    out = _open(name) + ax.draw(x_label, y_label)
    for s, (label, c) in enumerate(counts.items()):
        for b in range(bins):
            if c[b] <= 0:
                continue
            x0, x1 = ax.x(edges[b]), ax.x(edges[b + 1])
            out.append(f'<rect class="mark" x="{x0 + 0.5:.1f}" y="{ax.y(c[b]):.1f}" width="{max(x1 - x0 - 1, 0.5):.1f}" '
                       f'height="{ax.y(0) - ax.y(c[b]):.1f}" fill="{PALETTE[s % len(PALETTE)]}" fill-opacity="{0.85 if len(counts) == 1 else 0.55}">'
                       f'<title>{escape(f"{label}: {edges[b]:.3g}–{edges[b + 1]:.3g}: {c[b]:.3g}")}</title></rect>')  # fmt: skip
    return "\n".join(out + (_legend(list(counts)) if len(counts) > 1 else []) + ["</svg>"])


def lines(x: Sequence[int], series: Mapping[str, Sequence[float | None]], name: str = "lines",
          x_label: str = "run", y_label: str = "") -> str:  # fmt: skip
    """One line with dots per series over integer ``x`` (run ids); None leaves a gap."""
    vals = [v for s in series.values() for v in s if v is not None and math.isfinite(v)]
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    pad = (hi - lo) * 0.1 or 0.05
    ax = _Axes((min(x, default=0) - 0.5, max(x, default=1) + 0.5), (lo - pad, hi + pad))
    out = _open(name) + ax.draw(x_label, y_label, x_ticks=False)
    for xi in x:
        out.append(f'<text x="{ax.x(xi):.1f}" y="{H - BOTTOM + 16}" text-anchor="middle" fill="{MUTED}">{xi}</text>')
    for s, (label, ys) in enumerate(series.items()):
        color = PALETTE[s % len(PALETTE)]
        pts = [(ax.x(a), ax.y(b), a, b) for a, b in zip(x, ys) if b is not None and math.isfinite(b)]
        if len(pts) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for px, py, a, b in pts:
            out.append(f'<circle class="mark" cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{color}">'
                       f'<title>{escape(f"run {a} · {label}: {b:.4g}")}</title></circle>')  # fmt: skip
    return "\n".join(out + _legend(list(series)) + ["</svg>"])
