"""/api/v1/slos pages and filters: ?service=, ?owner=, ?limit=, ?page=, with bounds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

import pytest
import requests
from prometheus_client import CollectorRegistry

from slo_exporter import api, snapshot
from slo_exporter.snapshot import DEFAULT_LIMIT, MAX_LIMIT, Selection, SelectionError, Snapshot
from slo_exporter.web import Encoded, Query, WebServer, json_query_page
from tests.support.helpers import ratio_slo, status

AT = 1_700_000_000.0


def _fleet(n: int = 7) -> Snapshot:
    """n SLOs over services s0..s2 (i % 3), owners team-a/team-b (i % 2), in reverse."""
    statuses = tuple(
        status(ratio_slo(f"s{i % 3}", f"slo-{i}", owner="team-a" if i % 2 == 0 else "team-b"),
               {3600.0: (9.0, 10.0)}, at=AT)
        for i in reversed(range(n)))
    return Snapshot(slos=statuses, taken_at=AT, complete=True)


def _keys(doc: dict[str, object]) -> list[str]:
    return [f"{e['service']}/{e['slo']}" for e in cast("list[dict[str, Any]]", doc["slos"])]


def test_indexes_find_statuses_by_key_service_and_owner() -> None:
    """by_key, by_service and by_owner answer without a scan, in page order."""
    snap = _fleet()
    assert snap.status("s1/slo-4") is snap.slos[2]  # reversed: slo-6 first
    assert snap.status("s1/nope") is None
    assert [s.slo.key for s in snap.matching(service="s0")] == [
        "s0/slo-0", "s0/slo-3", "s0/slo-6"]
    assert [s.slo.key for s in snap.matching(owner="team-b")] == [
        "s0/slo-3", "s1/slo-1", "s2/slo-5"]
    assert [s.slo.key for s in snap.matching(service="s0", owner="team-a")] == [
        "s0/slo-0", "s0/slo-6"]
    assert snap.matching(owner="nobody") == ()


def test_small_fleets_get_the_whole_list_as_before() -> None:
    """Without parameters every SLO of a typical config is listed, and paging says so."""
    doc = api.render_slos(_fleet())
    assert len(_keys(doc)) == 7
    assert doc["paging"] == {"total": 7, "page": 1, "pages": 1, "limit": DEFAULT_LIMIT,
                             "next": None}
    assert list(doc)[:4] == ["schema_version", "generated_at", "complete", "paging"]


def test_filters_and_pages_select_in_service_then_name_order() -> None:
    """owner=team-a has 4 SLOs (0, 2, 4, 6); limit=3 makes 2 pages: 3 then 1."""
    query = {"owner": "team-a", "limit": "3"}
    first = api.render_slos(_fleet(), query=query)
    assert _keys(first) == ["s0/slo-0", "s0/slo-6", "s1/slo-4"]
    assert first["paging"] == {"total": 4, "page": 1, "pages": 2, "limit": 3,
                               "next": "?owner=team-a&limit=3&page=2"}
    second = api.render_slos(_fleet(), query={**query, "page": "2"})
    assert _keys(second) == ["s2/slo-2"]
    assert cast("dict[str, object]", second["paging"])["next"] is None


def test_a_page_past_the_end_is_empty_not_an_error() -> None:
    """page=9 of a 1-page result lists nothing and still counts the matches."""
    doc = api.render_slos(_fleet(), query={"service": "s1", "page": "9"})
    assert _keys(doc) == []
    assert cast("dict[str, object]", doc["paging"])["total"] == 2


def test_encoded_document_equals_the_rendered_one() -> None:
    """encode_slos (cached entries, joined) is exactly json.dumps(render_slos, indent=2)."""
    snap = _fleet()
    for query in ({}, {"service": "s2"}, {"limit": "2", "page": "3"}, {"owner": "x"}):
        assert api.encode_slos(snap, query) == json.dumps(
            api.render_slos(snap, query=query), indent=2)
    assert api.encode_slos(Snapshot()) == json.dumps(api.render_slos(Snapshot()), indent=2)


@pytest.mark.parametrize(("query", "reason"), [
    ({"limit": "0"}, f"limit must be from 1 to {MAX_LIMIT}, got 0"),
    ({"limit": str(MAX_LIMIT + 1)}, f"limit must be from 1 to {MAX_LIMIT}, got {MAX_LIMIT + 1}"),
    ({"limit": "-5"}, f"limit must be a whole number from 1 to {MAX_LIMIT}, got '-5'"),
    ({"page": "two"}, "page must be a whole number from 1, got 'two'"),
    ({"page": "1" * 30}, "page must be a whole number from 1, got '11111111111111111111'"),
    ({"page": "\u0661"}, "page must be a whole number from 1, got '\u0661'"),
    ({"service": "x" * 201}, "service must be at most 200 characters"),
])
def test_bad_selections_are_refused_with_the_reason(query: dict[str, str], reason: str) -> None:
    """Out-of-range, non-numeric (Arabic-Indic digits too) and oversized values raise."""
    with pytest.raises(SelectionError) as err:
        Selection.parse(query)
    assert str(err.value) == reason


@pytest.fixture
def base() -> Iterator[str]:
    snap = _fleet()

    def slos(query: Query) -> Encoded:
        return Encoded(api.encode_slos(snap, query))

    server = WebServer("127.0.0.1:0", CollectorRegistry(), lambda: snap,
                       pages={"/api/v1/slos": json_query_page(slos)})
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def test_the_endpoint_filters_and_answers_400_for_bad_values(base: str) -> None:
    """?service= filters over HTTP; ?limit=abc gets 400 with the reason, never a traceback."""
    doc = requests.get(f"{base}/api/v1/slos?service=s2", timeout=5).json()
    assert _keys(doc) == ["s2/slo-2", "s2/slo-5"]
    bad = requests.get(f"{base}/api/v1/slos?limit=abc", timeout=5)
    assert bad.status_code == 400
    assert bad.text == (f"bad query parameter: limit must be a whole number from 1 to "
                        f"{MAX_LIMIT}, got 'abc'\n")


def test_selection_query_leaves_defaults_out() -> None:
    """The next-page query names only what differs from the defaults."""
    assert Selection().query() == {}
    assert Selection(service="a", limit=DEFAULT_LIMIT, page=2).query() == {
        "service": "a", "page": "2"}
    assert snapshot.Selection(limit=10).query(page=1) == {"limit": "10"}
