"""Server-rendered SVG bar charts of a dataset's history: no JavaScript, no CDN.

The pages send no script (their Content-Security-Policy forbids it), so a chart is an
inline `<svg>` drawn by `templates/chart.html` from the geometry computed here. Bars,
not lines: one stage is one bar, and a single stage still reads as a chart. Each chart
is an image with a title and a description for screen readers (`role="img"`,
`aria-labelledby`), and the same numbers follow it as a table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from exchange.portal.history import StagePoint

WIDTH, HEIGHT = 380, 200  # three side by side in the 1280 px page
LEFT, RIGHT, TOP, BOTTOM = 56, 8, 12, 28  # room for the axis labels


@dataclass(frozen=True)
class Bar:
    """One bar, in the SVG's own units (its viewBox), top-left corner first."""

    x: float
    y: float
    width: float
    height: float
    label: str  # the stage's date, under the bar when there is room
    value: str  # the bar's value as text (its tooltip, and the table's cell)


@dataclass(frozen=True)
class Chart:
    """One chart: `key` names its ids in the page; `unit` follows every value."""

    key: str
    title: str
    description: str
    unit: str
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # (y, label) of the horizontal grid lines
    limit: tuple[float, str] | None = None  # (y, label) of a reference line (the SLA)
    width: int = WIDTH
    height: int = HEIGHT
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # table: stage, date, value
    show_labels: bool = True


def _nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 × 10ⁿ at or above `value`, so the axis reads in round numbers."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)  # pragma: no cover (the loop always returns)


def _number(value: float) -> str:
    """Whole numbers without decimals, small fractions with one (12.5 h, not 12 h)."""
    return f"{value:,.0f}" if value >= 100 or value == int(value) else f"{value:,.1f}"


def bar_chart(
    key: str,
    title: str,
    description: str,
    points: Sequence[StagePoint],
    value_of: Callable[[StagePoint], float | None],
    unit: str = "",
    limit: float | None = None,
    limit_label: str = "",
) -> Chart:
    """A bar per stage; a stage without a value (None) gets no bar and "–" in the table."""
    values = [value_of(p) for p in points]
    top = _nice_max(max([v for v in values if v is not None] + [limit or 0, 0]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(points), 1)
    bar_w = max(min(slot * 0.7, 48), 2)
    bars, rows = [], []
    for i, (point, value) in enumerate(zip(points, values, strict=True)):
        day = point.created_at.strftime("%Y-%m-%d %H:%M")
        text = "–" if value is None else f"{_number(value)}{unit}"
        rows.append((point.stage_id, day, text))
        if value is None:
            continue
        height = plot_h * value / top
        x = LEFT + i * slot + (slot - bar_w) / 2
        bars.append(Bar(x, TOP + plot_h - height, bar_w, height, point.created_at.strftime("%m-%d"), text))
    ticks = [(TOP + plot_h - plot_h * k / 4, f"{_number(top * k / 4)}{unit}") for k in range(5)]
    line = None
    if limit is not None:
        line = (TOP + plot_h - plot_h * limit / top, limit_label)
    return Chart(
        key=key,
        title=title,
        description=description,
        unit=unit,
        bars=bars,
        ticks=ticks,
        limit=line,
        rows=rows,
        show_labels=slot >= 40,
    )


def dataset_charts(points: Sequence[StagePoint], freshness_hours: float | None) -> list[Chart]:
    """The three charts of a dataset page: rows per stage, quarantine rate, freshness."""
    n = len(points)
    span = f"its last {n} stage(s), oldest first" if n else "no stage yet"
    worst_rate = max((p.quarantine_rate or 0 for p in points), default=0)
    oldest = max((p.age_hours or 0 for p in points), default=0)
    sla = f"; the line is the freshness promise of {_number(freshness_hours)} h" if freshness_hours else ""
    return [
        bar_chart(
            "rows",
            "Rows read per stage",
            f"Bar chart of the rows read by {span}; the most was "
            f"{_number(max((p.rows_read for p in points), default=0))}.",
            points,
            lambda p: float(p.rows_read),
        ),
        bar_chart(
            "quarantine",
            "Quarantine rate per stage",
            f"Bar chart of the percentage of rows read that were quarantined, for {span}; "
            f"the highest was {_number(worst_rate)} %.",
            points,
            lambda p: p.quarantine_rate,
            unit=" %",
        ),
        bar_chart(
            "freshness",
            "Freshness: data age when each stage began",
            f"Bar chart of the hours since the previous committed stage, for {span}; the longest "
            f"wait was {_number(oldest)} h{sla}.",
            points,
            lambda p: p.age_hours,
            unit=" h",
            limit=freshness_hours,
            limit_label="SLA",
        ),
    ]
