"""Suite-wide hooks. Loaded by the pytest controller too, so they work under xdist."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

#: user_properties that are figures worth seeing in every run's output
REPORTED_FIGURES = (
    "sloth_contrast", "cold_start_seconds", "detection_seconds", "resolved_after_recovery_seconds",
    "sloth_parity", "sloth_parity_30d",
)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Show the recorded figures (e.g. the Sloth contrast) without needing -s."""
    lines = [
        f"{report.nodeid.split('::')[-1]}: {name} = {value}"
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        for name, value in getattr(report, "user_properties", [])
        if name in REPORTED_FIGURES
    ]
    if lines:
        terminalreporter.section("slo-exporter figures")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """Undo logging set-up done by a test (``cli.main`` and ``logs.configure`` set up
    structlog and the stdlib root logger for their own stderr), so a later test
    never writes to a stream pytest has already closed."""
    root = logging.getLogger()
    handlers, level, last_resort = list(root.handlers), root.level, logging.lastResort
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    logging.lastResort = last_resort
    structlog.reset_defaults()
