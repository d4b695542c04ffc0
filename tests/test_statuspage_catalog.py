"""The service catalog page: services, owners, commitments, dependencies and credit exposure."""

from __future__ import annotations

from decimal import Decimal
from html.parser import HTMLParser

from slo_exporter import model, snapshot
from slo_exporter.catalog import render_catalog
from slo_exporter.figures import SLAOutcome
from slo_exporter.sla import SLA, CreditTier
from tests.support.helpers import figures, ratio_slo

AT = 1_773_100_000.0


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    parser.close()
    return parser


def _with_sla(slo: model.SLO) -> model.SLO:
    sla = SLA(objective=Decimal("99.9"), tiers=(CreditTier(Decimal("99.9"), Decimal("10")),
                                                 CreditTier(Decimal("99.0"), Decimal("25"))))
    return model.SLO(**{**slo.__dict__, "sla": sla})


def _outcome(credit: str, met: bool) -> SLAOutcome:
    return SLAOutcome(objective=Decimal("99.9"), label="2026-03", start=0.0, end=1.0,
                      achieved_percent=Decimal("99.5"), met=met, credit_percent=Decimal(credit))


def _shop() -> tuple[tuple[model.Service, ...], snapshot.Snapshot]:
    """checkout (SLA, missing by 0.4 points: 10 % credit) depends on a vendor and on search."""
    checkout = _with_sla(ratio_slo("checkout", "availability", owner="payments"))
    search = ratio_slo("search", "latency", objective=0.99)
    services = (
        model.Service("search", (search,), labels=model.frozen_map({"owner": "discovery"}),
                      description="Product search"),
        model.Service("checkout", (checkout,), labels=model.frozen_map({"owner": "payments"}),
                      description="Online checkout", depends_on=("search", "payments-vendor")),
    )
    statuses = (
        snapshot.SLOStatus(slo=checkout, up=True, evaluated_at=AT, period=figures(
            achieved=0.995, coverage=0.97, sla=_outcome("10", met=False))),
        snapshot.SLOStatus(slo=search, up=True, evaluated_at=AT, period=figures(
            achieved=0.9931, objective=0.99, coverage=1.0)),
    )
    return services, snapshot.Snapshot(slos=statuses, taken_at=AT, complete=True)


def test_catalog_lists_every_service_with_its_standing() -> None:
    """Each service shows description, owner, commitment and per SLO objective to credit."""
    services, snap = _shop()
    page = render_catalog(services, snap)
    text = " ".join(_parse(page).text)
    assert "Online checkout" in text
    assert "owner payments" in text
    assert "owner discovery" in text
    assert '<span class="badge sla">SLA</span> checkout' in page
    assert '<span class="badge slo">SLO</span> search' in page
    assert ">SLA 99.9%</span>" in page
    assert '<td class="num big">99.5%</td>' in page
    assert '<span class="badge missed verdict">missed</span>' in page
    assert '<td class="num big">99.31%</td>' in page
    assert '<span class="badge met verdict">met</span>' in page
    assert '<td class="num">97%</td>' in page  # checkout coverage
    assert '<span class="credit">10% credit</span>' in page
    assert '<span class="desc">no SLA</span>' in page
    assert '<div id="catalog-missed" class="alarm"><b>1</b>' in page
    assert '<div id="catalog-credit" class="alarm"><b>1</b>' in page
    # services in name order, one table so the columns line up
    assert page.index('data-service="checkout"') < page.index('data-service="search"')
    assert page.count("<table") == 1


def test_dependencies_link_to_configured_services_only() -> None:
    """depends_on links configured services within the page; a vendor stays plain text."""
    services, snap = _shop()
    page = render_catalog(services, snap)
    assert 'depends on <a href="#service-search">search</a>' in page
    assert '<span title="not a configured service">payments-vendor</span>' in page
    assert 'id="service-search"' in page
    assert 'used by <a href="#service-checkout">checkout</a>' in page


def test_unevaluated_slo_shows_no_data_not_met() -> None:
    """An SLO the snapshot does not hold yet shows no data for achieved, verdict and credit."""
    services, _ = _shop()
    page = render_catalog(services, snapshot.Snapshot())
    assert "badge met" not in page
    assert page.count('<span class="badge unknown verdict">no data</span>') == 2
    assert '<span class="empty">no data</span>' in page  # checkout's credit
    assert '<div id="catalog-services"><b>2</b>' in page


def test_sla_met_owes_no_credit() -> None:
    """A met SLA shows 'none' as credit exposure and is not counted as owing credit."""
    checkout = _with_sla(ratio_slo("checkout", "availability"))
    services = (model.Service("checkout", (checkout,)),)
    snap = snapshot.Snapshot(slos=(snapshot.SLOStatus(
        slo=checkout, up=True, evaluated_at=AT,
        period=figures(achieved=0.9995, sla=_outcome("0", met=True))),))
    page = render_catalog(services, snap)
    assert '<span class="desc">none</span>' in page
    assert '<div id="catalog-credit"><b>0</b>' in page
    assert "no owner" in page


def test_hostile_catalog_text_is_escaped() -> None:
    """Service names, descriptions, labels and dependencies cannot inject markup."""
    evil = '<script>alert("x")</script>'
    slo = model.SLO(**{**ratio_slo(evil, "a").__dict__, "description": evil})
    services = (model.Service(evil, (slo,), labels=model.frozen_map({"owner": evil}),
                              description=evil, depends_on=(evil, '"><img src=x>')),)
    page = render_catalog(services, snapshot.Snapshot(), grafana_url="https://g.example")
    tags = {tag for tag, _ in _parse(page).tags}
    assert "script" not in tags
    assert "img" not in tags
    assert "&lt;script&gt;" in page
    assert 'href="#service-%3Cscript%3Ealert%28%22x%22%29%3C/script%3E"' in page


def test_catalog_has_no_scripts_and_links_back_to_the_status_page() -> None:
    """The catalog is self-contained and links the status page and its JSON twin."""
    services, snap = _shop()
    page = render_catalog(services, snap)
    tags = _parse(page).tags
    assert "script" not in {tag for tag, _ in tags}
    hrefs = {attrs.get("href") for tag, attrs in tags if tag == "a"}
    assert {".", "api/v1/services"} <= hrefs


def test_empty_catalog_says_so() -> None:
    """Without services the page says none are configured."""
    assert "No services are configured." in render_catalog((), snapshot.Snapshot())
