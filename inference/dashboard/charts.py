"""Geometry for the dashboard's inline SVG charts; the templates only draw what is computed here.

Charts are plain SVG rendered on the server, so every page works without JavaScript and without
a chart library, and every chart carries its numbers as text for screen readers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass
class Bar:
    label: str
    value: float
    width: float  # percent of the track, 0-100
    text: str  # the value as shown
    flagged: bool = False
    note: str = ""


def bars(
    items: list[tuple[str, float]],
    *,
    maximum: float | None = None,
    fmt: str = "{:.2f}",
    flag_below: float | None = None,
    notes: dict[str, str] | None = None,
) -> list[Bar]:
    """Horizontal bars scaled to ``maximum`` (default: the largest value); ``flag_below`` marks weak ones."""
    top = maximum if maximum is not None else max((v for _, v in items), default=0) or 1
    notes = notes or {}
    return [
        Bar(
            label=label,
            value=value,
            width=round(max(0.0, min(value / top, 1.0)) * 100, 1) if top else 0.0,
            text=fmt.format(value),
            flagged=flag_below is not None and value < flag_below,
            note=notes.get(label, ""),
        )
        for label, value in items
    ]


@dataclass
class Column:
    x: float
    y: float
    height: float
    width: float
    value: int
    day: date
    tick: str  # axis label, empty for most days to keep the axis readable


@dataclass
class ColumnChart:
    columns: list[Column]
    width: int
    height: int
    maximum: int
    total: int
    gridlines: list[tuple[float, int]]  # (y, value)


def daily_columns(counts: dict[date, int], *, days: int, today: date, height: int = 160) -> ColumnChart:
    """A column per day for the last ``days`` days (missing days are zero), oldest first."""
    start = today - timedelta(days=days - 1)
    series = [(start + timedelta(days=i), int(counts.get(start + timedelta(days=i), 0))) for i in range(days)]
    top = max((v for _, v in series), default=0)
    scale_top = _nice_ceiling(top)
    slot, gap, plot_h, left = 18, 4, height - 24, 36
    columns = []
    for i, (day, value) in enumerate(series):
        h = (value / scale_top) * plot_h if scale_top else 0
        # Label every 7th day from the end, so "today" is always labelled.
        tick = day.strftime("%b %d") if (days - 1 - i) % 7 == 0 else ""
        columns.append(
            Column(
                x=left + i * slot, y=plot_h - h, height=h, width=slot - gap, value=value, day=day, tick=tick
            )
        )
    grid = [(plot_h - plot_h * f, round(scale_top * f)) for f in (0, 0.5, 1)] if scale_top else [(plot_h, 0)]
    return ColumnChart(
        columns,
        width=left + days * slot,
        height=height,
        maximum=scale_top,
        total=sum(v for _, v in series),
        gridlines=grid,
    )


def _nice_ceiling(value: int) -> int:
    """The smallest 1/2/5×10^k at or above ``value``, so the axis reads in round numbers."""
    if value <= 0:
        return 0
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def heat(value: int, maximum: int) -> int:
    """Colour intensity 0-100 for a heatmap cell (square root, so small counts stay visible)."""
    if value <= 0 or maximum <= 0:
        return 0
    return max(8, round((value / maximum) ** 0.5 * 100))
