"""Geometry for the dashboard's inline SVG charts; the templates only draw what is computed here.

Charts are plain SVG rendered on the server, so every page works without JavaScript and without
a chart library, and every chart carries its numbers as text for screen readers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from inference import insights


@dataclass
class Bar:
    label: str
    value: float
    width: float  # percent of the track, 0-100
    text: str  # the value as shown
    flagged: bool = False
    note: str = ""
    unscored: bool = False  # no figure to draw (e.g. a label without test examples): ``text`` says why


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

    @property
    def centre(self) -> float:
        return self.x + self.width / 2


@dataclass
class ColumnChart:
    columns: list[Column]
    width: int
    height: int
    maximum: int
    total: int
    gridlines: list[tuple[float, int]]  # (y, value)
    axis_y: float  # baseline of the day labels


# Room for the value axis on the left, the top label above, the day labels below.
_LEFT, _TOP, _BOTTOM, _RIGHT = 36, 10, 24, 12


def daily_columns(
    counts: dict[date, int], *, days: int, today: date, slot: int = 28, height: int = 170
) -> ColumnChart:
    """A column per day for the last ``days`` days (missing days are zero), oldest first.

    ``slot`` is each day's width in SVG units; the SVG is drawn at that natural size (never
    stretched), so its text stays the size of the page's small print.
    """
    start = today - timedelta(days=days - 1)
    series = [(start + timedelta(days=i), int(counts.get(start + timedelta(days=i), 0))) for i in range(days)]
    top = max((v for _, v in series), default=0)
    scale_top = _nice_ceiling(top)
    plot_h = height - _TOP - _BOTTOM
    gap = max(2, slot // 5)
    every = 1 if days <= 10 else 7
    columns = []
    for i, (day, value) in enumerate(series):
        h = (value / scale_top) * plot_h if scale_top else 0
        # Label every 7th day counted back from today, so "today" is always labelled.
        tick = day.strftime("%b %d") if (days - 1 - i) % every == 0 else ""
        columns.append(
            Column(
                x=_LEFT + i * slot + gap / 2,
                y=_TOP + plot_h - h,
                height=h,
                width=slot - gap,
                value=value,
                day=day,
                tick=tick,
            )
        )
    # Gridlines at round values only (a "0.5" request is not a thing).
    marks = [0, scale_top] if scale_top % 2 else [0, scale_top // 2, scale_top]
    grid = [(_TOP + plot_h - plot_h * (m / scale_top if scale_top else 0), m) for m in dict.fromkeys(marks)]
    return ColumnChart(
        columns,
        width=_LEFT + days * slot + _RIGHT,
        height=height,
        maximum=scale_top,
        total=sum(v for _, v in series),
        gridlines=grid,
        axis_y=height - 6,
    )


@dataclass
class Sparkline:
    columns: list[Column]
    width: int
    height: int
    total: int
    peak: Column | None  # the busiest day, None when there were no calls


def sparkline(
    counts: dict[date, int], *, days: int, today: date, slot: int = 4, height: int = 28
) -> Sparkline:
    """A word-sized column per day for the last ``days`` days, no axes: the shape of a key's use."""
    start = today - timedelta(days=days - 1)
    series = [(start + timedelta(days=i), int(counts.get(start + timedelta(days=i), 0))) for i in range(days)]
    top = max((v for _, v in series), default=0)
    columns = []
    for i, (day, value) in enumerate(series):
        # Days with calls get at least a sliver, so one request stays visible beside thousands.
        h = max(1.5, value / top * height) if value and top else 0
        columns.append(
            Column(x=i * slot, y=height - h, height=h, width=slot - 1, value=value, day=day, tick="")
        )
    peak = max(columns, key=lambda c: (c.value, c.day)) if top else None
    return Sparkline(columns, width=days * slot, height=height, total=sum(v for _, v in series), peak=peak)


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


NO_TEST_EXAMPLES = "no test examples"


def f1_bars(metrics: dict, counts: dict[str, int] | None = None) -> list[Bar]:
    """Per-label F1 bars, weakest first, weak ones flagged; labels without test examples last, unscored."""
    scored = {label: r for label, r in insights.per_label(metrics).items() if not insights.is_untested(r)}
    rows = sorted(scored.items(), key=lambda kv: (kv[1].get("f1") or 0.0, kv[0]))
    notes = {label: f"{counts[label]} training examples" for label in counts or {} if label}
    scored_bars = bars(
        [(label, float(r.get("f1") or 0.0)) for label, r in rows],
        maximum=1.0,
        flag_below=insights.WEAK_F1,
        notes=notes,
    )
    return scored_bars + [
        Bar(label, 0.0, 0.0, NO_TEST_EXAMPLES, note=notes.get(label, ""), unscored=True)
        for label in insights.untested_labels(metrics)
    ]
