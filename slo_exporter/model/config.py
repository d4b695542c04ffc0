"""Frozen, typed configuration objects.

The config package parses YAML once into these objects; nothing past it sees
a raw dict. Durations are plain ``float`` seconds. Every class here is
immutable (label maps are read-only views), so objects are shared between
threads without locks. They are not hashable; key by ``SLO.key``.

Must not parse YAML or read files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

from slo_exporter.durations import format_duration
from slo_exporter.model.alerting import Alerting
from slo_exporter.model.identity import SLOId, fingerprint
from slo_exporter.model.period import Period
from slo_exporter.model.slm import Budgeting, CompositeSLI, MaintenanceWindow
from slo_exporter.sla import SLA

#: Windows exported for every SLO, besides the SLO period itself.
STANDARD_WINDOWS: tuple[float, ...] = (
    300.0, 1800.0, 3600.0, 2 * 3600.0, 6 * 3600.0, 86400.0, 3 * 86400.0,
)


#: the one empty read-only map every object without labels shares (a fleet of SLOs
#: would otherwise hold one empty dict and view per SLO and field)
_EMPTY: Mapping[str, str] = MappingProxyType({})


def frozen_map(items: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """A read-only mapping, sorted by key for stable label order."""
    return MappingProxyType(dict(sorted(items.items()))) if items else _EMPTY


@dataclass(frozen=True)
class TLSConfig:
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure_skip_verify: bool = False
    server_name: str | None = None


@dataclass(frozen=True)
class BasicAuth:
    username: str
    password: str | None = None
    password_file: str | None = None


@dataclass(frozen=True)
class PrometheusConfig:
    url: str = "http://127.0.0.1:9090"
    timeout: float = 10.0
    headers: Mapping[str, str] = field(default_factory=frozen_map)
    basic_auth: BasicAuth | None = None
    bearer_token_file: str | None = None
    tls: TLSConfig = field(default_factory=TLSConfig)
    #: an optional floor: read and evaluate this far behind now (reads reach
    #: back to each series' newest sample, so no delay is needed for exactness)
    query_delay: float = 0.0
    #: attempts per query (1 = no retry) and the first backoff delay
    retries: int = 3
    retry_backoff: float = 0.5
    #: widest span one backfill query may cover
    backfill_chunk: float = 86400.0
    #: a backfill reads history older than this (or than the SLO's longest
    #: alert window) at hour resolution; see ``accounting.fetch_hourly_events``
    backfill_hourly_after: float = 3 * 86400.0
    #: largest decoded answer accepted, in bytes; sized for about 10,000
    #: series of raw samples per query
    max_response_size: int = 256 << 20
    #: a counter increase between two samples above this is implausible: the
    #: series is rejected for that read instead of stored as events
    max_counter_increase: float = 1e12
    #: Thanos ``partial_response``: False (the safe default) asks for a
    #: complete answer and refuses one that says it is partial
    partial_response: bool = False


@dataclass(frozen=True)
class StorageConfig:
    #: width of one stored event bucket; windows are whole buckets
    resolution: float = 60.0
    #: data older than the longest window plus this margin is pruned
    retention_margin: float = 86400.0


# ---------------------------------------------------------------- SLI kinds


@dataclass(frozen=True)
class Selector:
    """A plain series selector such as ``http_requests_total{code!~"5.."}``.

    Events are the exact counter increase, computed from raw samples.
    """

    text: str


@dataclass(frozen=True)
class Template:
    """PromQL with ``{{.window}}`` that returns the events in that window."""

    text: str

    def render(self, window: str) -> str:
        return self.text.replace("{{.window}}", window)


Query = Selector | Template


@dataclass(frozen=True)
class RatioSLI:
    """good/total or bad/total events. Exactly one of ``good``/``bad`` is set."""

    total: Query
    good: Query | None = None
    bad: Query | None = None


@dataclass(frozen=True)
class RawRatioSLI:
    """A ratio Prometheus computes (Sloth ``raw``, OpenSLO raw ``ratioMetric``).

    ``query`` has ``{{.window}}`` and returns the error ratio (``measures ==
    "bad"``) or the success ratio (``"good"``) over that window. With no
    event counts behind it, each bucket holds the ratio of that bucket with
    a weight of one: window SLIs are time-weighted means of bucket ratios.
    """

    query: Template
    measures: str = "bad"  # "bad" (error ratio) or "good" (success ratio)


@dataclass(frozen=True)
class LatencySLI:
    """A classic histogram: good = observations at or under ``threshold``."""

    histogram: Selector  # the base name selector, without _bucket/_count
    threshold: float  # seconds, must be a bucket boundary
    buckets: tuple[float, ...] | None = None  # declared boundaries, if given

    @property
    def metric(self) -> str:
        return self.histogram.text.split("{", 1)[0].strip()

    @property
    def matchers(self) -> str:
        """The ``{...}`` part of the selector without braces ('' if none)."""
        text = self.histogram.text
        if "{" not in text:
            return ""
        return text.split("{", 1)[1].rsplit("}", 1)[0].strip()


@dataclass(frozen=True)
class BoolGaugeSLI:
    """A 0/1 gauge such as ``probe_success``: every raw sample is one event,
    good when it is 1 and bad when it is 0 (Pyrra ``bool_gauge``)."""

    gauge: Selector


# -------------------------------------------------------------- probe kinds


@dataclass(frozen=True)
class HTTPProbe:
    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=frozen_map)
    body: str | None = None
    valid_status_codes: tuple[int, ...] = ()  # empty = any 2xx
    fail_if_body_matches_regexp: tuple[str, ...] = ()
    fail_if_body_not_matches_regexp: tuple[str, ...] = ()
    follow_redirects: bool = True
    max_redirects: int = 10
    basic_auth: BasicAuth | None = None
    bearer_token_file: str | None = None
    tls: TLSConfig = field(default_factory=TLSConfig)
    fail_if_ssl: bool = False
    fail_if_not_ssl: bool = False
    body_size_limit: int = 1 << 20  # bytes read at most


@dataclass(frozen=True)
class TCPProbe:
    address: str  # host:port
    send: str | None = None
    expect: str | None = None  # regexp the received bytes must match
    tls: bool = False
    tls_config: TLSConfig = field(default_factory=TLSConfig)


@dataclass(frozen=True)
class TLSProbe:
    address: str  # host:port
    tls_config: TLSConfig = field(default_factory=TLSConfig)


@dataclass(frozen=True)
class DNSProbe:
    query_name: str
    server: str | None = None  # host[:port]; None = system resolver
    query_type: str = "A"
    transport: str = "udp"
    valid_rcodes: tuple[str, ...] = ("NOERROR",)
    expect: tuple[str, ...] = ()  # regexps, each must match some answer record


ProbeTarget = HTTPProbe | TCPProbe | TLSProbe | DNSProbe


@dataclass(frozen=True)
class ProbeSLI:
    target: ProbeTarget
    interval: float = 15.0
    timeout: float = 5.0
    latency_threshold: float | None = None

    @property
    def module(self) -> str:
        return {HTTPProbe: "http", TCPProbe: "tcp", TLSProbe: "tls", DNSProbe: "dns"}[
            type(self.target)
        ]

    @property
    def instance(self) -> str:
        t = self.target
        if isinstance(t, HTTPProbe):
            return t.url
        if isinstance(t, DNSProbe):
            return t.query_name
        return t.address


SLI = RatioSLI | RawRatioSLI | LatencySLI | BoolGaugeSLI | ProbeSLI | CompositeSLI


# ------------------------------------------------------------- SLO / service


@dataclass(frozen=True)
class SLO:
    service: str
    name: str
    objective: float  # a ratio in (0, 1), e.g. 0.999 (config gives percent)
    period: Period
    sli: SLI
    description: str = ""
    labels: Mapping[str, str] = field(default_factory=frozen_map)  # service + SLO labels
    runbook_url: str | None = None
    budgeting: Budgeting = field(default_factory=Budgeting)
    sla: SLA | None = None
    #: the SLO's own alert windows and per-severity alert settings
    alerting: Alerting = field(default_factory=Alerting)
    #: grouping: labels whose values split this definition into one SLO per
    #: group (``group`` set on each), and the most groups kept
    group_by: tuple[str, ...] = ()
    max_groups: int = 100
    #: the label values of one group of a grouped SLO (empty otherwise)
    group: Mapping[str, str] = field(default_factory=frozen_map)
    #: where the definition was read: the file and its document index (shown
    #: by ``convert``); not part of the definition, so equality ignores it
    source_file: str = field(default="", compare=False, repr=False)
    source_document: int | None = field(default=None, compare=False, repr=False)

    @property
    def commitment(self) -> str:
        """``sla`` when the SLO carries an SLA, else ``slo`` (``slo_info{commitment}``)."""
        return "slo" if self.sla is None else "sla"

    @property
    def composite(self) -> bool:
        """True when the SLI is built from other SLOs rather than read or probed."""
        return isinstance(self.sli, CompositeSLI)

    # Cached: the engine asks an SLO's key thousands of times a cycle, and a
    # group instance's key is escaped label text (the class stays immutable).
    @cached_property
    def id(self) -> SLOId:
        """What the SLO's stored history belongs to."""
        return SLOId.of(self.service, self.name, self.group)

    @cached_property
    def key(self) -> str:
        """Stable identity in the event store: ``service/slo`` (``service/slo{route="/a"}``
        for a group instance, see ``model.identity``)."""
        return self.id.key

    @property
    def remeasurable(self) -> bool:
        """True when the events can be read again from the source (Prometheus);
        probe events exist only in the store."""
        return not isinstance(self.sli, ProbeSLI | CompositeSLI)

    @property
    def source_fingerprint(self) -> str:
        """Changes only when what defines the counted events changes.

        Written out field by field (never ``repr``), so new fields, a new
        interval, labels or objective keep the stored events.
        """
        sli = self.sli
        if isinstance(sli, RatioSLI):
            return fingerprint("ratio", *(
                "" if q is None else f"{type(q).__name__}:{q.text}"
                for q in (sli.total, sli.good, sli.bad)))
        if isinstance(sli, RawRatioSLI):
            return fingerprint("raw_ratio", sli.measures, sli.query.text)
        if isinstance(sli, LatencySLI):
            return fingerprint("latency", sli.histogram.text, repr(sli.threshold))
        if isinstance(sli, BoolGaugeSLI):
            return fingerprint("bool_gauge", sli.gauge.text)
        if isinstance(sli, CompositeSLI):
            return fingerprint("composite", sli.mode, *(
                f"{c.slo.key}:{c.weight!r}" for c in sli.components))
        return fingerprint("probe", sli.module, sli.instance)

    def window_label(self, window: float) -> str:
        """The ``window`` label of one of the SLO's windows, the same on every output.

        The period's own window (keyed by ``period.longest``) is named by the
        period: ``30d`` for a rolling one, ``week``, ``month`` or ``quarter``
        for a calendar one, whose values are to date. Every other window is
        its Prometheus duration text (``1h``).
        """
        return self.period.label if window == self.period.longest else format_duration(window)

    @property
    def windows(self) -> tuple[float, ...]:
        """The standard windows and every window of the SLO's alert conditions,
        shorter than the period, ascending; then the period.

        So ``slo_burn_rate{window}`` exists for each window an alert reads.
        """
        longest = self.period.longest
        alert = {w for a in self.alerting.windows for w in a.windows}
        shorter = sorted({w for w in (*STANDARD_WINDOWS, *alert) if w < longest})
        return (*shorter, longest)


@dataclass(frozen=True)
class Service:
    name: str
    slos: tuple[SLO, ...]
    labels: Mapping[str, str] = field(default_factory=frozen_map)
    description: str = ""
    #: other services (vendors among them) this one needs, for the catalog
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    services: tuple[Service, ...]
    prometheus: PrometheusConfig = field(default_factory=PrometheusConfig)
    evaluation_interval: float = 30.0
    storage: StorageConfig = field(default_factory=StorageConfig)
    source_file: str = ""
    maintenance: tuple[MaintenanceWindow, ...] = ()
    #: base URL of Grafana; the status page links each SLO's dashboard there
    grafana_url: str | None = None
    #: SLOs another shard evaluates whose stored events this shard's composites
    #: read through a shared store (``sharding.select``); never evaluated here
    followed: tuple[SLO, ...] = ()

    @property
    def slos(self) -> tuple[SLO, ...]:
        return tuple(slo for svc in self.services for slo in svc.slos)

    @property
    def longest_window(self) -> float:
        return max((s.period.longest for s in self.slos), default=0.0)
