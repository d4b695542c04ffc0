"""The Sloth dialect: ``prometheus/v1`` specs and the ``PrometheusServiceLevel`` CRD.

Owns reading Sloth documents into native services: one service per
document, one native ratio SLO per Sloth SLO, over Sloth's default 30-day
rolling period. An events SLI whose queries are both exactly
``sum(rate(SELECTOR[{{.window}}]))`` becomes a pair of plain selectors
(counted exactly from raw samples); any other events SLI keeps its queries
as ``{{.window}}`` templates evaluated by Prometheus (both queries are rates
over the same window, so their ratio is the error ratio).

Everything the native model cannot hold is rejected with a located reason,
never ignored: SLI plugins (they run Go code), raw error-ratio SLIs (no
event counts), and the ``alerting`` settings (the exporter's alerts have
fixed names and windows). ``AlertWindows`` catalogs are rejected too.

Must not do I/O; must not know the other dialects.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from yaml.nodes import MappingNode, Node, SequenceNode

from slo_exporter import model
from slo_exporter.config.dialects import Context, document_path
from slo_exporter.config.fields import Reader
from slo_exporter.config.native import object_name, read_labels, read_objective
from slo_exporter.config.nodes import Document, describe
from slo_exporter.config.promql import TEMPLATE_VAR, parse_selector, selector_text, unbalanced

#: Sloth's default SLO period (its --default-slo-period)
PERIOD = 30 * 86400.0
CRD_API = "sloth.slok.dev/v1"
CRD_KIND = "PrometheusServiceLevel"

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
_ALERTING_REASON = (
    "Sloth alert settings are not supported yet: the exporter's page and ticket alerts have "
    "fixed names and labels (slo_info's labels reach every alert) and cannot be disabled per "
    "SLO, so alert names, labels, annotations and 'disable' cannot be honoured; remove them "
    "to load this SLO"
)


def load(documents: Sequence[Document], reader: Reader, context: Context) -> list[model.Service]:
    """The services of Sloth ``documents``; problems go to ``reader``."""
    loader = _SlothLoader(reader)
    services: list[model.Service] = []
    for document in documents:
        service = loader.document(document)
        if service is not None:
            services.append(service)
    return services


class _SlothLoader:
    def __init__(self, reader: Reader) -> None:
        self.r = reader
        self.keys = _PROMETHEUS

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
        if kind == "AlertWindows":
            fields.report(
                "kind",
                "custom AlertWindows catalogs are not supported: the exporter's alert windows "
                "are fixed (5m/1h, 30m/6h, 2h/1d, 6h/3d) and cannot be replaced",
            )
            return None
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
        alerting_ok = fields.read("alerting", self.alerting)
        if fields.get("plugins") is not None:
            fields.report("plugins", _PLUGINS_REASON)
            alerting_ok = False
        if name is None or objective is None or sli is None or alerting_ok is False:
            return None
        return model.SLO(
            service=service,
            name=name,
            objective=objective,
            period=model.RollingPeriod(PERIOD),
            sli=sli,
            description=description,
            labels=model.frozen_map({**service_labels, **labels}),
        )

    def alerting(self, node: Node, path: str) -> bool:
        """Whether the block asks for nothing the exporter cannot honour; reports it if it does."""
        keys = self.keys
        fields = self.r.mapping(
            node, path, ("name", "labels", "annotations", keys.page_alert, keys.ticket_alert)
        )
        if fields is None:
            return False
        given = [key for key in ("name", "labels", "annotations") if _set(fields.get(key))]
        for key in (keys.page_alert, keys.ticket_alert):
            alert = fields.get(key)
            if alert is None:
                continue
            inner = self.r.mapping(
                alert, fields.key_path(key), ("disable", "labels", "annotations")
            )
            if inner is None:
                return False
            disable = inner.boolean("disable")
            if disable:
                given.append(f"{key}.disable")
            given.extend(f"{key}.{k}" for k in ("labels", "annotations") if _set(inner.get(k)))
        if not given:
            return True
        self.r.report(node, path, f"{_ALERTING_REASON} (given: {', '.join(given)})")
        return False

    def sli(self, node: Node, path: str) -> model.RatioSLI | None:
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
            fields.report(
                "raw",
                "raw error-ratio SLIs are not supported yet: the exporter counts bad and total "
                "events, and an error ratio carries no counts; use an 'events' SLI "
                "(error_query and total_query)",
            )
            return None
        return self.events(fields.at("events"), fields.key_path("events"))

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
            shown = text if len(text) <= 200 else text[:197] + "..."
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
