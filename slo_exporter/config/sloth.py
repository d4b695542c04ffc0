"""The Sloth dialect: ``prometheus/v1`` specs and the ``PrometheusServiceLevel`` CRD.

Owns reading Sloth documents into native services: one service per
document, one native ratio SLO per Sloth SLO, over Sloth's default 30-day
rolling period. An events SLI whose queries are both exactly
``sum(rate(SELECTOR[{{.window}}]))`` becomes a pair of plain selectors
(counted exactly from raw samples); any other events SLI keeps its queries
as ``{{.window}}`` templates evaluated by Prometheus (both queries are rates
over the same window, so their ratio is the error ratio).

A raw SLI (``error_ratio_query``) becomes a raw ratio SLI over the same
``{{.window}}`` template. The ``alerting`` settings become the SLO's alert
settings the way Sloth's generated rules combine them: the one ``name``
for both severities, the common ``labels``/``annotations`` overridden by
the page's or ticket's own, ``disable`` as disabled. ``AlertWindows``
catalogs (``sloth.slok.dev/v1``, in any file of the config) replace the
alert windows of the SLOs whose period they name (Sloth's is always 30
days); once catalogs are given, an SLO whose period has none is an error,
as in Sloth.

Everything the native model cannot hold is rejected with a located reason,
never ignored: SLI and SLO plugins (they run Go code).

Must not do I/O; must not know the other dialects.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from yaml.nodes import MappingNode, Node, SequenceNode

from slo_exporter import model
from slo_exporter.config.alerting import (
    check_windows,
    read_alert_labels,
    read_alert_name,
    read_annotations,
    settings,
)
from slo_exporter.config.dialects import Context, detect, document_path
from slo_exporter.config.fields import Reader, number_text
from slo_exporter.config.native import object_name, read_labels, read_objective
from slo_exporter.config.nodes import Document, describe
from slo_exporter.config.promql import TEMPLATE_VAR, parse_selector, selector_text, unbalanced
from slo_exporter.config.text import shorten
from slo_exporter.durations import format_duration

#: Sloth's default SLO period (its --default-slo-period)
PERIOD = 30 * 86400.0
CRD_API = "sloth.slok.dev/v1"
CRD_KIND = "PrometheusServiceLevel"
WINDOWS_KIND = "AlertWindows"

#: sum(rate(SELECTOR[{{.window}}])), spaces allowed where PromQL allows them
_SUM_RATE = re.compile(
    r"\s*sum\s*\(\s*rate\s*\(\s*(?P<selector>.+?)\s*\[\s*\{\{\s*\.window\s*\}\}\s*\]\s*\)\s*\)\s*",
    re.DOTALL,
)


@dataclass(frozen=True)
class _Spelling:
    """The key names of one Sloth form: ``prometheus/v1`` is snake_case, the CRD camelCase."""

    error_query: str
    total_query: str
    error_ratio_query: str
    page_alert: str
    ticket_alert: str
    slo_plugins: str


_PROMETHEUS = _Spelling(
    "error_query", "total_query", "error_ratio_query", "page_alert", "ticket_alert", "slo_plugins"
)
_CRD = _Spelling(
    "errorQuery", "totalQuery", "errorRatioQuery", "pageAlert", "ticketAlert", "sloPlugins"
)

_PLUGINS_REASON = (
    "SLO plugins are not supported: they run Go code inside Sloth; remove the plugin chain "
    "(the exporter computes burn rates and alerts itself)"
)


@dataclass(frozen=True)
class _Catalog:
    """One ``AlertWindows`` catalog: its windows, and where it was defined."""

    period: float
    windows: tuple[model.AlertWindow, ...]
    where: str  # file:line (documents[0].spec.sloPeriod)


@dataclass
class _Catalogs:
    """The catalogs of every file of one config, by period, and the files read for them."""

    by_period: dict[float, _Catalog] = field(default_factory=dict)
    files: set[str] = field(default_factory=set)

    def windows_for(self, period: float) -> tuple[model.AlertWindow, ...] | None:
        """The windows of ``period``: its catalog's, the defaults without any catalog,
        None when catalogs are given but none for it."""
        if not self.by_period:
            return model.ALERT_WINDOWS
        catalog = self.by_period.get(period)
        return None if catalog is None else catalog.windows


def _catalogs(context: Context) -> _Catalogs:
    catalogs = context.shared.setdefault("sloth", _Catalogs())
    assert isinstance(catalogs, _Catalogs)
    return catalogs


def prepare(documents: Sequence[Document], reader: Reader, context: Context) -> None:
    """Read the ``AlertWindows`` catalogs of one file (once) into the config's catalogs."""
    catalogs = _catalogs(context)
    if context.file in catalogs.files:
        return
    catalogs.files.add(context.file)
    for document in documents:
        if _top_kind(document) == WINDOWS_KIND and detect(document) == "sloth":
            _read_catalog(document, reader, context, catalogs)


def _top_kind(document: Document) -> str | None:
    root = document.root
    if not isinstance(root, MappingNode):
        return None
    for key, value in root.value:
        if getattr(key, "value", None) == "kind":
            return str(value.value) if isinstance(value.value, str) else None
    return None


_SEVERITY_KEYS = ("page", "ticket")
_SPEED_KEYS = ("quick", "slow")
_WINDOW_KEYS = ("errorBudgetPercent", "shortWindow", "longWindow")


def _read_catalog(document: Document, r: Reader, context: Context, catalogs: _Catalogs) -> None:
    path = document_path(document)
    file, resolution = context.file, context.storage.resolution
    fields = r.mapping(document.root, path, ("apiVersion", "kind", "metadata", "spec"),
                       required=("spec",))
    if fields is None:
        return
    if fields.string("apiVersion") != CRD_API:
        fields.report("apiVersion",
                      f"must be {CRD_API!r}, got {describe(fields.at('apiVersion'))}")
        return
    spec_path = fields.key_path("spec")
    spec = r.mapping(fields.at("spec"), spec_path, ("sloPeriod", *_SEVERITY_KEYS),
                     required=("sloPeriod", *_SEVERITY_KEYS))
    if spec is None:
        return
    period = spec.duration("sloPeriod", above_zero=True)
    windows: list[tuple[model.AlertWindow, Node, str]] = []
    ok = True
    for severity in _SEVERITY_KEYS:
        node = spec.get(severity)
        if node is None:
            ok = False
            continue
        speeds = r.mapping(node, spec.key_path(severity), _SPEED_KEYS, required=_SPEED_KEYS)
        if speeds is None:
            ok = False
            continue
        for speed in _SPEED_KEYS:
            inner = speeds.get(speed)
            window = None if inner is None else _catalog_window(
                r, inner, speeds.key_path(speed), severity, resolution)
            if window is None or inner is None:
                ok = False
            else:
                windows.append((window, inner, speeds.key_path(speed)))
    if period is None or not ok:
        return
    if not check_windows(r, windows, model.RollingPeriod(period)):
        return
    line = spec.at("sloPeriod").start_mark.line + 1
    where = f"{file}:{line} ({spec.key_path('sloPeriod')})"
    first = catalogs.by_period.get(period)
    if first is not None:
        spec.report("sloPeriod", f"a second AlertWindows catalog for the SLO period "
                                 f"{format_duration(period)}: the first is at {first.where}")
        return
    catalogs.by_period[period] = _Catalog(period, tuple(w for w, _, _ in windows), where)
    if period != PERIOD:
        # Sloth's --default-slo-period has no place in a spec: every SLO is read as 30d
        r.warn(spec.at("sloPeriod"), spec.key_path("sloPeriod"), (
            f"this catalog for {format_duration(period)} serves no SLO: Sloth specs are read "
            f"with Sloth's default period {format_duration(PERIOD)} (a spec has no period "
            "field); for another period write the SLOs natively"))


def _catalog_window(
    r: Reader, node: Node, path: str, severity: str, resolution: float
) -> model.AlertWindow | None:
    fields = r.mapping(node, path, _WINDOW_KEYS, required=_WINDOW_KEYS)
    if fields is None:
        return None
    percent = fields.read("errorBudgetPercent", r.number)
    short = fields.duration("shortWindow", above_zero=True)
    long = fields.duration("longWindow", above_zero=True)
    if percent is not None and not 0.0 < percent <= 100.0:
        fields.report("errorBudgetPercent",
                      f"must be a percentage above 0 and at most 100, got {number_text(percent)}")
        return None
    if percent is None or short is None or long is None:
        return None
    for key, seconds in (("shortWindow", short), ("longWindow", long)):
        if round(seconds * 1000) % round(resolution * 1000):
            fields.report(key, f"must be a multiple of storage.resolution "
                               f"({format_duration(resolution)}), got "
                               f"{describe(fields.at(key))}")
            return None
    if not short < long:
        fields.report("shortWindow", f"must be shorter than longWindow ({format_duration(long)}), "
                                     f"got {describe(fields.at('shortWindow'))}")
        return None
    return model.AlertWindow(severity, long, short, percent / 100.0)


def load(documents: Sequence[Document], reader: Reader, context: Context) -> list[model.Service]:
    """The services of Sloth ``documents``; problems go to ``reader``."""
    prepare(documents, reader, context)
    loader = _SlothLoader(reader, _catalogs(context))
    return [service for document in documents
            if (service := loader.document(document)) is not None]


class _SlothLoader:
    def __init__(self, reader: Reader, catalogs: _Catalogs) -> None:
        self.r = reader
        self.keys = _PROMETHEUS
        self.catalogs = catalogs

    def document(self, document: Document) -> model.Service | None:
        root, path = document.root, document_path(document)
        if not isinstance(root, MappingNode):
            self.r.report(root, path, f"must be a mapping, got {describe(root)}")
            return None
        entries = self.r.entries(root, path)
        if "apiVersion" in entries or "kind" in entries:
            self.keys = _CRD
            return self.crd(root, path)
        self.keys = _PROMETHEUS
        return self.spec(root, path, ("version",))

    def crd(self, root: Node, path: str) -> model.Service | None:
        fields = self.r.mapping(
            root, path, ("apiVersion", "kind", "metadata", "spec"), required=("kind",)
        )
        if fields is None:
            return None
        api = fields.string("apiVersion")
        kind = fields.string("kind")
        if api != CRD_API:
            fields.report(
                "apiVersion", f"must be {CRD_API!r}, got {describe(fields.at('apiVersion'))}"
            )
            return None
        if kind == WINDOWS_KIND:
            return None  # read by ``prepare``
        if kind != CRD_KIND:
            fields.report("kind", f"must be {CRD_KIND!r}, got {describe(fields.at('kind'))}")
            return None
        spec = fields.get("spec")
        if spec is None:
            self.r.report(root, path, "missing required key 'spec'")
            return None
        return self.spec(spec, fields.key_path("spec"), ())

    def spec(self, node: Node, path: str, header: tuple[str, ...]) -> model.Service | None:
        fields = self.r.mapping(
            node,
            path,
            (*header, "service", "labels", "slos", self.keys.slo_plugins),
            required=("service", "slos"),
        )
        if fields is None:
            return None
        if fields.get(self.keys.slo_plugins) is not None:
            fields.report(self.keys.slo_plugins, _PLUGINS_REASON)
        if "version" in header:
            version = fields.string("version")
            if version is not None and version != "prometheus/v1":
                fields.report(
                    "version", f"must be 'prometheus/v1', got {describe(fields.at('version'))}"
                )
        name = object_name(fields, "service")
        labels = fields.read("labels", lambda n, p: read_labels(self.r, n, p)) or {}
        slos_node = fields.get("slos")
        if slos_node is None:
            return None
        items = self.r.sequence(slos_node, fields.key_path("slos"), "SLOs")
        if items is None:
            return None
        if not items:
            self.r.report(slos_node, fields.key_path("slos"), "must list at least one SLO")
            return None
        seen: dict[str, str] = {}
        slos = [self.slo(item, item_path, name or "", labels, seen) for item, item_path in items]
        if name is None or any(slo is None for slo in slos):
            return None
        return model.Service(
            name=name,
            slos=tuple(slo for slo in slos if slo is not None),
            labels=model.frozen_map(labels),
        )

    def slo(
        self,
        node: Node,
        path: str,
        service: str,
        service_labels: dict[str, str],
        seen: dict[str, str],
    ) -> model.SLO | None:
        fields = self.r.mapping(
            node,
            path,
            ("name", "objective", "description", "labels", "sli", "alerting", "plugins"),
            required=("name", "objective", "sli"),
        )
        if fields is None:
            return None
        name = object_name(fields, "name")
        if name is not None and name in seen:
            fields.report("name", f"duplicate SLO name {name!r} (first defined at {seen[name]})")
            name = None
        elif name is not None:
            seen[name] = fields.key_path("name")
        objective = fields.read("objective", lambda n, p: read_objective(self.r, n, p))
        description = fields.string("description") or ""
        labels = fields.read("labels", lambda n, p: read_labels(self.r, n, p)) or {}
        sli = fields.read("sli", self.sli)
        windows = self.catalogs.windows_for(PERIOD)
        if windows is None:
            given = ", ".join(f"{format_duration(c.period)} at {c.where}"
                              for c in self.catalogs.by_period.values())
            self.r.report(node, path, (
                f"no AlertWindows catalog for this SLO's period {format_duration(PERIOD)} "
                f"(Sloth's default period); the catalogs given are for: {given}; add a "
                f"catalog with sloPeriod: {format_duration(PERIOD)}"))
        base = model.Alerting(windows=windows or model.ALERT_WINDOWS)
        alerting = (fields.read("alerting", lambda n, p: self.alerting(n, p, base))
                    if fields.has("alerting") else base)
        plugins = fields.get("plugins") is not None
        if plugins:
            fields.report("plugins", _PLUGINS_REASON)
        if (name is None or objective is None or sli is None or alerting is None
                or windows is None or plugins):
            return None
        return model.SLO(
            service=service,
            name=name,
            objective=objective,
            period=model.RollingPeriod(PERIOD),
            sli=sli,
            description=description,
            labels=model.frozen_map({**service_labels, **labels}),
            alerting=alerting,
        )

    def alerting(self, node: Node, path: str, base: model.Alerting) -> model.Alerting | None:
        """``base`` with the settings of an ``alerting`` block, combined as Sloth's rules are."""
        keys = self.keys
        fields = self.r.mapping(
            node, path, ("name", "labels", "annotations", keys.page_alert, keys.ticket_alert)
        )
        if fields is None:
            return None
        r = self.r
        name = (fields.read("name", lambda n, p: read_alert_name(r, n, p))
                if _set(fields.get("name")) else None)
        labels = fields.read("labels", lambda n, p: read_alert_labels(r, n, p))
        annotations = fields.read("annotations", lambda n, p: read_annotations(r, n, p))
        ok = not any(_set(fields.get(key)) and value is None for key, value in (
            ("name", name), ("labels", labels), ("annotations", annotations)))
        out: dict[str, model.AlertSettings] = {}
        for severity, key in (("page", keys.page_alert), ("ticket", keys.ticket_alert)):
            own = fields.read(key, self.severity) if _set(fields.get(key)) else (False, {}, {})
            if own is None:
                ok = False
                continue
            disable, own_labels, own_annotations = own
            out[severity] = settings(
                name,
                {**(labels or {}), **own_labels},
                {**(annotations or {}), **own_annotations},
                disabled=disable,
            )
        if ok and name is None and not all(o.disabled for o in out.values()):
            # Sloth's own validation: every enabled alert needs the name
            where = fields.get("name")
            r.report(node if where is None else where,
                     path if where is None else fields.key_path("name"),
                     "must name the alerts (Sloth requires a name unless both "
                     f"{keys.page_alert} and {keys.ticket_alert} are disabled)")
            ok = False
        if not ok:
            return None
        return model.Alerting(windows=base.windows, page=out["page"], ticket=out["ticket"])

    def severity(
        self, node: Node, path: str
    ) -> tuple[bool, dict[str, str], dict[str, str]] | None:
        """A ``page_alert``/``ticket_alert`` block: ``disable``, its labels and annotations."""
        r = self.r
        fields = r.mapping(node, path, ("disable", "labels", "annotations"))
        if fields is None:
            return None
        labels = fields.read("labels", lambda n, p: read_alert_labels(r, n, p))
        annotations = fields.read("annotations", lambda n, p: read_annotations(r, n, p))
        disable = fields.boolean("disable") if _set(fields.get("disable")) else False
        if disable is None or any(_set(fields.get(k)) and v is None for k, v in (
                ("labels", labels), ("annotations", annotations))):
            return None
        return disable, labels or {}, annotations or {}

    def sli(self, node: Node, path: str) -> model.RatioSLI | model.RawRatioSLI | None:
        fields = self.r.mapping(node, path, ("events", "raw", "plugin"))
        if fields is None:
            return None
        given = [key for key in ("events", "raw", "plugin") if fields.get(key) is not None]
        if len(given) != 1:
            self.r.report(
                node, path, f"must have exactly one of events, raw, plugin, got {len(given)}"
            )
            return None
        kind = given[0]
        if kind == "plugin":
            fields.report(
                "plugin",
                "SLI plugins are not supported: they run Go code inside Sloth; write the "
                "plugin's queries as an 'events' SLI instead",
            )
            return None
        if kind == "raw":
            return self.raw(fields.at("raw"), fields.key_path("raw"))
        return self.events(fields.at("events"), fields.key_path("events"))

    def raw(self, node: Node, path: str) -> model.RawRatioSLI | None:
        """``error_ratio_query``: an error ratio Prometheus computes over ``{{.window}}``."""
        key = self.keys.error_ratio_query
        fields = self.r.mapping(node, path, (key,), required=(key,))
        if fields is None:
            return None
        query = fields.read(key, self.template)
        return None if query is None else model.RawRatioSLI(model.Template(query), "bad")

    def events(self, node: Node, path: str) -> model.RatioSLI | None:
        error_key, total_key = self.keys.error_query, self.keys.total_query
        fields = self.r.mapping(node, path, (error_key, total_key), required=(error_key, total_key))
        if fields is None:
            return None
        error = fields.read(error_key, self.template)
        total = fields.read(total_key, self.template)
        if error is None or total is None:
            return None
        error_selector, total_selector = _selector(error), _selector(total)
        if error_selector is not None and total_selector is not None:
            return model.RatioSLI(
                total=model.Selector(total_selector), bad=model.Selector(error_selector)
            )
        return model.RatioSLI(total=model.Template(total), bad=model.Template(error))

    def template(self, node: Node, path: str) -> str | None:
        text = self.r.string(node, path)
        if text is None:
            return None
        text = text.strip()
        if not text:
            self.r.report(node, path, "must not be empty")
            return None
        variables = TEMPLATE_VAR.findall(text)
        unknown = sorted({v for v in variables if v != ".window"})
        if unknown:
            self.r.report(
                node,
                path,
                f"unknown template variable {{{{{unknown[0][:80]}}}}}; only {{{{.window}}}} "
                "is supported",
            )
            return None
        if not variables:
            self.r.report(
                node,
                path,
                "must use {{.window}} (the query is a rate over each alert window), such as "
                'sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))',
            )
            return None
        problem = unbalanced(text)
        if problem:
            shown = shorten(text, 200)
            self.r.report(node, path, f"invalid PromQL template {shown!r}: {problem}")
            return None
        return TEMPLATE_VAR.sub("{{.window}}", text)


def _set(node: Node | None) -> bool:
    """Whether an optional value is given: not absent, null, empty text or an empty mapping."""
    if node is None:
        return False
    if isinstance(node, MappingNode | SequenceNode):
        return bool(node.value)
    return bool(str(node.value).strip())


def _selector(query: str) -> str | None:
    """The selector of ``sum(rate(SELECTOR[{{.window}}]))``, or None for any other query.

    Over one window, ``sum(rate(s[w]))`` is the increase of ``s`` divided by
    ``w`` for both queries of an SLI, so their ratio equals the ratio of the
    exact event counts the native selector path measures.
    """
    match = _SUM_RATE.fullmatch(query)
    if match is None:
        return None
    try:
        name, matchers = parse_selector(match.group("selector"))
    except ValueError:
        return None
    return selector_text(name, matchers)
