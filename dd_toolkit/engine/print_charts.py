"""Charts for the printed documents (the results summary heading the action plan and the
transparency section), written as plain SVG.

The pages draw their charts with matplotlib (:mod:`dd_toolkit.engine.charts`); a document's
radar is written here instead: a few dozen SVG elements made in well under a millisecond, where
matplotlib takes about a quarter of a second to lay out its polar axes and writes a far larger
chart for the PDF to embed. It shows the same thing, in the same colours: the
score for each framework reference from 0 at the centre to 100 at the rim, clockwise from the
top, with the peer median as a dashed line. A missing score is a gap in the line, never a zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

INK = "#1b1f24"
MUTED = "#57606a"
BRAND = "#0b5cad"
PEER = "#9a6700"
GRID = "#d0d7de"

WIDTH, HEIGHT = 440, 340
CX, CY, RADIUS = 200, 178, 120


def _point(angle: float, radius: float) -> tuple[float, float]:
    return CX + radius * math.sin(angle), CY - radius * math.cos(angle)


def _runs(angles: list[float], values: Sequence[float | None]) -> list[list[tuple[float, float]]]:
    """The line through the values, closed, broken at every missing one."""
    count = len(values)
    runs: list[list[tuple[float, float]]] = [[]]
    for i in range(count + 1):
        value = values[i % count]
        if value is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append(_point(angles[i % count], RADIUS * max(0.0, min(100.0, value)) / 100))
    return [run for run in runs if len(run) > 1]


def _path(points: list[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


# The fonts of the document (reports/print.typ): DejaVu Sans has the Latin and Vietnamese
# letters, the TLWG fonts (Debian's fonts-thai-tlwg) the Thai ones. A Thai chart names a Thai font
# first: an SVG text falls back glyph by glyph, so a vowel or tone mark from DejaVu Sans (which
# has a few of them) would sit apart from its consonant.
FONTS = "DejaVu Sans, Garuda, Loma, sans-serif"
THAI_FONTS = "Garuda, Loma, DejaVu Sans, sans-serif"


def chart_fonts(language: str) -> str:
    return THAI_FONTS if language == "th" else FONTS


def radar_svg(
    labels: Sequence[str],
    values: Sequence[float | None],
    peer: Sequence[float | None] | None = None,
    legend: tuple[str, str] | None = ("Your score", "Peer median"),
    fonts: str = FONTS,
) -> str:
    """Scores (0-100) on a radar, one spoke per label, with an optional dashed peer median;
    ``legend`` names the two lines in the document's language; None leaves the legend to the page
    around the chart (a translated document writes its legend as text of the document, where it
    is shaped, tagged and read like the rest, rather than as lettering inside the picture)."""
    count = len(labels)
    angles = [2 * math.pi * i / count for i in range(count)]
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}pt" height="{HEIGHT}pt" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="{escape(fonts)}" font-size="9">',
        f'<g fill="none" stroke="{GRID}" stroke-width="0.8">',
    ]
    out += [f'<circle cx="{CX}" cy="{CY}" r="{RADIUS * level / 100:.1f}"/>' for level in (20, 40, 60, 80)]
    out.append(f'<circle cx="{CX}" cy="{CY}" r="{RADIUS}" stroke="{INK}"/>')
    for angle in angles:
        x, y = _point(angle, RADIUS)
        out.append(f'<line x1="{CX}" y1="{CY}" x2="{x:.1f}" y2="{y:.1f}"/>')
    out.append("</g>")
    out.append(f'<g fill="{MUTED}" font-size="7">')
    for level in (20, 40, 60, 80, 100):
        out.append(f'<text x="{CX + 3}" y="{CY - RADIUS * level / 100 + 9:.1f}">{level}</text>')
    out.append(f'</g><g fill="{INK}">')
    for label, angle in zip(labels, angles, strict=True):
        x, y = _point(angle, RADIUS + 9)
        sine = math.sin(angle)
        anchor = "start" if sine > 0.2 else "end" if sine < -0.2 else "middle"
        y += 3 + 5 * (1 - math.cos(angle)) / 2  # below the rim at the bottom, above it at the top
        out.append(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{escape(label)}</text>')
    out.append("</g>")
    area = [_point(a, RADIUS * max(0.0, min(100.0, v or 0)) / 100) for a, v in zip(angles, values, strict=True)]
    out.append(f'<polygon points="{_path(area)}" fill="{BRAND}" fill-opacity="0.12" stroke="none"/>')
    for run in _runs(angles, values):
        out.append(f'<polyline points="{_path(run)}" fill="none" stroke="{BRAND}" stroke-width="2"/>')
    if peer is not None:
        for run in _runs(angles, peer):
            out.append(
                f'<polyline points="{_path(run)}" fill="none" stroke="{PEER}" stroke-width="2" stroke-dasharray="6 3"/>'
            )
    lines = [] if legend is None else [(legend[0], BRAND, "")]
    if peer is not None and legend is not None:
        lines.append((legend[1], PEER, ' stroke-dasharray="6 3"'))
    for row, (name, colour, dash) in enumerate(lines):
        y = 14 + 14 * row
        out.append(
            f'<line x1="{WIDTH - 100}" y1="{y}" x2="{WIDTH - 78}" y2="{y}" stroke="{colour}" stroke-width="2"{dash}/>'
        )
        out.append(f'<text x="{WIDTH - 72}" y="{y + 3}" fill="{INK}">{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)
