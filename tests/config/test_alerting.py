"""The native ``alerting:`` block: windows and per-severity settings, each bad value located."""

from __future__ import annotations

import pytest

from slo_exporter import model
from slo_exporter.config import parse_config
from slo_exporter.errors import ConfigError
from tests.config.native_docs import api_slo, under

HOUR = 3600.0


def _config(alerting: str, *, period: str = "window: 30d") -> str:
    """One SLO with ``alerting:`` set to ``alerting`` (a YAML body)."""
    return api_slo("sli:\n  ratio:\n    bad: errors_total\n    total: requests_total\n"
                   + under("alerting", alerting), period=period)


def _alerting(alerting: str, **kwargs: str) -> model.Alerting:
    return parse_config(_config(alerting, **kwargs), "test.yaml").slos[0].alerting


def _messages(alerting: str, **kwargs: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(_config(alerting, **kwargs), "test.yaml")
    return [str(p) for p in info.value.problems]


def test_without_alerting_the_slo_has_the_built_in_alerts() -> None:
    """An SLO without the key gets the default catalogue and settings."""
    text = _config("{}").replace("        alerting:\n          {}\n", "")
    assert parse_config(text, "test.yaml").slos[0].alerting.default


def test_windows_and_settings_are_read() -> None:
    """Every key of a window and of the settings becomes its model field.

    budget_percent 2 -> fraction 0.02; factor 10 stays 10; for 5m -> hold 300 s.
    """
    alerting = _alerting("""
        windows:
          - {severity: page, long: 1h, short: 5m, budget_percent: 2, for: 5m}
          - {severity: ticket, long: 1d, factor: 10}
        page: {name: MyPage, labels: {team: a, severity: critical}, annotations: {summary: x}}
        ticket: {disabled: true}
    """)
    assert alerting.windows == (
        model.AlertWindow("page", HOUR, 300.0, 0.02, hold=300.0),
        model.AlertWindow("ticket", 24 * HOUR, None, factor=10.0),
    )
    assert alerting.page == model.AlertSettings(
        name="MyPage", labels=model.frozen_map({"team": "a", "severity": "critical"}),
        annotations=model.frozen_map({"summary": "x"}))
    assert alerting.ticket == model.AlertSettings(disabled=True)
    assert not alerting.default


def test_settings_alone_keep_the_default_windows() -> None:
    """Only a page name: the catalogue stays the default one."""
    alerting = _alerting("page: {name: MyPage}")
    assert alerting.windows == model.ALERT_WINDOWS
    assert alerting.page.name == "MyPage"


def test_calendar_slo_takes_windows_up_to_its_longest_period() -> None:
    """A calendar month (longest 31d) accepts a 30d long window."""
    alerting = _alerting("windows: [{severity: ticket, long: 30d, short: 1d, factor: 1}]",
                         period="calendar: {period: month}")
    assert alerting.windows[0].long == 30 * 24 * HOUR


P = "test.yaml:{line}: services[0].slos[0].alerting."


@pytest.mark.parametrize(
    ("alerting", "where", "reason"),
    [
        ("windows: [{severity: urgent, long: 1h, factor: 2}]", "windows[0].severity",
         "must be a severity, one of page, ticket, got 'urgent'"),
        ("windows: [{severity: page, long: 1h, short: 1h, factor: 2}]", "windows[0].short",
         "must be shorter than long (1h), got '1h'"),
        ("windows: [{severity: page, long: 1h, factor: 2, budget_percent: 2}]", "windows[0]",
         "must have exactly one of budget_percent"),
        ("windows: [{severity: page, long: 1h}]", "windows[0]",
         "must have exactly one of budget_percent"),
        ("windows: [{severity: page, long: 1h, budget_percent: 0}]",
         "windows[0].budget_percent", "must be a percentage above 0 and at most 100, got 0"),
        ("windows: [{severity: page, long: 1h, budget_percent: 101}]",
         "windows[0].budget_percent", "must be a percentage above 0 and at most 100, got 101"),
        ("windows: [{severity: page, long: 1h, factor: -1}]", "windows[0].factor",
         "must be a burn rate above 0, got -1"),
        ("windows: [{severity: page, long: 1h, factor: 2, for: soon}]", "windows[0].for",
         "invalid duration"),
        ("windows: [{severity: page, long: 31d, factor: 2}]", "windows[0]",
         "the long window 31d is longer than the SLO period 30d"),
        ("windows: [{severity: page, long: 1h, factor: 2}, {severity: page, long: 1h, factor: 3}]",
         "windows[1]", "duplicate alert window: services[0].slos[0].alerting.windows[0]"),
        ("windows: []", "windows", "must list from 1 to 20 alert windows, got 0"),
        ("windows: [{severity: page, long: 1h, factor: 2, size: 3}]", "windows[0].size",
         "unknown key"),
        ("page: {labels: {bad-name: x}}", "page.labels.bad-name", "invalid label name"),
        ("page: {labels: {service: x}}", "page.labels.service",
         "label 'service' cannot be set on an alert"),
        ("page: {labels: {team: ''}}", "page.labels.team", "label values must not be empty"),
        ("ticket: {annotations: {'9x': y}}", "ticket.annotations.9x",
         "invalid annotation name '9x'"),
        ("ticket: {name: 'my alert'}", "ticket.name", "invalid alert name 'my alert'"),
        ("ticket: {disabled: sometimes}", "ticket.disabled", "must be"),
        ("urgent: {name: X}", "urgent", "unknown key"),
    ],
)
def test_bad_values_are_located(alerting: str, where: str, reason: str) -> None:
    """Each bad value is one problem with the file, line, field and reason."""
    (message,) = _messages(alerting)
    prefix = P.format(line=12) + where + ": "
    assert message.startswith(prefix), message
    assert reason in message[len(prefix):], message


def test_every_bad_window_is_reported_together() -> None:
    """Two bad windows give two problems, neither hiding the other."""
    messages = _messages("""
        windows:
          - {severity: page, long: 1h, short: 2h, factor: 2}
          - {severity: page, long: 1h, budget_percent: 200}
    """)
    assert len(messages) == 2


def test_alerting_is_a_reserved_slo_label() -> None:
    """An SLO label named alerting would clash with slo_info{alerting}: rejected."""
    text = _config("{}").replace("        alerting:\n          {}\n",
                                 "        labels: {alerting: x}\n")
    with pytest.raises(ConfigError) as info:
        parse_config(text, "test.yaml")
    assert "label name 'alerting' is reserved" in str(info.value.problems[0])


def test_windows_must_be_whole_storage_buckets() -> None:
    """With 5m buckets a 2m short window cannot be counted: its field says so."""
    text = "storage: {resolution: 5m}\n" + _config(
        "windows: [{severity: page, long: 1h, short: 2m, factor: 2}]")
    with pytest.raises(ConfigError) as info:
        parse_config(text, "test.yaml")
    (problem,) = info.value.problems
    assert problem.path == "services[0].slos[0].alerting.windows[0].short"
    assert problem.reason == "must be a multiple of storage.resolution (5m), got '2m'"
