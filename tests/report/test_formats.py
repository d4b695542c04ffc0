"""Each report format over the hand-computed week of ``scenario``."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
import structlog

from slo_exporter.report import Report, Request, build_report, render
from slo_exporter.report.render_csv import COLUMNS
from tests.report import scenario as s


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Report]:
    writer = s.fill(tmp_path_factory.mktemp("store"))
    yield build_report(s.config(), Request.parse("2026-W10", None, None, None), store=writer,
                       prometheus=None, now=s.NOW, log=structlog.get_logger(), days=True)
    writer.close()


def test_json_entry_is_the_contract(report: Report) -> None:
    """availability: every field of the contract, with the hand-computed values.

    good 990 + 900, bad 10 + 100, excluded 100 (Thu 03:00); achieved
    1,890 / 2,000; spent 110 / (1 % of 2,000); SLA 94.5 % < 95: 25 %.
    """
    doc = json.loads(render(report, "json"))
    assert doc["schema_version"] == 1
    entry = doc["slos"][0]
    entry["budget_spent_ratio"] = round(entry["budget_spent_ratio"], 9)
    entry["evidence"] = {**entry["evidence"], "lower": None, "upper": None}
    assert entry == {
        "service": "checkout", "slo": "availability", "group": {}, "commitment": "sla",
        "period": {"label": "2026-W10", "start": "2026-03-02T00:00:00+00:00",
                   "end": "2026-03-09T00:00:00+00:00", "time_zone": "UTC"},
        "objective": 0.99, "budgeting": "occurrences",
        "achieved": 0.945, "met": False,
        "events": {"good": 1890, "bad": 110, "excluded": 100},
        "slices": None,
        "coverage": 1.0, "excluded_seconds": 7200,
        "budget_spent_ratio": 5.5, "exhaustion_at": None,
        "worst_day": {"date": "2026-03-04", "achieved": 0.9},
        "evidence": {"confidence": 0.95, "lower": None, "upper": None, "verdict": "missed"},
        "sla": {"objective": 0.99, "met": False, "credit_percent": 25},
        "source": "store",
        "alert_seconds": {"page": 1800, "ticket": 43200},
    }


def test_json_timeslices_and_unmeasured(report: Report) -> None:
    """uptime shows its slices; the probe with no data is null where nothing was measured."""
    doc = json.loads(render(report, "json"))
    uptime, home = doc["slos"][1], doc["slos"][2]
    assert uptime["slices"] == {"good": 9959, "bad": 1, "excluded": 120, "unmeasured": 0,
                                "empty": 0}
    assert uptime["budgeting"] == "timeslices"
    assert uptime["sla"] is None
    assert {k: home[k] for k in ("achieved", "met", "coverage", "source", "worst_day")} == {
        "achieved": None, "met": None, "coverage": 0.0, "source": "unmeasured",
        "worst_day": None,
    }


def test_csv_has_one_flat_row_per_slo(report: Report) -> None:
    """A header of flat columns and a row per SLO; nulls are empty cells."""
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert tuple(rows[0]) == COLUMNS
    assert [(r["service"], r["slo"]) for r in rows] == [
        ("checkout", "availability"), ("checkout", "uptime"), ("web", "home"),
        ("shop", "journey")]
    availability, uptime, home = rows[0], rows[1], rows[2]
    assert (availability["achieved"], availability["met"]) == ("0.945", "false")
    assert (availability["sla_credit_percent"], availability["slices_good"]) == ("25", "")
    assert availability["period_start"] == "2026-03-02T00:00:00+00:00"
    assert (uptime["slices_good"], uptime["slices_excluded"], uptime["sla_met"]) == (
        "9959", "120", "")
    assert (home["achieved"], home["coverage"], home["source"]) == ("", "0.0", "unmeasured")


def test_markdown_summary_and_details(report: Report) -> None:
    """The summary row gives the verdict in bold when missed and the credit due."""
    text = render(report, "markdown")
    assert text.startswith("# Service-level report: 2026-W10\n")
    assert ("| checkout | availability | 99 % | 94.5000 % | **MISSED** | 100 % | 550.0 % "
            "| 25 % | store |") in text
    assert "| checkout | uptime | 99.9 % | 99.9899 % | MET | 100 % | 10.0 % | no SLA |" in text
    assert "| web | home | 99 % | no data | NO DATA | 0 % | no data | no SLA | unmeasured |" in text
    assert "- Slices: 9,959 good, 1 bad, 120 excluded, 0 unmeasured, 0 empty" in text
    assert "- Worst day: 2026-03-04 (90 %)" in text
    assert "- SLA: 99 % over 2026-W10: missed, credit due 25 %" in text
    assert "- Excluded (maintenance): 2 h" in text
    assert "- Under alert conditions: page 30 min, ticket 12 h" in text


def test_markdown_escapes_configured_text(report: Report) -> None:
    """A description with markup arrives as literal text."""
    text = render(report, "markdown")
    assert r"Orders \<placed\> \& paid" in text
    assert "<placed>" not in text


def test_html_is_self_contained(report: Report) -> None:
    """No script, no stylesheet or image to fetch, no URL outside text."""
    page = render(report, "html")
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert "<img" not in page.lower()
    assert "url(" not in page.lower()
    assert not re.search(r"""(?:src|href|xmlns)\s*=\s*["']?https?:""", page, re.IGNORECASE)
    assert "@import" not in page
    assert page.count("<svg") == 4  # one chart per SLO


def test_html_summary_verdicts_and_credit(report: Report) -> None:
    """Each SLO's row carries its verdict as class, symbol and word, and the credit due."""
    page = render(report, "html")
    row = re.search(r'<tr data-slo="checkout/availability">.*?</tr>', page)
    assert row is not None
    assert '<span class="verdict missed">\u2718 MISSED</span>' in row[0]
    assert '<span class="credit">25 %</span>' in row[0]
    assert '<span class="verdict met">\u2714 MET</span>' in page
    assert '<span class="verdict nodata">? NO DATA</span>' in page
    assert '<div id="total-missed"><b>1</b>missed</div>' in page
    assert '<div id="total-credits"><b>1</b>SLA credit due</div>' in page


def test_html_escapes_configured_text(report: Report) -> None:
    """Description and maintenance text from the config arrive escaped."""
    page = render(report, "html")
    assert "Orders &lt;placed&gt; &amp; paid" in page
    assert "<placed>" not in page


def test_html_chart_marks_the_missed_day(report: Report) -> None:
    """Wednesday (90 %) is a red bar below the chart's scale, with its level as a tooltip."""
    page = render(report, "html")
    assert re.search(r'fill="#dc2626"><title>2026-03-04: 90 %</title></rect><text', page)
    assert re.search(r'fill="#16a34a"><title>2026-03-03: 99 %</title>', page)


def test_csv_keeps_a_configured_formula_from_running(report: Report) -> None:
    """A name a spreadsheet would evaluate (=, +, -, @) is written with a leading quote."""
    entry = report.entries[0]
    hostile = replace(entry, slo=replace(entry.slo, service="=HYPERLINK(1)", name="@cmd"))
    rows = list(csv.DictReader(io.StringIO(render(replace(report, entries=(hostile,)), "csv"))))
    assert (rows[0]["service"], rows[0]["slo"]) == ("'=HYPERLINK(1)", "'@cmd")


def test_markup_in_names_is_escaped_everywhere(report: Report) -> None:
    """A service name with markup stays text in html (cells, attributes) and markdown."""
    entry = report.entries[0]
    hostile = replace(entry, slo=replace(entry.slo, service='<b x="1">|'))
    one = replace(report, entries=(hostile,))
    page = render(one, "html")
    assert '<b x="1">' not in page
    assert "&lt;b x=&quot;1&quot;&gt;|" in page
    assert r'| \<b x="1"\>\| | availability |' in render(one, "markdown")
