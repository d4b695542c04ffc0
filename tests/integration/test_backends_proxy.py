"""Mimir, Cortex and Thanos as the source: a real Prometheus behind a local front.

``tests/support/reverse_proxy.py`` serves the Prometheus API under
``/prometheus`` only to requests carrying ``X-Scope-OrgID: team-a`` (401
otherwise, 404 outside the prefix), as Mimir does, and can answer like a
Thanos querier that lost the store holding the errors: the ``code="500"``
series missing, a warning saying so. The daemon configured for the front
computes the same exact windows as against Prometheus itself; refused or
partial answers make the SLO down with the failure counted and logged, and
never become events.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from tests.support.harness import (
    API_BAD,
    API_TOTAL,
    ExporterFactory,
    PrometheusFactory,
    Scrape,
    SLOSpec,
    exporter_config,
    window_mismatches,
)
from tests.support.reverse_proxy import ReverseProxy, reverse_proxy
from tests.support.synth import JobHistory, Sample

pytestmark = pytest.mark.integration

SLO = SLOSpec("api", "availability", total=API_TOTAL, bad=API_BAD, objective=99.9, window="30d")
KEY = {"service": SLO.service, "slo": SLO.name}


@pytest.fixture
def proxy(make_prometheus: PrometheusFactory) -> Iterator[ReverseProxy]:
    """The Mimir-style front of a Prometheus holding the session history."""
    with reverse_proxy(make_prometheus().url) as front:
        yield front


def _config(url: str, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    config = exporter_config(url, [SLO], evaluation_interval="2s", timeout="2s",
                             query_delay="0s")
    if headers is not None:
        config["prometheus"]["headers"] = dict(headers)
    config["prometheus"]["retries"] = 1
    return config


def _selectors(history: JobHistory) -> Mapping[str, Mapping[str, Sequence[Sample]]]:
    return {API_BAD: history.bad_series(), API_TOTAL: history.series()}


def _events(scrape: Scrape) -> list[float]:
    return [s.value for s in scrape.find("slo_events", **KEY)]


def test_exact_windows_through_a_path_prefix_and_tenant_header(
    proxy: ReverseProxy, make_exporter: ExporterFactory, history: JobHistory
) -> None:
    """url with /prometheus and headers {X-Scope-OrgID: team-a}: exact 30d/1d/6h/1h windows,
    every query under the prefix with the tenant and partial_response=false."""
    exporter = make_exporter(_config(proxy.url + "/prometheus", {"X-Scope-OrgID": "team-a"}))
    exporter.start(ready_timeout=60)
    scrape = exporter.scrape()
    selectors = _selectors(history)
    assert scrape.value("slo_sli_up", **KEY) == 1.0
    assert window_mismatches(scrape, SLO, lambda selector, _t: selectors[selector]) == []
    queries = [s for s in proxy.seen if s.path.startswith("/prometheus/api/v1/query")]
    assert queries, "no query reached the front"
    assert {(s.status, s.tenant, s.partial_response) for s in queries} == {
        (200, "team-a", "false")
    }


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/prometheus", None, 401),  # no tenant header
        ("/prometheus", {"X-Scope-OrgID": "team-b"}, 401),  # another tenant
        ("", {"X-Scope-OrgID": "team-a"}, 404),  # the prefix left out
    ],
)
def test_a_refused_request_is_a_source_error_never_events(
    proxy: ReverseProxy, make_exporter: ExporterFactory,
    path: str, headers: Mapping[str, str] | None, status: int,
) -> None:
    """The front's 401/404 makes the SLO down (slo_sli_up 0), counted under reason http and
    logged as query_failed; every window shows 0 events, none bad."""
    exporter = make_exporter(_config(proxy.url + path, headers))
    exporter.start(ready_timeout=60)
    scrape = exporter.scrape()
    assert scrape.value("slo_sli_up", **KEY) == 0.0
    assert scrape.value("slo_exporter_query_errors_total", reason="http") >= 1
    assert set(_events(scrape)) == {0.0}
    (failed,) = exporter.logged("query_failed")
    assert failed["reason"] == "http"
    assert f"HTTP {status}" in failed["error"]
    assert {s.status for s in proxy.seen} == {status}


@pytest.mark.parametrize(
    ("honor", "reason", "says"),
    [
        (False, "partial", "partial_response is false"),  # a front that ignores the parameter
        (True, "api", "execution"),  # a Thanos querier refusing, as partial_response=false asks
    ],
)
def test_a_partial_answer_is_refused_then_the_span_is_read_exactly(
    proxy: ReverseProxy, make_exporter: ExporterFactory, history: JobHistory,
    *, honor: bool, reason: str, says: str,
) -> None:
    """While a store is missing (the code="500" series, with a Thanos warning) the SLO is
    down, the failure counted and logged as query_failed, 0 events stored; once answers are
    complete again the same span is read and every window is exact."""
    proxy.partial, proxy.honor_partial_response = True, honor
    exporter = make_exporter(_config(proxy.url + "/prometheus", {"X-Scope-OrgID": "team-a"}))
    exporter.start(ready_timeout=60)
    scrape = exporter.scrape()
    assert scrape.value("slo_sli_up", **KEY) == 0.0
    assert scrape.value("slo_exporter_query_errors_total", reason=reason) >= 1
    assert set(_events(scrape)) == {0.0}
    (failed,) = exporter.logged("query_failed")
    assert failed["reason"] == reason
    assert says in failed["error"]

    proxy.partial = False
    scrape = exporter.wait_for_scrape(
        lambda s: s.get("slo_sli_up", **KEY) == 1.0, timeout=15, what="the SLO back up")
    selectors = _selectors(history)
    assert window_mismatches(scrape, SLO, lambda selector, _t: selectors[selector]) == []
    assert exporter.logged("query_recovered")
