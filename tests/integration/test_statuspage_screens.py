"""The status page and the service catalog of a realistic fleet, in headless Chromium.

A hand-built snapshot (so every state appears at once) is served by the real
web server on a loopback port: an SLA service missing its objective and owing
a credit, a service whose Prometheus is down with a long urllib3 error, a
vendor service and a composite business service paging on a single-window
(OpenSLO) condition. Chromium renders the pages at 800 and 1400 pixels wide;
the screenshots are saved as test artifacts (``artifacts/statuspage-*.png``)
for a person to look at.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from prometheus_client import CollectorRegistry

from slo_exporter import catalog, model, statuspage
from slo_exporter.figures import Evidence, SLAOutcome
from slo_exporter.ingest import BackfillProgress
from slo_exporter.sla import SLA, CreditTier
from slo_exporter.snapshot import AlertState, BudgetHistory, SLOStatus, Snapshot, WindowValues
from slo_exporter.web import Query, WebServer, html_page, html_query_page
from tests.support.harness import HarnessError, require_binary
from tests.support.helpers import figures

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM_TIMEOUT = 90
AT = 1_773_100_000.0  # 2026-03-10 in Europe/Berlin
DAY = 86400.0
GRAFANA = "https://grafana.example.com"

URLLIB3_ERROR = (
    "cannot reach http://prometheus.monitoring.svc:9090/api/v1/query: "
    "HTTPConnectionPool(host='prometheus.monitoring.svc', port=9090): Max retries exceeded "
    "with url: /api/v1/query?query=sum%28rate%28search_requests_total%7Bjob%3D%22search%22%2C"
    "code%21~%225..%22%7D%5B5m%5D%29%29&time=1773100000 (Caused by NewConnectionError("
    "'<urllib3.connection.HTTPConnection object at 0x7f3a2c1b5e50>: Failed to establish a new "
    "connection: [Errno 111] Connection refused')) (query: sum(rate(search_requests_total"
    '{job="search",code!~"5.."}[5m])))'
)


def _ratio() -> model.RatioSLI:
    return model.RatioSLI(total=model.Selector("requests_total"),
                          bad=model.Selector('requests_total{code=~"5.."}'))


def _slo(service: str, name: str, objective: float, period: model.Period, **fields: object
         ) -> model.SLO:
    values: dict[str, object] = {"service": service, "name": name, "objective": objective,
                                 "period": period, "sli": _ratio()}
    values.update(fields)
    return model.SLO(**values)  # type: ignore[arg-type]


def _windows(*rates: float | None) -> tuple[WindowValues, ...]:
    spans = (300.0, 3600.0, 6 * 3600.0, DAY, 3 * DAY)
    return tuple(WindowValues(w, 0.0, 0.0 if r is None else 1000.0, None, r)
                 for w, r in zip(spans, rates, strict=True))


def _alerts(long_page: float | None, short_page: float | None, long_ticket: float | None,
            short_ticket: float | None) -> tuple[AlertState, ...]:
    def fires(a: float | None, b: float | None, f: float) -> bool:
        return a is not None and b is not None and a > f and b > f

    return (
        AlertState("page", 3600.0, 300.0, 14.4, long_page, short_page,
                   fires(long_page, short_page, 14.4)),
        AlertState("ticket", DAY, 7200.0, 3.0, long_ticket, short_ticket,
                   fires(long_ticket, short_ticket, 3.0)),
    )


def _single_window_page(rate: float) -> AlertState:
    """An OpenSLO burn-rate condition: 6h over a fixed 3x, held 5m (it has held)."""
    window = model.AlertWindow("page", 6 * 3600.0, None, factor=3.0, hold=300.0)
    return AlertState("page", 6 * 3600.0, 6 * 3600.0, 3.0, rate, rate, rate > 3.0,
                      hold=300.0, since=AT - 600.0, window=window)


def _history(*values: float) -> BudgetHistory:
    return BudgetHistory(past=tuple((AT - (len(values) - i) * 3600.0, v)
                                    for i, v in enumerate(values)))


def fleet() -> tuple[tuple[model.Service, ...], Snapshot]:
    """Four services in every state the pages must show at once."""
    month = model.CalendarPeriod("month", "Europe/Berlin")
    sla = SLA(objective=Decimal("99.9"), tiers=(
        CreditTier(Decimal("99.9"), Decimal("10")), CreditTier(Decimal("99.0"), Decimal("25")),
        CreditTier(Decimal("95.0"), Decimal("100"))))
    payments = model.frozen_map({"owner": "payments", "tier": "critical"})
    availability = _slo("checkout", "availability", 0.999, month, sla=sla, labels=payments,
                        description="Checkout requests answered without a 5xx <script>x</script>",
                        runbook_url="https://runbooks.example.com/checkout")
    checkout_latency = _slo("checkout", "latency", 0.99, month, labels=payments,
                            description="Checkout answers within 300 ms")
    discovery = model.frozen_map({"owner": "discovery"})
    search = _slo("search", "availability", 0.995, model.RollingPeriod(30 * DAY),
                  labels=discovery, description="Search queries answered")
    vendor_api = _slo("payments-vendor", "api", 0.9995, month,
                      labels=model.frozen_map({"owner": "vendor-management"}),
                      sli=model.ProbeSLI(target=model.HTTPProbe(url="https://psp.example/ping")))
    journey = _slo("shop", "journey", 0.995, model.RollingPeriod(7 * DAY),
                   labels=model.frozen_map({"owner": "digital"}),
                   description="A customer can search, add to cart and pay",
                   sli=model.CompositeSLI("all_good", (
                       model.CompositeComponent(model.SLOId("checkout", "availability"), 3),
                       model.CompositeComponent(model.SLOId("search", "availability"), 1),
                       model.CompositeComponent(model.SLOId("payments-vendor", "api"), 1))))
    services = (
        model.Service("checkout", (availability, checkout_latency), labels=payments,
                      description="Online checkout", depends_on=("payments-vendor", "search")),
        model.Service("search", (search,), labels=discovery, description="Product search"),
        model.Service("payments-vendor", (vendor_api,),
                      labels=model.frozen_map({"owner": "vendor-management"}),
                      description="External payment service provider (PSP)"),
        model.Service("shop", (journey,), labels=model.frozen_map({"owner": "digital"}),
                      description="Customer journey: search to paid order",
                      depends_on=("checkout", "search", "payments-vendor")),
    )
    statuses = (
        SLOStatus(
            slo=availability, windows=_windows(180.0, 22.0, 9.0, 4.1, 6.3),
            budget_remaining=-5.32, alerts=_alerts(22.0, 180.0, 4.1, 5.0), up=True,
            evaluated_at=AT, budget_history=_history(0.9, 0.4, -1.0, -3.5, -5.32),
            period=figures(achieved=0.9936766, coverage=0.998, excluded_seconds=18000.0,
                           budget_spent_ratio=6.32, evidence=Evidence(
                               0.95, 0.9929, 0.9944, "missed"),
                           sla=SLAOutcome(Decimal("99.9"), "2026-03", 0.0, 1.0,
                                          Decimal("99.36"), False, Decimal("10")))),
        SLOStatus(
            slo=checkout_latency, windows=_windows(0.4, 0.6, 0.5, 0.5, 0.5),
            budget_remaining=0.83, alerts=_alerts(0.6, 0.4, 0.5, 0.5), up=True,
            evaluated_at=AT, budget_history=_history(1.0, 0.95, 0.9, 0.86, 0.83),
            period=figures(achieved=0.9962, objective=0.99, coverage=0.998,
                           budget_spent_ratio=0.17)),
        SLOStatus(
            slo=search, windows=_windows(None, None, None, None, None), budget_remaining=None,
            alerts=_alerts(None, None, None, None), up=False, evaluated_at=AT,
            error=URLLIB3_ERROR,
            period=figures("30d", achieved=None, objective=0.995, coverage=0.0,
                           time_zone="UTC", start=AT - 30 * DAY, end=AT)),
        SLOStatus(
            slo=vendor_api, windows=_windows(0.0, 0.0, 0.2, 0.1, 0.1), budget_remaining=0.97,
            alerts=_alerts(0.0, 0.0, 0.1, 0.2), up=True, evaluated_at=AT,
            budget_history=_history(1.0, 0.99, 0.98, 0.97),
            period=figures(achieved=0.99998, objective=0.9995, coverage=1.0,
                           budget_spent_ratio=0.03)),
        SLOStatus(
            slo=journey, windows=_windows(2.1, 4.2, 3.8, 3.6, 1.9), budget_remaining=0.31,
            alerts=(*_alerts(4.2, 2.1, 3.6, 3.9), _single_window_page(3.8)), up=True,
            evaluated_at=AT,
            budget_history=_history(1.0, 0.8, 0.6, 0.45, 0.31),
            period=figures("7d", achieved=0.99655, objective=0.995, coverage=0.93,
                           budget_spent_ratio=0.69, exhaustion_at=AT + 1.5 * DAY,
                           time_zone="UTC", start=AT - 7 * DAY, end=AT)),
    )
    return services, Snapshot(slos=statuses, taken_at=AT, complete=True)


@pytest.fixture
def chromium() -> str:
    """Path of Debian's chromium; the test fails (never skips) without it."""
    try:
        return require_binary("chromium")
    except HarnessError as exc:
        pytest.fail(f"{exc} (apt-get install chromium)", pytrace=False)


@pytest.fixture
def site() -> Iterator[str]:
    """The real web server with the status page and the catalog of ``fleet()``."""
    services, snap = fleet()

    def status_page(query: Query) -> str:
        return statuspage.render_status_page(snap, grafana_url=GRAFANA,
                                             sort=query.get("sort", ""), services=services)

    server = WebServer("127.0.0.1:0", CollectorRegistry(), lambda: snap, pages={
        "/": html_query_page(status_page),
        "/catalog": html_page(lambda: catalog.render_catalog(services, snap,
                                                             grafana_url=GRAFANA)),
    })
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def _chromium(chromium: str, width: int, height: int, *args: str) -> str:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        done = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", f"--user-data-dir={profile}",
             f"--window-size={width},{height}", *args],
            capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT, check=False)
    if done.returncode != 0:
        pytest.fail(f"chromium exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout


def _screenshot(chromium: str, url: str, name: str, width: int, height: int) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}-{width}.png"
    path.unlink(missing_ok=True)
    _chromium(chromium, width, height, f"--screenshot={path}", url)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000  # a blank page compresses to far less
    return path


@pytest.mark.integration
def test_status_page_of_a_fleet_in_chromium(chromium: str, site: str) -> None:
    """Chromium shows verdicts, the credit, a one-line reason and the firing conditions (a
    single-window one as its one window, with its hold); screenshots."""
    dom = _chromium(chromium, 1400, 1000, "--dump-dom", f"{site}/")
    assert '<span class="badge missed verdict" title="95% interval 99.29% to 99.44%: missed">' \
        in dom
    assert "<summary>Prometheus unreachable: connection refused</summary>" in dom
    assert '<span class="badge unknown" title="the SLO could not be evaluated">unknown</span>' \
        in dom
    assert "1h/5m over 14.4\u00d7" in dom
    assert "1d/2h over 3\u00d7" in dom
    assert "6h over 3\u00d7 for 5m" in dom
    assert "6h/6h" not in dom
    assert "10% credit due" in dom
    assert "runs out 2026-03-11" in dom
    assert ">SLA 99.9%</span>" in dom
    assert "&lt;script&gt;x&lt;/script&gt;" in dom
    assert f'href="{GRAFANA}/d/slo-exporter-detail?var-service=checkout&amp;var-slo=latency"' \
        in dom
    # the page has no scripts, so what the server sends is what Chromium shows
    ranked = requests.get(f"{site}/?sort=burn", timeout=5).text
    assert ranked.index('data-slo="checkout/availability"') < ranked.index(
        'data-slo="shop/journey"') < ranked.index('data-slo="search/availability"')
    for width in (800, 1400):
        _screenshot(chromium, f"{site}/", "statuspage-fleet", width, 1300)


@pytest.mark.integration
def test_service_catalog_of_a_fleet_in_chromium(chromium: str, site: str) -> None:
    """The catalog lists every service with owner, dependencies and credit; Chromium screenshots."""
    dom = requests.get(f"{site}/catalog", timeout=5).text
    for service in ("checkout", "search", "payments-vendor", "shop"):
        assert f'data-service="{service}"' in dom
    assert '<span class="credit">10% credit</span>' in dom
    assert 'depends on <a href="#service-payments-vendor">payments-vendor</a>' in dom
    assert "owner vendor-management" in dom
    assert '<div id="catalog-credit" class="alarm"><b>1</b>' in dom
    for width in (800, 1400):
        _screenshot(chromium, f"{site}/catalog", "statuspage-catalog", width, 1000)


def grouped_fleet() -> tuple[tuple[model.Service, ...], Snapshot]:
    """The fleet plus one SLO grouped by route (five routes), while a backfill runs."""
    services, snap = fleet()
    owner = model.frozen_map({"owner": "api-team"})
    definition = _slo("api", "latency", 0.99, model.RollingPeriod(30 * DAY), labels=owner,
                      description="API answers within 250 ms, per route")
    definition = replace(definition, group_by=("route",))
    routes = ("/cart", "/checkout", "/login", "/search", "/orders")
    statuses = tuple(
        SLOStatus(
            slo=replace(definition, group=model.frozen_map({"route": route})),
            windows=_windows(rate, rate, rate / 2, rate / 3, rate / 4),
            budget_remaining=1.0 - rate / 10, alerts=_alerts(rate, rate, rate / 3, rate / 4),
            up=True, evaluated_at=AT,
            budget_history=_history(1.0, 1.0 - rate / 20, 1.0 - rate / 10),
            period=figures("30d", achieved=1.0 - 0.01 * rate / 10, objective=0.99,
                           coverage=1.0, budget_spent_ratio=rate / 10, time_zone="UTC",
                           start=AT - 30 * DAY, end=AT))
        for route, rate in zip(routes, (0.2, 16.0, 0.5, 1.2, 0.1), strict=True))
    progress = BackfillProgress(slos_total=12, slos_done=9, seconds_total=12 * 30 * DAY,
                                seconds_done=9.6 * 30 * DAY, samples=1_250_000, elapsed=42.0)
    services = (*services, model.Service("api", (definition,), labels=owner,
                                         description="Public HTTP API"))
    return services, replace(snap, slos=(*snap.slos, *statuses), backfill=progress)


@pytest.mark.integration
def test_grouped_slos_paging_and_backfill_in_chromium(chromium: str) -> None:
    """A grouped SLO's routes appear as rows with their route, the page shows its place in
    the list with links, and a running backfill shows a banner; screenshots."""
    services, snap = grouped_fleet()

    def status_page(query: Query) -> str:
        return statuspage.render_status_page(snap, grafana_url=GRAFANA, services=services,
                                             sort=query.get("sort", ""), query=query)

    server = WebServer("127.0.0.1:0", CollectorRegistry(), lambda: snap,
                       pages={"/": html_query_page(status_page)})
    server.start()
    try:
        site = f"http://127.0.0.1:{server.port}"
        whole = requests.get(f"{site}/?service=api", timeout=5).text
        for route in ("/cart", "/checkout", "/login", "/search", "/orders"):
            assert f'<span class="group">{{route=&quot;{route}&quot;}}</span>' in whole, route
        assert 'id="backfilling"' in whole
        paged = requests.get(f"{site}/?limit=4&page=2", timeout=5).text
        assert "of 10" in paged
        for width in (800, 1400):
            _screenshot(chromium, f"{site}/?limit=4&page=2", "statuspage-paged", width, 1100)
            _screenshot(chromium, f"{site}/?service=api", "statuspage-grouped", width, 1100)
    finally:
        server.stop()
