"""Charts drawn on the server as inline SVG: funnel bars and a weekly trend line, with no script."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from proxy.analytics.models import StepStats

BAR_HEIGHT = 22
BAR_GAP = 8
LABEL_WIDTH = 160
BAR_WIDTH = 420
NUMBER_WIDTH = 150


def _number(value: float) -> str:
    """Format a coordinate without needless digits."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def funnel_svg(steps: Sequence[StepStats], label: str) -> str:
    """Draw horizontal bars, one per step: runs that reached it (light) and passed it (dark).

    Bars are scaled to the runs that reached the first step; `label` is the chart's accessible name.
    """
    height = len(steps) * (BAR_HEIGHT + BAR_GAP) + BAR_GAP
    width = LABEL_WIDTH + BAR_WIDTH + NUMBER_WIDTH
    scale = max([step.reached for step in steps] + [1])
    parts = [
        f'<svg class="funnel" xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{escape(label)}">'
    ]
    for index, step in enumerate(steps):
        top = BAR_GAP + index * (BAR_HEIGHT + BAR_GAP)
        reached = BAR_WIDTH * step.reached / scale
        passed = BAR_WIDTH * step.passed / scale
        middle = top + BAR_HEIGHT / 2
        parts.append(
            f'<g><title>{escape(step.step)}: {step.reached} reached, {step.passed} passed, '
            f"{step.failures} failed attempts, {step.stopped} stopped here</title>"
            f'<text x="{LABEL_WIDTH - 8}" y="{_number(middle)}" text-anchor="end" dominant-baseline="middle">'
            f"{escape(step.step)}</text>"
            f'<rect class="reached" x="{LABEL_WIDTH}" y="{top}" width="{_number(reached)}" height="{BAR_HEIGHT}"/>'
            f'<rect class="passed" x="{LABEL_WIDTH}" y="{top}" width="{_number(passed)}" height="{BAR_HEIGHT}"/>'
            f'<text x="{LABEL_WIDTH + BAR_WIDTH + 8}" y="{_number(middle)}" dominant-baseline="middle">'
            f"{step.passed} / {step.reached}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


TREND_WIDTH = 640
TREND_HEIGHT = 200
MARGIN_LEFT = 48
MARGIN_BOTTOM = 28
MARGIN_TOP = 12
MARGIN_RIGHT = 16


def trend_svg(points: Sequence[tuple[str, int]], label: str) -> str:
    """Draw a line through weekly counts, with the y axis from 0 to the largest count.

    `points` are (x label, value) in order; at most about eight x labels are written.
    """
    plot_width = TREND_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = TREND_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    top_value = max([value for _, value in points] + [1])
    step = plot_width / max(len(points) - 1, 1)
    bottom = MARGIN_TOP + plot_height
    parts = [
        f'<svg class="trend" xmlns="http://www.w3.org/2000/svg" role="img" width="{TREND_WIDTH}" '
        f'height="{TREND_HEIGHT}" viewBox="0 0 {TREND_WIDTH} {TREND_HEIGHT}" aria-label="{escape(label)}">',
        f'<line class="axis" x1="{MARGIN_LEFT}" y1="{bottom}" x2="{TREND_WIDTH - MARGIN_RIGHT}" y2="{bottom}"/>',
        f'<line class="axis" x1="{MARGIN_LEFT}" y1="{MARGIN_TOP}" x2="{MARGIN_LEFT}" y2="{bottom}"/>',
        f'<text x="{MARGIN_LEFT - 6}" y="{MARGIN_TOP}" text-anchor="end" dominant-baseline="middle">{top_value}</text>',
        f'<text x="{MARGIN_LEFT - 6}" y="{bottom}" text-anchor="end" dominant-baseline="middle">0</text>',
    ]
    coordinates = []
    label_every = max(1, -(-len(points) // 8))
    for index, (x_label, value) in enumerate(points):
        x = MARGIN_LEFT + index * step
        y = bottom - plot_height * value / top_value
        coordinates.append(f"{_number(x)},{_number(y)}")
        parts.append(
            f'<circle cx="{_number(x)}" cy="{_number(y)}" r="3"><title>{escape(x_label)}: {value}</title></circle>'
        )
        if index % label_every == 0 or index == len(points) - 1:
            parts.append(
                f'<text x="{_number(x)}" y="{bottom + 16}" text-anchor="middle">{escape(x_label)}</text>'
            )
    if coordinates:
        parts.insert(5, f'<polyline class="line" points="{" ".join(coordinates)}"/>')
    parts.append("</svg>")
    return "".join(parts)
