"""The one exception tree of slo-exporter.

Only ``ConfigError`` is fatal, and only at start-up. Every other error is
per-cycle: it carries its context, is recorded against the SLO or probe it
belongs to, counted in a self-metric and logged, and never stops the daemon.

::

    SloExporterError
    ├── ConfigError                 invalid configuration (all problems at once)
    ├── SourceError                 a data source did not give usable data
    │   ├── QueryError              Prometheus HTTP API call failed (carries .query)
    │   │   ├── QueryTimeout        no answer within the timeout
    │   │   ├── QueryConnectionError  could not connect / connection dropped
    │   │   ├── QueryHTTPError      non-2xx status that is not an API error body
    │   │   ├── QueryAPIError       Prometheus answered status=error (bad_data, ...)
    │   │   ├── QueryDecodeError    the answer was not the JSON shape expected
    │   │   ├── QueryTooLarge       the decoded answer exceeded max_response_size
    │   │   ├── QueryPartial        the answer says data is missing (Thanos partial response)
    │   │   └── QueryCancelled      the daemon is stopping; the call was abandoned
    │   └── HistogramBucketError    latency threshold is not a bucket boundary
    └── StoreError                  the embedded event store failed
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


class SloExporterError(Exception):
    """Base of every error raised by slo-exporter."""


@dataclass(frozen=True)
class ConfigProblem:
    """One located problem in a configuration file."""

    file: str
    path: str
    reason: str
    line: int | None = None

    #: what kind of remark this is, shown after the location ("" for an error)
    tag: ClassVar[str] = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{self.tag}{field} {self.reason}"


class ConfigError(SloExporterError):
    """The configuration is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class SourceError(SloExporterError):
    """A data source did not give usable data for one SLO in one cycle."""

    #: short, stable label value for ``slo_exporter_query_errors_total{reason}``
    reason = "source"


class QueryError(SourceError):
    """A Prometheus HTTP API call failed; ``query`` is the PromQL sent."""

    reason = "query"

    def __init__(self, message: str, *, query: str, endpoint: str = "") -> None:
        self.query = query
        self.endpoint = endpoint
        super().__init__(f"{message} (query: {query})")


class QueryTimeout(QueryError):
    reason = "timeout"


class QueryConnectionError(QueryError):
    reason = "connection"


class QueryHTTPError(QueryError):
    reason = "http"

    def __init__(self, message: str, *, query: str, endpoint: str = "", status: int = 0) -> None:
        self.status = status
        super().__init__(message, query=query, endpoint=endpoint)


class QueryAPIError(QueryError):
    reason = "api"

    def __init__(
        self, message: str, *, query: str, endpoint: str = "", error_type: str = ""
    ) -> None:
        self.error_type = error_type
        super().__init__(message, query=query, endpoint=endpoint)


class QueryDecodeError(QueryError):
    reason = "decode"


class QueryTooLarge(QueryError):
    """The decoded answer exceeded ``max_response_size``; ``limit`` is that size."""

    reason = "too_large"

    def __init__(self, message: str, *, query: str, endpoint: str = "", limit: int = 0) -> None:
        self.limit = limit
        super().__init__(message, query=query, endpoint=endpoint)


class QueryPartial(QueryError):
    """The answer came with warnings that say part of the data is missing.

    A Thanos querier whose store failed answers ``status=success`` with the
    data it has and the failure in ``warnings``; counted as complete, its
    missing events would be lost for good. ``warnings`` holds the server's
    words, credentials scrubbed.
    """

    reason = "partial"

    def __init__(
        self, message: str, *, query: str, endpoint: str = "", warnings: tuple[str, ...] = ()
    ) -> None:
        self.warnings = warnings
        super().__init__(message, query=query, endpoint=endpoint)


class QueryCancelled(QueryError):
    """The client's stop event was set: the call was abandoned, not failed."""

    reason = "cancelled"


class HistogramBucketError(SourceError):
    """The configured latency threshold matches no ``le`` bucket of the histogram."""

    reason = "bucket"


class StoreError(SloExporterError):
    """The embedded event store failed (disk full, corrupt file, ...)."""
