"""The built-in status page served at ``/``, rendered from a snapshot.

Owns the HTML for people without Grafana: one table of every SLO with the
objective, the current period to date (achieved, met or missed, coverage),
an error-budget bar with its exhaustion forecast, burn rates per window,
which alert window pair fires, data-source state with a one-line reason,
and a small inline SVG of the remaining-budget history. Also the pieces the
service catalog page (``slo_exporter.catalog``) shares: the document frame,
the stylesheet, verdicts and number formats. Each page is one
self-contained document (inline CSS, no scripts, no external assets), so it
works behind any proxy and in a locked-down browser; details on demand use
``<details>``, sorting uses links (``?sort=burn``).

Must not read clocks, query anything or keep state: the same snapshot
always gives the same page. Every value that comes from configuration
or from an error message is escaped with ``html.escape`` before it reaches
the markup, and a configured Grafana URL loses any credentials it carries.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Literal
from urllib.parse import urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slo_exporter import redact, snapshot
from slo_exporter.api import alert_summary, history_of, period_zone
from slo_exporter.durations import format_duration
from slo_exporter.figures import PeriodFigures
from slo_exporter.model import SLO, CompositeSLI, ProbeSLI, Service
from slo_exporter.model.identity import group_text

History = Mapping[str, Sequence[tuple[float, float]]]
Sort = Literal["service", "burn", "budget"]

#: seconds between automatic reloads; the page has no scripts, so a meta refresh does it
REFRESH_SECONDS = 30

SPARKLINE_WIDTH = 120
SPARKLINE_HEIGHT = 28

#: ``uid`` of the SLO detail dashboard in deploy/grafana; its variables are ``service``, ``slo``
GRAFANA_DETAIL_UID = "slo-exporter-detail"
GRAFANA_OVERVIEW_UID = "slo-exporter-overview"

#: the one-line reason under a failing SLO is cut to this many characters
REASON_LIMIT = 90

SORTS: tuple[tuple[Sort, str], ...] = (
    ("service", "service"),
    ("burn", "highest burn rate"),
    ("budget", "most budget spent"),
)

STYLE = """
:root { color-scheme: light; --ok: #2e7d32; --warn: #b45309; --bad: #c62828; --muted: #6b7280; }
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
.summary { display: flex; gap: 12px; margin-bottom: 12px; flex-wrap: wrap; }
.summary div { background: #fff; border-radius: 6px; padding: 8px 14px;
               box-shadow: 0 1px 2px rgba(0,0,0,.08); }
.summary b { font-size: 18px; display: block; }
.summary .alarm b { color: var(--bad); }
nav.sort { margin: 0 0 8px; font-size: 13px; color: var(--muted); }
nav.sort a, nav.sort b { margin-left: 8px; }
nav.paging { margin: 0 0 8px; font-size: 13px; }
.table-wrap { overflow-x: auto; background: #fff; border-radius: 8px;
              box-shadow: 0 1px 3px rgba(0,0,0,.1); }
table { border-collapse: collapse; width: 100%; table-layout: fixed; }
table.slos, table.catalog { min-width: 880px; }
th, td { text-align: left; padding: 8px; border-top: 1px solid #e5e7eb;
         vertical-align: top; overflow-wrap: break-word; }
/* A narrow screen drops the budget history drawing rather than push the alerts out of view;
   below that the table scrolls sideways inside its box. */
@media (max-width: 900px) {
  main { padding: 12px; }
  table.slos, table.catalog { min-width: 640px; }
  .wide-only { display: none; }
}
thead th { font-size: 11px; color: var(--muted); font-weight: 600; text-transform: uppercase;
           border-top: 0; overflow-wrap: normal; }
tr.service-head th { background: #eef1f5; font-size: 15px; text-transform: none;
                     color: #1f2937; font-weight: 600; }
tr.service-head .desc, tr.service-head .labels { font-weight: normal; }
tr.service-head a { font-size: 12px; font-weight: normal; }
tr.service-head a.grafana { margin-left: 8px; }
.labels { color: var(--muted); font-size: 12px; margin-left: 8px; }
td.num, .num { font-variant-numeric: tabular-nums; }
.big { font-size: 15px; font-weight: 600; font-variant-numeric: tabular-nums; }
.slo-name { font-weight: 600; }
.group { font-family: monospace; }
.service-of { color: var(--muted); font-weight: normal; }
.desc { font-size: 12px; color: var(--muted); }
.links a { font-size: 12px; margin-right: 8px; }
details.error { font-size: 12px; color: var(--bad); margin-top: 2px; }
details.error summary { cursor: pointer; }
details.error pre { white-space: pre-wrap; overflow-wrap: anywhere; color: #374151;
                    background: #f9fafb; border: 1px solid #e5e7eb; border-radius: 4px;
                    padding: 6px; margin: 4px 0 0; max-height: 12em; overflow: auto;
                    font-size: 11px; }
.bar { width: 100%; max-width: 160px; height: 10px; background: #e5e7eb; border-radius: 5px;
       overflow: hidden; }
.bar.spent { background: #fecaca; }
.fill { height: 100%; }
.fill.ok { background: var(--ok); } .fill.warn { background: var(--warn); }
.fill.bad { background: var(--bad); }
.budget-text { font-size: 12px; margin-top: 2px; font-variant-numeric: tabular-nums; }
.forecast { font-size: 12px; color: var(--bad); }
.burns { display: flex; flex-wrap: wrap; gap: 4px; }
.burn { font-size: 12px; padding: 1px 6px; border-radius: 4px; background: #f3f4f6;
        font-variant-numeric: tabular-nums; white-space: nowrap; }
.burn.hot { background: #fee2e2; color: var(--bad); }
.burn.none { color: var(--muted); }
.badge { display: inline-block; font-size: 12px; font-weight: 600; padding: 1px 8px;
         border-radius: 10px; margin: 1px 2px 1px 0; white-space: nowrap; }
.badge.firing { background: var(--bad); color: #fff; }
.badge.ticket { background: var(--warn); color: #fff; }
.badge.quiet { background: #e5e7eb; color: var(--muted); }
.badge.unknown { background: #fff; color: var(--muted); border: 1px dashed #9ca3af; }
.badge.up, .badge.met { background: #dcfce7; color: var(--ok); }
.badge.down, .badge.missed { background: #fee2e2; color: var(--bad); }
.badge.sla { background: #1e3a8a; color: #fff; }
.badge.slo { background: #e0e7ff; color: #3730a3; }
.pair { font-size: 12px; color: var(--bad); }
.credit { font-weight: 600; color: var(--bad); }
svg.spark { display: block; max-width: 100%; height: auto; }
.empty { color: var(--muted); font-style: italic; }
footer { color: var(--muted); font-size: 12px; padding: 0 24px 24px; }
"""


def document(title: str, header_html: str, body: Iterable[str], footer_html: str) -> str:
    """A whole page: head with the shared style and a meta refresh, header, main, footer.

    ``title`` is escaped here; the other parts are markup their callers escaped.
    """
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<header><h1>{escape(title)}</h1>{header_html}</header><main>",
        *body,
        f"</main><footer>{footer_html}</footer></body></html>",
    ])


def render_status_page(
    snap: snapshot.Snapshot,
    history: History | None = None,
    *,
    grafana_url: str | None = None,
    sort: str = "service",
    services: Sequence[Service] = (),
    query: Mapping[str, str] | None = None,
) -> str:
    """The whole HTML document for ``snap``: the page of it ``query`` selects.

    Sparklines draw the budget history each status carries; ``history`` (SLO
    key to ``(ts, remaining)`` pairs) replaces it for the SLOs it names.
    ``sort`` is ``service`` (grouped by service), ``burn`` (highest burn rate
    in any window first) or ``budget`` (most budget spent first); anything
    else means ``service``. ``grafana_url`` adds a dashboard link per SLO;
    ``services`` (the configured ones) add their descriptions to the headings.
    ``query`` holds ``service``, ``owner``, ``limit`` and ``page`` (see
    ``snapshot.Selection``; ``SelectionError`` when one is bad): the summary
    counts every SLO the filter matches, the table shows one page of them in
    the chosen order. Only the rows shown are rendered.
    """
    order: Sort = "burn" if sort == "burn" else "budget" if sort == "budget" else "service"
    selection = snapshot.Selection.parse(query or {})
    matches: Sequence[snapshot.SLOStatus] = snap.matching(selection.service, selection.owner)
    if order != "service":
        matches = _ranked(snap, matches, order)
    page = selection.apply(matches)
    grafana = grafana_base(grafana_url)
    header = (
        f"<p>Snapshot taken {escape(timestamp(snap.taken_at if snap.taken_at > 0 else None))}"
        ' &middot; <a href="catalog">service catalog</a>'
        ' &middot; <a href="api/v1/slos">JSON</a>'
        ' &middot; <a href="api/v1/services">services JSON</a>'
        ' &middot; <a href="metrics">metrics</a></p>'
    )
    body: list[str] = []
    if snap.backfill is not None:  # a cold start: the windows are being read from Prometheus
        done = snap.backfill
        body.append(
            f'<div class="banner" id="backfilling">Backfilling history from Prometheus: '
            f"{done.slos_done} of {done.slos_total} SLOs, {100 * done.fraction:.0f}% read"
            "; windows may be incomplete until it finishes.</div>")
    if not snap.complete:
        body.append(
            '<div class="banner" id="incomplete">The first evaluation has not finished yet; '
            "values below may be missing.</div>"
        )
    body.append(_summary(snap, matches))
    if not snap.slos:
        body.append('<p class="empty">No SLOs are configured.</p>')
    else:
        body.append(_sort_links(order, selection))
        filtered = selection.service is not None or selection.owner is not None
        if filtered or not page.whole or selection.page > 1:
            body.append(_paging(page, order))
        descriptions = {service.name: service.description for service in services}
        if page.rows:
            body.append(_slo_table(page.rows, history, grafana, order, descriptions))
    footer = (
        "Period to date: the current calendar period (or the rolling window) so far; coverage "
        "is the share of it that was measured, and unmeasured time never counts as good. "
        "Burn rate 1&times; spends the error budget exactly over the SLO period. An alert "
        "fires when both windows of a pair (1h/5m), or the one window of a single-window "
        "condition (6h), burn faster than its factor, for as long as its hold (for 5m) "
        "says. "
        "Budget history shows the remaining budget over the SLO period."
    )
    return document("SLO status", header, body, footer)


#: each status's contribution to the summary counts, kept while it is in the snapshot
_COUNTS: snapshot.PerStatus[tuple[int, ...]] = snapshot.PerStatus(lambda s: (
    1, int(alert_summary(s)["page"]), int(alert_summary(s)["ticket"]),
    int(s.period is not None and s.period.met is False),
    int((left := _remaining(s)) is not None and left <= 0), int(not s.up)))


def _summary(snap: snapshot.Snapshot, statuses: Sequence[snapshot.SLOStatus]) -> str:
    totals = [sum(column) for column in zip(*_COUNTS.all(snap, statuses), strict=True)] \
        if statuses else [0] * 6
    counts = zip(("slos", "paging", "ticket", "missed", "exhausted", "down"),
                 ("SLOs", "paging", "ticket alerts", "missed this period",
                  "budgets exhausted", "sources down"), totals, strict=True)
    alarm = ' class="alarm"'
    cells = "".join(
        f'<div id="summary-{key}"{alarm if count and key != "slos" else ""}>'
        f"<b>{count}</b>{escape(label)}</div>"
        for key, label, count in counts
    )
    return f'<div class="summary">{cells}</div>'


def _ranked(snap: snapshot.Snapshot, statuses: Sequence[snapshot.SLOStatus],
            order: Sort) -> list[snapshot.SLOStatus]:
    """``statuses`` most burning (``burn``) or most spent (``budget``) first."""
    keys = (_BURN_KEYS if order == "burn" else _BUDGET_KEYS).all(snap, statuses)
    ranked = sorted(range(len(statuses)), key=keys.__getitem__)
    return [statuses[i] for i in ranked]


def _paging(page: snapshot.Page, order: Sort) -> str:
    """``Showing 1-500 of 10000 SLOs`` with the filter, and links to the other pages."""
    selection = page.selection
    sort = {"sort": order} if order != "service" else {}
    shown = (f"{page.first}&ndash;{page.first + len(page.rows) - 1}" if page.rows else "0")
    filters = [f"{name} {escape(value)}" for name, value in
               (("service", selection.service), ("owner", selection.owner)) if value]
    text = f"Showing {shown} of {page.total} SLOs"
    if filters:
        text += " of " + " and ".join(filters)
    links = []

    def link(label: str, key: str, **changes: int | str | None) -> str:
        href = "?" + urlencode({**sort, **selection.query(**changes)}) if (
            sort or selection.query(**changes)) else "."
        return f'<a id="page-{key}" href="{escape(href)}">{escape(label)}</a>'

    if selection.page > 1:
        links.append(link("first", "first", page=1))
        links.append(link("previous", "previous", page=min(selection.page - 1, page.pages)))
    if selection.page < page.pages:
        links.append(link("next", "next", page=selection.page + 1))
        links.append(link(f"last ({page.pages})", "last", page=page.pages))
    if filters:
        links.append(link("all SLOs", "all", service=None, owner=None, page=None))
    nav = " &middot; ".join(links)
    return (f'<nav class="paging" id="paging"><span id="paging-shown">{text}</span>'
            f"{' &middot; ' + nav if nav else ''}</nav>")


def _sort_links(order: Sort, selection: snapshot.Selection) -> str:
    # a new order starts at its first page, with the same filter and page size
    keep = selection.query(page=None)
    links = [
        f'<b id="sort-{key}">{escape(label)}</b>' if key == order
        else f'<a id="sort-{key}" href="{escape("?" + urlencode({"sort": key, **keep}))}">'
             f"{escape(label)}</a>"
        for key, label in SORTS
    ]
    return f'<nav class="sort">Order by{"".join(links)}</nav>'


#: (heading, width in percent, shown on narrow screens too)
_SLO_COLUMNS = (
    ("SLO", 21, True), ("Objective", 12, True), ("Period to date", 14, True),
    ("Error budget", 14, True), ("Burn rate by window", 13, True), ("Alerts", 15, True),
    ("Budget history", 11, False),
)


def table_head(columns: Sequence[tuple[str, int, bool]]) -> str:
    """The header row; its widths fix every column (``table-layout: fixed``) for all services.

    Widths sit on the header cells, not on ``<col>``, so a column hidden on a
    narrow screen gives its share to the others.
    """
    cells = []
    for name, width, narrow in columns:
        hide = "" if narrow else ' class="wide-only"'
        cells.append(f'<th style="width: {width}%"{hide}>{escape(name)}</th>')
    return f"<thead><tr>{''.join(cells)}</tr></thead>"


def _slo_table(
    statuses: Sequence[snapshot.SLOStatus], history: History | None, grafana: str | None,
    order: Sort, descriptions: Mapping[str, str],
) -> str:
    # One table for every service, so the columns line up across services; it
    # scrolls sideways inside its container on a narrow screen instead of clipping.
    parts = [f'<div class="table-wrap"><table class="slos">{table_head(_SLO_COLUMNS)}']
    if order == "service":
        for service, members in by_service(statuses):
            rows = "".join(
                _slo_row(s, history_of(s, history), grafana, show_service=False)
                for s in members)
            parts.append(
                f'<tbody class="service" data-service="{escape(service)}">'
                f"{_service_head(service, members, grafana, descriptions.get(service, ''))}"
                f"{rows}</tbody>")
    else:
        rows = "".join(
            _slo_row(s, history_of(s, history), grafana, show_service=True) for s in statuses)
        parts.append(f'<tbody class="ranked">{rows}</tbody>')
    parts.append("</table></div>")
    return "".join(parts)


def by_service(
    statuses: Sequence[snapshot.SLOStatus],
) -> Iterable[tuple[str, list[snapshot.SLOStatus]]]:
    """Statuses grouped by service, in the order the services first appear."""
    groups: dict[str, list[snapshot.SLOStatus]] = {}
    for status in statuses:
        groups.setdefault(status.slo.service, []).append(status)
    return groups.items()


def _burn_key(status: snapshot.SLOStatus) -> tuple[float, float, str]:
    """Highest finite burn rate in any window first; unknown burn rates last."""
    rates = [w.burn_rate for w in status.windows
             if w.burn_rate is not None and math.isfinite(w.burn_rate)]
    spent = _spent(status)
    return (-max(rates) if rates else math.inf, -spent if spent is not None else math.inf,
            status.slo.key)


def _budget_key(status: snapshot.SLOStatus) -> tuple[float, str]:
    spent = _spent(status)
    return (-spent if spent is not None else math.inf, status.slo.key)


#: the sort keys of each status, kept while it is in the snapshot
_BURN_KEYS: snapshot.PerStatus[tuple[float, float, str]] = snapshot.PerStatus(_burn_key)
_BUDGET_KEYS: snapshot.PerStatus[tuple[float, str]] = snapshot.PerStatus(_budget_key)


def _spent(status: snapshot.SLOStatus) -> float | None:
    remaining = _remaining(status)
    return None if remaining is None else 1.0 - remaining


def _remaining(status: snapshot.SLOStatus) -> float | None:
    """The period's remaining budget (the one the forecast is about), else the status's."""
    remaining = status.period.budget_remaining if status.period is not None else None
    if remaining is None:
        remaining = status.budget_remaining
    if remaining is None or not math.isfinite(remaining):
        return None
    return remaining


def _service_head(
    service: str, statuses: Sequence[snapshot.SLOStatus], grafana: str | None, description: str
) -> str:
    # Descriptive labels are per SLO in the model (service labels merged in);
    # the service heading shows the ones every SLO of the service shares.
    shared = dict(statuses[0].slo.labels)
    for status in statuses[1:]:
        shared = {k: v for k, v in shared.items() if status.slo.labels.get(k) == v}
    labels = " ".join(f"{escape(k)}={escape(v)}" for k, v in sorted(shared.items()))
    label_html = f'<span class="labels">{labels}</span>' if labels else ""
    link = grafana_link(grafana, GRAFANA_OVERVIEW_UID, service=service)
    dashboard = f'<a class="grafana" href="{escape(link)}">Grafana</a>' if link else ""
    desc = f'<div class="desc">{escape(description)}</div>' if description else ""
    heading = heading_cells(_SLO_COLUMNS, f"{escape(service)}{label_html}{dashboard}{desc}")
    return f'<tr class="service-head">{heading}</tr>'


def heading_cells(columns: Sequence[tuple[str, int, bool]], html: str) -> str:
    """A row-wide heading over the columns every screen shows, plus empty wide-only cells.

    One cell spanning a hidden column would make the table grow an unstyled
    column on a narrow screen.
    """
    narrow = sum(1 for _, _, shown in columns if shown)
    wide = "".join('<th class="wide-only"></th>' for _, _, shown in columns if not shown)
    return f'<th colspan="{narrow}">{html}</th>{wide}'


def _slo_row(
    status: snapshot.SLOStatus,
    history: Sequence[tuple[float, float]],
    grafana: str | None,
    *,
    show_service: bool,
) -> str:
    slo = status.slo
    service = (f'<span class="service-of">{escape(slo.service)} / </span>'
               if show_service else "")
    desc = f'<div class="desc">{escape(slo.description)}</div>' if slo.description else ""
    links = []
    if slo.runbook_url:
        links.append(_runbook(slo.runbook_url))
    dashboard = grafana_link(grafana, GRAFANA_DETAIL_UID, service=slo.service, slo=slo.name)
    if dashboard:
        links.append(f'<a class="grafana" href="{escape(dashboard)}">Grafana</a>')
    link_html = f'<div class="links">{"".join(links)}</div>' if links else ""
    evaluated = escape(timestamp(status.evaluated_at))
    return (
        f'<tr class="slo" data-slo="{escape(slo.key)}">'
        f'<td>{service}<span class="slo-name" title="evaluated {evaluated}">'
        f"{escape(slo.name)}</span>{group_label(slo)}{_down_badge(status)}"
        f"{desc}{_error_details(status)}{link_html}</td>"
        f"<td>{_objective(slo, status.period)}</td>"
        f"<td>{_to_date(status)}</td>"
        f"<td>{_budget(status)}</td>"
        f"<td>{_burn_rates(status.slo, status.windows)}</td>"
        f"<td>{_alert_badges(status)}</td>"
        f'<td class="wide-only">{sparkline(history)}</td>'

        "</tr>"
    )


def group_label(slo: SLO) -> str:
    """A group instance's label values (``{route="/a"}``) after its SLO name."""
    if not slo.group:
        return ""
    return f' <span class="group">{escape(group_text(slo.group))}</span>'


def _runbook(url: str) -> str:
    # Only web links are clickable: a javascript: URL from the config would run on click.
    if urlsplit(url.strip()).scheme.lower() in ("http", "https"):
        return f'<a href="{escape(redact.redact_url(url.strip()))}">runbook</a>'
    return f'<span class="desc">runbook: {escape(url)}</span>'


def _objective(slo: SLO, figures: PeriodFigures | None) -> str:
    label = figures.label if figures is not None else slo.period.label
    zone = period_zone(slo, figures)
    # a break opportunity after the slash keeps "Europe/Berlin" whole on a narrow column
    zone_html = escape(zone).replace("/", "/<wbr>")
    return (
        f'<div class="num">{escape(percent(slo.objective))}</div>'
        f'<div class="desc">{escape(label)} &middot; {zone_html}</div>{commitment_badge(slo)}'
    )


def commitment_badge(slo: SLO) -> str:
    """``SLA 99.9%`` for an SLO carrying an SLA, else ``SLO``."""
    if slo.sla is None:
        return '<span class="badge slo" title="internal objective, no contract">SLO</span>'
    level = f"{slo.sla.objective.normalize():f}%"
    return (f'<span class="badge sla" title="contractual commitment with credits">'
            f"SLA {escape(level)}</span>")


def verdict_badge(figures: PeriodFigures | None) -> str:
    """Met or missed so far this period; ``no data`` when nothing was measured."""
    met = figures.met if figures is not None else None
    if met is None:
        return '<span class="badge unknown verdict">no data</span>'
    title = ""
    if figures is not None and figures.evidence is not None:
        ev = figures.evidence
        title = (f' title="{ev.confidence:.0%} interval {percent(ev.lower)} to '
                 f'{percent(ev.upper)}: {escape(ev.verdict)}"')
    if met:
        return f'<span class="badge met verdict"{title}>met</span>'
    return f'<span class="badge missed verdict"{title}>missed</span>'


def credit_line(slo: SLO, figures: PeriodFigures | None) -> str:
    """The SLA credit the period so far would cost; empty for an SLO without an SLA."""
    if slo.sla is None:
        return ""
    outcome = figures.sla if figures is not None else None
    if outcome is None or outcome.credit_percent is None:
        return '<div class="desc">SLA credit: no data</div>'
    if outcome.credit_percent > 0:
        return (f'<div class="credit">{escape(f"{outcome.credit_percent.normalize():f}")}% '
                "credit due</div>")
    return '<div class="desc">no credit due</div>'


def _to_date(status: snapshot.SLOStatus) -> str:
    figures = status.period
    if figures is None:
        # Not computed yet: the SLI over the SLO's longest window is the best there is.
        # It is not the period's verdict, so none is given.
        window = status.window(status.slo.period.longest)
        sli = window.sli if window is not None else None
        if sli is None:
            return verdict_badge(None)
        span = escape(format_duration(status.slo.period.longest))
        return (f'<div class="big">{escape(percent(sli))}</div>'
                f'<div class="desc">SLI over {span}; period not computed yet</div>')
    # with nothing measured the badge alone says "no data"; saying it twice is noise
    parts = [] if figures.achieved is None else [
        f'<div class="big">{escape(percent(figures.achieved))}</div>']
    parts.append(verdict_badge(figures))
    parts.append(f'<div class="desc">coverage {escape(percent(figures.coverage))}</div>')
    parts.append(credit_line(status.slo, figures))
    if figures.excluded_seconds > 0:
        parts.append(
            f'<div class="desc">maintenance {escape(_duration(figures.excluded_seconds))}</div>')
    return "".join(parts)


def _budget(status: snapshot.SLOStatus) -> str:
    remaining = _remaining(status)
    html = _budget_bar(remaining)
    figures = status.period
    # An exhausted budget says so in the bar; "runs out" at the instant it already did is noise.
    if figures is not None and figures.exhaustion_at is not None \
            and math.isfinite(figures.exhaustion_at) and (remaining is None or remaining > 0):
        when = local_time(figures.exhaustion_at, period_zone(status.slo, figures))
        html += f'<div class="forecast">runs out {escape(when)}</div>'
    return html


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


def _burn_rates(slo: SLO, windows: Sequence[snapshot.WindowValues]) -> str:
    chips = []
    for w in sorted(windows, key=lambda w: w.window):
        name = escape(slo.window_label(w.window))
        if w.burn_rate is None or not math.isfinite(w.burn_rate):
            chips.append(
                f'<span class="burn none" data-window="{name}"><b>{name}</b> &ndash;</span>'
            )
            continue
        hot = " hot" if w.burn_rate > 1 else ""
        chips.append(
            f'<span class="burn{hot}" data-window="{name}">'
            f"<b>{name}</b> {_rate(w.burn_rate)}&times;</span>"
        )
    if not chips:
        return '<span class="empty">no data</span>'
    return f'<div class="burns">{"".join(chips)}</div>'


def _rate(rate: float) -> str:
    # 2 decimals for the usual range; large rates need no more than 3 significant digits
    return f"{rate:.2f}" if rate < 100 else f"{rate:.0f}"


def alerts_known(status: snapshot.SLOStatus) -> bool:
    """Whether "no alert fires" is a finding: the source answered and a window pair has data."""
    if not status.up or status.evaluated_at is None:
        return False
    if status.alerts:
        return any(a.long_burn_rate is not None and a.short_burn_rate is not None
                   for a in status.alerts)
    return any(w.burn_rate is not None for w in status.windows)


def _alert_badges(status: snapshot.SLOStatus) -> str:
    firing = [a for a in status.alerts if a.firing]
    if firing:
        parts = []
        for severity in ("page", "ticket"):
            pairs = [a for a in firing if a.severity == severity]
            if not pairs:
                continue
            css = "firing" if severity == "page" else "ticket"
            parts.append(f'<span class="badge {css}">{severity.upper()}</span>')
            parts += [_pair(a) for a in pairs]
        return "".join(parts)
    if alerts_known(status):
        return '<span class="badge quiet">ok</span>'
    if not status.up:
        return ('<span class="badge unknown" title="the SLO could not be evaluated">'
                "unknown</span>")
    return '<span class="badge unknown" title="no events in any alert window">no data</span>'


def _pair(alert: snapshot.AlertState) -> str:
    """Which condition fires, e.g. ``1h/5m over 14.4x`` (a single window: ``6h over
    14.4x``), with its hold (``for 5m``) where it has one; burn rates in the tooltip."""
    long_w, short_w = format_duration(alert.long_window), format_duration(alert.short_window)
    windows = ((long_w, alert.long_burn_rate),) if alert.single else (
        (long_w, alert.long_burn_rate), (short_w, alert.short_burn_rate))
    rates = ", ".join(
        f"{name} burns {_rate(rate)}x" for name, rate in windows
        if rate is not None and math.isfinite(rate))
    shown = long_w if alert.single else f"{long_w}/{short_w}"
    hold = f" for {format_duration(alert.hold)}" if alert.hold > 0 else ""
    return (
        f'<div class="pair" title="{escape(rates)}">'
        f"{escape(shown)} over {alert.factor:g}&times;{escape(hold)}</div>"
    )


def _down_badge(status: snapshot.SLOStatus) -> str:
    # Only the exception is shown: a column of "up" badges says nothing at a glance.
    if status.up:
        return ""
    return (' <span class="badge down" title="the data source did not answer at the last '
            'evaluation">source down</span>')


def _error_details(status: snapshot.SLOStatus) -> str:
    """The error in one line, the full text on demand (``<details>`` needs no script)."""
    if not status.error:
        return ""
    # Sources scrub their errors already; this page must not be the one place that slips.
    error = redact.scrub(status.error)
    return (
        f'<details class="error"><summary>{escape(error_summary(status.slo, error))}'
        f"</summary><pre>{escape(error)}</pre></details>"
    )


# What an operator needs from a transport error, in the order they are tried:
# the operating system's reason, not the wrappers around it.
_REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), reason) for pattern, reason in (
        (r"connection refused", "connection refused"),
        (r"name or service not known|temporary failure in name resolution|nodename nor "
         r"servname|getaddrinfo failed|no address associated|name resolution", "host not found"),
        (r"network is unreachable|no route to host", "network unreachable"),
        (r"connection reset|connection aborted|remote end closed|dropped while reading",
         "connection dropped"),
        (r"certificate|ssl|tls", "TLS error"),
        (r"timed out|timeout|no answer from .* within|no complete answer|stalled",
         "timed out"),
        (r"max_response_size", "answer too large"),
    )
)
_HTTP_STATUS = re.compile(r"\bHTTP (\d{3})\b")
_UNREACHABLE = {"connection refused", "host not found", "network unreachable",
                "connection dropped", "TLS error", "timed out"}


def error_summary(slo: SLO, error: str) -> str:
    """One short line saying why ``slo`` could not be evaluated.

    ``Prometheus unreachable: connection refused`` rather than the chain of
    urllib3 wrappers the error text holds; the full text stays available.
    """
    reason = _reason(error)
    if isinstance(slo.sli, ProbeSLI):
        prefix = "Probe failed"
    elif isinstance(slo.sli, CompositeSLI):
        prefix = "Components not evaluated"
    elif error.startswith("internal error"):
        prefix = "Evaluation failed"
    elif reason in _UNREACHABLE:
        prefix = "Prometheus unreachable"
    else:
        prefix = "Prometheus query failed"
    if reason is None:
        # Unrecognised: the first line without the PromQL the error quotes at its end
        first = " ".join(error.split("(query:", maxsplit=1)[0].split())
        reason = first if len(first) <= REASON_LIMIT else first[: REASON_LIMIT - 1] + "…"
    return f"{prefix}: {reason}"


def _reason(error: str) -> str | None:
    if error.startswith("internal error"):
        return "internal error (see the log)"
    for pattern, reason in _REASONS:
        if pattern.search(error):
            return reason
    status = _HTTP_STATUS.search(error)
    if status:
        return f"HTTP {status.group(1)}"
    return None


def grafana_base(url: str | None) -> str | None:
    """The Grafana base URL fit for a link: http(s) only, credentials dropped; else None."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def grafana_link(base: str | None, uid: str, **variables: str) -> str | None:
    """A dashboard URL under ``base`` with ``var-<name>`` parameters, or None without a base."""
    if base is None:
        return None
    query = urlencode({f"var-{name}": value for name, value in variables.items()})
    return f"{base}/d/{uid}?{query}"


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
    label = f"remaining budget from {percent(points[0][1])} to {percent(last)}"
    return (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}">'
        f'<line x1="0" y1="{zero:.1f}" x2="{width}" y2="{zero:.1f}" '
        'stroke="#9ca3af" stroke-width="1" stroke-dasharray="3,2"/>'
        f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{coords}"/>'
        "</svg>"
    )


def percent(ratio: float | None) -> str:
    """A ratio as a percentage with up to three decimals; ``no data`` when unknown."""
    if ratio is None or not math.isfinite(ratio):
        return "no data"
    # Enough digits to tell 99.9% from 99.95% without showing float noise.
    text = f"{ratio * 100:.3f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _duration(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes = rest // 60
    if hours and minutes:
        return f"{hours}h {minutes}m"
    if hours:
        return f"{hours}h"
    return f"{minutes}m" if minutes else f"{whole}s"


def timestamp(ts: float | None) -> str:
    """Unix seconds as UTC text; ``never`` when unknown."""
    if ts is None or not math.isfinite(ts):
        return "never"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def local_time(ts: float, zone: str) -> str:
    """Unix seconds as wall-clock time in ``zone`` with its abbreviation (UTC if unknown)."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M %Z")
