"""The Pyrra dialect: ``pyrra.dev/v1alpha1`` ``ServiceLevelObjective`` documents.

Owns reading Pyrra objectives into native services, one service holding one
SLO per document, both named by ``metadata.name`` (Pyrra's ``slo`` label);
the namespace and the ``pyrra.dev/``-prefixed labels become SLO labels, as
Pyrra puts them on its rules. The period is the rolling ``spec.window``.
Indicators map to exact SLIs: ``ratio`` to plain selectors (errors/total),
``latency`` to a histogram SLI when its two selectors are the ``_bucket``
and ``_count`` of one histogram (else an exact ratio of the two
selectors), ``bool_gauge`` to a bool gauge SLI (each raw sample one event),
``grouping`` to ``SLO.group_by`` (checked as the native ``group_by`` is).
Pyrra's four multiwindow burn-rate alerts, whose windows scale with the SLO
window, become the SLO's own alert windows (``pyrra_windows``); its critical
and warning alerts are our page and ticket alerts, keeping Pyrra's alert
name and ``severity`` text.

Rejected with a located reason, never ignored: ``latencyNative`` (native
histograms), alert names and severities the model cannot express (an absent
alert name or severity, different severities within page or ticket), and
windows too short for Pyrra's alert windows. Fields that only shape how Pyrra
writes its rules (``performanceOverAccuracy``, ``ruleOutput``,
``partial_response_strategy: warn``) and ``alerting.absent: false`` load
with a warning saying what they do here.

Must not do I/O; must not know the other dialects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from yaml.nodes import Node, ScalarNode

from slo_exporter import model
from slo_exporter.config.dialects import Context, document_path
from slo_exporter.config.fields import Fields, Reader
from slo_exporter.config.grouping import group_labels, sli_problem
from slo_exporter.config.native import object_name
from slo_exporter.config.nodes import FLOAT, INT, STR, Document, describe
from slo_exporter.config.promql import METRIC_NAME, Matcher, parse_selector, selector_text
from slo_exporter.config.text import LABEL_NAME, label_name_problem, label_value_problem, shorten
from slo_exporter.durations import format_duration

API = "pyrra.dev/v1alpha1"
KIND = "ServiceLevelObjective"
#: labels and annotations with this prefix reach Pyrra's rules (prefix removed)
PROPAGATE = "pyrra.dev/"
#: Pyrra's burn-rate alert name when ``alerting.name`` is not given
ALERT_NAME = "ErrorBudgetBurn"
#: the shortest and longest SLO window read (as for native windows)
WINDOW = (3600.0, 365 * 86400.0)

#: Kubernetes object metadata: only name, namespace, labels and annotations
#: mean anything for an SLO; the rest is kept by the API server
_METADATA = (
    "name", "namespace", "labels", "annotations", "generateName", "uid", "resourceVersion",
    "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
    "ownerReferences", "finalizers", "managedFields", "selfLink",
)
_SPEC = (
    "target", "window", "description", "indicator", "alerting",
    "partial_response_strategy", "performanceOverAccuracy", "ruleOutput",
)
_INDICATORS = ("ratio", "latency", "latencyNative", "bool_gauge")
#: Pyrra's ``alerting.severities`` keys, one per alert window of ``_TIERS``, in order
_TIER_KEYS = ("fastBurn", "mediumBurn", "slowBurn", "longTermBurn")

_LATENCY_NATIVE_REASON = (
    "latencyNative is not supported: it reads a native histogram, which the exporter cannot "
    "count exactly and which cannot be tested against the Prometheus it is tested with "
    "(Prometheus 2.42 ingests native histograms only behind an experimental feature flag and "
    "only from protobuf scrapes, and promtool cannot backfill them); Pyrra's histogram_fraction "
    "also interpolates inside a bucket, so it is not an event count. Use 'latency' with a "
    "classic histogram (success: NAME_bucket{le=\"0.2\"}, total: NAME_count) instead"
)


# ------------------------------------------------------------ alert windows


@dataclass(frozen=True)
class PyrraWindow:
    """One of Pyrra's multiwindow burn-rate alerts for an SLO window."""

    severity: str  # Pyrra's default: "critical" or "warning"
    long: float  # seconds
    short: float
    for_: float  # how long the condition must hold before Pyrra's alert fires
    factor: float  # burn-rate threshold: fires above factor * (1 - target)


#: (severity, factor, then long, short and for as divisors of the SLO window).
#: Pyrra scales the workbook's 28-day windows (1h/5m for 2m, 6h/30m for 15m,
#: 1d/2h for 1h, 4d/6h for 3h) to the SLO window.
_TIERS: tuple[tuple[str, float, int, int, int], ...] = (
    ("critical", 14.0, 672, 8064, 20160),
    ("critical", 7.0, 112, 1344, 2688),
    ("warning", 2.0, 28, 336, 672),
    ("warning", 1.0, 7, 112, 224),
)
_NS = 1_000_000_000
_MINUTE_NS = 60 * _NS


def _scaled(window_ns: int, divisor: int) -> float:
    """``window / divisor`` as Pyrra computes it, in seconds: integer nanoseconds,
    truncated, then rounded to whole minutes with halves rounded up."""
    part = window_ns // divisor
    rest = part % _MINUTE_NS
    rounded = part - rest if rest * 2 < _MINUTE_NS else part - rest + _MINUTE_NS
    return rounded / _NS


def pyrra_windows(window: float) -> tuple[PyrraWindow, ...]:
    """Pyrra's four burn-rate alerts for an SLO window of ``window`` seconds."""
    window_ns = round(window * 1000) * 1_000_000
    return tuple(
        PyrraWindow(
            severity,
            _scaled(window_ns, long),
            _scaled(window_ns, short),
            _scaled(window_ns, for_),
            factor,
        )
        for severity, factor, long, short, for_ in _TIERS
    )


#: Pyrra severities -> ours
_SEVERITIES = {"critical": "page", "warning": "ticket"}

#: the shortest window whose fast-burn short window does not round to 0m
MIN_ALERT_WINDOW = 8064 * 30.0


def load(documents: Sequence[Document], reader: Reader, context: Context) -> list[model.Service]:
    """The services of Pyrra ``documents``; problems go to ``reader``."""
    loader = _PyrraLoader(reader, context)
    return [service for document in documents
            if (service := loader.document(document)) is not None]


@dataclass(frozen=True)
class _Metadata:
    name: str
    labels: dict[str, str]
    annotations: dict[str, str]


class _PyrraLoader:
    def __init__(self, reader: Reader, context: Context) -> None:
        self.r = reader
        self.resolution = context.storage.resolution

    def document(self, document: Document) -> model.Service | None:
        path = document_path(document)
        fields = self.r.mapping(
            document.root,
            path,
            ("apiVersion", "kind", "metadata", "spec", "status"),
            required=("apiVersion", "kind", "metadata", "spec"),
        )
        if fields is None:
            return None
        api, kind = fields.string("apiVersion"), fields.string("kind")
        if api is not None and api != API:
            fields.report(
                "apiVersion", f"must be {API!r}, got {describe(fields.at('apiVersion'))}"
            )
            return None
        if kind is not None and kind != KIND:
            fields.report("kind", f"must be {KIND!r}, got {describe(fields.at('kind'))}")
            return None
        metadata = fields.read("metadata", self.metadata)
        spec = fields.get("spec")
        if spec is None or metadata is None:
            if spec is not None:
                self.spec(spec, fields.key_path("spec"), _Metadata("", {}, {}))
            return None
        slo = self.spec(spec, fields.key_path("spec"), metadata)
        if slo is None:
            return None
        return model.Service(name=metadata.name, slos=(slo,))

    # -------------------------------------------------------------- metadata

    def metadata(self, node: Node, path: str) -> _Metadata | None:
        fields = self.r.mapping(node, path, _METADATA, required=("name",))
        if fields is None:
            return None
        name = object_name(fields, "name")
        labels: dict[str, str] = {}
        namespace = fields.string("namespace", non_empty=True)
        if namespace is not None:
            labels["namespace"] = namespace
        propagated = fields.read("labels", lambda n, p: self.propagated(n, p, "label")) or {}
        labels.update(propagated)
        annotations = (
            fields.read("annotations", lambda n, p: self.propagated(n, p, "annotation")) or {}
        )
        if name is None:
            return None
        return _Metadata(name, labels, annotations)

    def propagated(self, node: Node, path: str, what: str) -> dict[str, str] | None:
        """The ``pyrra.dev/``-prefixed entries of ``node``, prefix removed.

        Pyrra copies only these to its rules and alerts; other labels and
        annotations are Kubernetes' (the ``prometheus: k8s`` label picks the
        Prometheus that loads Pyrra's rules) and mean nothing to an SLO.
        """
        entries = self.r.free_mapping(node, path, f"{what} names to values")
        if entries is None:
            return None
        out: dict[str, str] = {}
        for key, (key_node, value_node) in entries.items():
            if not key.startswith(PROPAGATE):
                continue
            name = key.removeprefix(PROPAGATE)
            key_path = f"{path}.{key}"
            if what == "label":
                problem = label_name_problem(name)
            elif not LABEL_NAME.fullmatch(name):
                problem = (
                    f"invalid annotation name {name[:80]!r}: must match [a-zA-Z_][a-zA-Z0-9_]*"
                )
            else:
                problem = None
            if problem:
                self.r.report(key_node, key_path, problem)
                continue
            value = self.r.string(value_node, key_path)
            if value is None:
                continue
            if what == "label" and label_value_problem(value):
                self.r.report(value_node, key_path, "label values must not be empty")
                continue
            out[name] = value
        return out

    # ------------------------------------------------------------------ spec

    def spec(self, node: Node, path: str, metadata: _Metadata) -> model.SLO | None:
        fields = self.r.mapping(node, path, _SPEC, required=("target", "window", "indicator"))
        if fields is None:
            return None
        objective = fields.read("target", self.target)
        window = fields.read("window", self.window)
        description = fields.string("description") or ""
        indicator = fields.read(
            "indicator", lambda n, p: self.indicator(n, p, metadata.labels)
        )
        alerting = self.alerting(fields, window, metadata)
        self.no_effect(fields)
        if (
            not metadata.name
            or objective is None
            or window is None
            or indicator is None
            or alerting is None
        ):
            return None
        sli, group_by = indicator
        return model.SLO(
            service=metadata.name,
            name=metadata.name,
            objective=objective,
            period=model.RollingPeriod(window),
            sli=sli,
            description=description,
            labels=model.frozen_map(metadata.labels),
            alerting=alerting,
            group_by=group_by,
        )

    def target(self, node: Node, path: str) -> float | None:
        """``spec.target``: a percentage as text (``'99.9'``), the ratio it means."""
        if not (isinstance(node, ScalarNode) and node.tag in (STR, INT, FLOAT)):
            self.r.report(node, path, f"must be a percentage such as '99.9', got {describe(node)}")
            return None
        text = str(node.value).strip()
        try:
            percent = Decimal(text)
        except InvalidOperation:
            percent = Decimal("NaN")
        if not percent.is_finite():
            self.r.report(node, path, f"must be a percentage such as '99.9', got {describe(node)}")
            return None
        if not 0 < percent < 100:
            self.r.report(
                node,
                path,
                f"must be a percentage strictly between 0 and 100, got {describe(node)} "
                "(a target of 100 leaves no error budget)",
            )
            return None
        if percent < 1:
            self.r.warn(
                node,
                path,
                f"target is a percentage from 0 to 100: {text} means {text} %; "
                f"did you mean {percent * 100}?",
            )
        ratio = float(percent / 100)
        if not 0.0 < ratio < 1.0:
            # more digits than a double holds: no error budget (or no objective) left
            self.r.report(node, path, f"{text} is {'0' if ratio == 0 else '100'} % once held "
                                      "as a number (a double); write fewer digits")
            return None
        return ratio

    def window(self, node: Node, path: str) -> float | None:
        """``spec.window``: the rolling period, long enough for Pyrra's alert windows."""
        window = self.r.duration(node, path, maximum=WINDOW[1])
        if window is None:
            return None
        if not WINDOW[0] <= window <= WINDOW[1]:
            self.r.report(
                node,
                path,
                f"must be between {format_duration(WINDOW[0])} and "
                f"{format_duration(WINDOW[1])}, got {describe(node)}",
            )
            return None
        if window < MIN_ALERT_WINDOW:
            self.r.report(
                node,
                path,
                f"must be at least {format_duration(MIN_ALERT_WINDOW)}, got {describe(node)}: "
                "Pyrra's alert windows scale with the SLO window, and below that its fast-burn "
                "short window (window / 8064) rounds to 0m",
            )
            return None
        resolution_ms = round(self.resolution * 1000)
        lengths = [round(window * 1000)]
        for w in pyrra_windows(window):
            lengths.extend((round(w.long * 1000), round(w.short * 1000)))
        if any(length % resolution_ms for length in lengths):
            shown = ", ".join(
                format_duration(x / 1000) for x in sorted(set(lengths)) if x % resolution_ms
            )
            self.r.report(
                node,
                path,
                f"the window and Pyrra's alert windows for it must be multiples of "
                f"storage.resolution ({format_duration(self.resolution)}); these are not: {shown}",
            )
            return None
        return window

    # ------------------------------------------------------------- indicator

    def indicator(
        self, node: Node, path: str, labels: Mapping[str, str]
    ) -> tuple[model.SLI, tuple[str, ...]] | None:
        """The SLI and its ``grouping``; ``labels`` are the SLO's own, which a group
        label must not repeat."""
        fields = self.r.mapping(node, path, _INDICATORS)
        if fields is None:
            return None
        given = [key for key in _INDICATORS if fields.get(key) is not None]
        if len(given) != 1:
            self.r.report(
                node,
                path,
                f"must have exactly one of {', '.join(_INDICATORS)}, got {len(given)}"
                + (f": {', '.join(given)}" if given else ""),
            )
            return None
        kind = given[0]
        if kind == "latencyNative":
            fields.report("latencyNative", _LATENCY_NATIVE_REASON)
            return None
        node, path = fields.at(kind), fields.key_path(kind)
        if kind == "ratio":
            return self.ratio(node, path, labels)
        if kind == "latency":
            return self.latency(node, path, labels)
        return self.bool_gauge(node, path, labels)

    def ratio(
        self, node: Node, path: str, labels: Mapping[str, str]
    ) -> tuple[model.SLI, tuple[str, ...]] | None:
        fields = self.r.mapping(node, path, ("errors", "total", "grouping"), ("errors", "total"))
        if fields is None:
            return None
        errors = fields.read("errors", self.metric)
        total = fields.read("total", self.metric)
        grouping = fields.read("grouping", lambda n, p: self.grouping(n, p, labels))
        if errors is None or total is None or (grouping is None and fields.has("grouping")):
            return None
        sli = model.RatioSLI(
            total=model.Selector(selector_text(*total)), bad=model.Selector(selector_text(*errors))
        )
        return self.grouped(fields, sli, grouping)

    def latency(
        self, node: Node, path: str, labels: Mapping[str, str]
    ) -> tuple[model.SLI, tuple[str, ...]] | None:
        fields = self.r.mapping(
            node, path, ("success", "total", "grouping"), ("success", "total")
        )
        if fields is None:
            return None
        success = fields.read("success", self.metric)
        total = fields.read("total", self.metric)
        grouping = fields.read("grouping", lambda n, p: self.grouping(n, p, labels))
        if success is None or total is None or (grouping is None and fields.has("grouping")):
            return None
        les = [m for m in success[1] if m[0] == "le"]
        threshold = _number(les[0][2][1:-1]) if len(les) == 1 and les[0][1] == "=" else None
        if threshold is None:
            fields.report(
                "success",
                "the success metric must match one histogram bucket with an equality matcher "
                'on le whose value is a number, such as NAME_bucket{le="0.5"}',
            )
            return None
        return self.grouped(fields, _latency_sli(success, total, threshold), grouping)

    def bool_gauge(
        self, node: Node, path: str, labels: Mapping[str, str]
    ) -> tuple[model.SLI, tuple[str, ...]] | None:
        fields = self.r.mapping(node, path, ("metric", "grouping"), ("metric",))
        if fields is None:
            return None
        gauge = fields.read("metric", self.selector)
        grouping = fields.read("grouping", lambda n, p: self.grouping(n, p, labels))
        if gauge is None or (grouping is None and fields.has("grouping")):
            return None
        return self.grouped(fields, model.BoolGaugeSLI(model.Selector(selector_text(*gauge))),
                            grouping)

    def grouped(
        self, fields: Fields, sli: model.SLI, grouping: tuple[str, ...] | None
    ) -> tuple[model.SLI, tuple[str, ...]] | None:
        """``sli`` with its group labels, when the native rules let it be grouped."""
        problem = sli_problem(sli) if grouping else None
        if problem is not None:
            fields.report("grouping", f"this indicator cannot be grouped: {problem}")
            return None
        return sli, grouping or ()

    def metric(self, node: Node, path: str) -> tuple[str, list[Matcher]] | None:
        """``{metric: SELECTOR}``: a Pyrra query."""
        fields = self.r.mapping(node, path, ("metric",), ("metric",))
        if fields is None:
            return None
        return fields.read("metric", self.selector)

    def selector(self, node: Node, path: str) -> tuple[str, list[Matcher]] | None:
        text = self.r.string(node, path)
        if text is None:
            return None
        text = text.strip()
        try:
            return parse_selector(text)
        except ValueError as exc:
            shown = shorten(text, 200)
            self.r.report(
                node,
                path,
                f"{shown!r} is not a plain series selector ({exc}); Pyrra metrics are "
                'selectors such as http_requests_total{job="api",code=~"5.."}',
            )
            return None

    def grouping(
        self, node: Node, path: str, labels: Mapping[str, str]
    ) -> tuple[str, ...] | None:
        """The group labels, checked as the native ``group_by`` is (``group_labels``):
        every bad one is reported, at its item."""
        items = self.r.sequence(node, path, "label names")
        return None if items is None else group_labels(self.r, items, labels)

    # -------------------------------------------------------------- alerting

    def alerting(
        self, spec: Fields, window: float | None, metadata: _Metadata
    ) -> model.Alerting | None:
        """Pyrra's alerts for the SLO: its windows, name, severities, disable switches."""
        settings = _AlertSettings()
        node = spec.get("alerting")
        if node is not None and not self.alert_settings(node, spec.key_path("alerting"), settings):
            return None
        if window is None:
            return None
        disabled = settings.disabled or not settings.burnrates
        windows = tuple(
            model.AlertWindow(
                _SEVERITIES[w.severity],
                w.long,
                w.short,
                budget_fraction=w.factor * w.long / window,
                hold=w.for_,
            )
            for w in pyrra_windows(window)
        )
        annotations = model.frozen_map(metadata.annotations)
        page, ticket = (
            model.AlertSettings(
                name=settings.name,
                labels=model.frozen_map({"severity": severity}),
                annotations=annotations,
                disabled=disabled,
            )
            for severity in settings.severities
        )
        return model.Alerting(windows=windows, page=page, ticket=ticket)

    def alert_settings(self, node: Node, path: str, settings: _AlertSettings) -> bool:
        fields = self.r.mapping(
            node, path, ("disabled", "burnrates", "absent", "name", "absentName", "severities")
        )
        if fields is None:
            return False
        ok = True
        for key in ("disabled", "burnrates", "absent"):
            value = fields.boolean(key)
            if value is None:
                ok = ok and fields.get(key) is None
            else:
                setattr(settings, key, value)
        name = fields.string("name", non_empty=True)
        if name is not None:
            if METRIC_NAME.fullmatch(name):
                settings.name = name
            else:
                fields.report(
                    "name",
                    "must be an alert name ([a-zA-Z_:][a-zA-Z0-9_:]*), "
                    f"got {describe(fields.at('name'))}",
                )
                ok = False
        elif fields.get("name") is not None:
            ok = False
        if fields.get("absentName") is not None:
            fields.report(
                "absentName",
                "a per-SLO name for the absent alert is not supported: missing data is alerted "
                "by the exporter's SLODataMissing alert, whose name is the same for every SLO; "
                "remove absentName",
            )
            ok = False
        if not settings.absent:
            fields.reader.warn(
                fields.at("absent"),
                fields.key_path("absent"),
                "absent: false turns off no alert here: Pyrra's absent alert has no per-SLO "
                "equivalent, and the exporter's SLODataMissing alert (no events counted for 1h) "
                "applies to every SLO",
            )
        severities = fields.get("severities")
        if severities is not None:
            pair = self.severities(severities, fields.key_path("severities"))
            if pair is None:
                ok = False
            else:
                settings.severities = pair
        return ok

    def severities(self, node: Node, path: str) -> tuple[str, str] | None:
        """The ``severity`` label of the page and of the ticket alerts."""
        fields = self.r.mapping(node, path, (*_TIER_KEYS, "absent"))
        if fields is None:
            return None
        ok = True
        if fields.get("absent") is not None:
            fields.report(
                "absent",
                "a per-SLO severity for the absent alert is not supported: missing data is "
                "alerted by the exporter's SLODataMissing alert, the same for every SLO; "
                "remove severities.absent",
            )
            ok = False
        chosen: list[str] = []
        for key, (severity, *_rest) in zip(_TIER_KEYS, _TIERS, strict=True):
            value = fields.string(key, non_empty=True)
            if value is None and fields.get(key) is not None:
                ok = False
            chosen.append(value if value is not None else severity)
        pairs = (("page", 0, 1), ("ticket", 2, 3))
        for ours, first, second in pairs:
            if chosen[first] != chosen[second]:
                self.r.report(
                    node,
                    path,
                    f"{_TIER_KEYS[first]} ({chosen[first]!r}) and {_TIER_KEYS[second]} "
                    f"({chosen[second]!r}) must be the same: both are windows of the {ours} "
                    "alert, which carries one severity label",
                )
                ok = False
        return (chosen[0], chosen[2]) if ok else None

    def no_effect(self, spec: Fields) -> None:
        """Warn about the fields that only shape how Pyrra writes its rules."""
        strategy = spec.string("partial_response_strategy")
        if strategy == "warn":
            spec.reader.warn(
                spec.at("partial_response_strategy"),
                spec.key_path("partial_response_strategy"),
                "has no effect: it tells Thanos Ruler how to evaluate Pyrra's rules; the exporter "
                "evaluates SLOs itself and a failed query is never taken as partial data",
            )
        elif strategy not in (None, "", "abort"):
            spec.report(
                "partial_response_strategy",
                f"must be 'abort' or 'warn', got {describe(spec.at('partial_response_strategy'))}",
            )
        if spec.boolean("performanceOverAccuracy"):
            spec.reader.warn(
                spec.at("performanceOverAccuracy"),
                spec.key_path("performanceOverAccuracy"),
                "has no effect: the exporter counts events exactly from raw samples, "
                "incrementally, so there is no accuracy to trade",
            )
        rule_output = spec.get("ruleOutput")
        if rule_output is not None:
            fields = self.r.mapping(
                rule_output,
                spec.key_path("ruleOutput"),
                ("enableDescriptionAsLabel", "longRulesLabels", "shortRulesLabels"),
            )
            if fields is not None and fields.entries:
                spec.reader.warn(
                    rule_output,
                    spec.key_path("ruleOutput"),
                    "has no effect: it labels the PrometheusRule objects Pyrra writes; the "
                    "exporter writes none per SLO (the description is on slo_info)",
                )


@dataclass
class _AlertSettings:
    """``spec.alerting`` as read, with Pyrra's defaults."""

    disabled: bool = False
    burnrates: bool = True
    absent: bool = True
    name: str = ALERT_NAME
    #: the severity label of the page alert, then of the ticket alert
    severities: tuple[str, str] = ("critical", "warning")


def _number(text: str) -> float | None:
    """A finite positive ``le`` value, or None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 < value < float("inf") else None


def _latency_sli(
    success: tuple[str, list[Matcher]], total: tuple[str, list[Matcher]], threshold: float
) -> model.SLI:
    """A histogram SLI when ``success`` and ``total`` are the ``_bucket`` and ``_count``
    of one histogram with the same matchers, else the exact ratio of the two selectors.

    The histogram SLI looks the ``le`` label up by value, so ``le="5"`` still
    matches a bucket that Prometheus 3 exposes as ``5.0`` (or the reverse).
    """
    (success_name, success_matchers), (total_name, total_matchers) = success, total
    base = success_name.removesuffix("_bucket")
    others = sorted(m for m in success_matchers if m[0] != "le")
    if (
        success_name.endswith("_bucket")
        and total_name == f"{base}_count"
        and others == sorted(total_matchers)
        and not any(m[0] == "__name__" for m in total_matchers)
    ):
        return model.LatencySLI(
            histogram=model.Selector(selector_text(base, total_matchers)), threshold=threshold
        )
    return model.RatioSLI(
        total=model.Selector(selector_text(*total)),
        good=model.Selector(selector_text(*success)),
    )


__all__ = ["API", "KIND", "MIN_ALERT_WINDOW", "PyrraWindow", "load", "pyrra_windows"]
