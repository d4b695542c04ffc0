"""The native schema: a composed YAML document -> frozen ``model.Config``.

Owns the top level (``prometheus``, ``evaluation_interval``, ``storage``,
``services``), services, SLOs and the ``ratio`` and ``latency`` SLIs (probes
are in ``native_probes``; the service-level management keys, such as
``calendar``, ``sla``, ``composite`` and ``maintenance``, in ``slm``).
Every duration, count and size has a lower and an upper bound, so a config
that passes ``check`` is one ``run`` can run: no 1 ms evaluation loop
hammering Prometheus, no 100,000,000-year window.

Top-level keys starting with ``x-`` are ignored so that they can hold YAML
anchors (``x-labels: &team {...}``) merged elsewhere with ``<<: *team``.

Must not do I/O, and must not be needed by the other dialects: what they
share lives in ``fields``, ``httpclient``, ``promql`` and ``text``.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from decimal import Decimal

from yaml.nodes import MappingNode, Node, ScalarNode

from slo_exporter import model
from slo_exporter.config.alerting import read_alerting
from slo_exporter.config.fields import Fields, Reader, choices, join, number_text
from slo_exporter.config.grouping import GroupingReader
from slo_exporter.config.httpclient import CLIENT_KEYS, read_client
from slo_exporter.config.native_probes import read_probe
from slo_exporter.config.nodes import FLOAT, INT, STR, describe, line
from slo_exporter.config.promql import (
    SELECTOR_EXAMPLE,
    TEMPLATE_EXAMPLE,
    TEMPLATE_VAR,
    Matcher,
    parse_selector,
    selector_text,
    unbalanced,
)
from slo_exporter.config.slm import OBJECT_NAME, SLMLoader
from slo_exporter.config.text import label_name_problem, label_value_problem, shorten
from slo_exporter.durations import format_duration

#: the default budgeting (events), shared by every SLO that keeps it
_EVENTS = model.Budgeting()

_SLI_KINDS = ("bool_gauge", "composite", "latency", "probe", "ratio", "raw")
_RAW_EXAMPLE = (
    "'sum(rate(http_requests_total{code=~\"5..\"}[{{.window}}])) / "
    "sum(rate(http_requests_total[{{.window}}]))'"
)
_NUMBER_TEXT = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")

DAY = 86400.0
#: bounds of every duration, count and size (see README "Configuration reference")
EVALUATION_INTERVAL = (1.0, 3600.0)
WINDOW = (3600.0, 365 * DAY)
PROMETHEUS_TIMEOUT = (0.01, 300.0)
QUERY_DELAY_MAX = 3600.0
RETRIES_MAX = 10
RETRY_BACKOFF_MAX = 60.0
BACKFILL_CHUNK_MAX = 30 * DAY
HOUR = 3600.0
BACKFILL_HOURLY_AFTER_MAX = 366 * DAY
RETENTION_MARGIN_MAX = 365 * DAY
RESPONSE_SIZE = (1 << 20, 4 << 30)
#: the tenant header of Mimir and Cortex, and what they accept in it: tenant
#: IDs of at most 150 of these characters, "|" between several (federation)
TENANT_HEADER = "x-scope-orgid"
_TENANT_ID = re.compile(r"[A-Za-z0-9!._*'()-]{1,150}")


def _kind(node: Node) -> str:
    """What a node is, without its value: a file given by mistake may hold a secret."""
    if isinstance(node, ScalarNode) and node.tag in (INT, FLOAT):
        return "a number"
    if isinstance(node, ScalarNode) and node.tag == STR:
        return "text"
    return describe(node)


def _queries_prometheus(services: tuple[model.Service, ...]) -> bool:
    return any(
        isinstance(
            slo.sli, model.RatioSLI | model.LatencySLI | model.RawRatioSLI | model.BoolGaugeSLI
        )
        for service in services
        for slo in service.slos
    )


def object_name(fields: Fields, key: str) -> str | None:
    """A service or SLO name: a letter or digit, then letters, digits, '_', '.', ':' or '-'."""
    name = fields.string(key, non_empty=True)
    if name is None:
        return None
    if not OBJECT_NAME.fullmatch(name):
        shown = shorten(name)
        fields.report(
            key,
            "must start with a letter or digit and contain only letters, digits, "
            f"'_', '.', ':' and '-', got {shown!r}",
        )
        return None
    return name


def read_labels(r: Reader, node: Node, path: str) -> dict[str, str] | None:
    """A map of Prometheus label names to values."""
    return r.string_map(
        node,
        path,
        "label names to values",
        label_name_problem,
        lambda _name, value: label_value_problem(value),
    )


def read_objective(r: Reader, node: Node, path: str) -> float | None:
    """An objective written as a percentage (99.9) as the ratio it means (0.999)."""
    expected = "must be a number (a percentage such as 99.9)"
    if isinstance(node, ScalarNode) and node.tag == STR and _NUMBER_TEXT.fullmatch(node.value):
        r.report(
            node,
            path,
            f"{expected}, got {describe(node)}: remove the quotes, a quoted value is text",
        )
        return None
    if not (isinstance(node, ScalarNode) and node.tag in (INT, FLOAT)):
        r.report(node, path, f"{expected}, got {describe(node)}")
        return None
    percent = r.finite(node)
    if percent is None or not 0 < percent < 100:
        r.report(
            node,
            path,
            f"must be a percentage strictly between 0 and 100, got {describe(node)}",
        )
        return None
    # via Decimal so that 99.9 becomes 0.999, not 0.9990000000000001
    exact = Decimal(repr(percent))
    if percent < 1:
        meant = number_text(float(exact * 100))
        r.warn(
            node,
            path,
            f"{describe(node)} means {describe(node)} % (objectives are percentages); "
            f"did you mean {meant}?",
        )
    return float(exact / 100)


class NativeLoader:
    """Reads one native config document; problems go to the reader's list."""

    def __init__(
        self,
        reader: Reader,
        include: Callable[
            [Node, str, model.StorageConfig, tuple[model.Service, ...]],
            tuple[model.Service, ...] | None,
        ]
        | None = None,
        storage: model.StorageConfig | None = None,
    ) -> None:
        self.r = reader
        #: reads an ``include:`` list (the config package does the file I/O); None: not allowed
        self._include = include
        #: an included file's SLOs are judged by the including config's storage
        self._storage = storage or model.StorageConfig()
        #: False when storage.resolution is invalid, so windows are not judged by it
        self._resolution_known = True
        #: the node of a valid prometheus.timeout, if one is given
        self._prometheus_timeout: Node | None = None
        self.slm = SLMLoader(reader, self._whole_buckets)
        self.grouping = GroupingReader(reader)

    def config(self, root: Node) -> model.Config | None:
        if not isinstance(root, MappingNode):
            self.r.report(
                root,
                "",
                f"the top level must be a mapping with a 'services' list, got {_kind(root)}",
            )
            return None
        top = self.r.mapping(
            root,
            "",
            (
                "prometheus",
                "evaluation_interval",
                "storage",
                "services",
                "maintenance",
                "grafana_url",
                "include",
            ),
            ignore=lambda key: key.startswith("x-"),
        )
        if top is None:
            return None
        # storage first: windows and chunks are checked against its resolution
        storage = top.read("storage", self.storage) or model.StorageConfig()
        self._storage = storage
        prometheus = top.read("prometheus", self.prometheus) or model.PrometheusConfig()
        interval = top.duration(
            "evaluation_interval",
            above_zero=True,
            minimum=EVALUATION_INTERVAL[0],
            maximum=EVALUATION_INTERVAL[1],
        )
        interval_s = 30.0 if interval is None else interval
        services = top.read("services", self.services)
        if top.get("services") is None and top.get("include") is None:
            self.r.report(root, "", "missing required key 'services'")
        if top.get("include") is not None:
            if self._include is None:
                top.report("include", "an included file cannot include other files")
                return None
            own = services or ()
            included = self._include(top.at("include"), top.key_path("include"), storage, own)
            if included is None or (services is None and top.get("services") is not None):
                return None
            services = own + included
        maintenance = top.read("maintenance", self.slm.maintenance)
        grafana_url = top.read("grafana_url", self.slm.grafana_url)
        self.slm.check_references()
        if services is None:
            return None
        self.grouping.check_components(services)
        interval_ok = interval is not None or top.get("evaluation_interval") is None
        if interval_ok and prometheus.timeout > interval_s and _queries_prometheus(services):
            # as Prometheus refuses a scrape_timeout above the scrape_interval
            given = self._prometheus_timeout is not None
            default = "" if given else " (the default)"
            self.r.report(
                self._prometheus_timeout or top.at("evaluation_interval"),
                "prometheus.timeout",
                f"must not be longer than evaluation_interval ({format_duration(interval_s)}), "
                f"got {format_duration(prometheus.timeout)}{default}",
            )
        return model.Config(
            services=services,
            prometheus=prometheus,
            evaluation_interval=interval_s,
            storage=storage,
            source_file=self.r.file,
            maintenance=maintenance or (),
            grafana_url=grafana_url,
        )

    def storage(self, node: Node, path: str) -> model.StorageConfig | None:
        fields = self.r.mapping(node, path, ("resolution", "retention_margin"))
        if fields is None:
            return None
        defaults = model.StorageConfig()
        resolution = fields.duration("resolution")
        shortest = model.STANDARD_WINDOWS[0]
        if resolution is not None and (
            resolution < 1 or not resolution.is_integer() or shortest % resolution
        ):
            # every exported window, down to the 5m one, must be whole buckets
            fields.report(
                "resolution",
                f"must be a whole number of seconds that divides {format_duration(shortest)} "
                "(the shortest alert window), such as 15s, 30s or 1m, "
                f"got {describe(fields.at('resolution'))}",
            )
            resolution = None
        if fields.get("resolution") is not None and resolution is None:
            self._resolution_known = False
        margin = fields.duration("retention_margin", maximum=RETENTION_MARGIN_MAX)
        return model.StorageConfig(
            resolution=defaults.resolution if resolution is None else resolution,
            retention_margin=defaults.retention_margin if margin is None else margin,
        )

    def _whole_buckets(self, node: Node, path: str, value: float) -> bool:
        """Whether ``value`` is a whole number of storage buckets; reports it if not."""
        resolution = self._storage.resolution
        if not self._resolution_known or round(value * 1000) % round(resolution * 1000) == 0:
            return True
        self.r.report(
            node,
            path,
            f"must be a multiple of storage.resolution ({format_duration(resolution)}), "
            f"got {describe(node)}",
        )
        return False

    def prometheus(self, node: Node, path: str) -> model.PrometheusConfig | None:
        fields = self.r.mapping(
            node,
            path,
            (
                "url",
                "timeout",
                *CLIENT_KEYS,
                "tls",
                "query_delay",
                "retries",
                "retry_backoff",
                "backfill_chunk",
                "backfill_hourly_after",
                "max_response_size",
                "max_counter_increase",
                "partial_response",
            ),
        )
        if fields is None:
            return None
        defaults = model.PrometheusConfig()
        self._tenant(fields)
        partial = fields.boolean("partial_response")
        url = fields.url("url")
        timeout = fields.duration(
            "timeout",
            above_zero=True,
            minimum=PROMETHEUS_TIMEOUT[0],
            maximum=PROMETHEUS_TIMEOUT[1],
        )
        if timeout is not None:
            self._prometheus_timeout = fields.at("timeout")
        client = read_client(self.r, fields, tls_key="tls")
        query_delay = fields.duration("query_delay", maximum=QUERY_DELAY_MAX)
        retries = fields.integer("retries", minimum=1, maximum=RETRIES_MAX)
        retry_backoff = fields.duration("retry_backoff", maximum=RETRY_BACKOFF_MAX)
        chunk = fields.duration("backfill_chunk", above_zero=True, maximum=BACKFILL_CHUNK_MAX)
        if chunk is not None and not self._whole_buckets(
            fields.at("backfill_chunk"), fields.key_path("backfill_chunk"), chunk
        ):
            chunk = None
        hourly_after = fields.duration("backfill_hourly_after", minimum=HOUR,
                                       maximum=BACKFILL_HOURLY_AFTER_MAX)
        if hourly_after is not None and hourly_after % HOUR:
            node = fields.at("backfill_hourly_after")
            fields.report("backfill_hourly_after", f"must be whole hours, got {describe(node)}")
            hourly_after = None
        response_size = fields.byte_size(
            "max_response_size", minimum=RESPONSE_SIZE[0], maximum=RESPONSE_SIZE[1]
        )
        increase = fields.read("max_counter_increase", self.positive_number)
        return model.PrometheusConfig(
            url=defaults.url if url is None else url,
            timeout=defaults.timeout if timeout is None else timeout,
            headers=client.headers,
            basic_auth=client.basic_auth,
            bearer_token_file=client.bearer_token_file,
            tls=client.tls,
            query_delay=defaults.query_delay if query_delay is None else query_delay,
            retries=defaults.retries if retries is None else retries,
            retry_backoff=defaults.retry_backoff if retry_backoff is None else retry_backoff,
            backfill_chunk=defaults.backfill_chunk if chunk is None else chunk,
            backfill_hourly_after=(
                defaults.backfill_hourly_after if hourly_after is None else hourly_after
            ),
            max_response_size=(
                defaults.max_response_size if response_size is None else response_size
            ),
            max_counter_increase=defaults.max_counter_increase if increase is None else increase,
            partial_response=defaults.partial_response if partial is None else partial,
        )

    def _tenant(self, fields: Fields) -> None:
        """Report an ``X-Scope-OrgID`` header Mimir or Cortex would refuse at every query."""
        headers = fields.get("headers")
        if not isinstance(headers, MappingNode):
            return
        for key, value in headers.value:
            if not (isinstance(key, ScalarNode) and key.value.lower() == TENANT_HEADER
                    and isinstance(value, ScalarNode) and value.tag == STR):
                continue
            bad = [t for t in value.value.split("|")
                   if not _TENANT_ID.fullmatch(t) or t in (".", "..")]
            if bad:
                self.r.report(
                    value, join(fields.key_path("headers"), key.value),
                    f"tenant ID {bad[0]!r} is not one Mimir or Cortex accepts: 1 to 150 of "
                    "A-Z a-z 0-9 ! - _ . * ' ( ), not '.' or '..'; several tenants are "
                    "joined with '|' (team-a|team-b)",
                )

    def positive_number(self, node: Node, path: str) -> float | None:
        """A finite number above 0; ``1e12`` is taken although YAML 1.1 reads it as text."""
        value: float | None = None
        if isinstance(node, ScalarNode) and node.tag in (INT, FLOAT):
            value = self.r.finite(node)
        elif (
            isinstance(node, ScalarNode) and node.tag == STR and _NUMBER_TEXT.fullmatch(node.value)
        ):
            number = float(node.value)
            value = number if math.isfinite(number) else None
        if value is None or value <= 0:
            self.r.report(
                node, path, f"must be a number above 0, such as 1e12, got {describe(node)}"
            )
            return None
        return value

    # ----------------------------------------------------- services / SLOs

    def services(self, node: Node, path: str) -> tuple[model.Service, ...] | None:
        items = self.r.sequence(node, path, "services")
        if items is None:
            return None
        if not items:
            self.r.report(node, path, "must list at least one service")
            return None
        services: list[model.Service] = []
        seen: dict[str, int] = {}
        for item, item_path in items:
            service = self.service(item, item_path, seen)
            if service is not None:
                services.append(service)
        return tuple(services)

    def _name(self, fields: Fields, seen: dict[str, int], what: str) -> str | None:
        name = object_name(fields, "name")
        if name is None:
            return None
        node = fields.at("name")
        if name in seen:
            fields.report(
                "name", f"duplicate {what} name {name!r} (first defined on line {seen[name]})"
            )
            return None
        seen[name] = line(node)
        return name

    def service(self, node: Node, path: str, seen: dict[str, int]) -> model.Service | None:
        fields = self.r.mapping(
            node,
            path,
            ("name", "description", "labels", "depends_on", "slos"),
            required=("name", "slos"),
        )
        if fields is None:
            return None
        name = self._name(fields, seen, "service")
        description = fields.string("description") or ""
        labels = fields.read("labels", lambda n, p: read_labels(self.r, n, p)) or {}
        depends_on = fields.read("depends_on", lambda n, p: self.slm.depends_on(n, p, name))
        slos_node = fields.get("slos")
        if slos_node is None:
            return None
        items = self.r.sequence(slos_node, fields.key_path("slos"), "SLOs")
        if items is None:
            return None
        if not items:
            self.r.report(slos_node, fields.key_path("slos"), "must list at least one SLO")
        slo_names: dict[str, int] = {}
        if name is not None:
            # filled as the SLO names are read, for references checked later
            self.slm.declared[name] = slo_names.keys()
        slos = [
            self.slo(item, item_path, name or "", labels, slo_names) for item, item_path in items
        ]
        if name is None:
            return None
        return model.Service(
            name=name,
            slos=tuple(slo for slo in slos if slo is not None),
            labels=model.frozen_map(labels),
            description=description,
            depends_on=depends_on or (),
        )

    def slo(
        self,
        node: Node,
        path: str,
        service: str,
        service_labels: dict[str, str],
        seen: dict[str, int],
    ) -> model.SLO | None:
        fields = self.r.mapping(
            node,
            path,
            (
                "name",
                "objective",
                "window",
                "calendar",
                "budgeting",
                "sla",
                "group_by",
                "max_groups",
                "sli",
                "description",
                "labels",
                "runbook_url",
                "alerting",
            ),
            required=("name", "objective", "sli"),
        )
        if fields is None:
            return None
        name = self._name(fields, seen, "SLO")
        owner = model.SLOId(service, name) if service and name else None
        objective = fields.read("objective", lambda n, p: read_objective(self.r, n, p))
        period = self.period(fields)
        budgeting = fields.read("budgeting", self.slm.budgeting)
        sla = fields.read("sla", self.slm.sla)
        if sla is not None and objective is not None:
            self.slm.check_sla_against_objective(
                fields.at("sla"), fields.key_path("sla"), sla, objective
            )
        if budgeting is not None and period is not None:
            budgeting = self.slm.check_slice_fits(fields, budgeting, period)
        sli: model.SLI | None = fields.read("sli", lambda n, p: self.sli(n, p, owner))
        description = fields.string("description") or ""
        labels = fields.read("labels", lambda n, p: read_labels(self.r, n, p)) or {}
        grouping = self.grouping.read(fields, owner, sli, {**service_labels, **labels})
        runbook_url = fields.url("runbook_url")
        alerting = fields.read("alerting", lambda n, p: read_alerting(
            self.r, n, p, period, self._whole_buckets))
        invalid = [
            key
            for key, value in (("budgeting", budgeting), ("sla", sla), ("alerting", alerting))
            if value is None and fields.get(key) is not None
        ]
        if name is None or objective is None or period is None or sli is None or invalid:
            return None
        if grouping is None:
            return None
        return model.SLO(
            service=service,
            name=name,
            objective=objective,
            period=period,
            sli=sli,
            group_by=grouping[0],
            max_groups=grouping[1],
            description=description,
            labels=model.frozen_map({**service_labels, **labels}),
            runbook_url=runbook_url,
            budgeting=budgeting if budgeting and budgeting != _EVENTS else _EVENTS,
            sla=sla,
            alerting=(alerting or model.DEFAULT_ALERTING).shared(),
        )

    def period(self, fields: Fields) -> model.Period | None:
        """The rolling ``window`` or the ``calendar`` period: exactly one of them."""
        has_window, has_calendar = fields.has("window"), fields.has("calendar")
        if has_window and has_calendar:
            fields.report("calendar", "give either 'window' (rolling) or 'calendar', not both")
            return None
        if not has_window and not has_calendar:
            self.r.report(
                fields.node,
                fields.path,
                "missing required key 'window' or 'calendar' (give one of them)",
            )
            return None
        # read even when null: leaving the period out by "window: ~" is a mistake
        key = "calendar" if has_calendar else "window"
        node, path = fields.entries[key], fields.key_path(key)
        if has_calendar:
            return self.slm.calendar(node, path)
        window = self.window(node, path)
        return None if window is None else model.RollingPeriod(window)

    def window(self, node: Node, path: str) -> float | None:
        window = self.r.duration(node, path, maximum=WINDOW[1])
        if window is None:
            return None
        if window < WINDOW[0]:
            self.r.report(node, path, f"must be at least 1h, got {describe(node)}")
            return None
        if window > WINDOW[1]:
            self.r.report(
                node, path, f"must be at most {format_duration(WINDOW[1])}, got {describe(node)}"
            )
            return None
        return window if self._whole_buckets(node, path, window) else None

    # ------------------------------------------------------------------ SLIs

    def sli(self, node: Node, path: str, owner: model.SLOId | None = None) -> model.SLI | None:
        if not isinstance(node, MappingNode):
            self.r.report(
                node,
                path,
                f"must be a mapping with one SLI kind ({choices(_SLI_KINDS)}), "
                f"got {describe(node)}",
            )
            return None
        entries = self.r.entries(node, path)
        for key, (key_node, _) in entries.items():
            if key not in _SLI_KINDS:
                shown = shorten(key)
                self.r.report(
                    key_node,
                    join(path, shown),
                    f"unknown SLI kind {shown!r}; expected one of: {choices(_SLI_KINDS)}",
                )
        kinds = [key for key in entries if key in _SLI_KINDS]
        if len(kinds) > 1:
            self.r.report(
                node,
                path,
                f"must have exactly one SLI kind, got {len(kinds)}: {', '.join(kinds)}",
            )
            return None
        if not kinds:
            if len(entries) == 0:
                self.r.report(
                    node, path, f"must have exactly one SLI kind ({choices(_SLI_KINDS)}), got none"
                )
            return None
        kind = kinds[0]
        value = entries[kind][1]
        kind_path = join(path, kind)
        if kind == "ratio":
            return self.ratio(value, kind_path)
        if kind == "latency":
            return self.latency(value, kind_path)
        if kind == "composite":
            return self.slm.composite(value, kind_path, owner)
        if kind == "raw":
            return self.raw(value, kind_path)
        if kind == "bool_gauge":
            return self.bool_gauge(value, kind_path)
        return read_probe(self.r, value, kind_path)

    def raw(self, node: Node, path: str) -> model.RawRatioSLI | None:
        """``raw: {error_ratio: ...}`` or ``{success_ratio: ...}``: a ratio Prometheus
        computes over ``{{.window}}``, read once per bucket (``model.RawRatioSLI``)."""
        keys = ("error_ratio", "success_ratio")
        fields = self.r.mapping(node, path, keys)
        if fields is None:
            return None
        given = [key for key in keys if fields.get(key) is not None]
        if len(given) != 1:
            self.r.report(node, path, "give exactly one of 'error_ratio' and 'success_ratio'")
            return None
        key = given[0]
        value = fields.at(key)
        if isinstance(value, ScalarNode) and not TEMPLATE_VAR.search(str(value.value)):
            fields.report(key, "must contain {{.window}}: the ratio is read once per storage "
                          "bucket over that window, e.g. " + _RAW_EXAMPLE)
            return None
        query = fields.read(key, self.query)
        if not isinstance(query, model.Template):
            return None
        return model.RawRatioSLI(query, "bad" if key == "error_ratio" else "good")

    def bool_gauge(self, node: Node, path: str) -> model.BoolGaugeSLI | None:
        """``bool_gauge: {metric: SELECTOR}``: a 0/1 gauge such as ``probe_success``,
        each raw sample one event (``model.BoolGaugeSLI``, Pyrra's ``bool_gauge``)."""
        fields = self.r.mapping(node, path, ("metric",), required=("metric",))
        if fields is None:
            return None
        gauge = fields.read("metric", self.gauge)
        return None if gauge is None else model.BoolGaugeSLI(gauge)

    def gauge(self, node: Node, path: str) -> model.Selector | None:
        """A bool gauge's selector: its raw samples are the events, so no PromQL."""
        parsed = self.plain_selector(
            node, path, "a plain series selector",
            'give the 0/1 gauge with optional matchers, such as probe_success{job="blackbox"}: '
            "each raw sample is one event",
        )
        return None if parsed is None else model.Selector(selector_text(*parsed[1:]))

    def plain_selector(
        self, node: Node, path: str, what: str, hint: str
    ) -> tuple[str, str, list[Matcher]] | None:
        """A series selector without PromQL around it, as (the text as shown in
        messages, metric name, matchers); None after reporting that it is not
        ``what``, with ``hint`` saying what to give."""
        text = self.r.string(node, path)
        if text is None:
            return None
        text = text.strip()
        shown = shorten(text, 200)
        try:
            name, matchers = parse_selector(text)
        except ValueError as exc:
            self.r.report(node, path, f"{shown!r} is not {what} ({exc}); {hint}")
            return None
        return shown, name, matchers

    def ratio(self, node: Node, path: str) -> model.RatioSLI | None:
        fields = self.r.mapping(node, path, ("good", "bad", "total"), required=("total",))
        if fields is None:
            return None
        good: model.Query | None = fields.read("good", self.query)
        bad: model.Query | None = fields.read("bad", self.query)
        total: model.Query | None = fields.read("total", self.query)
        has_good, has_bad = fields.get("good") is not None, fields.get("bad") is not None
        if has_good and has_bad:
            self.r.report(node, path, "give either 'good' or 'bad', not both")
            return None
        if not has_good and not has_bad:
            self.r.report(node, path, "missing required key 'good' or 'bad' (give one of them)")
            return None
        events = good if has_good else bad
        if events is None or total is None:
            return None
        if type(events) is not type(total):
            which = "good" if has_good else "bad"
            self.r.report(
                node,
                path,
                f"{which} and total must both be plain selectors or both {{{{.window}}}} "
                "templates: selectors are counted exactly from raw samples, templates by "
                "Prometheus, and the two do not mix into one ratio",
            )
            return None
        return model.RatioSLI(total=total, good=good, bad=bad)

    def query(self, node: Node, path: str) -> model.Query | None:
        text = self.r.string(node, path)
        if text is None:
            return None
        text = text.strip()
        if not text:
            self.r.report(node, path, "must not be empty")
            return None
        shown = shorten(text, 200)
        variables = TEMPLATE_VAR.findall(text)
        if variables:
            unknown = sorted({v for v in variables if v != ".window"})
            if unknown:
                self.r.report(
                    node,
                    path,
                    f"unknown template variable {{{{{unknown[0][:80]}}}}}; "
                    "only {{.window}} is supported",
                )
                return None
            problem = unbalanced(text)
            if problem:
                self.r.report(node, path, f"invalid PromQL template {shown!r}: {problem}")
                return None
            # one spelling, so that Template.render can substitute it
            return model.Template(TEMPLATE_VAR.sub("{{.window}}", text))
        try:
            name, matchers = parse_selector(text)
        except ValueError as exc:
            self.r.report(
                node,
                path,
                f"{shown!r} is not a plain series selector ({exc}); give a selector such as "
                f"{SELECTOR_EXAMPLE} or PromQL that counts the events in {{{{.window}}}}, "
                f"such as {TEMPLATE_EXAMPLE}",
            )
            return None
        return model.Selector(selector_text(name, matchers))

    def latency(self, node: Node, path: str) -> model.LatencySLI | None:
        fields = self.r.mapping(
            node, path, ("histogram", "threshold", "buckets"), required=("histogram", "threshold")
        )
        if fields is None:
            return None
        histogram = fields.read("histogram", self.histogram)
        threshold = fields.read("threshold", self.threshold)
        buckets = fields.read("buckets", self.buckets)
        if threshold is not None and buckets is not None:
            value, shown = threshold
            matching = [b for b in buckets if math.isclose(value, b, rel_tol=1e-9, abs_tol=1e-12)]
            if matching:
                # the declared boundary, exactly, is what the le label will carry
                threshold = (matching[0], shown)
            else:
                listed = ", ".join(number_text(b) for b in buckets)
                if len(listed) > 200:
                    listed = listed[:197] + "..."
                fields.report(
                    "threshold",
                    f"threshold {shown} is not a bucket boundary of [{listed}]; "
                    "use one of them as the threshold",
                )
                return None
        if histogram is None or threshold is None:
            return None
        return model.LatencySLI(histogram=histogram, threshold=threshold[0], buckets=buckets)

    def histogram(self, node: Node, path: str) -> model.Selector | None:
        parsed = self.plain_selector(
            node, path, "a histogram selector",
            "give the histogram's base name with optional matchers, such as "
            'http_request_duration_seconds{job="api"}',
        )
        if parsed is None:
            return None
        shown, name, matchers = parsed
        if not name:
            self.r.report(
                node, path, f"{shown!r} needs a metric name, such as http_request_duration_seconds"
            )
            return None
        for suffix in ("_bucket", "_count", "_sum"):
            if name.endswith(suffix):
                self.r.report(
                    node,
                    path,
                    f"give the histogram's base name {name.removesuffix(suffix)!r}, "
                    f"without {suffix}",
                )
                return None
        for label, _, _ in matchers:
            if label in ("le", "__name__"):
                self.r.report(
                    node, path, f"the selector must not match on {label!r}; the exporter sets it"
                )
                return None
        return model.Selector(selector_text(name, matchers))

    def threshold(self, node: Node, path: str) -> tuple[float, str] | None:
        """The threshold in seconds (or histogram units) and how to show it in messages."""
        if isinstance(node, ScalarNode) and node.tag in (INT, FLOAT):
            value = self.r.number(node, path)
            shown = None if value is None else number_text(value)
        else:
            value = self.r.duration(node, path)
            shown = None if value is None else f"{number_text(value)}s"
        if value is None or shown is None:
            return None
        if value <= 0:
            self.r.report(node, path, f"must be greater than 0, got {describe(node)}")
            return None
        return value, shown

    def buckets(self, node: Node, path: str) -> tuple[float, ...] | None:
        items = self.r.sequence(node, path, "bucket boundaries (numbers)")
        if items is None:
            return None
        if not items:
            self.r.report(node, path, "must list at least one bucket boundary")
            return None
        values = [self.r.number(item, item_path) for item, item_path in items]
        if any(v is None for v in values):
            return None
        bounds = tuple(v for v in values if v is not None)
        for (previous, current), (item, item_path) in zip(
            itertools.pairwise(bounds), items[1:], strict=True
        ):
            if current <= previous:
                self.r.report(
                    item,
                    item_path,
                    f"bucket boundaries must increase, got {number_text(current)} "
                    f"after {number_text(previous)}",
                )
                return None
        return bounds


__all__ = ["NativeLoader"]
