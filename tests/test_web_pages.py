"""Pages that read query parameters (?sort=burn) and the catalog endpoints, on a real server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from prometheus_client import CollectorRegistry

from slo_exporter import api, catalog, model, statuspage
from slo_exporter.snapshot import SLOStatus, Snapshot, WindowValues
from slo_exporter.web import (
    MAX_QUERY_CHARS,
    Query,
    WebServer,
    html_page,
    html_query_page,
    json_page,
    parse_query,
)
from tests.support.helpers import ratio_slo

AT = 1_700_000_000.0


def _burning(service: str, rate: float) -> SLOStatus:
    return SLOStatus(slo=ratio_slo(service, "availability"), up=True, evaluated_at=AT,
                     windows=(WindowValues(300.0, 0.0, 1.0, None, rate),))


SNAP = Snapshot(slos=(_burning("a", 1.0), _burning("b", 50.0)), taken_at=AT, complete=True)
SERVICES = (model.Service("a", (SNAP.slos[0].slo,)),
            model.Service("b", (SNAP.slos[1].slo,), depends_on=("a",)))


@pytest.fixture
def base() -> Iterator[str]:
    def status_page(query: Query) -> str:
        return statuspage.render_status_page(SNAP, sort=query.get("sort", ""))

    server = WebServer("127.0.0.1:0", CollectorRegistry(), lambda: SNAP, pages={
        "/": html_query_page(status_page),
        "/catalog": html_page(lambda: catalog.render_catalog(SERVICES, SNAP)),
        "/api/v1/services": json_page(lambda: api.render_services(SERVICES, SNAP)),
    })
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def _order(page: str) -> list[str]:
    """The two SLO rows in the order the page shows them."""
    return sorted(("a/availability", "b/availability"), key=lambda key: page.index(
        f'data-slo="{key}"'))


def test_sort_parameter_reaches_the_status_page(base: str) -> None:
    """GET /?sort=burn ranks the faster burn first; plain / groups by service."""
    assert _order(requests.get(f"{base}/?sort=burn", timeout=5).text) == [
        "b/availability", "a/availability"]
    assert _order(requests.get(f"{base}/", timeout=5).text) == [
        "a/availability", "b/availability"]


def test_oversized_query_is_refused_not_ignored(base: str) -> None:
    """A query longer than the limit gets 414 with the reason: ignoring it would drop a filter."""
    resp = requests.get(f"{base}/?service=a&pad={'x' * MAX_QUERY_CHARS}", timeout=5)
    assert resp.status_code == 414
    assert resp.text == f"query string longer than {MAX_QUERY_CHARS} characters\n"
    assert requests.get(f"{base}/?service=a", timeout=5).status_code == 200


def test_catalog_and_services_json_are_served_like_the_other_pages(base: str) -> None:
    """/catalog is HTML and /api/v1/services JSON, both compressed on request."""
    page = requests.get(f"{base}/catalog", timeout=5)
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert 'depends on <a href="#service-a">a</a>' in page.text
    doc = requests.get(f"{base}/api/v1/services", headers={"Accept-Encoding": "gzip"},
                       timeout=5)
    assert doc.headers["Content-Type"] == "application/json"
    assert doc.headers["Content-Encoding"] == "gzip"
    assert [s["name"] for s in doc.json()["services"]] == ["a", "b"]


def test_parse_query_keeps_the_first_value_and_survives_garbage() -> None:
    """Repeated names keep their first value; bad escapes are kept as text."""
    assert parse_query("sort=burn&sort=service") == {"sort": "burn"}
    assert parse_query("sort=%ZZ&x") == {"sort": "%ZZ", "x": ""}
    assert parse_query("sort=%ff") == {"sort": "\ufffd"}
    assert parse_query("") == {}


def test_more_query_fields_than_the_cap_get_400(base: str) -> None:
    """41 parameters (the cap is 32) are refused with the reason, not silently dropped."""
    resp = requests.get(f"{base}/?" + "&".join(f"k{i}=v" for i in range(41)), timeout=5)
    assert resp.status_code == 400
    assert resp.text == "more than 32 query parameters\n"
