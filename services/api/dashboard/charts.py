"""The dashboard's charts, drawn on the server as SVG by pygal: the page needs no script and no CDN."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import pygal
from markupsafe import Markup
from pygal.style import Style

# The stylesheet's colours, so the chart reads as part of the page.
CHART_STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#1d2330",
    foreground_strong="#1d2330",
    foreground_subtle="#dfe3ea",
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', 'DejaVu Sans', sans-serif",
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
    colors=("#2f5bd3", "#d9822b", "#1e7a46", "#8e44ad", "#b3261e", "#16a2b8", "#7f8c8d"),
)


def engagement_chart(
    days: Sequence[date], interactions_by_line: Mapping[str, Sequence[int | None]]
) -> Markup:
    """Interactions per day, one line per channel, as inline SVG.

    A day a channel reported nothing is a gap in its line, not a zero: unknown is not none.
    """
    chart = _line_chart([f"{day:%d %b}" for day in days], y_title="interactions")
    for name, values in interactions_by_line.items():
        chart.add(name, list(values))
    return Markup(chart.render(is_unicode=True))


def metrics_chart(
    labels: Sequence[str], values_by_metric: Mapping[str, Sequence[int | None]], *, y_title: str
) -> Markup:
    """One post's counts over time, one line per metric, as inline SVG; a gap where none was reported."""
    chart = _line_chart(labels, y_title=y_title)
    for metric, values in values_by_metric.items():
        chart.add(metric, list(values))
    return Markup(chart.render(is_unicode=True))


def _line_chart(labels: Sequence[str], *, y_title: str) -> pygal.Line:
    chart = pygal.Line(
        style=CHART_STYLE,
        width=1100,
        height=300,
        # pygal's tooltips would load a script from its CDN: the numbers are in the table under the chart.
        js=[],
        disable_xml_declaration=True,
        legend_at_bottom=True,
        legend_at_bottom_columns=4,
        show_minor_x_labels=False,
        x_labels_major_every=max(1, len(labels) // 10),
        truncate_label=-1,  # pygal cuts labels to a few characters by default: "28 …"
        dots_size=2.5,
        min_scale=4,
        y_title=y_title,
        include_x_axis=True,
        allow_interruptions=True,
    )
    chart.x_labels = list(labels)
    return chart
