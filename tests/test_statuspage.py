"""The status page HTML: content, escaping, budget bars and the budget sparkline."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from slo_exporter import model, snapshot
from slo_exporter.statuspage import render_status_page, sparkline

DAY = 86400.0


def _slo(service: str = "checkout", name: str = "availability", **kwargs: object) -> model.SLO:
    fields: dict[str, object] = {
        "service": service,
        "name": name,
        "objective": 0.999,
        "period": model.RollingPeriod(30 * DAY),
        "sli": model.ProbeSLI(target=model.HTTPProbe(url="http://127.0.0.1:1/healthz")),
        "labels": model.frozen_map({"owner": "payments"}),
    }
    fields.update(kwargs)
    return model.SLO(**fields)  # type: ignore[arg-type]


def _status(slo: model.SLO, **kwargs: object) -> snapshot.SLOStatus:
    fields: dict[str, object] = {
        "slo": slo,
        "windows": (
            snapshot.WindowValues(300.0, good=90.0, total=100.0, sli=0.9, burn_rate=100.0),
            snapshot.WindowValues(3600.0, good=0.0, total=0.0, sli=None, burn_rate=None),
            snapshot.WindowValues(30 * DAY, good=9990.0, total=10000.0, sli=0.999, burn_rate=1.0),
        ),
        "budget_remaining": 0.25,
        "alerts": (snapshot.AlertState("page", 3600.0, 300.0, 14.4, 20.0, 100.0, firing=True),),
        "up": True,
        "evaluated_at": 1_700_000_000.0,
    }
    fields.update(kwargs)
    return snapshot.SLOStatus(**fields)  # type: ignore[arg-type]


class _Collector(HTMLParser):
    """Collects start tags and text, and fails on a start tag the page must not contain."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Collector:
    parser = _Collector()
    parser.feed(page)
    parser.close()
    return parser


def test_page_lists_services_and_slos_with_their_values() -> None:
    """Each SLO shows objective, period SLI, budget text, burn rates and alert state."""
    snap = snapshot.Snapshot(
        slos=(_status(_slo()), _status(_slo("search", "latency"), alerts=(), up=False)),
        taken_at=1_700_000_030.0,
        complete=True,
    )
    page = render_status_page(snap)
    text = " ".join(_parse(page).text)
    assert "checkout" in text
    assert "search" in text
    assert "availability" in text
    assert "99.9%" in text
    assert "25.0% left" in text
    assert "100\u00d7" in text  # 5m burn rate: rates of 100 and more without decimals
    assert "PAGE" in text
    assert "2023-11-14 22:13:50 UTC" in text
    assert 'data-slo="checkout/availability"' in page
    assert 'data-slo="search/latency"' in page
    assert '<span class="badge down"' in page
    assert 'id="incomplete"' not in page


def test_summary_counts_alerts_and_problems() -> None:
    """The summary strip counts SLOs, paging SLOs, exhausted budgets and sources down."""
    snap = snapshot.Snapshot(
        slos=(
            _status(_slo()),
            _status(_slo("search", "latency"), alerts=(), up=False, budget_remaining=-0.5),
        ),
        complete=True,
    )
    page = render_status_page(snap)
    assert '<div id="summary-slos"><b>2</b>' in page
    assert '<div id="summary-paging" class="alarm"><b>1</b>' in page
    assert '<div id="summary-exhausted" class="alarm"><b>1</b>' in page
    assert '<div id="summary-down" class="alarm"><b>1</b>' in page
    assert '<div id="summary-ticket"><b>0</b>' in page
    assert "overspent by 50.0%" in page


def test_budget_bar_width_follows_remaining_budget_and_clamps() -> None:
    """The bar's CSS width is the remaining budget in percent, clamped to 0..100."""
    widths = []
    spent = []
    for remaining in (0.25, 1.7, -0.3):
        page = render_status_page(
            snapshot.Snapshot(slos=(_status(_slo(), budget_remaining=remaining),))
        )
        widths += re.findall(r'class="fill (\w+)" style="width: ([\d.]+)%"', page)
        spent.append('class="bar spent"' in page)
    assert widths == [("warn", "25.0"), ("ok", "100.0"), ("bad", "0.0")]
    assert spent == [False, False, True]


def test_missing_data_is_shown_as_no_data_not_zero() -> None:
    """An SLO without events shows 'no data' for SLI, budget and alerts, a dash for burn rates."""
    status = _status(
        _slo(),
        windows=(snapshot.WindowValues(300.0, 0.0, 0.0, None, None),),
        budget_remaining=None,
        alerts=(),
    )
    page = render_status_page(snapshot.Snapshot(slos=(status,)))
    assert "no data" in page
    assert '<span class="burn none" data-window="5m"><b>5m</b> &ndash;</span>' in page
    assert 'class="fill' not in page
    assert 'class="badge quiet"' not in page  # no "ok": nothing was there to alert on
    assert "no events in any alert window\">no data</span>" in page


def test_configured_text_and_errors_are_escaped() -> None:
    """Names, labels, descriptions, runbook URLs and error text cannot inject markup."""
    evil = '<script>alert("x")</script>'
    slo = _slo(
        service=evil,
        name="a&b",
        description=evil,
        runbook_url='javascript:"><img src=x>',
        labels=model.frozen_map({"team": evil}),
    )
    page = render_status_page(snapshot.Snapshot(slos=(_status(slo, error=evil),)))
    parsed = _parse(page)
    assert "script" not in {tag for tag, _ in parsed.tags}
    assert "img" not in {tag for tag, _ in parsed.tags}
    assert evil in " ".join(parsed.text)
    assert "a&amp;b" in page
    assert "&lt;script&gt;" in page


def test_incomplete_snapshot_shows_a_banner() -> None:
    """Before the first full evaluation the page says values may be missing."""
    page = render_status_page(snapshot.Snapshot())
    assert 'id="incomplete"' in page
    assert "No SLOs are configured." in page
    assert "never" in page


def test_sparkline_draws_history_with_a_zero_line() -> None:
    """History points become an SVG polyline spanning the width, plus a dashed zero line."""
    svg = sparkline([(0.0, 1.0), (50.0, 0.5), (100.0, 0.0)], width=104, height=24)
    points = re.search(r'<polyline[^>]* points="([^"]+)"', svg)
    assert points is not None
    coords = [tuple(float(n) for n in p.split(",")) for p in points.group(1).split()]
    assert coords == [(2.0, 2.0), (52.0, 12.0), (102.0, 22.0)]
    assert 'stroke-dasharray="3,2"' in svg
    assert 'y1="22.0"' in svg  # zero budget is the bottom when nothing is overspent


def test_sparkline_extends_below_zero_when_overspent() -> None:
    """An overspent budget widens the scale so the zero line sits above the bottom."""
    svg = sparkline([(0.0, 1.0), (10.0, -1.0)], width=104, height=24)
    assert 'y1="12.0"' in svg


def test_sparkline_needs_two_points() -> None:
    """With fewer than two history points no SVG is drawn."""
    assert "<svg" not in sparkline([(0.0, 1.0)])
    page = render_status_page(
        snapshot.Snapshot(slos=(_status(_slo()),)),
        {"checkout/availability": [(1.0, 0.9), (2.0, 0.8)]},
    )
    assert page.count("<svg") == 1


def test_page_has_no_scripts_or_external_assets() -> None:
    """The page is self-contained: no script tags and no external stylesheets or images."""
    page = render_status_page(
        snapshot.Snapshot(slos=(_status(_slo()),)), {"checkout/availability": [(1, 1), (2, 0.9)]}
    )
    tags = _parse(page).tags
    assert "script" not in {tag for tag, _ in tags}
    assert not [attrs for tag, attrs in tags if tag in {"link", "img"}]


def test_sparkline_draws_the_history_the_status_carries() -> None:
    """Without a history argument the page draws each status's own budget history."""
    carried = snapshot.BudgetHistory(past=((1.0, 0.9),), latest=(2.0, 0.8))
    page = render_status_page(
        snapshot.Snapshot(slos=(_status(_slo(), budget_history=carried),)))
    assert page.count("<svg") == 1


def test_a_single_window_condition_shows_one_window_and_its_hold() -> None:
    """A firing single-window condition (short_window == long_window, as OpenSLO gives)
    reads "6h over 14.4x for 5m", not "6h/6h"; its tooltip names the one window; a
    pair keeps "1h/5m" and shows its hold."""
    single = snapshot.AlertState(
        "page", 6 * 3600.0, 6 * 3600.0, 14.4, 30.0, 30.0, firing=True, hold=300.0,
        window=model.AlertWindow("page", 6 * 3600.0, None, factor=14.4, hold=300.0))
    pair = snapshot.AlertState("ticket", 3600.0, 300.0, 14.4, 20.0, 100.0, firing=True,
                               hold=120.0)
    page = render_status_page(snapshot.Snapshot(
        slos=(_status(_slo(), alerts=(single, pair)),), complete=True))
    assert '<div class="pair" title="6h burns 30.00x">6h over 14.4&times; for 5m</div>' in page
    assert ('<div class="pair" title="1h burns 20.00x, 5m burns 100x">'
            "1h/5m over 14.4&times; for 2m</div>") in page
    assert "6h/6h" not in page
