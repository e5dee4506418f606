"""The reports' charts as SVG drawn on the server by pygal (no script: ``js=[]``).

The pages embed them with ``<img>``, so the SVG runs nothing; its own ``<style>`` is allowed by
the response's policy :data:`SVG_CSP`, and the page beside it shows the same numbers in a table.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pygal  # type: ignore[import-untyped]
from pygal.style import Style  # type: ignore[import-untyped]

from ssar.admin.reports import OUTCOMES, FunnelReport

#: the Content-Security-Policy of a chart: no fetches, no script; its inline styles only
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"

PRIMARY = "#2350c8"
SUCCESS = "#1f7a46"
DANGER = "#b42318"
MUTED = "#5b6578"
WARN = "#b7791f"
INFO = "#5b7fdc"
INK = "#1d2433"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"

OUTCOME_COLOURS = {
    "restored": SUCCESS,
    "evaluated": INFO,
    "failed": DANGER,
    "abandoned": "#9aa3b5",
    "in_progress": WARN,
}
#: the funnel's bars: the steps in the brand colour, the two endings in their outcome colours
STAGE_COLOURS = {
    "started": PRIMARY,
    "verified": PRIMARY,
    "face_matched": PRIMARY,
    "validated": PRIMARY,
    "restored": SUCCESS,
    "evaluated": INFO,
}


def _style(*colours: str) -> Any:
    return Style(
        background="#ffffff",
        plot_background="#ffffff",
        foreground=INK,
        foreground_strong=INK,
        foreground_subtle="#e6e9f0",
        guide_stroke_color="#e6e9f0",
        major_guide_stroke_color="#d9dfea",
        guide_stroke_dasharray="0",
        major_guide_stroke_dasharray="0",
        opacity="0.92",
        opacity_hover="1",
        transition="none",
        colors=colours or (PRIMARY,),
        font_family=FONT,
        label_font_family=FONT,
        major_label_font_family=FONT,
        value_font_family=FONT,
        value_label_font_family=FONT,
        title_font_family=FONT,
        legend_font_family=FONT,
        tooltip_font_family=FONT,
        label_font_size=14,
        major_label_font_size=14,
        value_font_size=14,
        value_label_font_size=14,
        legend_font_size=14,
        title_font_size=15,
    )


def count_ticks(top: int, *, most: int = 6) -> list[int]:
    """Whole-number axis ticks from 0 past ``top`` (counts have no fractions: pygal's own ticks
    for small counts read 0, 0, 0, 1, 1, 1)."""
    step = max(1, math.ceil(max(1, top) / (most - 1)))
    return list(range(0, max(1, top) + step, step))


def _common(style: Any, **config: object) -> dict[str, object]:
    return {
        "style": style,
        "js": [],
        "disable_xml_declaration": True,
        "width": 640,
        "height": 300,
        "margin": 16,
        "show_y_guides": True,
        "show_x_guides": False,
        "print_values": False,
        "no_data_text": "No recovery attempts in this period",
        "truncate_label": 40,
        "explicit_size": False,
        "min_scale": 3,
        "max_scale": 6,
        **config,
    }


#: pygal always writes its tooltip configuration as an inline script, even with ``js=[]``
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>|<!--.*?-->", re.DOTALL | re.IGNORECASE)


def _render(chart: Any) -> bytes:
    """The chart's SVG without script or comments (an image runs no script anyway)."""
    return _SCRIPT.sub("", str(chart.render(is_unicode=True))).encode()


def funnel_chart(report: FunnelReport) -> bytes:
    """The funnel as horizontal bars, first stage on top, each bar with its count."""
    chart = pygal.HorizontalBar(
        **_common(
            _style(PRIMARY),
            show_legend=False,
            print_values=True,
            print_values_position="top",
            value_formatter=lambda v: f"{v:,.0f}",
            show_x_guides=True,
            show_y_guides=False,
            y_labels=count_ticks(report.started),
        )
    )
    stages = list(reversed(report.stages))  # pygal draws the first label at the bottom
    chart.x_labels = [s.label for s in stages]
    chart.add(
        "Flows",
        [
            {"value": s.count, "color": STAGE_COLOURS[s.key], "label": f"{s.percent:g}% of started"}
            for s in stages
        ],
    )
    chart.range = (0, count_ticks(report.started)[-1])
    return _render(chart)


def reasons_height(count: int) -> int:
    return max(160, 70 + 38 * count)


def reasons_chart(report: FunnelReport, *, limit: int = 10) -> bytes:
    """Why flows did not finish: the most frequent reasons, largest on top."""
    reasons = report.reasons[:limit]
    chart = pygal.HorizontalBar(
        **_common(
            _style(DANGER),
            show_legend=False,
            print_values=True,
            print_values_position="top",
            value_formatter=lambda v: f"{v:,.0f}",
            show_x_guides=True,
            show_y_guides=False,
            height=reasons_height(len(reasons)),
            truncate_label=48,
            y_labels=count_ticks(max((r.count for r in reasons), default=0)),
        )
    )
    ordered = list(reversed(reasons))
    chart.x_labels = [r.label for r in ordered]
    chart.add(
        "Flows",
        [{"value": r.count, "color": MUTED if r.state != "failed" else DANGER} for r in ordered],
    )
    return _render(chart)


def daily_chart(report: FunnelReport) -> bytes:
    """Outcomes per day, stacked."""
    labels = [d.day.strftime("%d %b") for d in report.days]
    every = max(1, len(labels) // 10)
    chart = pygal.StackedBar(
        **_common(
            _style(*(OUTCOME_COLOURS[key] for key, _ in OUTCOMES)),
            legend_at_bottom=True,
            legend_at_bottom_columns=len(OUTCOMES),
            x_label_rotation=0,
            show_minor_x_labels=False,
            x_labels_major_every=every,
            truncate_label=-1,
            value_formatter=lambda v: f"{v:,.0f}",
            spacing=3,
            margin_bottom=14,
            width=1000,
            height=320,
            y_labels=count_ticks(max((sum(d.counts.values()) for d in report.days), default=0)),
        )
    )
    chart.x_labels = labels
    for key, label in OUTCOMES:
        chart.add(label, [d.counts.get(key, 0) for d in report.days])
    return _render(chart)


CHARTS = {"funnel": funnel_chart, "reasons": reasons_chart, "daily": daily_chart}
