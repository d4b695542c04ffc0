"""The built-in status page served at ``/``, rendered from a snapshot.

Owns the HTML for people without Grafana: services and their SLOs with the
objective, the SLI over the period, an error-budget bar, burn rates per window,
alert and data-source state, and a small inline SVG of the remaining-budget
history. It is one self-contained document (inline CSS, no scripts, no
external assets), so it works behind any proxy and in a locked-down browser.

Must not read clocks, query anything or keep state: the same snapshot
always gives the same page. Every value that comes from configuration
or from an error message is escaped with ``html.escape`` before it reaches
the markup.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from html import escape

from slo_exporter import snapshot
from slo_exporter.api import alert_summary, history_of
from slo_exporter.durations import format_duration

History = Mapping[str, Sequence[tuple[float, float]]]

#: seconds between automatic reloads; the page has no scripts, so a meta refresh does it
REFRESH_SECONDS = 30

SPARKLINE_WIDTH = 160
SPARKLINE_HEIGHT = 32

_STYLE = """
:root { color-scheme: light; --ok: #2e7d32; --warn: #ef6c00; --bad: #c62828; --muted: #6b7280; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       margin: 0; background: #f5f6f8; color: #1f2937; }
header { background: #1f2937; color: #fff; padding: 14px 24px; }
header h1 { margin: 0; font-size: 20px; }
header p { margin: 4px 0 0; color: #d1d5db; }
header a { color: #93c5fd; }
main { padding: 16px 24px; }
.banner { padding: 8px 12px; border-radius: 6px; margin-bottom: 12px;
          background: #fff7ed; border: 1px solid #fdba74; }
.summary { display: flex; gap: 12px; margin-bottom: 16px; flex-wrap: wrap; }
.summary div { background: #fff; border-radius: 6px; padding: 8px 14px;
               box-shadow: 0 1px 2px rgba(0,0,0,.08); }
.summary b { font-size: 18px; display: block; }
section.service { background: #fff; border-radius: 8px; margin-bottom: 16px;
                  box-shadow: 0 1px 3px rgba(0,0,0,.1); overflow: hidden; }
section.service h2 { margin: 0; padding: 10px 14px; font-size: 16px; background: #eef1f5; }
.labels { font-weight: normal; color: var(--muted); font-size: 12px; margin-left: 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 8px 14px; border-top: 1px solid #e5e7eb;
         vertical-align: middle; }
th { font-size: 12px; color: var(--muted); font-weight: 600; text-transform: uppercase; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.slo-name { font-weight: 600; }
.desc, .error { font-size: 12px; color: var(--muted); }
.error { color: var(--bad); }
.bar { width: 160px; height: 10px; background: #e5e7eb; border-radius: 5px; overflow: hidden; }
.bar.spent { background: #fecaca; }
.fill { height: 100%; }
.fill.ok { background: var(--ok); } .fill.warn { background: var(--warn); }
.fill.bad { background: var(--bad); }
.budget-text { font-size: 12px; margin-top: 2px; font-variant-numeric: tabular-nums; }
.burns { display: flex; flex-wrap: wrap; gap: 4px; max-width: 330px; }
.burn { font-size: 12px; padding: 1px 6px; border-radius: 4px; background: #f3f4f6;
        font-variant-numeric: tabular-nums; white-space: nowrap; }
.burn.hot { background: #fee2e2; color: var(--bad); }
.burn.none { color: var(--muted); }
.badge { display: inline-block; font-size: 12px; font-weight: 600; padding: 1px 8px;
         border-radius: 10px; margin: 1px 2px 1px 0; white-space: nowrap; }
.badge.firing { background: var(--bad); color: #fff; }
.badge.ticket { background: var(--warn); color: #fff; }
.badge.quiet { background: #e5e7eb; color: var(--muted); }
.badge.up { background: #dcfce7; color: var(--ok); }
.badge.down { background: #fee2e2; color: var(--bad); }
svg.spark { display: block; }
.empty { color: var(--muted); font-style: italic; }
footer { color: var(--muted); font-size: 12px; padding: 0 24px 24px; }
"""


def render_status_page(snap: snapshot.Snapshot, history: History | None = None) -> str:
    """The whole HTML document for ``snap``.

    Sparklines draw the budget history each status carries; ``history`` (SLO
    key to ``(ts, remaining)`` pairs) replaces it for the SLOs it names.
    """
    statuses = sorted(snap.slos, key=lambda s: (s.slo.service, s.slo.name))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>SLO status</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<header><h1>SLO status</h1>",
        f"<p>Snapshot taken {escape(_timestamp(snap.taken_at if snap.taken_at > 0 else None))}"
        ' &middot; <a href="api/v1/slos">JSON</a> &middot; <a href="metrics">metrics</a></p>',
        "</header><main>",
    ]
    if not snap.complete:
        parts.append(
            '<div class="banner" id="incomplete">The first evaluation has not finished yet; '
            "values below may be missing.</div>"
        )
    parts.append(_summary(statuses))
    if not statuses:
        parts.append('<p class="empty">No SLOs are configured.</p>')
    for service, members in _by_service(statuses):
        parts.append(_service_section(service, members, history))
    parts.append(
        "</main><footer>Burn rate 1&times; spends the error budget exactly over the SLO period. "
        "Budget history shows the remaining budget over the SLO period.</footer></body></html>"
    )
    return "\n".join(parts)


def _by_service(
    statuses: Sequence[snapshot.SLOStatus],
) -> Iterable[tuple[str, list[snapshot.SLOStatus]]]:
    groups: dict[str, list[snapshot.SLOStatus]] = {}
    for status in statuses:
        groups.setdefault(status.slo.service, []).append(status)
    return groups.items()


def _summary(statuses: Sequence[snapshot.SLOStatus]) -> str:
    alerts = [alert_summary(s) for s in statuses]
    counts = (
        ("slos", "SLOs", len(statuses)),
        ("paging", "paging", sum(a["page"] for a in alerts)),
        ("ticket", "ticket alerts", sum(a["ticket"] for a in alerts)),
        (
            "exhausted",
            "budgets exhausted",
            sum(s.budget_remaining is not None and s.budget_remaining <= 0 for s in statuses),
        ),
        ("down", "sources down", sum(not s.up for s in statuses)),
    )
    cells = "".join(
        f'<div id="summary-{key}"><b>{count}</b>{escape(label)}</div>'
        for key, label, count in counts
    )
    return f'<div class="summary">{cells}</div>'


def _service_section(
    service: str, statuses: Sequence[snapshot.SLOStatus], history: History | None
) -> str:
    rows = "".join(_slo_row(status, history_of(status, history)) for status in statuses)
    # Descriptive labels are per SLO in the model (service labels merged in);
    # the service heading shows the ones every SLO of the service shares.
    shared = dict(statuses[0].slo.labels)
    for status in statuses[1:]:
        shared = {k: v for k, v in shared.items() if status.slo.labels.get(k) == v}
    labels = " ".join(f"{escape(k)}={escape(v)}" for k, v in sorted(shared.items()))
    label_html = f'<span class="labels">{labels}</span>' if labels else ""
    return (
        f'<section class="service" data-service="{escape(service)}">'
        f"<h2>{escape(service)}{label_html}</h2><table>"
        "<thead><tr><th>SLO</th><th>Objective</th><th>SLI (period)</th>"
        "<th>Error budget</th><th>Burn rate by window</th><th>Alerts</th><th>Data</th>"
        "<th>Budget history</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


def _slo_row(status: snapshot.SLOStatus, history: Sequence[tuple[float, float]]) -> str:
    slo = status.slo
    period = status.window(slo.period.longest)
    sli = period.sli if period is not None else None
    desc = f'<div class="desc">{escape(slo.description)}</div>' if slo.description else ""
    error = f'<div class="error">{escape(status.error)}</div>' if status.error else ""
    runbook = (
        f' <a class="desc" href="{escape(slo.runbook_url)}">runbook</a>' if slo.runbook_url else ""
    )
    return (
        f'<tr class="slo" data-slo="{escape(slo.key)}">'
        f'<td><span class="slo-name">{escape(slo.name)}</span>{runbook}{desc}{error}</td>'
        f'<td class="num">{escape(_percent(slo.objective))}</td>'
        f'<td class="num">{escape(_percent(sli))}'
        f'<div class="desc">{escape(slo.period.label)}</div></td>'
        f"<td>{_budget_bar(status.budget_remaining)}</td>"
        f"<td>{_burn_rates(status.windows)}</td>"
        f"<td>{_alert_badges(status)}</td>"
        f"<td>{_up_badge(status)}</td>"
        f"<td>{sparkline(history)}</td>"
        "</tr>"
    )


def _budget_bar(remaining: float | None) -> str:
    if remaining is None or not math.isfinite(remaining):
        return '<div class="bar"></div><div class="budget-text empty">no data</div>'
    width = min(max(remaining, 0.0), 1.0) * 100
    level = "ok" if remaining > 0.5 else "warn" if remaining > 0.2 else "bad"
    if remaining > 0:
        text = f"{remaining * 100:.1f}% left"
    elif remaining == 0:
        text = "exhausted"
    else:
        text = f"overspent by {-remaining * 100:.1f}%"
    spent = " spent" if remaining <= 0 else ""
    return (
        f'<div class="bar{spent}" title="{escape(text)}">'
        f'<div class="fill {level}" style="width: {width:.1f}%"></div></div>'
        f'<div class="budget-text">{escape(text)}</div>'
    )


def _burn_rates(windows: Sequence[snapshot.WindowValues]) -> str:
    chips = []
    for w in sorted(windows, key=lambda w: w.window):
        name = escape(format_duration(w.window))
        if w.burn_rate is None or not math.isfinite(w.burn_rate):
            chips.append(
                f'<span class="burn none" data-window="{name}"><b>{name}</b> &ndash;</span>'
            )
            continue
        hot = " hot" if w.burn_rate > 1 else ""
        chips.append(
            f'<span class="burn{hot}" data-window="{name}">'
            f"<b>{name}</b> {w.burn_rate:.2f}&times;</span>"
        )
    if not chips:
        return '<span class="empty">no data</span>'
    return f'<div class="burns">{"".join(chips)}</div>'


def _alert_badges(status: snapshot.SLOStatus) -> str:
    state = alert_summary(status)
    badges = []
    if state["page"]:
        badges.append('<span class="badge firing">PAGE</span>')
    if state["ticket"]:
        badges.append('<span class="badge ticket">TICKET</span>')
    return "".join(badges) or '<span class="badge quiet">ok</span>'


def _up_badge(status: snapshot.SLOStatus) -> str:
    evaluated = escape(_timestamp(status.evaluated_at))
    if status.up:
        return f'<span class="badge up" title="evaluated {evaluated}">up</span>'
    return f'<span class="badge down" title="evaluated {evaluated}">down</span>'


def sparkline(
    points: Sequence[tuple[float, float]],
    width: int = SPARKLINE_WIDTH,
    height: int = SPARKLINE_HEIGHT,
) -> str:
    """An inline SVG line of remaining budget over time; a dashed line marks zero budget."""
    points = [(t, v) for t, v in points if math.isfinite(t) and math.isfinite(v)]
    if len(points) < 2:
        return '<span class="empty">collecting&hellip;</span>'
    t0, t1 = points[0][0], points[-1][0]
    # Full budget (1) and exhaustion (0) are always in view, so lines from
    # different SLOs can be compared at a glance; overspending extends below.
    low = min(0.0, *(v for _, v in points))
    high = max(1.0, *(v for _, v in points))
    pad = 2.0

    def x(t: float) -> float:
        return pad + (t - t0) / (t1 - t0) * (width - 2 * pad) if t1 > t0 else width / 2

    def y(v: float) -> float:
        return pad + (high - v) / (high - low) * (height - 2 * pad)

    coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
    last = points[-1][1]
    colour = "#2e7d32" if last > 0.5 else "#ef6c00" if last > 0.2 else "#c62828"
    zero = y(0.0)
    label = f"remaining budget from {_percent(points[0][1])} to {_percent(last)}"
    return (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}">'
        f'<line x1="0" y1="{zero:.1f}" x2="{width}" y2="{zero:.1f}" '
        'stroke="#9ca3af" stroke-width="1" stroke-dasharray="3,2"/>'
        f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{coords}"/>'
        "</svg>"
    )


def _percent(ratio: float | None) -> str:
    if ratio is None or not math.isfinite(ratio):
        return "no data"
    # Enough digits to tell 99.9% from 99.95% without showing float noise.
    text = f"{ratio * 100:.3f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _timestamp(ts: float | None) -> str:
    if ts is None or not math.isfinite(ts):
        return "never"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
