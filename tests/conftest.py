"""Suite-wide hooks. Loaded by the pytest controller too, so they work under xdist."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

#: Files that spend minutes waiting on real time (a page resolves only once its
#: failures have aged out of the 5m window), run first so that the other
#: workers get through the rest of the suite meanwhile.
LONG_WAITS = ("tests/integration/test_alerting_e2e.py",)

#: user_properties that are figures worth seeing in every run's output
REPORTED_FIGURES = (
    "sloth_contrast", "cold_start_seconds", "detection_seconds", "resolved_after_recovery_seconds",
    "sloth_parity", "sloth_parity_30d",
)


def pytest_configure(config: pytest.Config) -> None:
    """Under xdist's ``--dist loadfile``, hand out files in the order collected.

    xdist's default hands out the files with the most tests first. Here that
    is the wrong way round: the integration files hold few tests that take
    seconds to minutes each, and left to the end they keep one worker busy
    long after the other has run out of work.
    """
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest first: the files in LONG_WAITS, then integration, then the rest.

    Items keep their order within a rank (the sort is stable), so a file's
    tests stay together and run in the order they are written.
    """
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.partition("::")[0]
        if path in LONG_WAITS:
            return 0
        return 1 if path.startswith("tests/integration/") else 2

    items.sort(key=rank)


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
