"""Service-level management keys of the native config: calendar periods, timeslice
budgeting, SLA blocks, composite SLIs, maintenance windows, the service catalog
fields and grafana_url become model objects; every mistake in them is a located
config error (file, line, field path, reason), like every other config error.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from slo_exporter import cli, model
from slo_exporter.config import ConfigWarning, load_config, parse_config
from slo_exporter.config.slm import parse_rrule
from slo_exporter.errors import ConfigError
from slo_exporter.model.calendar import CALENDAR_UNITS, CalendarUnit
from slo_exporter.model.slm import CompositeComponent
from slo_exporter.sla import PRESETS, SLA, CreditTier

CONFIGS = Path(__file__).parent.parent / "configs"
EXAMPLE = Path(__file__).parent.parent.parent / "config" / "example.yaml"
PROBE = '{probe: {http: {url: "http://127.0.0.1:1/"}}}'


def _doc(slo: str = "window: 30d", *, top: str = "", service: str = "",
         more: str = "") -> str:
    """A config: ``top`` keys, service checkout (``service`` keys) with SLO
    availability (``slo`` keys, placed on lines 7 onward when ``top`` is empty),
    service vendor with SLO api, then ``more`` services."""
    return (
        textwrap.dedent(top)
        + "services:\n"
        + "  - name: checkout\n"
        + textwrap.indent(textwrap.dedent(service), " " * 4)
        + "    slos:\n"
        + "      - name: availability\n"
        + "        objective: 99.9\n"
        + "        runbook_url: https://runbooks.example.com/checkout\n"
        + textwrap.indent(textwrap.dedent(slo).strip("\n") + "\n", " " * 8)
        + f"        sli: {PROBE}\n"
        + "  - name: vendor\n"
        + "    slos:\n"
        + "      - name: api\n"
        + "        objective: 99.5\n"
        + "        window: 30d\n"
        + f"        sli: {PROBE}\n"
        + textwrap.indent(textwrap.dedent(more), "  ")
    )


def _load(text: str, warnings: list[ConfigWarning] | None = None) -> model.Config:
    return parse_config(text, "test.yaml", warnings)


def _errors(text: str) -> list[str]:
    """The problems of ``text``, which must be invalid, as printed by ``check``."""
    with pytest.raises(ConfigError) as info:
        parse_config(text, "test.yaml")
    return [str(p) for p in info.value.problems]


def _slo(text: str) -> model.SLO:
    return _load(text).slos[0]


# ---------------------------------------------------------------- calendar


def test_calendar_period_is_parsed() -> None:
    """calendar: {period: month, time_zone: Europe/Berlin} gives that CalendarPeriod."""
    slo = _slo(_doc("calendar: {period: month, time_zone: Europe/Berlin}"))
    assert slo.period == model.CalendarPeriod("month", "Europe/Berlin")


@pytest.mark.parametrize("unit", CALENDAR_UNITS)
def test_calendar_time_zone_defaults_to_utc(unit: CalendarUnit) -> None:
    """Every calendar unit is accepted; without time_zone the period is in UTC."""
    assert _slo(_doc(f"calendar: {{period: {unit}}}")).period == model.CalendarPeriod(unit, "UTC")


def test_window_and_calendar_together_are_an_error() -> None:
    """An SLO has exactly one of window and calendar."""
    assert _errors(_doc("window: 30d\ncalendar: {period: month}")) == [
        "test.yaml:8: services[0].slos[0].calendar: give either 'window' (rolling) "
        "or 'calendar', not both"
    ]


def test_neither_window_nor_calendar_is_an_error() -> None:
    """Without window or calendar the SLO has no period; both keys are named."""
    assert _errors(_doc("description: x")) == [
        "test.yaml:4: services[0].slos[0]: missing required key 'window' or 'calendar' "
        "(give one of them)"
    ]


def test_null_window_is_an_error_not_a_silent_drop() -> None:
    """window: ~ is reported, not taken as 'no period given' (which would drop the SLO)."""
    assert _errors(_doc("window: ~")) == [
        "test.yaml:7: services[0].slos[0].window: must be a duration such as '30s', '5m' "
        "or '1h30m', got nothing (null)"
    ]


def test_bad_calendar_time_zone_is_located() -> None:
    """A zone that is not in the IANA database is an error at its line, naming the zone."""
    assert _errors(_doc("calendar:\n  period: month\n  time_zone: Europe/Berlinn")) == [
        "test.yaml:9: services[0].slos[0].calendar.time_zone: unknown time zone "
        "'Europe/Berlinn': expected an IANA name such as UTC or Europe/Berlin"
    ]


@pytest.mark.parametrize("zone", ["../../etc/passwd", "", "Europe", "/UTC"])
def test_hostile_time_zones_are_config_errors(zone: str) -> None:
    """Paths, empty text and directories of the zone database are refused, never raised."""
    problems = _errors(_doc(f"calendar: {{period: month, time_zone: '{zone}'}}"))
    assert len(problems) == 1
    assert "unknown time zone" in problems[0]


def test_bad_calendar_period_lists_the_choices() -> None:
    """A calendar period other than week, month, quarter or year names the accepted ones."""
    assert _errors(_doc("calendar: {period: decade}")) == [
        "test.yaml:7: services[0].slos[0].calendar.period: must be a calendar period, "
        "one of week, month, quarter, year, got 'decade'"
    ]


def test_unknown_key_in_calendar_is_an_error() -> None:
    """Unknown keys in the calendar block are errors with a hint, as elsewhere."""
    assert _errors(_doc("calendar: {period: month, timezone: UTC}")) == [
        "test.yaml:7: services[0].slos[0].calendar.timezone: unknown key (did you mean "
        "'time_zone'?); allowed keys: period, time_zone"
    ]


# --------------------------------------------------------------- budgeting


def test_timeslices_are_parsed_with_an_exact_target() -> None:
    """slice 1m and target 95 give Timeslices(60 s, Decimal('0.95'), 'skip')."""
    slo = _slo(_doc("window: 30d\nbudgeting: {timeslices: {slice: 1m, target: 95}}"))
    assert slo.budgeting == model.Budgeting(model.Timeslices(60.0, Decimal("0.95"), "skip"))
    assert slo.budgeting.method == "timeslices"


def test_timeslice_target_keeps_every_written_digit() -> None:
    """target 99.95 (percent) is exactly Decimal('0.9995'), not a float's neighbour."""
    slo = _slo(_doc("window: 30d\nbudgeting: {timeslices: {slice: 5m, target: 99.95}}"))
    assert slo.budgeting.timeslices is not None
    assert slo.budgeting.timeslices.target == Decimal("0.9995")
    assert str(slo.budgeting.timeslices.target) == "0.9995"


@pytest.mark.parametrize("empty", ["skip", "good", "bad"])
def test_empty_slices_choice_is_kept(empty: str) -> None:
    """empty_slices says what a slice without events counts as."""
    slo = _slo(_doc(
        f"window: 30d\nbudgeting: {{timeslices: {{slice: 1m, target: 100}}, empty_slices: {empty}}}"
    ))
    assert slo.budgeting.timeslices is not None
    assert slo.budgeting.timeslices.empty == empty


def test_without_budgeting_the_budget_counts_events() -> None:
    """No budgeting block, or an empty one, means occurrences budgeting."""
    assert _slo(_doc()).budgeting.method == "occurrences"
    assert _slo(_doc("window: 30d\nbudgeting: {}")).budgeting == model.Budgeting()


def test_slice_must_be_a_multiple_of_the_resolution() -> None:
    """With storage.resolution 1m, a 90s slice is refused."""
    text = _doc("window: 30d\nbudgeting: {timeslices: {slice: 90s, target: 95}}",
                top="storage: {resolution: 1m}\n")
    assert _errors(text) == [
        "test.yaml:9: services[0].slos[0].budgeting.timeslices.slice: must be a multiple "
        "of storage.resolution (1m), got '90s'"
    ]


@pytest.mark.parametrize(("target", "reason"), [
    ("0", "must be a percentage above 0 and at most 100, got 0"),
    ("-5", "must be a percentage above 0 and at most 100, got -5"),
    ("100.5", "must be a percentage above 0 and at most 100, got 100.5"),
    ("'95'", "must be a number such as 95 (percent), got '95': remove the quotes, "
             "a quoted value is text"),
    (".inf", "must be a number such as 95 (percent), got .inf"),
])
def test_bad_timeslice_target_is_located(target: str, reason: str) -> None:
    """The target is a percentage in (0, 100], written as a plain number."""
    text = _doc(f"window: 30d\nbudgeting: {{timeslices: {{slice: 1m, target: {target}}}}}")
    path = "services[0].slos[0].budgeting.timeslices.target"
    assert _errors(text) == [f"test.yaml:8: {path}: {reason}"]


def test_slice_must_be_positive_and_at_most_a_day() -> None:
    """A zero slice and one longer than a day are refused."""
    zero = _doc("window: 30d\nbudgeting: {timeslices: {slice: 0s, target: 95}}")
    long = _doc("window: 30d\nbudgeting: {timeslices: {slice: 2d, target: 95}}")
    assert _errors(zero) == [
        "test.yaml:8: services[0].slos[0].budgeting.timeslices.slice: must be longer than 0, "
        "got '0s'"
    ]
    assert _errors(long) == [
        "test.yaml:8: services[0].slos[0].budgeting.timeslices.slice: must be at most 1d, "
        "got '2d'"
    ]


def test_slice_longer_than_the_window_is_an_error() -> None:
    """A 1d slice in a 2h window could never be whole, so it is refused."""
    text = _doc("window: 2h\nbudgeting:\n  timeslices: {slice: 1d, target: 95}\n")
    assert _errors(text) == [
        "test.yaml:9: services[0].slos[0].budgeting.timeslices.slice: must not be longer than "
        "the window (2h), got 1d"
    ]


def test_empty_slices_without_timeslices_is_an_error() -> None:
    """empty_slices means nothing for occurrences budgeting, so it is refused there."""
    assert _errors(_doc("window: 30d\nbudgeting: {empty_slices: good}")) == [
        "test.yaml:8: services[0].slos[0].budgeting.empty_slices: applies only to timeslice "
        "budgeting: add 'timeslices'"
    ]


def test_bad_empty_slices_and_unknown_budgeting_keys_are_errors() -> None:
    """empty_slices is skip, good or bad; unknown keys in budgeting blocks are errors."""
    text = _doc("window: 30d\nbudgeting:\n  timeslices: {slice: 1m, target: 95, size: 1}\n"
                "  empty_slices: ok\n")
    assert _errors(text) == [
        "test.yaml:9: services[0].slos[0].budgeting.timeslices.size: unknown key (did you "
        "mean 'slice'?); allowed keys: slice, target",
        "test.yaml:10: services[0].slos[0].budgeting.empty_slices: must be what an empty "
        "slice is, one of skip, good, bad, got 'ok'",
    ]


# --------------------------------------------------------------------- SLA

SLA_BLOCK = """\
window: 30d
sla:
  objective: 99.9
  credits:
    - {below: 99.9, credit: 10}
    - {below: 99.0, credit: 25}
    - {below: 95.0, credit: 100}
"""


def test_sla_block_keeps_the_written_decimals() -> None:
    """Objective and tiers are Decimals exactly as written: 99.9 is Decimal('99.9')."""
    sla = _slo(_doc(SLA_BLOCK)).sla
    assert sla == SLA(
        Decimal("99.9"),
        (CreditTier(Decimal("99.9"), Decimal("10")), CreditTier(Decimal("99.0"), Decimal("25")),
         CreditTier(Decimal("95.0"), Decimal("100"))),
        period="month",
        maintenance="excluded",
    )
    assert str(sla.objective) == "99.9"


def test_sla_period_and_maintenance_are_read() -> None:
    """period and maintenance override the defaults (month, excluded); the SLO says 'sla'."""
    slo = _slo(_doc("window: 30d\nsla: {objective: 99.5, period: quarter, maintenance: counted}"))
    assert slo.sla is not None
    assert (slo.sla.period, slo.sla.maintenance, slo.sla.tiers) == ("quarter", "counted", ())
    assert slo.commitment == "sla"
    assert _slo(_doc()).commitment == "slo"


def test_sla_preset_is_the_published_table() -> None:
    """A preset gives its published table; maintenance may still be set beside it."""
    slo = _slo(_doc("window: 30d\nsla: {preset: azure-vm-premium-ssd, maintenance: counted}"))
    preset = PRESETS["azure-vm-premium-ssd"]
    assert slo.sla == SLA(preset.objective, preset.tiers, "month", "counted")


def test_unknown_preset_lists_the_known_ones() -> None:
    """An unknown preset names every preset there is."""
    assert _errors(_doc("window: 30d\nsla: {preset: gcp-gce}")) == [
        "test.yaml:8: services[0].slos[0].sla.preset: unknown SLA preset 'gcp-gce'; known "
        "presets: " + ", ".join(sorted(PRESETS))
    ]


def test_preset_with_own_numbers_is_an_error_that_shows_the_table() -> None:
    """preset beside objective/credits/period is refused; the message shows the table to copy."""
    problems = _errors(_doc("window: 30d\nsla: {preset: aws-ec2-instance, objective: 99.9}"))
    assert problems == [
        "test.yaml:8: services[0].slos[0].sla.objective: cannot be combined with 'preset' "
        "(aws-ec2-instance: objective 99.5, period month, credits [{below: 99.5, credit: 10}, "
        "{below: 99.0, credit: 30}, {below: 95.0, credit: 100}]); drop 'objective', or drop "
        "the preset and write its table out with your changes"
    ]


def test_tiers_not_descending_is_located_at_the_tier() -> None:
    """A tier whose 'below' is not under the previous one is reported on its own line."""
    text = _doc("window: 30d\nsla:\n  objective: 99.9\n  credits:\n"
                "    - {below: 99.0, credit: 10}\n    - {below: 99.5, credit: 25}\n")
    assert _errors(text) == [
        "test.yaml:12: services[0].slos[0].sla.credits[1]: credit tiers must have strictly "
        "decreasing 'below': tier 1 (below 99.5) is not below tier 0 (below 99.0)"
    ]


def test_credits_decreasing_is_located_at_the_tier() -> None:
    """A lower tier giving a smaller credit is reported at that tier."""
    text = _doc("window: 30d\nsla:\n  objective: 99.9\n  credits:\n"
                "    - {below: 99.9, credit: 25}\n    - {below: 99.0, credit: 10}\n")
    assert _errors(text) == [
        "test.yaml:12: services[0].slos[0].sla.credits[1]: credits must not decrease for a "
        "lower tier: tier 1 (below 99.0) gives 10, less than tier 0 (below 99.9) with 25"
    ]


def test_first_tier_above_the_objective_is_an_error() -> None:
    """A tier above the SLA objective would charge a level that meets the commitment."""
    text = _doc("window: 30d\nsla:\n  objective: 99.5\n  credits:\n"
                "    - {below: 99.9, credit: 10}\n")
    assert _errors(text) == [
        "test.yaml:11: services[0].slos[0].sla.credits[0]: the first credit tier (below 99.9) "
        "is above the SLA objective 99.5: a level that meets the commitment cannot owe a credit"
    ]


@pytest.mark.parametrize(("block", "line", "path", "reason"), [
    ("{objective: 100}", 8, "sla.objective",
     "SLA objective must be a percentage in (0, 100), got 100"),
    ("{objective: '99.9'}", 8, "sla.objective",
     "must be a number such as 99.9, got '99.9': remove the quotes, a quoted value is text"),
    ("{period: month}", 8, "sla", "missing required key 'objective' (or give a 'preset')"),
    ("{objective: 99, period: year}", 8, "sla.period",
     "must be an SLA period, one of week, month, quarter, got 'year'"),
    ("{objective: 99, maintenance: ignored}", 8, "sla.maintenance",
     "must be how maintenance counts, one of excluded, counted, got 'ignored'"),
    ("{objective: 99, credits: [{below: 98, credit: 150}]}", 8, "sla.credits[0]",
     "credit tier 'credit' must be in [0, 100], got 150"),
    ("{objective: 99, credits: [{below: 98}]}", 8, "sla.credits[0]",
     "missing required key 'credit'"),
    ("{objective: 99, credit: []}", 8, "sla.credit",
     "unknown key (did you mean 'credits'?); allowed keys: credits, maintenance, objective, "
     "period, preset"),
])
def test_bad_sla_values_are_located(block: str, line: int, path: str, reason: str) -> None:
    """Each mistake in an SLA block is one error with its line, field path and reason."""
    assert _errors(_doc(f"window: 30d\nsla: {block}")) == [
        f"test.yaml:{line}: services[0].slos[0].{path}: {reason}"
    ]


def test_sla_above_the_slo_objective_warns() -> None:
    """An SLA promising more than the SLO aims for is valid but warned about."""
    warnings: list[ConfigWarning] = []
    _load(_doc("window: 30d\nsla: {objective: 99.95}"), warnings)
    assert [str(w) for w in warnings] == [
        "test.yaml:8: warning: services[0].slos[0].sla: the SLA commits to 99.95 %, more than "
        "the SLO objective (99.9 %): the SLO should aim at least as high as what is promised"
    ]


def test_sla_equal_to_the_slo_objective_does_not_warn() -> None:
    """99.9 against an objective of 99.9 is equal, although 0.999 * 100 is not 99.9 in floats."""
    warnings: list[ConfigWarning] = []
    _load(_doc(SLA_BLOCK), warnings)
    assert warnings == []


# --------------------------------------------------------------- composite

COMPOSITE = """\
  - name: shop
    slos:
      - name: journey
        objective: 99.5
        window: 7d
        sli:
          composite:
            mode: {mode}
            components:
{components}
"""


def _composite(components: str, mode: str = "weighted", *, extra: str = "") -> str:
    body = textwrap.indent(textwrap.dedent(components).strip("\n"), " " * 14)
    return _doc(more=COMPOSITE.format(mode=mode, components=body) + extra)


def test_composite_sli_refers_to_slos_of_other_services() -> None:
    """Components are SLOIds of any service; weight defaults to 1."""
    slo = _load(_composite("- {slo: checkout/availability, weight: 3}\n- {slo: vendor/api}"))
    journey = slo.slos[-1]
    assert journey.sli == model.CompositeSLI("weighted", (
        CompositeComponent(model.SLOId("checkout", "availability"), 3.0),
        CompositeComponent(model.SLOId("vendor", "api"), 1.0),
    ))
    assert journey.composite
    assert not journey.remeasurable


def test_composite_may_refer_to_a_later_service() -> None:
    """A component may be defined further down the file."""
    later = "  - name: zeta\n    slos:\n      - name: z\n        objective: 99\n" \
            f"        window: 1d\n        sli: {PROBE}\n"
    config = _load(_composite("- {slo: zeta/z}", "all_good", extra=later))
    assert config.slos[2].sli == model.CompositeSLI(
        "all_good", (CompositeComponent(model.SLOId("zeta", "z")),))


def test_weight_in_all_good_mode_warns() -> None:
    """A weight has no effect in mode all_good, so giving one is warned about."""
    warnings: list[ConfigWarning] = []
    _load(_composite("- {slo: vendor/api, weight: 2}", "all_good"), warnings)
    assert [w.path for w in warnings] == ["services[2].slos[0].sli.composite.components[0].weight"]


def test_unknown_component_names_what_is_missing() -> None:
    """An unknown service or SLO is an error naming it and what exists."""
    problems = _errors(_composite("- {slo: vendor/apii}\n- {slo: payments/api}"))
    assert problems == [
        "test.yaml:24: services[2].slos[0].sli.composite.components[0].slo: the composite "
        "includes an unknown SLO 'vendor/apii'; service 'vendor' has: api",
        "test.yaml:25: services[2].slos[0].sli.composite.components[1].slo: the composite "
        "includes 'payments/api', of an unknown service 'payments'; known services: "
        "checkout, shop, vendor",
    ]


def test_composite_including_itself_is_an_error() -> None:
    """A composite cannot be one of its own components."""
    assert _errors(_composite("- {slo: shop/journey}")) == [
        "test.yaml:24: services[2].slos[0].sli.composite.components[0].slo: a composite SLO "
        "cannot include itself ('shop/journey')"
    ]


def test_cycle_among_composites_is_named() -> None:
    """journey -> basket -> journey is reported once, with the cycle spelled out."""
    basket = (
        "      - name: basket\n        objective: 99\n        window: 7d\n"
        "        sli: {composite: {mode: all_good, components: [{slo: shop/journey}]}}\n"
    )
    problems = _errors(_composite("- {slo: shop/basket}\n- {slo: vendor/api}", extra=basket))
    assert problems == [
        "test.yaml:24: services[2].slos[0].sli.composite.components[0].slo: composite SLOs "
        "form a cycle: shop/journey -> shop/basket -> shop/journey; a composite is evaluated "
        "after its components, so none can include itself, even indirectly"
    ]


def test_three_step_cycle_is_found() -> None:
    """A cycle through three composites in three services is found and named."""
    def service(name: str, target: str) -> str:
        return (f"  - name: {name}\n    slos:\n      - name: c\n        objective: 99\n"
                f"        window: 1d\n        sli: {{composite: {{mode: all_good, "
                f"components: [{{slo: {target}/c}}]}}}}\n")
    problems = _errors(_doc(more=service("a", "b") + service("b", "c") + service("c", "a")))
    assert len(problems) == 1
    assert "form a cycle: a/c -> b/c -> c/c -> a/c;" in problems[0]


@pytest.mark.parametrize(("weight", "shown"), [
    ("0", "0"), ("-1", "-1"), (".inf", ".inf"), (".nan", ".nan"), ("'3'", "'3'"),
])
def test_bad_weight_is_an_error(weight: str, shown: str) -> None:
    """A weight is a finite number above 0."""
    assert _errors(_composite(f"- {{slo: vendor/api, weight: {weight}}}")) == [
        "test.yaml:24: services[2].slos[0].sli.composite.components[0].weight: must be a "
        f"finite number above 0, got {shown}"
    ]


def test_empty_duplicate_and_malformed_components_are_errors() -> None:
    """No components, the same SLO twice, or a reference without 'service/' are refused."""
    empty = _doc(more=COMPOSITE.format(mode="weighted", components="").replace(
        "components:\n", "components: []\n"))
    assert _errors(empty) == [
        "test.yaml:23: services[2].slos[0].sli.composite.components: must list at least one "
        "component SLO"
    ]
    assert _errors(_composite("- {slo: vendor/api}\n- {slo: vendor/api}")) == [
        "test.yaml:25: services[2].slos[0].sli.composite.components[1].slo: duplicate "
        "component 'vendor/api' (first listed on line 24)"
    ]
    assert _errors(_composite("- {slo: api}")) == [
        "test.yaml:24: services[2].slos[0].sli.composite.components[0].slo: must name an SLO "
        "as service/slo, such as checkout/availability, got 'api'"
    ]


def test_bad_composite_mode_is_an_error() -> None:
    """The mode is all_good or weighted."""
    assert _errors(_composite("- {slo: vendor/api}", "average")) == [
        "test.yaml:22: services[2].slos[0].sli.composite.mode: must be a composite mode, "
        "one of all_good, weighted, got 'average'"
    ]


def test_composite_does_not_count_as_a_prometheus_query() -> None:
    """A composite of probe SLOs needs no Prometheus, so its timeout is not judged."""
    text = _composite("- {slo: vendor/api}", "all_good").replace(
        "services:\n", "prometheus: {timeout: 1m}\nevaluation_interval: 10s\nservices:\n", 1)
    assert _load(text).slos[-1].composite


# ------------------------------------------------------------- maintenance

ONE_OFF = """\
maintenance:
  - name: march-patching
    start: "2026-03-29 00:00:00"
    end: "2026-03-29 06:00:00"
    time_zone: Europe/Berlin
    services: [checkout]
    slos: [checkout/availability]
    reason: OS patching
"""


def _window(body: str) -> str:
    return _doc(top="maintenance:\n" + textwrap.indent(textwrap.dedent(body), "  "))


def test_one_off_window_is_wall_clock_in_its_zone() -> None:
    """start/end are aware datetimes in the window's zone; scope and reason are kept."""
    (window,) = _load(_doc(top=ONE_OFF)).maintenance
    berlin = ZoneInfo("Europe/Berlin")
    assert window == model.MaintenanceWindow(
        name="march-patching",
        start=datetime(2026, 3, 29, 0, 0, tzinfo=berlin),
        end=datetime(2026, 3, 29, 6, 0, tzinfo=berlin),
        time_zone="Europe/Berlin",
        services=("checkout",),
        slos=(model.SLOId("checkout", "availability"),),
        reason="OS patching",
    )
    # 00:00 CET (+01) to 06:00 CEST (+02): the clock skips 02:00-03:00, 5 h elapse
    # (timestamps: subtracting datetimes of one zone would give the wall-clock 6 h)
    assert window.end is not None
    assert window.end.timestamp() - window.start.timestamp() == 5 * 3600
    assert window.start.utcoffset() == timedelta(hours=1)


def test_recurring_window_defaults_to_utc_and_every_service() -> None:
    """duration + rrule make a recurring window; unquoted YAML timestamps are read as text."""
    (window,) = _load(_window(
        "- name: sunday\n  start: 2026-03-01 02:00:00\n  duration: 2h\n"
        "  rrule: FREQ=WEEKLY;BYDAY=SU\n"
    )).maintenance
    assert window.start == datetime(2026, 3, 1, 2, 0, tzinfo=ZoneInfo("UTC"))
    assert (window.time_zone, window.duration) == ("UTC", 7200.0)
    assert window.rrule == "FREQ=WEEKLY;BYDAY=SU"
    assert window.recurring
    assert window.end is None
    assert window.services == ()
    assert window.slos == ()
    assert window.applies_to(model.SLOId("vendor", "api"))


def test_rfc3339_start_with_offset_is_converted_to_the_zone() -> None:
    """'2026-03-29T01:30:00Z' in Europe/Berlin is 03:30 CEST, the same instant."""
    (window,) = _load(_window(
        "- name: w\n  start: '2026-03-29T01:30:00Z'\n  end: '2026-03-29T05:00:00+02:00'\n"
        "  time_zone: Europe/Berlin\n"
    )).maintenance
    assert window.start.tzinfo == ZoneInfo("Europe/Berlin")
    assert window.start.replace(tzinfo=None) == datetime(2026, 3, 29, 3, 30)
    assert window.start == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert window.end == datetime(2026, 3, 29, 3, 0, tzinfo=UTC)


def test_start_in_a_dst_gap_is_an_error() -> None:
    """02:30 on 2026-03-29 never happens in Europe/Berlin (02:00 jumps to 03:00): refused."""
    text = _window("- name: w\n  start: '2026-03-29 02:30:00'\n  end: '2026-03-29 04:00:00'\n"
                   "  time_zone: Europe/Berlin\n")
    assert _errors(text) == [
        "test.yaml:3: maintenance[0].start: 2026-03-29 02:30:00 does not exist in "
        "Europe/Berlin: the clock skips it (daylight saving time starts); give a time outside "
        "the gap, or an RFC 3339 time with an offset"
    ]


def test_repeated_wall_clock_time_is_its_first_occurrence() -> None:
    """02:30 on 2026-10-25 happens twice in Europe/Berlin; the first (+02:00) is taken."""
    (window,) = _load(_window(
        "- name: w\n  start: '2026-10-25 02:30:00'\n  duration: 1h\n  rrule: FREQ=YEARLY\n"
        "  time_zone: Europe/Berlin\n"
    )).maintenance
    assert window.start.utcoffset() == timedelta(hours=2)
    assert window.start.timestamp() == datetime(2026, 10, 25, 0, 30, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(("rrule", "reason"), [
    ("FREQ=FORTNIGHTLY", "invalid FREQ 'FORTNIGHTLY'; expected one of YEARLY, MONTHLY, "
                         "WEEKLY, DAILY, HOURLY"),
    ("BYDAY=SU", "needs FREQ, such as FREQ=WEEKLY;BYDAY=SU"),
    ("FREQ=WEEKLY;BYDAY=XX",
     "not an RFC 5545 recurrence rule (invalid 'BYDAY': XX): 'FREQ=WEEKLY;BYDAY=XX'"),
    ("FREQ=WEEKLY;INTERVAL=0", "INTERVAL must be a whole number of at least 1, got '0'"),
    ("FREQ=MINUTELY", "FREQ=MINUTELY recurs too often; a window recurs at most HOURLY"),
    ("DTSTART:20260101T000000Z;FREQ=DAILY",
     "must not hold DTSTART: the window's start is the rule's start"),
    ("garbage", "needs FREQ, such as FREQ=WEEKLY;BYDAY=SU"),
    ("FREQ=DAILY;COUNT=2;UNTIL=20270101T000000Z",
     "a rule may give COUNT or UNTIL, not both (RFC 5545)"),
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
     "the rule has no occurrence: no month in BYMONTH has a day in BYMONTHDAY"),
    # values the library crashes on (BYHOUR=53: TypeError, BYEASTER=2026: IndexError)
    # or walks to the year 9999 for (BYWEEKNO=2026: seconds) are refused up front
    ("FREQ=HOURLY;BYHOUR=53", "BYHOUR must be 0 to 23, got '53'"),
    ("FREQ=DAILY;BYWEEKNO=2026", "BYWEEKNO must be 1 to 53 or -53 to -1, got '2026'"),
    ("FREQ=YEARLY;BYMONTH=1,13", "BYMONTH must be 1 to 12, got '13'"),
    ("FREQ=MONTHLY;BYMONTHDAY=-0", "BYMONTHDAY must be 1 to 31 or -31 to -1, got '-0'"),
    ("FREQ=DAILY;BYHOUR=-1", "BYHOUR takes whole numbers, got '-1'"),
    ("FREQ=DAILY;BYWEEKNO=30", "BYWEEKNO is only allowed with FREQ=YEARLY (RFC 5545)"),
    ("FREQ=MONTHLY;BYYEARDAY=60", "BYYEARDAY is not allowed with FREQ=MONTHLY (RFC 5545)"),
    ("FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY is not allowed with FREQ=WEEKLY (RFC 5545)"),
    # no common day, which the library looks for day by day up to the year 9999
    ("FREQ=YEARLY;BYWEEKNO=30;BYMONTH=12", "BYWEEKNO cannot be combined with BYMONTH: write "
                                           "the days as BYWEEKNO alone, or without it"),
    ("FREQ=HOURLY;BYYEARDAY=60;BYMONTH=7", "BYYEARDAY cannot be combined with BYMONTH: write "
                                           "the days as BYYEARDAY alone, or without it"),
    # the library would walk hour by hour to the year 9999 (minutes) looking for this one
    ("FREQ=HOURLY;BYSETPOS=31", "BYSETPOS 31 never matches: a FREQ=HOURLY period of this rule "
                                "holds at most 1 occurrence(s)"),
    ("FREQ=DAILY;BYHOUR=1,2;BYSETPOS=-3", "BYSETPOS -3 never matches: a FREQ=DAILY period of "
                                          "this rule holds at most 2 occurrence(s)"),
    ("FREQ=MONTHLY;BYEASTER=2026", "unknown rule part 'BYEASTER'; RFC 5545 has BYDAY, BYHOUR, "
                                   "BYMINUTE, BYMONTH, BYMONTHDAY, BYSECOND, BYSETPOS, "
                                   "BYWEEKNO, BYYEARDAY, COUNT, FREQ, INTERVAL, UNTIL, WKST"),
    ("FREQ=DAILY;UNTIL=20200101T000000Z",
     "the rule has no occurrence (UNTIL before the start, or COUNT=0)"),
])
def test_bad_rrule_is_located(rrule: str, reason: str) -> None:
    """A rule dateutil cannot expand, or one that would expand without end, is an error."""
    text = _window(f"- name: w\n  start: '2026-03-01 02:00:00'\n  duration: 2h\n"
                   f"  rrule: '{rrule}'\n")
    assert _errors(text) == [
        f"test.yaml:5: maintenance[0].rrule: invalid recurrence rule: {reason}"
    ]


@pytest.mark.parametrize("rrule", [
    "RRULE:FREQ=DAILY;BYHOUR=2",  # the RRULE: prefix of an iCalendar line
    "freq=monthly;byday=1sa",  # any case
    "FREQ=WEEKLY;UNTIL=20261231T000000",  # a local UNTIL is wall clock in the window's zone
    "FREQ=MONTHLY;BYDAY=SU;BYSETPOS=-1",  # the last Sunday of the month
])
def test_usual_rrules_are_accepted(rrule: str) -> None:
    """Rules as people write them for maintenance pass the check."""
    parse_rrule(rrule, datetime(2026, 1, 1, tzinfo=ZoneInfo("Europe/Berlin")))


@pytest.mark.parametrize(("body", "expected"), [
    ("- name: w\n  start: '2026-03-01 02:00:00'\n  end: '2026-03-01 02:00:00'\n",
     ["test.yaml:4: maintenance[0].end: must be after start (2026-03-01T02:00:00+00:00), "
      "got '2026-03-01 02:00:00'"]),
    ("- name: w\n  start: '2026-03-01 02:00:00'\n  end: '2026-03-01 03:00:00'\n  duration: 1h\n",
     ["test.yaml:5: maintenance[0].duration: give either 'end' (a one-off window) or "
      "'duration' and 'rrule' (a recurring one), not both"]),
    ("- name: w\n  start: '2026-03-01 02:00:00'\n  duration: 1h\n",
     ["test.yaml:4: maintenance[0].duration: a recurring window needs both 'duration' and "
      "'rrule': add 'rrule'"]),
    ("- name: w\n  start: '2026-03-01 02:00:00'\n",
     ["test.yaml:2: maintenance[0]: missing 'end' (a one-off window) or 'duration' and "
      "'rrule' (a recurring one)"]),
    ("- name: w\n  start: '2026-03-01 02:00:00'\n  duration: 0s\n  rrule: FREQ=DAILY\n",
     ["test.yaml:4: maintenance[0].duration: must be longer than 0, got '0s'"]),
    ("- name: w\n  start: '2026-03-01'\n  end: '2026-03-02 00:00:00'\n",
     ["test.yaml:3: maintenance[0].start: must be a time such as '2026-03-29 02:00:00' "
      "(wall clock in time_zone) or '2026-03-29T02:00:00+01:00', got '2026-03-01'"]),
    ("- name: w\n  start: '2026-02-30 00:00:00'\n  end: '2026-03-02 00:00:00'\n",
     ["test.yaml:3: maintenance[0].start: not a valid time (day is out of range for month), "
      "got '2026-02-30 00:00:00'"]),
    ("- name: w\n  start: '2026-03-01 00:00:00'\n  end: '2026-03-02 00:00:00'\n"
     "  time_zone: Mars/Olympus\n",
     ["test.yaml:5: maintenance[0].time_zone: unknown time zone 'Mars/Olympus': expected an "
      "IANA name such as UTC or Europe/Berlin"]),
    ("- name: w\n  start: '2026-03-01 00:00:00'\n  end: '2026-03-02 00:00:00'\n  note: x\n",
     ["test.yaml:5: maintenance[0].note: unknown key; allowed keys: duration, end, name, "
      "reason, rrule, services, slos, start, time_zone"]),
    ("- name: w\n  start: '2026-03-01 00:00:00'\n  end: '2026-03-02 00:00:00'\n"
     "- name: w\n  start: '2026-04-01 00:00:00'\n  end: '2026-04-02 00:00:00'\n",
     ["test.yaml:5: maintenance[1].name: duplicate maintenance window 'w' (first defined on "
      "line 2)"]),
])
def test_bad_maintenance_windows_are_located(body: str, expected: list[str]) -> None:
    """Each mistake in a maintenance window is an error with line, field path and reason."""
    assert _errors(_window(body)) == expected


def test_maintenance_name_is_one_printable_line() -> None:
    """A window's name is shown in reports and logs: no control characters, not huge."""
    text = _window("- name: \"patch\\nnight\"\n  start: '2026-03-01 00:00:00'\n"
                   "  end: '2026-03-02 00:00:00'\n")
    assert _errors(text) == [
        "test.yaml:2: maintenance[0].name: must be printable text on one line, at most 200 "
        "characters"
    ]


def test_maintenance_scope_must_exist() -> None:
    """services and slos name what the file declares; slos stay within services."""
    text = _window(
        "- name: w\n  start: '2026-03-01 00:00:00'\n  end: '2026-03-02 00:00:00'\n"
        "  services: [checkout, billing]\n  slos: [checkout/latency, vendor/api]\n"
    )
    assert _errors(text) == [
        "test.yaml:5: maintenance[0].services[1]: the maintenance window names an unknown "
        "service 'billing'; known services: checkout, vendor",
        "test.yaml:6: maintenance[0].slos[1]: 'vendor/api' is not in this window's services "
        "(billing, checkout); 'slos' narrows 'services'",
        "test.yaml:6: maintenance[0].slos[0]: the maintenance window names an unknown SLO "
        "'checkout/latency'; service 'checkout' has: availability",
    ]


def test_reload_reads_the_new_maintenance(tmp_path: Path) -> None:
    """A window added to the file is in Config.maintenance of the next load (what SIGHUP does)."""
    path = tmp_path / "slo.yaml"
    path.write_text(_doc(), encoding="utf-8")
    assert load_config(str(path)).maintenance == ()
    path.write_text(_doc(top=ONE_OFF), encoding="utf-8")
    assert [w.name for w in load_config(str(path)).maintenance] == ["march-patching"]


# ---------------------------------------------------- catalog and Grafana


def test_service_description_and_dependencies() -> None:
    """description and depends_on (other services of the file) reach the Service."""
    config = _load(_doc(service="description: Online checkout\ndepends_on: [vendor]\n"))
    assert (config.services[0].description, config.services[0].depends_on) == (
        "Online checkout", ("vendor",))
    assert (config.services[1].description, config.services[1].depends_on) == ("", ())


@pytest.mark.parametrize(("depends", "reason"), [
    ("[payments]", "service 'checkout' depends on an unknown service 'payments'; "
                   "known services: checkout, vendor"),
    ("[checkout]", "a service cannot depend on itself ('checkout')"),
    ("[vendor, vendor]", "duplicate name 'vendor' (first listed on line 3)"),
])
def test_bad_dependencies_are_errors(depends: str, reason: str) -> None:
    """Dependencies name other services of the file, each once."""
    index = "[1]" if "vendor, vendor" in depends else "[0]"
    assert _errors(_doc(service=f"depends_on: {depends}\n")) == [
        f"test.yaml:3: services[0].depends_on{index}: {reason}"
    ]


def test_grafana_url_is_kept() -> None:
    """grafana_url reaches Config.grafana_url; without it there is none."""
    config = _load(_doc(top="grafana_url: https://grafana.example.com/d/slo\n"))
    assert config.grafana_url == "https://grafana.example.com/d/slo"
    assert _load(_doc()).grafana_url is None


def test_grafana_url_with_credentials_is_refused_without_showing_them() -> None:
    """A URL with user:password@ is an error that does not repeat the password."""
    problems = _errors(_doc(top="grafana_url: https://admin:s3cret@grafana.example.com/\n"))
    assert problems == [
        "test.yaml:1: grafana_url: must not hold credentials (user:password@): the URL is "
        "shown on the status page; sign in to Grafana in the browser instead"
    ]
    assert "s3cret" not in problems[0]


def test_grafana_url_must_be_http() -> None:
    """Only http and https URLs are accepted."""
    assert _errors(_doc(top="grafana_url: ftp://grafana.example.com/\n")) == [
        "test.yaml:1: grafana_url: must be an http:// or https:// URL with a host, "
        "got 'ftp://grafana.example.com/'"
    ]


# ------------------------------------------------------ existing configs


BEFORE_SLM = [p for p in sorted((CONFIGS / "valid").glob("*.yaml")) if p.name != "slm.yaml"]


@pytest.mark.parametrize("path", [*BEFORE_SLM, EXAMPLE], ids=lambda p: p.name)
def test_existing_configs_load_with_neutral_defaults(path: Path) -> None:
    """Configs without the new keys load as before: rolling, occurrences, no SLA or maintenance."""
    config = load_config(str(path))
    assert config.maintenance == ()
    assert config.grafana_url is None
    for slo in config.slos:
        assert isinstance(slo.period, model.RollingPeriod)
        assert slo.budgeting == model.Budgeting()
        assert slo.sla is None


def test_contract_sketch_becomes_model_objects() -> None:
    """The completed sketch of the product contract (configs/valid/slm.yaml) maps as written."""
    warnings: list[ConfigWarning] = []
    config = load_config(str(CONFIGS / "valid" / "slm.yaml"), warnings)
    assert warnings == []
    assert config.grafana_url == "https://grafana.example.com"
    assert [w.name for w in config.maintenance] == ["march-patching", "sunday-backup"]
    assert config.maintenance[1].time_zone == "America/New_York"
    checkout, vendor, shop = config.services
    assert checkout.depends_on == ("payments-vendor",)
    assert shop.depends_on == ("checkout", "payments-vendor")
    assert vendor.description == "Card payments, run by a vendor"
    availability, api, journey, weighted = config.slos
    assert availability.period == model.CalendarPeriod("month", "Europe/Berlin")
    assert availability.budgeting.method == "timeslices"
    assert availability.sla is not None
    assert [t.credit for t in availability.sla.tiers] == [Decimal(10), Decimal(25), Decimal(100)]
    assert api.period == model.CalendarPeriod("quarter", "UTC")
    assert api.sla is not None
    assert (api.sla.objective, api.sla.maintenance) == (Decimal("99.95"), "counted")
    assert journey.composite
    assert weighted.composite
    assert weighted.period == model.CalendarPeriod("week", "UTC")
    assert [s.commitment for s in config.slos] == ["sla", "sla", "slo", "slo"]


def test_all_problems_of_the_new_blocks_are_reported_together() -> None:
    """Problems in calendar, budgeting, SLA, composite and maintenance come out in one run."""
    text = _doc(
        "calendar: {period: month, time_zone: Nowhere/City}\n"
        "budgeting: {timeslices: {slice: 1m, target: 0}}\n"
        "sla: {preset: nope}\n",
        top="maintenance:\n  - {name: w, start: '2026-03-01 00:00:00', duration: 1h, "
            "rrule: FREQ=NEVER}\n",
        more="  - name: shop\n    slos:\n      - name: j\n        objective: 99\n"
             "        window: 1d\n        sli: {composite: {mode: all_good, "
             "components: [{slo: nowhere/x}]}}\n",
    )
    paths = [p.split(": ")[1] for p in _errors(text)]
    assert paths == [
        "maintenance[0].rrule",
        "services[0].slos[0].calendar.time_zone",
        "services[0].slos[0].budgeting.timeslices.target",
        "services[0].slos[0].sla.preset",
        "services[2].slos[0].sli.composite.components[0].slo",
    ]


def test_check_prints_slm_problems_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`slo-exporter check` exits 1 and prints each located SLM problem, no traceback."""
    path = tmp_path / "slo.yaml"
    path.write_text(_window(
        "- name: w\n  start: '2026-03-29 02:30:00'\n  end: '2026-03-29 04:00:00'\n"
        "  time_zone: Europe/Berlin\n"
    ), encoding="utf-8")
    assert cli.main(["check", f"--config.file={path}"]) == 1
    err = capsys.readouterr().err
    assert f"{path}:3: maintenance[0].start: 2026-03-29 02:30:00 does not exist" in err
    assert "Traceback" not in err
