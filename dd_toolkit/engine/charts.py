"""Charts as SVG (matplotlib, Agg backend, no pyplot state), for pages and reports.

Every chart here is shown with alt text and a data table beside it, so nothing is only in
the picture.
"""

from __future__ import annotations

import functools
import io
import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

matplotlib.rcParams.update(
    {
        "svg.hashsalt": "dd-toolkit",  # stable ids, so the same data gives the same SVG
        "svg.fonttype": "none",  # text stays text: selectable and readable by assistive tools
        "font.size": 9,
        # DejaVu Sans for Latin and Vietnamese, then Thai from the TLWG fonts (`make fonts`):
        # matplotlib falls back font by font for glyphs the first lacks.
        "font.family": ["DejaVu Sans", "Garuda", "Loma"],
    }
)

THAI_FONT_FILES = ("Garuda", "Garuda-Bold", "Loma", "Loma-Bold")


def _add_thai_fonts() -> None:
    """Make the TLWG fonts known to matplotlib even when its font cache predates their install
    (``make fonts``): without them a Thai label is drawn as empty boxes."""
    from matplotlib import font_manager

    if any(font.name in ("Garuda", "Loma") for font in font_manager.fontManager.ttflist):
        return
    for path in font_manager.findSystemFonts(fontext="ttf"):
        if Path(path).stem in THAI_FONT_FILES:
            font_manager.fontManager.addfont(path)


_add_thai_fonts()

INK = "#1b1f24"
BRAND = "#0b5cad"
PEER = "#9a6700"
GRID = "#d0d7de"


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buffer.getvalue()


def label_lines(text: str, width: int) -> str:
    """A chart label on short lines, broken only where the text has a space: Thai writes a phrase
    without spaces between its words, so a break by character count would cut a word in two."""
    return textwrap.fill(text, width, break_long_words=False, break_on_hyphens=False)


def radar_svg(
    labels: Sequence[str],
    values: Sequence[float | None],
    peer: Sequence[float | None] | None = None,
    title: str = "",
) -> str:
    """Scores (0-100) on a radar, with an optional peer median line. Missing values sit at 0
    with a gap in the line so a missing score is never drawn as a real one. The same figures
    give the same chart, drawn once per process (a frozen submission's chart never changes)."""
    return _radar_svg(tuple(labels), tuple(values), tuple(peer) if peer is not None else None, title)


@functools.lru_cache(maxsize=128)
def _radar_svg(
    labels: tuple[str, ...], values: tuple[float | None, ...], peer: tuple[float | None, ...] | None, title: str
) -> str:
    count = len(labels)
    angles = [2 * math.pi * i / count for i in range(count)]
    figure = Figure(figsize=(6.4, 5.2))
    axes = figure.add_subplot(projection="polar")
    axes.set_theta_offset(math.pi / 2)
    axes.set_theta_direction(-1)
    axes.set_ylim(0, 100)
    axes.set_yticks([20, 40, 60, 80, 100])
    axes.set_yticklabels(["20", "40", "60", "80", "100"], color="#57606a", fontsize=7)
    axes.set_xticks(angles)
    axes.set_xticklabels(labels, fontsize=8, color=INK)
    axes.grid(color=GRID)

    def plot(series: Sequence[float | None], colour: str, style: str, name: str) -> None:
        closed_angles = [*angles, angles[0]]
        closed = [*series, series[0]]
        points = [float("nan") if v is None else v for v in closed]
        axes.plot(closed_angles, points, style, color=colour, linewidth=2, label=name)
        if style == "-":
            axes.fill(closed_angles, [0 if math.isnan(v) else v for v in points], color=colour, alpha=0.12)

    plot(values, BRAND, "-", "Your score")
    if peer is not None:
        plot(peer, PEER, "--", "Peer median")
        axes.legend(loc="upper right", bbox_to_anchor=(1.25, 1.12), frameon=False)
    if title:
        axes.set_title(title, pad=18, color=INK)
    return _svg(figure)


def bars_svg(labels: Sequence[str], values: Sequence[float | None], title: str = "") -> str:
    """Horizontal bars of scores (0-100), one per label, top to bottom. A label may hold line
    breaks (a long section title wrapped, so the chart stays narrow enough for a phone): the
    rows are spaced for the longest."""
    lines = max((label.count("\n") + 1 for label in labels), default=1)
    height = 0.9 + (0.32 + 0.15 * (lines - 1)) * len(labels)
    figure = Figure(figsize=(6.4, height))
    axes = figure.add_subplot()
    positions = list(range(len(labels)))[::-1]
    shown = [0 if v is None else v for v in values]
    axes.barh(positions, shown, color=BRAND, height=0.6)
    for y, value in zip(positions, values, strict=True):
        text = "not scored" if value is None else f"{value:.0f}"
        axes.text((value or 0) + 1.5, y, text, va="center", fontsize=8, color=INK)
    axes.set_yticks(positions)
    axes.set_yticklabels(labels, fontsize=8)
    axes.set_xlim(0, 108)
    axes.set_xticks([0, 20, 40, 60, 80, 100])
    axes.grid(axis="x", color=GRID)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    if title:
        axes.set_title(title, loc="left", color=INK)
    return _svg(figure)


def boxplot_svg(labels: Sequence[str], quartiles: Sequence[tuple[float, float, float]], title: str = "") -> str:
    """Boxes from the 25th to the 75th percentile with the median marked. Whiskers are left
    out on purpose: they would show a minimum and a maximum, which belong to single companies."""
    height = 0.9 + 0.38 * len(labels)
    figure = Figure(figsize=(6.4, height))
    axes = figure.add_subplot()
    positions = list(range(len(labels)))[::-1]
    stats = [
        {"label": label, "q1": q1, "med": med, "q3": q3, "whislo": q1, "whishi": q3, "fliers": []}
        for label, (q1, med, q3) in zip(labels, quartiles, strict=True)
    ]
    axes.bxp(
        stats,
        positions=positions,
        orientation="horizontal",
        showcaps=False,
        widths=0.55,
        patch_artist=True,
        boxprops={"facecolor": "#dbeafe", "edgecolor": BRAND},
        medianprops={"color": INK, "linewidth": 2},
        whiskerprops={"visible": False},
    )
    axes.set_xlim(0, 100)
    axes.grid(axis="x", color=GRID)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    if title:
        axes.set_title(title, loc="left", color=INK)
    return _svg(figure)


# The colours of the risk levels, lowest first (the heat map of the children's risk register);
# each cell also carries its level's name, so the colour is never the only sign.
LEVEL_COLOURS = ("#dafbe1", "#fff8c5", "#ffd8b5", "#ffc1c0")
NOT_RATED = "#f6f8fa"


def heat_map_svg(
    harms: Sequence[str],
    age_groups: Sequence[str],
    cells: Sequence[Sequence[tuple[int | None, str]]],
    levels: int = 4,
) -> str:
    """Harms (rows, top to bottom) by age groups (columns): each cell coloured by its residual
    risk level (``cells[row][column]`` is ``(level index lowest first, or None, text)``) and
    labelled with the text. A cell not rated stays pale grey with its text ("not relevant")."""
    return _heat_map_svg(tuple(harms), tuple(age_groups), tuple(tuple(row) for row in cells), levels)


@functools.lru_cache(maxsize=64)
def _heat_map_svg(
    harms: tuple[str, ...],
    age_groups: tuple[str, ...],
    cells: tuple[tuple[tuple[int | None, str], ...], ...],
    levels: int,
) -> str:
    from matplotlib.patches import Rectangle

    palette = LEVEL_COLOURS if levels == len(LEVEL_COLOURS) else None
    lines = max((h.count("\n") + 1 for h in harms), default=1)
    row_height = 0.34 + 0.14 * (lines - 1)
    figure = Figure(figsize=(1.9 + 1.05 * len(age_groups), 0.7 + row_height * len(harms)))
    axes = figure.add_subplot()
    for r, row in enumerate(cells):
        for c, (level, text) in enumerate(row):
            if level is None:
                colour = NOT_RATED
            elif palette is not None:
                colour = palette[level]
            else:  # another number of levels: from pale to strong
                colour = matplotlib.colormaps["OrRd"](0.15 + 0.7 * level / max(levels - 1, 1))
            axes.add_patch(Rectangle((c, r), 1, 1, facecolor=colour, edgecolor="white", linewidth=2))
            axes.text(
                c + 0.5,
                r + 0.5,
                text,
                ha="center",
                va="center",
                fontsize=7.5,
                color=INK if level is not None else "#57606a",
            )
    axes.set_xlim(0, len(age_groups))
    axes.set_ylim(len(harms), 0)
    axes.set_xticks([c + 0.5 for c in range(len(age_groups))])
    axes.set_xticklabels(age_groups, fontsize=8)
    axes.xaxis.tick_top()
    axes.set_yticks([r + 0.5 for r in range(len(harms))])
    axes.set_yticklabels(harms, fontsize=8)
    axes.tick_params(length=0)
    for side in ("top", "right", "bottom", "left"):
        axes.spines[side].set_visible(False)
    return _svg(figure)
