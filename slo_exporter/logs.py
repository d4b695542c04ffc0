"""structlog set-up: logfmt or JSON lines on stderr, filtered by level.

Event names are stable (``query_failed``, ``probe_failed``, ``evaluation_done``)
so that operators can alert on them and tests can assert on them.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

LEVELS = ("debug", "info", "warn", "error")


def configure(level: str = "info", fmt: str = "logfmt", stream: TextIO | None = None) -> None:
    """Route structlog events to ``stream`` (stderr) as logfmt or JSON."""
    if level not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, got {level!r}")
    if fmt not in ("logfmt", "json"):
        raise ValueError(f"log format must be logfmt or json, got {fmt!r}")
    numeric = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
               "error": logging.ERROR}[level]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.processors.LogfmtRenderer(key_order=["ts", "level", "event"])
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
