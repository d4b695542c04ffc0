"""Logging set-up: every line on stderr is one logfmt or JSON event, filtered by level.

Owns the one handler on the root stdlib logger. structlog events and the
records of libraries that use stdlib ``logging`` (APScheduler, urllib3) both
go through it, so the output never mixes formats and lines never interleave.

Event names are stable (``query_failed``, ``probe_failed``, ``evaluation_done``)
so that operators can alert on them and tests can assert on them. A library
record becomes the event ``library_log`` with the library's ``logger`` name
and its text as ``message``: its wording is not ours to keep stable. Library
records below warning are shown only at debug level.

Must not decide what is logged or scrub it; callers log secret-free fields.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, WrappedLogger

from slo_exporter.redact import scrub_event

LEVELS = ("debug", "info", "warn", "error")
FORMATS = ("logfmt", "json")

_NUMERIC = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
            "error": logging.ERROR}

#: the event name of every record that came from a library's stdlib logger
LIBRARY_EVENT = "library_log"


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module installs, so a second ``configure`` replaces it."""


class _LibraryFilter(logging.Filter):
    """Lets library records through from ``threshold`` up; structlog events always.

    structlog events were filtered by level already. Libraries log routine
    work at info (APScheduler: every job run, each second), which only
    debugging needs.
    """

    def __init__(self, threshold: int) -> None:
        super().__init__()
        self.threshold = threshold

    def filter(self, record: logging.LogRecord) -> bool:
        return isinstance(record.msg, dict) or record.levelno >= self.threshold


def _library_record(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Turn a foreign record's text into ``message`` under a stable event name."""
    record: logging.LogRecord | None = event_dict.get("_record")
    if record is not None and not event_dict.get("_from_structlog", False):
        event_dict["message"] = event_dict.pop("event", "")
        event_dict["event"] = LIBRARY_EVENT
        event_dict["logger"] = record.name
    return event_dict


def _renderer(fmt: str) -> Any:
    if fmt == "json":
        return structlog.processors.JSONRenderer()
    return structlog.processors.LogfmtRenderer(key_order=["ts", "level", "event"])


def configure(level: str = "info", fmt: str = "logfmt", stream: TextIO | None = None) -> None:
    """Route structlog events and stdlib records to ``stream`` (stderr) as logfmt or JSON."""
    if level not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, got {level!r}")
    if fmt not in FORMATS:
        raise ValueError(f"log format must be logfmt or json, got {fmt!r}")
    numeric = _NUMERIC[level]
    shared: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, _library_record],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            # every line, ours and libraries', passes here; after format_exc_info
            # so rendered tracebacks are scrubbed too
            scrub_event,
            _renderer(fmt),
        ],
    )
    handler = _Handler(stream or sys.stderr)
    handler.setFormatter(formatter)
    library = numeric if level == "debug" else max(numeric, logging.WARNING)
    handler.addFilter(_LibraryFilter(library))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(numeric)
    # Python's last-resort handler would print bare text for records that
    # reach no handler; ours is on the root, so nothing does.
    logging.lastResort = None
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
