"""The section-score chart: an inline SVG bar chart that WeasyPrint draws as vectors.

No raster image and no external reference: the SVG is a string placed in the HTML, every
label is escaped, and only numbers computed here go into attributes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape

WIDTH = 720
ROW = 24
TOP = 26
BOTTOM = 24
LABEL_WIDTH = 300
BAR_LEFT = 310
BAR_WIDTH = 350
FONT = "'Noto Sans CJK JP', 'Liberation Sans', 'DejaVu Sans', sans-serif"

#: Bar colours by rating band, muted so that the chart prints well in grey too.
BAND_COLOURS = {
    "A": "#2f6f4f",
    "B": "#4f7f9f",
    "C": "#b08a2e",
    "D": "#b8652a",
    "E": "#9e2f2f",
    None: "#b9bfc7",
}


def band_of(score: float | None, bands: Mapping[str, float]) -> str | None:
    """The rating band a section score falls in (sections get no rating of their own)."""
    if score is None:
        return None
    for rating in ("A", "B", "C", "D"):
        if score >= bands[rating]:
            return rating
    return "E"


def section_chart(
    sections: Sequence[Mapping[str, Any]], bands: Mapping[str, float], none_label: str = "—"
) -> Markup:
    """A horizontal bar per section (ref, title, score 0-100), with the band limits dashed."""
    # rows get thinner for long checklists, so that the chart always fits on one page
    row = ROW if len(sections) <= 12 else max(11, min(19, 640 // max(len(sections), 1)))
    size = min(11, row - 3)
    height = TOP + row * len(sections) + BOTTOM
    scale = BAR_WIDTH / 100
    parts: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" font-family="{escape(FONT)}" font-size="{size}" '
        'role="img">'
    ]
    bottom = TOP + row * len(sections)
    # axis ticks
    for tick in (0, 25, 50, 75, 100):
        x = BAR_LEFT + tick * scale
        parts.append(
            f'<line x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" y2="{bottom}" '
            'stroke="#e3e6ea" stroke-width="1"/>'
            f'<text x="{x:.1f}" y="{bottom + 15}" text-anchor="middle" fill="#6b7480" '
            f'font-size="9">{tick}</text>'
        )
    for index, section in enumerate(sections):
        y = TOP + index * row
        score = section.get("score")
        label = _shorten(f"{section['ref']}  {section['title']}", 46)
        parts.append(
            f'<text x="{LABEL_WIDTH}" y="{y + row / 2 + 4:.1f}" text-anchor="end" '
            'fill="#1f2a36">'
            f"{escape(label)}</text>"
        )
        parts.append(
            f'<rect x="{BAR_LEFT}" y="{y + 4}" width="{BAR_WIDTH}" height="{row - 8}" '
            'fill="#f3f5f7"/>'
        )
        if score is not None:
            width = max(float(score) * scale, 0.5)
            colour = BAND_COLOURS[band_of(float(score), bands)]
            parts.append(
                f'<rect x="{BAR_LEFT}" y="{y + 4}" width="{width:.1f}" height="{row - 8}" '
                f'fill="{colour}"/>'
            )
        value = f"{float(score):.1f}" if score is not None else none_label
        parts.append(
            f'<text x="{BAR_LEFT + BAR_WIDTH + 8}" y="{y + row / 2 + 4:.1f}" fill="#1f2a36" '
            f'font-weight="bold">{escape(value)}</text>'
        )
    # rating band limits
    for rating in ("A", "B", "C", "D"):
        x = BAR_LEFT + float(bands[rating]) * scale
        parts.append(
            f'<line x1="{x:.1f}" y1="{TOP - 10}" x2="{x:.1f}" y2="{bottom}" stroke="#4a5561" '
            'stroke-opacity="0.7" stroke-width="0.8" stroke-dasharray="3 3"/>'
            f'<text x="{x:.1f}" y="{TOP - 13}" text-anchor="middle" fill="#4a5561" '
            f'font-size="9" font-weight="bold">{rating}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _shorten(text: str, limit: int) -> str:
    """Cut to about ``limit`` half-width cells (a CJK character counts as two)."""
    cells = 0
    for index, char in enumerate(text):
        cells += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
        if cells > limit:
            return text[:index].rstrip() + "…"
    return text
