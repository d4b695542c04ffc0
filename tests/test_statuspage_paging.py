"""The status page shows one page of the SLOs a filter selects, and says which."""

from __future__ import annotations

import re

import pytest

from slo_exporter import statuspage
from slo_exporter.snapshot import SelectionError, Snapshot
from tests.support.helpers import ratio_slo, status

AT = 1_700_000_000.0


def _fleet(n: int = 7) -> Snapshot:
    """n SLOs over services s0..s2 (i % 3), owners team-a/team-b (i % 2); slo-i burns i x."""
    statuses = tuple(
        status(ratio_slo(f"s{i % 3}", f"slo-{i}", owner="team-a" if i % 2 == 0 else "team-b"),
               {3600.0: (1000.0 - i, 1000.0)}, at=AT)
        for i in range(n))
    return Snapshot(slos=statuses, taken_at=AT, complete=True)


def _rows(page: str) -> list[str]:
    return re.findall(r'<tr class="slo" data-slo="([^"]+)"', page)


def test_a_small_fleet_page_is_unchanged_and_has_no_paging_bar() -> None:
    """Without parameters all 7 SLOs show and no "Showing" bar appears."""
    page = statuspage.render_status_page(_fleet(), query={})
    assert len(_rows(page)) == 7
    assert 'id="paging"' not in page
    assert page == statuspage.render_status_page(_fleet())


def test_pages_say_what_they_show_and_link_to_the_others() -> None:
    """7 SLOs at limit=3: page 2 shows rows 4-6 with first, previous, next and last links."""
    page = statuspage.render_status_page(_fleet(), query={"limit": "3", "page": "2"})
    assert _rows(page) == ["s1/slo-1", "s1/slo-4", "s2/slo-2"]
    assert '<span id="paging-shown">Showing 4&ndash;6 of 7 SLOs</span>' in page
    assert '<a id="page-previous" href="?limit=3">previous</a>' in page
    assert '<a id="page-next" href="?limit=3&amp;page=3">next</a>' in page
    assert '<a id="page-last" href="?limit=3&amp;page=3">last (3)</a>' in page


def test_the_summary_counts_every_match_not_only_the_page() -> None:
    """limit=2 shows 2 rows, yet the summary counts all 7 SLOs."""
    page = statuspage.render_status_page(_fleet(), query={"limit": "2"})
    assert len(_rows(page)) == 2
    assert '<div id="summary-slos"><b>7</b>SLOs</div>' in page


def test_service_and_owner_filters_narrow_rows_and_summary() -> None:
    """service=s0 and owner=team-a leave slo-0 and slo-6, with a link back to all SLOs."""
    page = statuspage.render_status_page(_fleet(), query={"service": "s0", "owner": "team-a"})
    assert _rows(page) == ["s0/slo-0", "s0/slo-6"]
    assert '<div id="summary-slos"><b>2</b>SLOs</div>' in page
    assert "Showing 1&ndash;2 of 2 SLOs of service s0 and owner team-a" in page
    assert '<a id="page-all" href=".">all SLOs</a>' in page


def test_ranked_order_pages_over_the_whole_ranking() -> None:
    """sort=burn with limit=2: the two fastest burners (slo-6, slo-5) lead page 1, and
    the sort links keep the page size."""
    page = statuspage.render_status_page(_fleet(), sort="burn", query={"limit": "2"})
    assert _rows(page) == ["s0/slo-6", "s2/slo-5"]
    assert '<a id="page-next" href="?sort=burn&amp;limit=2&amp;page=2">next</a>' in page
    assert '<a id="sort-budget" href="?sort=budget&amp;limit=2">' in page


def test_filter_values_are_escaped_in_the_bar() -> None:
    """A filter value is shown as text, never markup."""
    page = statuspage.render_status_page(_fleet(), query={"owner": "<script>"})
    assert "<script>" not in page
    assert "owner &lt;script&gt;" in page
    assert "Showing 0 of 0 SLOs" in page


def test_a_bad_limit_raises_for_the_server_to_answer_400() -> None:
    """limit=0 is refused, not clamped."""
    with pytest.raises(SelectionError):
        statuspage.render_status_page(_fleet(), query={"limit": "0"})
