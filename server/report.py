"""`crmstatus report`: a dimension's flow over a period, as a sales manager reads it — a table on the terminal,
and two SVG charts (the funnel: customers entering each state; time in state: median and p90 before leaving)."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

BAR, GAP, LEFT, WIDTH = 28, 10, 190, 520  # px: bar height, space between bars, label column, bar column


def table(report: Any) -> str:
    """The report as aligned text: states (entered, left, median and p90 time in state), moves with their
    conversion, reason codes."""
    lines = [f"{'state':<16}{'entered':>9}{'left':>9}{'median h':>10}{'p90 h':>9}"]
    for state in report.states:
        median = f"{state.median_hours:g}" if state.left else "-"
        p90 = f"{state.p90_hours:g}" if state.left else "-"
        lines.append(f"{_name(state):<16}{state.entered:>9}{state.left:>9}{median:>10}{p90:>9}")
    lines += ["", f"{'move':<30}{'count':>8}{'conversion':>12}"]
    for move in report.moves:
        source = move.from_state or "(created)"
        lines.append(f"{source + ' → ' + move.to_state:<30}{move.count:>8}{move.conversion:>11.1%}")
    if report.reasons:
        lines += ["", f"{'reason':<30}{'count':>8}"]
        lines += [f"{r.event + ': ' + r.code:<30}{r.count:>8}" for r in report.reasons]
    return "\n".join(lines)


def write_charts(report: Any, folder: str, title: str) -> list[Path]:
    """funnel.svg and time_in_state.svg in `folder`; returns their paths."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    funnel = [(_name(s), float(s.entered), f"{s.entered}") for s in report.states]
    dwell = [(_name(s), float(s.median_hours), f"median {s.median_hours:g} h · p90 {s.p90_hours:g} h")
             for s in report.states if s.left]  # fmt: skip
    written = []
    for name, heading, bars in (("funnel.svg", f"{title}: customers entering each state", funnel),
                                ("time_in_state.svg", f"{title}: time in state before leaving", dwell)):  # fmt: skip
        path = target / name
        path.write_text(_bars(heading, bars), "utf-8")
        written.append(path)
    return written


def _name(state: Any) -> str:
    return f"{state.state} ({state.label.en})" if state.label.en and state.label.en != state.state else state.state


def _bars(heading: str, bars: list[tuple[str, float, str]]) -> str:
    """A horizontal bar chart: one bar per (label, value, caption), scaled to the largest value."""
    top = max((value for _, value, _ in bars), default=0) or 1
    height = 50 + len(bars) * (BAR + GAP)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{LEFT + WIDTH + 200}" height="{height}" '
        'font-family="sans-serif" font-size="13">',
        f'<text x="10" y="24" font-size="15" font-weight="bold">{escape(heading)}</text>',
    ]
    for n, (label, value, caption) in enumerate(bars):
        y = 40 + n * (BAR + GAP)
        length = max(1.0, WIDTH * value / top)
        parts += [
            f'<text x="{LEFT - 8}" y="{y + BAR / 2 + 4}" text-anchor="end">{escape(label)}</text>',
            f'<rect x="{LEFT}" y="{y}" width="{length:.1f}" height="{BAR}" fill="#3b7dd8"/>',
            f'<text x="{LEFT + length + 6:.1f}" y="{y + BAR / 2 + 4}">{escape(caption)}</text>',
        ]
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
