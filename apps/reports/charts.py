"""The equity chart PNG sent with a report (Pillow; no plotting stack needed for one line).

`equity_png(values, title)` draws the equity series as a line over a light grid with its first, lowest,
highest and last values labelled (ASCII text only: the default font has no Hangul). The image is a few
kilobytes and is stored on the report row (`Report.chart_png`), from where the notification backends load
it (`report_chart_attachment`, registered as the attachment loader `reports.chart`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 800, 360
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 130, 20, 40, 30
LINE = (37, 99, 235)
GRID = (226, 232, 240)
TEXT = (30, 41, 59)


def _won(value: int) -> str:
    return f"{value:,} KRW"


def equity_png(values: Sequence[int], title: str) -> bytes:
    """A PNG line chart of `values` (at least one point; a single point is drawn as a flat line)."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    draw.text((MARGIN_LEFT, 10), title, fill=TEXT, font=font)
    series = list(values) or [0]
    if len(series) == 1:
        series = series * 2
    low, high = min(series), max(series)
    span = high - low or max(1, abs(high) // 100 or 1)
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def y_of(value: int) -> float:
        return MARGIN_TOP + plot_h - (value - low) / span * plot_h

    for i in range(5):
        y = MARGIN_TOP + plot_h * i / 4
        draw.line([(MARGIN_LEFT, y), (WIDTH - MARGIN_RIGHT, y)], fill=GRID)
        label = _won(round(high - span * i / 4))
        draw.text((8, y - 8), label, fill=TEXT, font=font)
    step = plot_w / (len(series) - 1)
    points = [(MARGIN_LEFT + i * step, y_of(v)) for i, v in enumerate(series)]
    draw.line(points, fill=LINE, width=3)
    draw.text(
        (MARGIN_LEFT, HEIGHT - MARGIN_BOTTOM + 8),
        f"start {_won(series[0])}   end {_won(series[-1])}",
        fill=TEXT,
        font=font,
    )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def report_chart_attachment(ref: str):
    """The attachment loader `reports.chart`: the chart of report `ref`, or None when there is none."""
    from apps.notifications.backends.base import Attachment
    from apps.reports.models import Report

    if not ref.isdigit():
        return None
    row = Report.objects.filter(pk=int(ref)).values_list("chart_png", "kind", "period_end").first()
    if row is None or not row[0]:
        return None
    png, kind, day = row
    return Attachment(f"equity-{kind}-{day:%Y%m%d}.png", "image/png", bytes(png))
