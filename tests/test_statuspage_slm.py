"""The status page's service-level parts: period to date, verdicts, reasons, sorting, links."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import replace
from decimal import Decimal
from html.parser import HTMLParser

import pytest

from slo_exporter import model, snapshot
from slo_exporter.figures import Evidence, SLAOutcome
from slo_exporter.sla import SLA, CreditTier
from slo_exporter.statuspage import error_summary, grafana_base, render_status_page
from tests.support.helpers import figures, ratio_slo, status

DAY = 86400.0
AT = 1_773_100_000.0

URLLIB3_REFUSED = (
    "cannot reach http://prometheus.internal:9090/api/v1/query: "
    "HTTPConnectionPool(host='prometheus.internal', port=9090): Max retries exceeded with url: "
    "/api/v1/query?query=sum%28rate%28http_requests_total%7Bjob%3D%22api%22%7D%5B5m%5D%29%29"
    "&time=1700000000 (Caused by NewConnectionError('<urllib3.connection.HTTPConnection object "
    "at 0x7f3a2c1b5e50>: Failed to establish a new connection: [Errno 111] Connection refused'))"
    ' (query: sum(rate(http_requests_total{job="api"}[5m])))'
)


class _Rows(HTMLParser):
    """The ``data-slo`` of each SLO row, in document order, and every start tag."""

    def __init__(self) -> None:
        super().__init__()
        self.slos: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        if tag == "tr" and found.get("data-slo"):
            self.slos.append(str(found["data-slo"]))


def _parse(page: str) -> _Rows:
    parser = _Rows()
    parser.feed(page)
    parser.close()
    return parser


def _sla_slo(service: str = "checkout", name: str = "availability") -> model.SLO:
    slo = ratio_slo(service, name, owner="payments")
    sla = SLA(objective=Decimal("99.9"), tiers=(CreditTier(Decimal("99.9"), Decimal("10")),
                                                 CreditTier(Decimal("99.0"), Decimal("25"))))
    return model.SLO(**{**slo.__dict__, "sla": sla})


def _page(*statuses: snapshot.SLOStatus, **kwargs: object) -> str:
    snap = snapshot.Snapshot(slos=statuses, taken_at=AT, complete=True)
    return render_status_page(snap, **kwargs)  # type: ignore[arg-type]


def test_period_to_date_shows_achieved_verdict_and_coverage() -> None:
    """Each SLO shows achieved to date, met or missed, coverage and excluded maintenance time."""
    ok = status(ratio_slo("search", "latency"), {30 * DAY: (999, 1000)})
    ok = replace(ok, period=figures(achieved=0.9995, coverage=0.98))
    bad = status(ratio_slo(), {30 * DAY: (99, 100)})
    bad = replace(bad, period=figures(
        achieved=0.99, coverage=1.0, excluded_seconds=9000.0))
    page = _page(ok, bad)
    assert '<span class="badge met verdict">met</span>' in page
    assert '<span class="badge missed verdict">missed</span>' in page
    assert '<div class="big">99.95%</div>' in page
    assert "coverage 98%" in page
    assert "maintenance 2h 30m" in page  # 9000 s = 2 h 30 min
    assert '<div id="summary-missed" class="alarm"><b>1</b>' in page
    assert "2026-03 &middot; Europe/<wbr>Berlin" in page


def test_period_not_computed_yet_has_no_verdict() -> None:
    """Without period figures the page shows the window SLI as such, and no verdict."""
    page = _page(status(ratio_slo(), {30 * DAY: (999, 1000)}))
    assert '<div class="big">99.9%</div><div class="desc">SLI over 30d; period not computed' \
        in page
    assert "verdict" not in page
    empty = _page(status(ratio_slo(), {30 * DAY: (0, 0)}))
    assert '<span class="badge unknown verdict">no data</span>' in empty


def test_evidence_interval_is_in_the_verdict_tooltip() -> None:
    """The confidence interval and its verdict are one hover away from met/missed."""
    base = status(ratio_slo(), {30 * DAY: (999, 1000)})
    evidence = Evidence(confidence=0.95, lower=0.9991, upper=0.9998, verdict="met")
    page = _page(replace(base, period=figures(evidence=evidence)))
    assert 'title="95% interval 99.91% to 99.98%: met">met</span>' in page


def test_exhaustion_forecast_is_shown_in_the_period_time_zone() -> None:
    """The budget forecast reads as local wall-clock time of the calendar's zone.

    1773500000 = 2026-03-01T00:00Z (1772323200) + 13 d 14 h 53 min 20 s,
    so 2026-03-14 14:53:20 UTC, 15:53 in Berlin (CET, UTC+1).
    """
    base = status(ratio_slo(), {30 * DAY: (998, 1000)})
    page = _page(replace(base, period=figures(
        exhaustion_at=1_773_500_000.0, budget_spent_ratio=0.6)))
    assert '<div class="forecast">runs out 2026-03-14 15:53 CET</div>' in page


def test_no_forecast_once_the_budget_is_spent() -> None:
    """An overspent budget shows no 'runs out' line, even when the figures carry an instant."""
    base = status(ratio_slo(), {30 * DAY: (900, 1000)})  # budget remaining 1 - 100 = -99
    page = _page(replace(base, period=figures(
        exhaustion_at=AT, budget_spent_ratio=100.0)))
    assert "runs out" not in page.split("</style>")[1]
    assert "overspent by" in page


def test_budget_bar_shows_the_period_budget() -> None:
    """The bar draws the period's budget when known (spent 0.6 leaves 40 %), else the status's."""
    base = snapshot.SLOStatus(slo=ratio_slo(), up=True, evaluated_at=AT, budget_remaining=0.9,
                              period=figures(budget_spent_ratio=0.6))
    assert "40.0% left" in _page(base)
    unknown = replace(base, period=figures())
    assert "90.0% left" in _page(unknown)


def test_down_source_shows_one_line_reason_with_details_on_demand() -> None:
    """A long urllib3 error becomes 'Prometheus unreachable: connection refused'; the rest folds."""
    down = status(ratio_slo(), {30 * DAY: (0, 0)}, up=False)
    down = replace(down, error=URLLIB3_REFUSED)
    page = _page(down)
    summary = re.search(r'<details class="error"><summary>([^<]*)</summary><pre>', page)
    assert summary is not None
    assert summary.group(1) == "Prometheus unreachable: connection refused"
    assert "Max retries exceeded" in page.split("<pre>", 1)[1].split("</pre>", 1)[0]
    assert "<script" not in page


@pytest.mark.parametrize(("sli", "error", "expected"), [
    ("ratio", URLLIB3_REFUSED, "Prometheus unreachable: connection refused"),
    ("ratio", "cannot reach http://p:9090/api/v1/query: [Errno -2] Name or service not known "
              "(query: up)", "Prometheus unreachable: host not found"),
    ("ratio", "no answer from http://p:9090/api/v1/query within 10s: timed out (query: up)",
     "Prometheus unreachable: timed out"),
    ("ratio", "HTTP 503 from http://p:9090/api/v1/query: 'unavailable' (query: up)",
     "Prometheus query failed: HTTP 503"),
    ("ratio", "internal error: KeyError('x')", "Evaluation failed: internal error (see the log)"),
    ("probe", "Connection refused", "Probe failed: connection refused"),
    ("probe", "probes are late", "Probe failed: probes are late"),
    ("composite", "component checkout/availability has no data",
     "Components not evaluated: component checkout/availability has no data"),
])
def test_error_summary_names_the_source_and_the_reason(sli: str, error: str,
                                                       expected: str) -> None:
    """The one-line reason says which source failed and why, in a few words."""
    slo = ratio_slo()
    if sli == "probe":
        probe = model.ProbeSLI(target=model.HTTPProbe(url="http://127.0.0.1:1/"))
        slo = model.SLO(**{**slo.__dict__, "sli": probe})
    elif sli == "composite":
        parts = (model.CompositeComponent(model.SLOId("checkout", "availability")),)
        slo = model.SLO(**{**slo.__dict__, "sli": model.CompositeSLI("all_good", parts)})
    assert error_summary(slo, error) == expected


def test_unrecognised_error_is_cut_to_one_short_line() -> None:
    """An unknown error keeps its first 90 characters on one line, the PromQL dropped."""
    text = "weird failure " + "x" * 200 + "\nsecond line (query: up)"
    line = error_summary(ratio_slo(), text)
    assert line.startswith("Prometheus query failed: weird failure x")
    assert len(line) == len("Prometheus query failed: ") + 90
    assert line.endswith("\u2026")
    assert "\n" not in line


def test_error_text_on_the_page_is_scrubbed_of_secrets() -> None:
    """A credential that slipped into an error never reaches the page."""
    leaky = "HTTP 401 from http://admin:hunter2@p:9090/api/v1/query (Authorization: Bearer abc)"
    down = status(ratio_slo(), {30 * DAY: (0, 0)}, up=False)
    page = _page(replace(down, error=leaky))
    assert "hunter2" not in page
    assert "Bearer abc" not in page


def test_unevaluated_slo_shows_unknown_not_ok() -> None:
    """A source that is down with no burn rates shows an 'unknown' alert badge, never 'ok'."""
    down = status(ratio_slo(), {300.0: (0, 0), 30 * DAY: (0, 0)}, up=False)
    page = _page(down)
    assert 'class="badge quiet"' not in page
    assert '<span class="badge unknown" title="the SLO could not be evaluated">unknown</span>' \
        in page


def test_evaluated_slo_with_burn_rates_shows_ok() -> None:
    """An up SLO whose window pairs have burn rates and none fires shows 'ok'."""
    quiet = snapshot.SLOStatus(
        slo=ratio_slo(), up=True, evaluated_at=AT,
        alerts=(snapshot.AlertState("page", 3600.0, 300.0, 14.4, 0.5, 0.4, firing=False),))
    assert '<span class="badge quiet">ok</span>' in _page(quiet)


def test_firing_alert_names_the_window_pair_and_factor() -> None:
    """A firing pair reads '1h/5m over 14.4x' under its severity, burn rates in its tooltip."""
    firing = snapshot.SLOStatus(
        slo=ratio_slo(), up=True, evaluated_at=AT,
        alerts=(snapshot.AlertState("page", 3600.0, 300.0, 14.4, 20.0, 150.0, firing=True),
                snapshot.AlertState("page", 6 * 3600.0, 1800.0, 6.0, 3.0, 4.0, firing=False),
                snapshot.AlertState("ticket", DAY, 7200.0, 3.0, 3.5, 4.0, firing=True)))
    page = _page(firing)
    assert '<span class="badge firing">PAGE</span>' in page
    assert ('<div class="pair" title="1h burns 20.00x, 5m burns 150x">'
            "1h/5m over 14.4&times;</div>") in page
    assert "6h/30m" not in page  # a quiet pair is not listed
    assert ('<span class="badge ticket">TICKET</span><div class="pair" '
            'title="1d burns 3.50x, 2h burns 4.00x">1d/2h over 3&times;</div>') in page


def _burning(service: str, name: str, rate: float | None, remaining: float | None
             ) -> snapshot.SLOStatus:
    windows = (snapshot.WindowValues(300.0, 0.0, 1.0, None, rate),)
    return snapshot.SLOStatus(slo=ratio_slo(service, name), windows=windows, up=True,
                              evaluated_at=AT, budget_remaining=remaining)


def test_sort_by_burn_puts_the_fastest_burn_first() -> None:
    """?sort=burn orders SLOs by their highest burn rate, unknown rates last, across services."""
    statuses = (_burning("a", "slow", 0.5, 0.9), _burning("b", "fast", 30.0, 0.8),
                _burning("c", "none", None, None), _burning("a", "mid", 2.0, 0.1))
    assert _parse(_page(*statuses, sort="burn")).slos == ["b/fast", "a/mid", "a/slow", "c/none"]
    assert _parse(_page(*statuses, sort="budget")).slos == [
        "a/mid", "b/fast", "a/slow", "c/none"]  # spent 0.9, 0.2, 0.1, unknown
    grouped = _page(*statuses, sort="nonsense")
    assert _parse(grouped).slos == ["a/mid", "a/slow", "b/fast", "c/none"]
    assert '<a id="sort-burn" href="?sort=burn">' in grouped
    assert '<b id="sort-service">' in grouped


def test_ranked_rows_name_their_service() -> None:
    """Outside the service grouping each row says which service the SLO belongs to."""
    page = _page(_burning("shop", "journey", 3.0, 0.5), sort="burn")
    assert '<span class="service-of">shop / </span>' in page


def test_one_table_lines_up_every_service_and_scrolls_inside_its_container() -> None:
    """All services share one fixed-layout table, wrapped in a horizontally scrolling box."""
    page = _page(status(ratio_slo("a", "x"), {DAY: (1, 1)}),
                 status(ratio_slo("b", "y"), {DAY: (1, 1)}))
    assert page.count("<table") == 1
    assert '<div class="table-wrap"><table class="slos"><thead><tr><th style="width: 21%">' \
        in page
    assert '<th style="width: 11%" class="wide-only">Budget history</th>' in page
    assert page.count('<tbody class="service"') == 2
    assert ".table-wrap { overflow-x: auto;" in page
    assert "@media (max-width: 900px)" in page  # the history column gives way first


def test_grafana_links_point_at_the_detail_dashboard() -> None:
    """With a Grafana URL each SLO links its detail dashboard with encoded, escaped variables."""
    page = _page(status(ratio_slo("pay & go", "p99 <fast>"), {DAY: (1, 1)}),
                 grafana_url="https://grafana.example/sub/")
    assert ('<a class="grafana" href="https://grafana.example/sub/d/slo-exporter-detail?'
            'var-service=pay+%26+go&amp;var-slo=p99+%3Cfast%3E">Grafana</a>') in page
    assert ('href="https://grafana.example/sub/d/slo-exporter-overview?var-service=pay+%26+go"'
            in page)


def test_no_grafana_link_without_a_grafana_url() -> None:
    """Without grafana_url the page links no dashboard."""
    assert "grafana" not in _page(status(ratio_slo(), {DAY: (1, 1)})).lower().split("</style>")[1]


@pytest.mark.parametrize(("url", "expected"), [
    ("https://user:s3cret@grafana.example:3000/g/", "https://grafana.example:3000/g"),
    ("http://[::1]:3000", "http://[::1]:3000"),
    ("javascript:alert(1)", None),
    ("grafana.example", None),
    ("https://grafana.example:99999/", None),
    ("", None),
])
def test_grafana_base_keeps_web_urls_and_drops_credentials(url: str,
                                                          expected: str | None) -> None:
    """Only http(s) URLs with a host become links, and never with the user's password."""
    assert grafana_base(url) == expected


def test_javascript_runbook_is_text_not_a_link() -> None:
    """A runbook URL that is not http(s) is shown as text, so a click cannot run script."""
    slo = model.SLO(**{**ratio_slo().__dict__, "runbook_url": "javascript:alert(1)"})
    page = _page(status(slo, {DAY: (1, 1)}))
    assert 'href="javascript' not in page
    assert "runbook: javascript:alert(1)" in page


def test_sla_slo_shows_its_commitment() -> None:
    """An SLO carrying an SLA is badged with the committed level; others are plain SLOs."""
    sla = status(_sla_slo(), {DAY: (1, 1)})
    plain = status(ratio_slo("search", "latency"), {DAY: (1, 1)})
    page = _page(sla, plain)
    assert ">SLA 99.9%</span>" in page
    assert '<span class="badge slo" title="internal objective, no contract">SLO</span>' in page


def test_hostile_description_and_error_are_escaped() -> None:
    """A <script> in a description, service name or error arrives as text."""
    evil = "<script>alert(1)</script>"
    slo = model.SLO(**{**ratio_slo(evil, "x").__dict__, "description": evil})
    down = replace(status(slo, {DAY: (0, 0)}, up=False), error=evil)
    page = _page(down, grafana_url="https://g.example")
    assert "script" not in _parse(page).tags
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_sla_figures_do_not_break_the_page() -> None:
    """An SLA SLO missing its objective shows the projected credit under its verdict."""
    outcome = SLAOutcome(objective=Decimal("99.9"), label="2026-03", start=0.0, end=1.0,
                         achieved_percent=Decimal("99.5"), met=False,
                         credit_percent=Decimal("10"))
    base = status(_sla_slo(), {DAY: (995, 1000)})
    page = _page(replace(base, period=figures(
        achieved=0.995, sla=outcome)))
    assert '<span class="badge missed verdict">missed</span>' in page
    assert '<div class="credit">10% credit due</div>' in page


def test_sla_without_credit_or_outcome_says_so() -> None:
    """A met SLA says no credit is due; one not yet computed says the credit is unknown."""
    met = SLAOutcome(objective=Decimal("99.9"), label="2026-03", start=0.0, end=1.0,
                     achieved_percent=Decimal("99.95"), met=True, credit_percent=Decimal("0"))
    base = status(_sla_slo(), {DAY: (1, 1)})
    page = _page(replace(base, period=figures(sla=met)))
    assert '<div class="desc">no credit due</div>' in page
    unknown = _page(replace(base, period=figures()))
    assert "SLA credit: no data" in unknown


def test_service_headings_carry_the_configured_description() -> None:
    """Given the configured services, each heading shows the service's description, escaped."""
    slo = ratio_slo("checkout", "availability")
    services = (model.Service("checkout", (slo,), description="Online <b>checkout</b>"),)
    page = _page(status(slo, {DAY: (1, 1)}), services=services)
    assert '<div class="desc">Online &lt;b&gt;checkout&lt;/b&gt;</div></th>' in page


def test_calendar_period_burn_chip_is_named_by_the_period() -> None:
    """A month SLO's burn-rate chip for its period reads ``month``, as on /metrics, not ``32d``."""
    slo = dataclasses.replace(ratio_slo(), period=model.CalendarPeriod("month", "Europe/Berlin"))
    page = _page(status(slo, {3600.0: (99.0, 100.0), slo.period.longest: (990.0, 1000.0)}))
    assert 'data-window="month"' in page
    assert 'data-window="32d"' not in page
