"""``--format=html``: one self-contained page a manager can open or forward.

Owns the page: a summary table with a verdict per SLO (colour, symbol and
word, so it reads in black and white too) and the SLA credit due, then per
SLO its details and an inline SVG chart of what each day achieved against
the objective. Inline CSS and SVG only: no scripts, no fonts, images or
links to fetch, so it shows the same offline, in a mail client or printed.

Every string from the configuration is escaped with ``html.escape``. Must
not compute figures or read a clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from slo_exporter.figures import PeriodFigures
from slo_exporter.report import text
from slo_exporter.report.build import Day, Entry, Report

CHART_WIDTH = 720
CHART_HEIGHT = 150
_LEFT = 70  # room for the axis labels
_BOTTOM = 20  # room for the day numbers
_TOP = 8

_STYLE = """
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       margin: 0; background: #f5f6f8; color: #111827; }
header { background: #1f2937; color: #fff; padding: 16px 28px; }
header h1 { margin: 0; font-size: 22px; }
header p { margin: 4px 0 0; color: #e5e7eb; }
main { padding: 18px 24px; max-width: 1240px; }
.totals { display: flex; gap: 12px; margin: 0 0 16px; flex-wrap: wrap; }
.totals div { background: #fff; border-radius: 8px; padding: 10px 16px; min-width: 130px;
              box-shadow: 0 1px 2px rgba(0,0,0,.1); }
.totals b { display: block; font-size: 24px; }
table { border-collapse: collapse; width: 100%; background: #fff; border-radius: 8px;
        box-shadow: 0 1px 2px rgba(0,0,0,.1); }
th, td { padding: 8px 8px; text-align: left; border-bottom: 1px solid #e5e7eb;
         vertical-align: middle; }
th { background: #f3f4f6; font-size: 12px; text-transform: uppercase; color: #374151; }
td.name { white-space: nowrap; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.verdict { display: inline-block; min-width: 90px; padding: 3px 8px; border-radius: 4px;
           font-weight: 700; text-align: center; white-space: nowrap; }
.verdict.met { background: #dcfce7; color: #14532d; border: 1px solid #16a34a; }
.verdict.missed { background: #fee2e2; color: #7f1d1d; border: 1px solid #dc2626; }
.verdict.nodata { background: #f3f4f6; color: #374151; border: 1px solid #9ca3af; }
.credit { font-weight: 700; color: #7f1d1d; }
.muted { color: #4b5563; }
section.slo { background: #fff; border-radius: 8px; padding: 14px 18px; margin: 18px 0;
              box-shadow: 0 1px 2px rgba(0,0,0,.1); }
section.slo h2 { margin: 0 0 8px; font-size: 18px; display: flex; gap: 12px;
                 align-items: center; flex-wrap: wrap; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; margin: 8px 0 12px; }
dt { color: #4b5563; }
dd { margin: 0; }
svg text { font: 11px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
           fill: #374151; }
.legend { font-size: 13px; color: #4b5563; margin: 2px 0 0; }
.swatch { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px; }
"""

_VERDICT_CLASS = {True: "met", False: "missed", None: "nodata"}
_SYMBOL = {True: "\u2714", False: "\u2718", None: "?"}
_GOOD, _BAD, _NONE = "#16a34a", "#dc2626", "#9ca3af"


def render(report: Report) -> str:
    """The whole report as one HTML document."""
    labels = ", ".join(sorted({e.figures.label for e in report.entries})) or "no SLOs"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Service-level report {escape(labels)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<header><h1>Service-level report: {escape(labels)}</h1>",
        f"<p>{escape(_as_of(report))}</p></header>",
        "<main>",
        _totals(report),
        _summary(report),
        *(_section(entry) for entry in report.entries),
        _failures(report),
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def _as_of(report: Report) -> str:
    if not report.entries:
        return "No SLO is configured."
    running = [e.figures for e in report.entries if e.figures.at < e.figures.end]
    if running:
        return ("Periods still running are reported to date, as of "
                f"{text.when(running[0].at, running[0].time_zone)}.")
    first = report.entries[0].figures
    return f"Whole periods. Generated {text.when(report.generated_at, first.time_zone)}."


def _verdict(f: PeriodFigures) -> str:
    word = text.status(f)
    return (f'<span class="verdict {_VERDICT_CLASS[f.met]}">'
            f"{_SYMBOL[f.met]} {escape(word)}</span>")


def _totals(report: Report) -> str:
    figures = [e.figures for e in report.entries]
    met = sum(1 for f in figures if f.met is True)
    missed = sum(1 for f in figures if f.met is False)
    unknown = sum(1 for f in figures if f.met is None)
    credits = sum(1 for f in figures
                  if f.sla is not None and f.sla.credit_percent is not None
                  and f.sla.credit_percent > 0)
    return (
        '<div class="totals">'
        f'<div id="total-met"><b>{met}</b>met</div>'
        f'<div id="total-missed"><b>{missed}</b>missed</div>'
        f'<div id="total-nodata"><b>{unknown}</b>no data</div>'
        f'<div id="total-credits"><b>{credits}</b>SLA credit due</div>'
        "</div>"
    )


def _summary(report: Report) -> str:
    head = (
        "<table id=\"summary\"><thead><tr><th>Service</th><th>SLO</th><th>Commitment</th>"
        '<th class="num">Objective</th><th class="num">Achieved</th><th>Verdict</th>'
        '<th class="num">Coverage</th><th class="num">Budget spent</th>'
        '<th class="num">SLA credit due</th><th>Source</th></tr></thead><tbody>'
    )
    rows = []
    for entry in report.entries:
        f = entry.figures
        if f.sla is None:
            credit = '<span class="muted">no SLA</span>'
        elif f.sla.credit_percent:
            credit = f'<span class="credit">{escape(text.credit(f.sla.credit_percent))}</span>'
        else:
            credit = escape(text.credit(f.sla.credit_percent))
        rows.append(
            f'<tr data-slo="{escape(entry.slo.key)}">'
            f'<td class="name">{escape(entry.slo.service)}</td>'
            f'<td class="name">{escape(text.slo_name(entry.slo))}</td>'
            f"<td>{escape(entry.slo.commitment.upper())}</td>"
            f'<td class="num">{escape(text.objective(f.objective))}</td>'
            f'<td class="num">{escape(text.percent(f.achieved))}</td>'
            f"<td>{_verdict(f)}</td>"
            f'<td class="num">{escape(text.coverage(f))}</td>'
            f'<td class="num">{escape(text.budget(f.budget_spent_ratio))}</td>'
            f'<td class="num">{credit}</td>'
            f"<td>{escape(f.source)}</td></tr>"
        )
    return head + "".join(rows) + "</tbody></table>"


def _section(entry: Entry) -> str:
    f = entry.figures
    slo = entry.slo
    rows = [
        ("Period", f"{f.label}: {text.when(f.start, f.time_zone)} to "
                   f"{text.when(f.end, f.time_zone)} ({f.time_zone})"),
        ("Objective", f"{text.objective(f.objective)}, budgeting by {_budgeting(entry)}"),
        ("Achieved", f"{text.percent(f.achieved)}"),
    ]
    slices = text.slices_line(f)
    if slices:
        rows.append(("Slices", slices))
    rows += [
        ("Events", text.events_line(f)),
        ("Coverage", f"{text.coverage(f)} of the time outside maintenance was measured"),
        ("Maintenance", f"{text.duration(f.excluded_seconds)} excluded"),
        ("Error budget spent", f"{text.budget(f.budget_spent_ratio)}; "
                               f"runs out: {text.exhaustion(f)}"),
        ("Worst day", text.worst_day(f)),
        ("Under alert conditions", text.alerts_line(entry.alert_seconds)),
        ("Evidence", text.evidence_line(f)),
        ("SLA", text.sla_line(f)),
        ("Source", f.source),
    ]
    details = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    description = (f'<p class="muted">{escape(slo.description)}</p>'
                   if slo.description else "")
    return (
        f'<section class="slo" id="slo-{escape(slo.key)}">'
        f"<h2>{escape(slo.service)} / {escape(text.slo_name(slo))} {_verdict(f)}</h2>"
        f"{description}<dl>{details}</dl>{chart(entry.days, f.objective)}</section>"
    )


def _budgeting(entry: Entry) -> str:
    timeslices = entry.slo.budgeting.timeslices
    ratio = entry.slo.budgeting.ratio_timeslices
    if entry.figures.budgeting == "ratio_timeslices" and ratio is not None:
        return f"ratio timeslices (the mean ratio of {text.duration(ratio.slice)} slices)"
    if entry.figures.budgeting != "timeslices" or timeslices is None:
        return "events"
    return (f"timeslices (a {text.duration(timeslices.slice)} slice is good at "
            f"{text.objective(float(timeslices.target))} good events or more)")


def chart(days: Sequence[Day], objective: float) -> str:
    """Daily achieved against the objective as an inline SVG bar chart; '' without days.

    Bars hang down from 100 %: the longer the bar, the more the day fell
    short. The scale ends at the objective's allowed shortfall times five
    (99.5 % for a 99.9 % objective), so a good day and a bad one differ at
    a glance; a day below the scale is drawn full length with a marker.
    Each bar carries its date and level as a tooltip (an SVG ``title``).
    """
    if not days:
        return ""
    floor = max(0.0, round(1.0 - 5.0 * (1.0 - objective), 9))
    span = 1.0 - floor
    plot_w = CHART_WIDTH - _LEFT - 8
    plot_h = CHART_HEIGHT - _TOP - _BOTTOM
    step = plot_w / len(days)
    bar_w = max(1.0, step * 0.78)
    goal_y = _TOP + plot_h * (1.0 - objective) / span
    out = [
        f'<svg class="chart" role="img" width="{CHART_WIDTH}" height="{CHART_HEIGHT}" '
        f'viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}">',
        "<title>Achieved per day against the objective</title>",
        f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" fill="#f9fafb" '
        'stroke="#d1d5db"/>',
    ]
    for i, day in enumerate(days):
        x = _LEFT + i * step + (step - bar_w) / 2
        if not day.elapsed:
            continue  # still ahead: its slot stays empty
        if day.achieved is None:
            out.append(
                f'<rect x="{x:.1f}" y="{_TOP}" width="{bar_w:.1f}" height="{plot_h}" '
                f'fill="{_NONE}" fill-opacity="0.25"><title>{escape(day.date)}: '
                f"{text.NO_DATA}</title></rect>"
            )
            continue
        shortfall = 1.0 - day.achieved
        length = min(plot_h, max(1.0, plot_h * shortfall / span))
        colour = _BAD if day.met is False else _GOOD
        mark = ""
        if shortfall > span:
            mark = (f'<text x="{x + bar_w / 2:.1f}" y="{_TOP + plot_h - 3}" '
                    'text-anchor="middle" fill="#fff" style="fill:#fff">\u25bc</text>')
        out.append(
            f'<rect x="{x:.1f}" y="{_TOP}" width="{bar_w:.1f}" height="{length:.1f}" '
            f'fill="{colour}"><title>{escape(day.date)}: '
            f"{escape(text.percent(day.achieved))}</title></rect>{mark}"
        )
    out += [
        f'<line x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{goal_y:.1f}" y2="{goal_y:.1f}" '
        'stroke="#111827" stroke-width="1.5" stroke-dasharray="6 4"/>',
        f'<text x="{_LEFT - 6}" y="{_TOP + 9}" text-anchor="end">100 %</text>',
        f'<text x="{_LEFT - 6}" y="{goal_y + 4:.1f}" text-anchor="end">'
        f"{escape(text.objective(objective))}</text>",
        f'<text x="{_LEFT - 6}" y="{_TOP + plot_h}" text-anchor="end">'
        f"{escape(text.objective(floor))}</text>",
    ]
    for i, day in enumerate(days):
        if i % max(1, round(len(days) / 10)) == 0 or i == len(days) - 1:
            x = _LEFT + i * step + step / 2
            out.append(f'<text x="{x:.1f}" y="{CHART_HEIGHT - 5}" text-anchor="middle">'
                       f"{escape(day.date[5:])}</text>")
    out.append("</svg>")
    legend = (
        '<p class="legend">Each bar is one day and hangs down from 100 %: the longer, the '
        "worse. Dashed line: the objective."
        f'<span class="swatch" style="background:{_GOOD}"></span>day met'
        f'<span class="swatch" style="background:{_BAD}"></span>day missed'
        f'<span class="swatch" style="background:{_NONE};opacity:.4"></span>no data'
        "</p>"
    )
    return "".join(out) + legend


def _failures(report: Report) -> str:
    if not report.failures:
        return ""
    items = "".join(f"<li>{escape(f)}</li>" for f in report.failures)
    return (f'<section class="slo" id="incomplete"><h2>Incomplete</h2>'
            f"<p>Prometheus history could not be read for:</p><ul>{items}</ul></section>")
