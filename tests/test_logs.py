"""Logging set-up: structlog events and library records come out as one format."""

from __future__ import annotations

import io
import json
import logging
import time
from datetime import UTC, datetime, timedelta

import pytest
import structlog
from apscheduler.schedulers.background import BackgroundScheduler

from slo_exporter import logs
from slo_exporter.redact import remember


def _late_job_warning(stream: io.StringIO) -> str:
    """Make a real APScheduler skip a job that is far too late; return what was written."""
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(lambda: None, "interval", seconds=3600, id="evaluate",
                      misfire_grace_time=1, next_run_time=datetime.now(UTC) - timedelta(seconds=30))
    scheduler.start()
    try:
        deadline = time.monotonic() + 5
        while "was missed by" not in stream.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        scheduler.shutdown(wait=True)
    return stream.getvalue()


def _line_with(text: str, needle: str) -> str:
    lines = [line for line in text.splitlines() if needle in line]
    assert lines, text
    return lines[0]


def test_apscheduler_warning_is_a_logfmt_event() -> None:
    """A missed APScheduler run is a logfmt line: ts, level=warning, event=library_log, logger."""
    stream = io.StringIO()
    logs.configure("info", "logfmt", stream)
    line = _line_with(_late_job_warning(stream), "was missed by")

    assert line.startswith("ts=")
    assert " level=warning event=library_log " in line
    assert "logger=apscheduler.executors.default" in line
    assert 'message="Run time of job ' in line


def test_apscheduler_warning_is_a_json_event() -> None:
    """The same warning in JSON mode is one JSON object with the same fields."""
    stream = io.StringIO()
    logs.configure("info", "json", stream)
    event = json.loads(_line_with(_late_job_warning(stream), "was missed by"))

    assert event["event"] == "library_log"
    assert event["level"] == "warning"
    assert event["logger"] == "apscheduler.executors.default"
    assert "was missed by" in event["message"]
    assert event["ts"].endswith("Z")


def test_every_line_is_json_in_json_mode() -> None:
    """structlog events, library records and tracebacks all parse as JSON, one per line."""
    stream = io.StringIO()
    logs.configure("debug", "json", stream)
    structlog.get_logger("slo_exporter.test").info("evaluation_done", slos=2)
    logging.getLogger("urllib3.connectionpool").debug("Starting new HTTP connection (%d): %s",
                                                      1, "127.0.0.1:9")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        structlog.get_logger("slo_exporter.test").exception("evaluation_failed", slo="a")
        logging.getLogger("apscheduler.executors.default").exception("Job raised")

    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["event"] for e in events] == [
        "evaluation_done", "library_log", "evaluation_failed", "library_log"]
    assert events[1]["message"] == "Starting new HTTP connection (1): 127.0.0.1:9"
    assert "RuntimeError: boom" in events[2]["exception"]
    assert "RuntimeError: boom" in events[3]["exception"]


def test_level_filters_library_records_too() -> None:
    """At info, a library's debug record and a structlog debug event are both dropped."""
    stream = io.StringIO()
    logs.configure("info", "logfmt", stream)
    logging.getLogger("urllib3.connectionpool").debug("Starting new HTTP connection")
    structlog.get_logger("slo_exporter.test").debug("query_retry")
    structlog.get_logger("slo_exporter.test").warning("query_failed", slo="a")

    assert stream.getvalue().count("\n") == 1
    assert "event=query_failed" in stream.getvalue()


def test_library_info_records_show_only_at_debug() -> None:
    """APScheduler's info record of every job run is dropped at info and shown at debug."""
    quiet, verbose = io.StringIO(), io.StringIO()
    logs.configure("info", "logfmt", quiet)
    logging.getLogger("apscheduler.executors.default").info('Running job "evaluate"')
    structlog.get_logger("slo_exporter.test").info("evaluation_done")
    logs.configure("debug", "logfmt", verbose)
    logging.getLogger("apscheduler.executors.default").info('Running job "evaluate"')

    assert "Running job" not in quiet.getvalue()
    assert "event=evaluation_done" in quiet.getvalue()
    assert "level=info event=library_log" in verbose.getvalue()


def test_configuring_twice_replaces_the_handler() -> None:
    """A second configure writes to the new stream only, once per event."""
    first, second = io.StringIO(), io.StringIO()
    logs.configure("info", "logfmt", first)
    logs.configure("info", "json", second)
    logging.getLogger("apscheduler").warning("late")

    assert first.getvalue() == ""
    assert len(second.getvalue().splitlines()) == 1


@pytest.mark.parametrize(("level", "fmt"), [("verbose", "logfmt"), ("info", "xml")])
def test_bad_level_or_format_is_refused(level: str, fmt: str) -> None:
    """An unknown level or format is a ValueError naming the choices."""
    with pytest.raises(ValueError, match="must be"):
        logs.configure(level, fmt, io.StringIO())


@pytest.mark.parametrize("fmt", ["logfmt", "json"])
def test_secrets_are_masked_in_our_events_libraries_records_and_tracebacks(fmt: str) -> None:
    """A remembered secret reaches no line: not an event, a library record or a traceback."""
    remember("Lg7-log-secret-value")
    stream = io.StringIO()
    logs.configure("debug", fmt, stream)
    structlog.get_logger("t").info("query_failed", error="server said Lg7-log-secret-value")
    logging.getLogger("urllib3").warning("retrying with Lg7-log-secret-value")
    try:
        raise ValueError("bad Lg7-log-secret-value")
    except ValueError:
        structlog.get_logger("t").exception("evaluation_failed")
    text = stream.getvalue()
    assert "Lg7-log-secret-value" not in text
    assert text.count("<secret>") >= 3
