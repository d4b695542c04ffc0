"""The OpenSLO dialect: ``openslo/v1`` (and ``openslo.com/v2alpha``) documents -> services.

Owns reading OpenSLO objects (SLO, SLI, DataSource, Service, AlertPolicy,
AlertCondition, AlertNotificationTarget), resolving their references across
every document loaded together, and mapping each SLO objective to a native
``model.SLO``. What the native model cannot hold exactly is rejected with a
located reason (file, document index, field); nothing is approximated.

Must not read files, query Prometheus or know the native schema's keys: the
dialect framework hands it composed documents and collects the services.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from slo_exporter import model
from slo_exporter.config import nodes
from slo_exporter.config.dialects import Context, detect, document_path
from slo_exporter.config.fields import Reader, join
from slo_exporter.config.nodes import describe, is_null
from slo_exporter.config.promql import TEMPLATE_VAR, parse_selector, selector_text, unbalanced
from slo_exporter.config.slm import OBJECT_NAME, SLICE_MAX
from slo_exporter.config.text import label_name_problem
from slo_exporter.durations import format_duration
from slo_exporter.model.calendar import get_zone

V1 = "openslo/v1"
V2ALPHA = "openslo.com/v2alpha"
KINDS = (
    "SLO", "SLI", "DataSource", "Service",
    "AlertPolicy", "AlertCondition", "AlertNotificationTarget",
)
_DURATION = re.compile(r"([1-9][0-9]{0,5})(m|h|d|w|M|Q|Y)")
_FIXED = {"m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
_CALENDAR = {"w": "week", "M": "month", "Q": "quarter", "Y": "year"}
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class _Object:
    """One OpenSLO object, located: its kind, name, version and node."""

    kind: str
    name: str
    version: str
    node: MappingNode
    path: str
    file: str = ""  # the file it is defined in


@dataclass(frozen=True)
class _Index:
    """Every object of the files loaded together, and which file's reader owns each node."""

    objects: dict[tuple[str, str], _Object]
    owner: dict[int, Reader]


class _Routing(Reader):
    """A reader that reports each problem to the file its node is in.

    The files of one ``include:`` are loaded together, so an SLO in one file
    may read an SLI or a condition defined in another: a problem found there
    belongs to that file.
    """

    def __init__(self, base: Reader, owner: dict[int, Reader]) -> None:
        super().__init__(base.problems)
        self._base = base
        self._owner = owner

    def _of(self, node: Node | None) -> Reader:
        return self._base if node is None else self._owner.get(id(node), self._base)

    def report(self, node: Node | None, path: str, reason: str) -> None:
        self._of(node).report(node, path, reason)

    def warn(self, node: Node | None, path: str, reason: str) -> None:
        self._of(node).warn(node, path, reason)


def _own(owner: dict[int, Reader], root: Node, reader: Reader) -> None:
    """Mark every node under ``root`` as ``reader``'s (bounded: nodes are bounded per file)."""
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in owner:
            continue  # an alias seen before
        owner[id(node)] = reader
        if isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                stack.extend((key, value))


_CACHE_KEY = "openslo"


class _Reject(Exception):
    """An object that cannot be mapped; carries the node, path and reason."""

    def __init__(self, node: Node, path: str, reason: str) -> None:
        super().__init__(reason)
        self.node = node
        self.path = path
        self.reason = reason


def services(
    documents: Sequence[nodes.Document], reader: Reader, context: Context
) -> list[model.Service]:
    """The services of every OpenSLO SLO in ``documents``; problems go to ``reader``."""
    return _Loader(reader, context).load(documents)


# ----------------------------------------------------------- node helpers


def _entries(r: Reader, node: Node, path: str) -> dict[str, Node]:
    if not isinstance(node, MappingNode):
        raise _Reject(node, path, f"must be a mapping, got {describe(node)}")
    return {key: value for key, (_k, value) in r.entries(node, path).items()}


def _text(r: Reader, node: Node, path: str) -> str:
    if not isinstance(node, ScalarNode) or is_null(node):
        raise _Reject(node, path, f"must be a string, got {describe(node)}")
    return str(node.value)


def _need(fields: dict[str, Node], owner: Node, path: str, key: str) -> Node:
    value = fields.get(key)
    if value is None or is_null(value):
        raise _Reject(owner, path, f"missing required key {key!r}")
    return value


def _ratio(r: Reader, node: Node, path: str) -> Decimal:
    text = _text(r, node, path)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _Reject(node, path, f"must be a ratio such as 0.995, got {describe(node)}") from None
    if not Decimal(0) < value < Decimal(1) and value != Decimal(1):
        raise _Reject(node, path, f"must be a ratio in (0, 1], got {text}")
    return value


def _bool(r: Reader, node: Node, path: str) -> bool:
    value = r.construct(node) if isinstance(node, ScalarNode) else None
    if not isinstance(value, bool):
        raise _Reject(node, path, f"must be true or false, got {describe(node)}")
    return value


def _number(r: Reader, node: Node, path: str) -> float:
    value = r.construct(node) if isinstance(node, ScalarNode) else None
    number = math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value) if abs(value) < 1e300 else math.inf
    if not math.isfinite(number):
        raise _Reject(node, path, f"must be a finite number, got {describe(node)}")
    return number


def _duration(text: str) -> tuple[int, str] | None:
    match = _DURATION.fullmatch(text)
    return None if match is None else (int(match.group(1)), match.group(2))


def _fixed_seconds(r: Reader, node: Node, path: str) -> float:
    text = _text(r, node, path)
    parsed = _duration(text)
    if parsed is None:
        raise _Reject(
            node, path, f"must be an OpenSLO duration such as 5m, 1h or 28d, got {text!r}")
    count, unit = parsed
    if unit not in _FIXED:
        raise _Reject(
            node, path,
            f"{text!r} is a calendar duration; only m, h, d and w have a fixed length here")
    return count * _FIXED[unit]


def _slug(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-")


# ----------------------------------------------------------------- loader


class _Loader:
    def __init__(self, reader: Reader, context: Context) -> None:
        self.r = reader
        self.context = context
        self.objects: dict[tuple[str, str], _Object] = {}

    def load(self, documents: Sequence[nodes.Document]) -> list[model.Service]:
        self._index(documents)
        by_service: dict[str, list[model.SLO]] = {}
        for obj in list(self.objects.values()):
            if obj.file != self.context.file:
                continue  # another file's object: read where that file is loaded
            try:
                if obj.kind == "SLO":
                    service, slos = self._slo(obj)
                    # obj.path is "documents[N]..."; the SLO is read from document N
                    index = int(obj.path[len("documents["):obj.path.index("]")])
                    by_service.setdefault(service, []).extend(
                        replace(slo, source_file=self.context.file, source_document=index)
                        for slo in slos)
                else:
                    self._alone(obj)
            except _Reject as reject:
                self.r.report(reject.node, reject.path, reject.reason)
        result: list[model.Service] = []
        for name, slos in by_service.items():
            description = ""
            declared = self.objects.get(("Service", name))
            if declared is not None:
                spec = self.r.entries(declared.node, declared.path).get("spec")
                if spec is not None:
                    desc = self.r.entries(spec[1], declared.path).get("description") \
                        if isinstance(spec[1], MappingNode) else None
                    if desc is not None and isinstance(desc[1], ScalarNode):
                        description = str(desc[1].value)
            result.append(model.Service(name=name, slos=tuple(slos), description=description))
        return result

    # --------------------------------------------------------- collecting

    def _index(self, documents: Sequence[nodes.Document]) -> None:
        """Index the objects of ``documents``, or of every file of the same ``include:``.

        Names resolve across all of those files, in file order, so the first
        definition of a name is the same whichever file is being loaded; the
        index is built once and shared through the context.
        """
        peers = self.context.peers
        if not any(peer.file == self.context.file for peer in peers):
            for document in documents:
                self._collect(document, self.context.file)
            return
        cached = self.context.shared.get(_CACHE_KEY)
        if isinstance(cached, _Index):
            self.objects = cached.objects
            self.r = _Routing(self.r, cached.owner)
            return
        index = _Index(self.objects, {})
        chosen = [(peer, [d for d in peer.documents if detect(d) == "openslo"]) for peer in peers]
        for peer, found in chosen:
            for document in found:
                _own(index.owner, document.root, peer.reader)
        self.r = _Routing(self.r, index.owner)
        for peer, found in chosen:
            for document in found:
                self._collect(document, peer.file)
        self.context.shared[_CACHE_KEY] = index

    def _collect(self, document: nodes.Document, file: str) -> None:
        path = document_path(document)
        root = document.root
        items: list[tuple[Node, str]]
        if isinstance(root, SequenceNode):
            items = [(item, f"{path}[{i}]") for i, item in enumerate(root.value)]
        else:
            items = [(root, path)]
        for node, item_path in items:
            try:
                obj = self._object(node, item_path, top_level=True)
            except _Reject as reject:
                self.r.report(reject.node, reject.path, reject.reason)
                continue
            key = (obj.kind, obj.name)
            if key in self.objects:
                first = self.objects[key]
                where = "" if first.file == file else f"{first.file}, "
                self.r.report(
                    node, item_path,
                    f"duplicate {obj.kind} {obj.name!r} (first defined at {where}{first.path}, "
                    f"line {nodes.line(first.node)})")
                continue
            self.objects[key] = replace(obj, file=file)

    def _object(
        self, node: Node, path: str, *, top_level: bool, kind: str | None = None,
        version: str | None = None,
    ) -> _Object:
        fields = _entries(self.r, node, path)
        assert isinstance(node, MappingNode)
        if top_level or "apiVersion" in fields:
            version = _text(self.r, _need(fields, node, path, "apiVersion"),
                            join(path, "apiVersion"))
            if version not in (V1, V2ALPHA):
                raise _Reject(fields["apiVersion"], join(path, "apiVersion"),
                              f"unsupported apiVersion {version!r}; expected {V1} or {V2ALPHA}")
        found = kind
        if top_level or "kind" in fields:
            found = _text(self.r, _need(fields, node, path, "kind"), join(path, "kind"))
            if found not in KINDS or (kind is not None and found != kind):
                expected = kind or ", ".join(KINDS)
                raise _Reject(fields["kind"], join(path, "kind"),
                              f"unknown kind {found!r}; expected {expected}")
        metadata = _entries(self.r, _need(fields, node, path, "metadata"), join(path, "metadata"))
        name = _text(self.r, _need(metadata, fields["metadata"], join(path, "metadata"), "name"),
                     join(path, "metadata.name"))
        assert found is not None
        assert version is not None
        return _Object(found, name, version, node, path)

    def _alone(self, obj: _Object) -> None:
        """Check an object on its own, so that one no SLO uses is not skipped unread.

        SLIs are checked without an objective, alert conditions without an
        SLO period (their threshold is checked where an SLO uses them);
        data sources and notification targets are only referenced.
        """
        if obj.kind not in ("SLI", "AlertCondition", "AlertPolicy"):
            return
        top = _entries(self.r, obj.node, obj.path)
        path = join(obj.path, "spec")
        spec = _entries(self.r, _need(top, obj.node, obj.path, "spec"), path)
        if obj.kind == "SLI":
            self._sli(spec, path, None, top["spec"], path)
        elif obj.kind == "AlertCondition":
            self._condition(top["spec"], spec, path, None)
        else:
            self._policy(spec, path, node=top["spec"], period=None, version=obj.version,
                         name=obj.name)

    def _ref(self, kind: str, node: Node, path: str) -> _Object:
        name = _text(self.r, node, path)
        obj = self.objects.get((kind, name))
        if obj is None:
            raise _Reject(node, path, f"unknown {kind} {name!r}: no document defines it")
        return obj

    def _inline_or_ref(
        self, owner: dict[str, Node], node: Node, path: str, keys: tuple[str, str], *,
        kind: str, version: str,
    ) -> tuple[dict[str, Node], str]:
        """The spec of an inline object under ``inline_key`` or the object ``ref_key`` names."""
        inline_key, ref_key = keys
        if inline_key in owner and ref_key in owner:
            raise _Reject(node, path, f"give either {inline_key!r} or {ref_key!r}, not both")
        if ref_key in owner:
            obj = self._ref(kind, owner[ref_key], join(path, ref_key))
            fields = _entries(self.r, obj.node, obj.path)
            return _entries(self.r, _need(fields, obj.node, obj.path, "spec"),
                            join(obj.path, "spec")), join(obj.path, "spec")
        inline_path = join(path, inline_key)
        inline = _need(owner, node, path, inline_key)
        self._object(inline, inline_path, top_level=False, kind=kind, version=version)
        fields = _entries(self.r, inline, inline_path)
        return _entries(self.r, _need(fields, inline, inline_path, "spec"),
                        join(inline_path, "spec")), join(inline_path, "spec")

    # ------------------------------------------------------------- SLOs

    def _slo(self, obj: _Object) -> tuple[str, list[model.SLO]]:
        v1 = obj.version == V1
        top = _entries(self.r, obj.node, obj.path)
        spec_path = join(obj.path, "spec")
        spec_node = _need(top, obj.node, obj.path, "spec")
        spec = _entries(self.r, spec_node, spec_path)
        if not OBJECT_NAME.fullmatch(obj.name):
            raise _Reject(top["metadata"], join(obj.path, "metadata.name"),
                          "must start with a letter or digit and contain only letters, "
                          f"digits, '_', '.', ':' and '-', got {obj.name!r}")
        service_key = "service" if v1 else "serviceRef"
        service = _text(self.r, _need(spec, spec_node, spec_path, service_key),
                        join(spec_path, service_key))
        if not OBJECT_NAME.fullmatch(service):
            raise _Reject(spec[service_key], join(spec_path, service_key),
                          f"{service!r} is not a valid service name")
        indicator_key, ref_key = ("indicator", "indicatorRef") if v1 else ("sli", "sliRef")
        keys = (indicator_key, ref_key)
        objective_nodes = self._objective_nodes(spec, spec_node, spec_path)
        objectives = [(node, f"{spec_path}.objectives[{index}]") for index, node in
                      enumerate(objective_nodes)]
        fields_of = [_entries(self.r, node, path) for node, path in objectives]
        own = [any(key in fields for key in keys) for fields in fields_of]
        shared: tuple[dict[str, Node], str] | None = None
        if any(own):
            # the SDK's rule: an indicator per objective (composite) or one for the SLO
            for key in keys:
                if key in spec:
                    raise _Reject(spec[key], join(spec_path, key),
                                  "give the indicator either on the SLO or on every objective "
                                  "(a composite SLO), not both")
            missing = own.index(False) if not all(own) else None
            if missing is not None:
                node, path = objectives[missing]
                raise _Reject(node, path, f"missing required key {indicator_key!r} or "
                              f"{ref_key!r}: in a composite SLO every objective has its own")
        else:
            shared = self._inline_or_ref(spec, spec_node, spec_path, keys, kind="SLI",
                                         version=obj.version)
        period = self._period(spec, spec_node, spec_path)
        method_node = _need(spec, spec_node, spec_path, "budgetingMethod")
        method = _text(self.r, method_node, join(spec_path, "budgetingMethod"))
        if method not in ("Occurrences", "Timeslices", "RatioTimeslices"):
            raise _Reject(method_node, join(spec_path, "budgetingMethod"),
                          f"unknown budgetingMethod {method!r}; expected Occurrences, "
                          "Timeslices or RatioTimeslices")
        labels = model.frozen_map(self._labels(top, obj.path))
        description = ""
        if "description" in spec:
            description = _text(self.r, spec["description"], join(spec_path, "description"))
        alerting = self._alert_policies(spec, spec_path, period, obj.version)
        weights = [self._weight(fields, path) for fields, (_n, path) in zip(
            fields_of, objectives, strict=True)]
        composite = any(w is not None for w in weights)
        slos: list[model.SLO] = []
        names: set[str] = set()
        for index, ((node, path), fields) in enumerate(zip(objectives, fields_of, strict=True)):
            sli_spec, sli_path = shared if shared is not None else self._inline_or_ref(
                fields, node, path, keys, kind="SLI", version=obj.version)
            sli = self._sli(sli_spec, sli_path, fields, node, path)
            assert sli is not None  # an objective is given
            name = obj.name
            if len(objectives) > 1 or composite:
                suffix = ""
                if "displayName" in fields:
                    suffix = _slug(_text(self.r, fields["displayName"], join(path, "displayName")))
                name = f"{obj.name}-{suffix or index}"
                if name in names:
                    name = f"{obj.name}-{index}"
            names.add(name)
            slos.append(model.SLO(
                service=service, name=name, objective=float(self._target(fields, node, path)),
                period=period, sli=sli, description=description, labels=labels,
                budgeting=self._budgeting(method, fields, node, path, period), alerting=alerting,
            ))
        if composite:
            slos.append(self._composite(obj.name, spec_node, spec_path, slos, weights))
        return service, slos

    def _weight(self, fields: dict[str, Node], path: str) -> float | None:
        if "compositeWeight" not in fields:
            return None
        weight = _number(self.r, fields["compositeWeight"], join(path, "compositeWeight"))
        if weight <= 0:
            raise _Reject(fields["compositeWeight"], join(path, "compositeWeight"),
                          "must be a number above 0")
        return weight

    @staticmethod
    def _composite(
        name: str, node: Node, path: str, parts: list[model.SLO], weights: list[float | None],
    ) -> model.SLO:
        """The weighted composite of the objectives that have a ``compositeWeight``.

        Its SLI is our weighted composite, sum(weight * SLI) / sum(weight) of
        the objectives' SLOs. OpenSLO gives the composite no target, budgeting
        or alerting of its own, so it takes its objectives' where they agree;
        where they differ there is no target to take, and the SLO is rejected
        rather than given one made up (a mean of the targets, say).
        """
        members = [(slo, w) for slo, w in zip(parts, weights, strict=True) if w is not None]
        first = members[0][0]
        for field, what in (("objective", "targets"), ("budgeting", "time slices")):
            if any(getattr(slo, field) != getattr(first, field) for slo, _ in members):
                raise _Reject(node, join(path, "objectives"),
                              f"the objectives with a compositeWeight have different {what}: "
                              "OpenSLO gives a composite no target of its own, so its "
                              "objectives must agree on it")
        return model.SLO(
            service=first.service, name=name, objective=first.objective, period=first.period,
            sli=model.CompositeSLI("weighted", tuple(
                model.CompositeComponent(slo.id, weight) for slo, weight in members)),
            description=first.description, labels=first.labels, budgeting=first.budgeting,
            alerting=first.alerting,
        )

    def _objective_nodes(self, spec: dict[str, Node], node: Node, path: str) -> list[Node]:
        objectives = _need(spec, node, path, "objectives")
        if not isinstance(objectives, SequenceNode) or not objectives.value:
            raise _Reject(objectives, join(path, "objectives"), "must be a non-empty list")
        return list(objectives.value)

    def _target(self, fields: dict[str, Node], node: Node, path: str) -> Decimal:
        if "target" in fields:
            value = _ratio(self.r, fields["target"], join(path, "target"))
        elif "targetPercent" in fields:
            value = self._percent(fields["targetPercent"], join(path, "targetPercent"))
        else:
            raise _Reject(node, path, "missing required key 'target'")
        if value >= 1:
            raise _Reject(node, path, "an objective of 100% leaves no error budget")
        return value

    def _percent(self, node: Node, path: str) -> Decimal:
        text = _text(self.r, node, path)
        try:
            value = Decimal(text) / 100
        except InvalidOperation:
            raise _Reject(node, path, f"must be a percentage such as 99.5, got {text!r}") from None
        if not Decimal(0) < value <= Decimal(1):
            raise _Reject(node, path, f"must be a percentage in (0, 100], got {text}")
        return value

    def _budgeting(
        self, method: str, fields: dict[str, Node], node: Node, path: str, period: model.Period
    ) -> model.Budgeting:
        if method == "Occurrences":
            for key in ("timeSliceTarget", "timeSliceWindow"):
                if key in fields:
                    raise _Reject(fields[key], join(path, key),
                                  f"{key} is given but budgetingMethod is Occurrences")
            return model.Budgeting()
        if method == "RatioTimeslices" and "timeSliceTarget" in fields:
            raise _Reject(fields["timeSliceTarget"], join(path, "timeSliceTarget"),
                          "RatioTimeslices averages each slice's ratio, so a slice has no "
                          "target; remove timeSliceTarget or use Timeslices")
        window_node = _need(fields, node, path, "timeSliceWindow")
        seconds = _fixed_seconds(self.r, window_node, join(path, "timeSliceWindow"))
        resolution = self.context.storage.resolution
        if seconds % resolution:
            raise _Reject(window_node, join(path, "timeSliceWindow"),
                          f"must be a whole number of storage buckets ({resolution:g}s)")
        if seconds > SLICE_MAX or (
                isinstance(period, model.RollingPeriod) and seconds > period.seconds):
            raise _Reject(window_node, join(path, "timeSliceWindow"),
                          "must be at most a day and not longer than the time window")
        if method == "RatioTimeslices":
            return model.Budgeting(ratio_timeslices=model.RatioTimeslices(slice=seconds))
        target = _ratio(self.r, _need(fields, node, path, "timeSliceTarget"),
                        join(path, "timeSliceTarget"))
        return model.Budgeting(model.Timeslices(slice=seconds, target=target))

    # ------------------------------------------------------------ period

    def _period(self, spec: dict[str, Node], node: Node, path: str) -> model.Period:
        windows = _need(spec, node, path, "timeWindow")
        wpath = join(path, "timeWindow")
        if not isinstance(windows, SequenceNode) or len(windows.value) != 1:
            raise _Reject(windows, wpath, "must be a list of exactly one time window")
        wnode = windows.value[0]
        wpath += "[0]"
        fields = _entries(self.r, wnode, wpath)
        duration_node = _need(fields, wnode, wpath, "duration")
        text = _text(self.r, duration_node, join(wpath, "duration"))
        parsed = _duration(text)
        if parsed is None:
            raise _Reject(duration_node, join(wpath, "duration"),
                          f"must be an OpenSLO duration such as 28d, 1w, 1M or 1Q, got {text!r}")
        count, unit = parsed
        rolling_node = _need(fields, wnode, wpath, "isRolling")
        rolling = _bool(self.r, rolling_node, join(wpath, "isRolling"))
        if rolling:
            if unit not in _FIXED:
                raise _Reject(duration_node, join(wpath, "duration"),
                              f"a rolling window of {text!r} has no fixed length; use days "
                              "(28d) or weeks, or a calendar window")
            return model.RollingPeriod(count * _FIXED[unit])
        if count != 1 or unit not in _CALENDAR:
            raise _Reject(duration_node, join(wpath, "duration"),
                          f"a calendar window must be 1w, 1M, 1Q or 1Y, got {text!r}"
                          + (" (m is minutes, M months)" if unit == "m" else ""))
        calendar_node = _need(fields, wnode, wpath, "calendar")
        cpath = join(wpath, "calendar")
        calendar = _entries(self.r, calendar_node, cpath)
        zone_node = _need(calendar, calendar_node, cpath, "timeZone")
        zone = _text(self.r, zone_node, join(cpath, "timeZone"))
        try:
            get_zone(zone)
        except ValueError as exc:
            raise _Reject(zone_node, join(cpath, "timeZone"), str(exc)) from None
        start_node = _need(calendar, calendar_node, cpath, "startTime")
        start_text = _text(self.r, start_node, join(cpath, "startTime"))
        try:
            start = datetime.fromisoformat(start_text)
        except ValueError:
            raise _Reject(start_node, join(cpath, "startTime"),
                          f"must be a time such as 2022-01-03 00:00:00, got {start_text!r}",
                          ) from None
        period_unit = _CALENDAR[unit]
        problem = _boundary_problem(period_unit, start)
        if problem:
            raise _Reject(start_node, join(cpath, "startTime"),
                          f"{start_text} is not the start of a calendar {period_unit}: {problem}")
        return model.CalendarPeriod(period_unit, zone)  # type: ignore[arg-type]

    # ---------------------------------------------------------------- SLI

    def _sli(
        self, sli: dict[str, Node], sli_path: str, objective: dict[str, Node] | None,
        objective_node: Node, objective_path: str,
    ) -> model.SLI | None:
        """The native SLI; None for a threshold metric checked without an objective."""
        if "ratioMetric" in sli:
            return self._ratio_metric(sli["ratioMetric"], join(sli_path, "ratioMetric"))
        if "thresholdMetric" in sli:
            return self._threshold_metric(
                sli["thresholdMetric"], join(sli_path, "thresholdMetric"),
                objective, objective_node, objective_path)
        raise _Reject(next(iter(sli.values()), objective_node), sli_path,
                      "an SLI needs ratioMetric or thresholdMetric")

    def _ratio_metric(self, node: Node, path: str) -> model.RatioSLI | model.RawRatioSLI:
        fields = _entries(self.r, node, path)
        if "raw" in fields or "rawType" in fields:
            return self._raw_ratio(fields, node, path)
        if "counter" in fields and not _bool(self.r, fields["counter"], join(path, "counter")):
            raise _Reject(fields["counter"], join(path, "counter"),
                          "counter: false (gauge values) is not supported; the queries must "
                          "count events")
        if ("good" in fields) == ("bad" in fields):
            raise _Reject(node, path, "give exactly one of 'good' and 'bad', with 'total'")
        total = self._query(_need(fields, node, path, "total"), join(path, "total"))
        if "good" in fields:
            return model.RatioSLI(total=total, good=self._query(fields["good"], join(path, "good")))
        return model.RatioSLI(total=total, bad=self._query(fields["bad"], join(path, "bad")))

    def _raw_ratio(self, fields: dict[str, Node], node: Node, path: str) -> model.RawRatioSLI:
        """``raw`` with ``rawType: success|failure``: a ratio Prometheus computes over
        ``{{.window}}``, read once per bucket (window values are time-weighted means)."""
        for key in ("good", "bad", "total"):
            if key in fields:
                raise _Reject(fields[key], join(path, key),
                              "a raw ratio metric has no event queries; give either raw with "
                              "rawType, or good (or bad) with total")
        type_node = _need(fields, node, path, "rawType")
        raw_type = _text(self.r, type_node, join(path, "rawType"))
        if raw_type not in ("success", "failure"):
            raise _Reject(type_node, join(path, "rawType"),
                          f"unknown rawType {raw_type!r}; expected success or failure")
        query = self._query(_need(fields, node, path, "raw"), join(path, "raw"), raw=True)
        assert isinstance(query, model.Template)
        return model.RawRatioSLI(query, "good" if raw_type == "success" else "bad")

    def _query(self, node: Node, path: str, *, raw: bool = False) -> model.Query:
        fields = _entries(self.r, node, path)
        if "metricSource" in fields:  # v1
            path = join(path, "metricSource")
            node = fields["metricSource"]
            fields = _entries(self.r, node, path)
            kind = self._source_type(fields, node, path, "metricSourceRef")
        else:  # v2alpha: dataSourceRef beside spec
            kind = self._source_type(fields, node, path, "dataSourceRef")
        if kind.lower() != "prometheus":
            raise _Reject(node, path,
                          f"data source type {kind!r} cannot be read; only Prometheus is")
        spec = _entries(self.r, _need(fields, node, path, "spec"), join(path, "spec"))
        query_node = _need(spec, fields["spec"], join(path, "spec"), "query")
        query_path = join(path, "spec.query")
        text = _text(self.r, query_node, query_path).strip()
        variables = TEMPLATE_VAR.findall(text)
        if raw and not variables:
            raise _Reject(query_node, query_path,
                          "a raw ratio must contain {{.window}}: it is read once per storage "
                          "bucket over that window")
        if variables:
            unknown = sorted({v for v in variables if v != ".window"})
            if unknown:
                raise _Reject(query_node, query_path,
                              f"unknown template variable {{{{{unknown[0][:80]}}}}}; only "
                              "{{.window}} is supported")
            problem = unbalanced(text)
            if problem:
                raise _Reject(query_node, query_path, f"invalid PromQL template: {problem}")
            return model.Template(TEMPLATE_VAR.sub("{{.window}}", text))
        try:
            name, matchers = parse_selector(text)
        except ValueError:
            raise _Reject(query_node, query_path,
                          "must be a plain series selector (its exact counter increase is "
                          "counted) or PromQL with a {{.window}} placeholder returning the "
                          "events in that window; an expression without a window cannot be "
                          "turned into event counts") from None
        return model.Selector(selector_text(name, matchers))

    def _source_type(self, fields: dict[str, Node], node: Node, path: str, ref_key: str) -> str:
        if "type" in fields:
            return _text(self.r, fields["type"], join(path, "type"))
        if "dataSourceSpec" in fields:
            inline = _entries(self.r, fields["dataSourceSpec"], join(path, "dataSourceSpec"))
            return _text(self.r, _need(inline, fields["dataSourceSpec"], path, "type"),
                         join(path, "dataSourceSpec.type"))
        if ref_key in fields:
            source = self._ref("DataSource", fields[ref_key], join(path, ref_key))
            spec_node = _entries(self.r, source.node, source.path).get("spec")
            if spec_node is not None:
                spec = _entries(self.r, spec_node, join(source.path, "spec"))
                if "type" in spec:
                    return _text(self.r, spec["type"], join(source.path, "spec.type"))
        raise _Reject(node, path, "the data source type is not given")

    def _threshold_metric(
        self, node: Node, path: str, objective: dict[str, Node] | None, objective_node: Node,
        objective_path: str,
    ) -> model.LatencySLI | None:
        query = self._query(node, path)
        if not isinstance(query, model.Selector):
            raise _Reject(node, path, "a threshold metric must be a histogram selector")
        name, matchers = parse_selector(query.text)
        base = name.removesuffix("_bucket")
        if base == name or any(label == "le" for label, _, _ in matchers):
            raise _Reject(node, path,
                          "a threshold metric maps only to a classic histogram: give its "
                          "<name>_bucket selector without an le matcher, and the threshold as "
                          "the objective's value (a bucket boundary, in seconds)")
        if objective is None:
            return None
        op_node = _need(objective, objective_node, objective_path, "op")
        op = _text(self.r, op_node, join(objective_path, "op"))
        if op != "lte":
            raise _Reject(op_node, join(objective_path, "op"),
                          f"op {op!r} cannot be read from histogram buckets, which count "
                          "observations at or under a boundary; use lte")
        value_node = _need(objective, objective_node, objective_path, "value")
        value = _number(self.r, value_node, join(objective_path, "value"))
        if value <= 0:
            raise _Reject(value_node, join(objective_path, "value"), "must be a number above 0")
        return model.LatencySLI(histogram=model.Selector(selector_text(base, matchers)),
                                threshold=value)

    # ------------------------------------------------------------ labels

    def _labels(self, top: dict[str, Node], path: str) -> dict[str, str]:
        metadata = _entries(self.r, top["metadata"], join(path, "metadata"))
        node = metadata.get("labels")
        if node is None or is_null(node):
            return {}
        lpath = join(path, "metadata.labels")
        labels: dict[str, str] = {}
        for key, value in _entries(self.r, node, lpath).items():
            if label_name_problem(key):
                self.r.warn(value, join(lpath, key),
                            f"not copied to the SLO labels: {label_name_problem(key)}")
                continue
            if isinstance(value, SequenceNode):
                values = [_text(self.r, v, join(lpath, key)) for v in value.value]
            else:
                values = [_text(self.r, value, join(lpath, key))]
            if values and all(values):
                labels[key] = ",".join(values)
        return labels

    # ----------------------------------------------------------- alerting

    def _alert_policies(
        self, spec: dict[str, Node], path: str, period: model.Period, version: str
    ) -> model.Alerting:
        """The SLO's alerting: every burn-rate condition of its policies, or the
        built-in alerts when it has none."""
        node = spec.get("alertPolicies")
        if node is None or is_null(node):
            return model.Alerting()
        ppath = join(path, "alertPolicies")
        if not isinstance(node, SequenceNode):
            raise _Reject(node, ppath, f"must be a list, got {describe(node)}")
        alerts: list[_Alert] = []
        for index, item in enumerate(node.value):
            item_path = f"{ppath}[{index}]"
            fields = _entries(self.r, item, item_path)
            if "alertPolicyRef" in fields:
                if "spec" in fields:
                    raise _Reject(item, item_path,
                                  "give either 'spec' or 'alertPolicyRef', not both")
                obj = self._ref("AlertPolicy", fields["alertPolicyRef"],
                                join(item_path, "alertPolicyRef"))
            else:
                obj = self._object(item, item_path, top_level=False, kind="AlertPolicy",
                                   version=version)
            top = _entries(self.r, obj.node, obj.path)
            policy_path = join(obj.path, "spec")
            policy = _entries(self.r, _need(top, obj.node, obj.path, "spec"), policy_path)
            alerts.extend(self._policy(policy, policy_path, node=top["spec"], period=period,
                                       version=version, name=obj.name))
        if not alerts:
            raise _Reject(node, ppath, "no alert policy has a condition")
        return _alerting(alerts)

    def _policy(
        self, policy: dict[str, Node], path: str, *, node: Node, period: model.Period | None,
        version: str, name: str,
    ) -> list[_Alert]:
        """Each condition of one policy as an alert window with its severity's settings.

        ``alertWhenBreaching: false`` keeps the condition evaluated and
        exported but sends nothing (``disabled``); ``alertWhenNoData: true`` is
        the built-in no-data alert every SLO has; ``alertWhenResolved: true``
        is Alertmanager announcing resolved alerts (``send_resolved``).
        Notification targets become the ``notification_target`` label
        (their names, comma-separated), for Alertmanager to route on.
        """
        flags: dict[str, bool] = {}
        for key in ("alertWhenBreaching", "alertWhenResolved", "alertWhenNoData"):
            if key in policy:
                flags[key] = _bool(self.r, policy[key], join(path, key))
        if flags.get("alertWhenResolved") is False:
            raise _Reject(policy["alertWhenResolved"], join(path, "alertWhenResolved"),
                          "alertWhenResolved: false cannot be honoured here: whether a "
                          "resolved alert is announced is the Alertmanager receiver's "
                          "send_resolved; remove the key and set send_resolved: false there")
        if flags.get("alertWhenNoData") is False:
            raise _Reject(policy["alertWhenNoData"], join(path, "alertWhenNoData"),
                          "alertWhenNoData: false cannot be honoured: every SLO has the "
                          "built-in no-data alert, which cannot be turned off per SLO")
        conditions = self._items(policy, path, key="conditions", ref="conditionRef",
                                 kind="AlertCondition", version=version)
        if not conditions:
            raise _Reject(node, path, "missing required key 'conditions'")
        windows = [self._condition(spec_node, spec, spec_path, period)
                   for _i, _p, _n, spec_node, spec, spec_path in conditions]
        targets = self._targets(policy, path, version)
        alerts: list[_Alert] = []
        for (item, item_path, *_rest), (window, severity_text) in zip(
                conditions, windows, strict=True):
            labels: dict[str, str] = {}
            if severity_text != window.severity:
                labels["severity"] = severity_text
            if targets:
                labels["notification_target"] = ",".join(targets)
            settings = model.AlertSettings(
                name=_alert_name(name), labels=model.frozen_map(labels),
                disabled=flags.get("alertWhenBreaching") is False)
            alerts.append(_Alert(window, settings, item, item_path))
        return alerts

    def _targets(self, policy: dict[str, Node], path: str, version: str) -> list[str]:
        found = self._items(policy, path, key="notificationTargets", ref="targetRef",
                            kind="AlertNotificationTarget", version=version)
        for _item, _path, _name, spec_node, spec, spec_path in found:
            _text(self.r, _need(spec, spec_node, spec_path, "target"), join(spec_path, "target"))
        return sorted({name for _i, _p, name, _n, _s, _sp in found})

    def _items(
        self, policy: dict[str, Node], path: str, *, key: str, ref: str, kind: str, version: str,
    ) -> list[tuple[Node, str, str, Node, dict[str, Node], str]]:
        """The objects a policy lists under ``key``, inline or by ``ref``: each item's node
        and path, the object's name, and its spec (node, entries, path)."""
        node = policy.get(key)
        if node is None or is_null(node):
            return []
        if not isinstance(node, SequenceNode):
            raise _Reject(node, join(path, key), f"must be a list, got {describe(node)}")
        out: list[tuple[Node, str, str, Node, dict[str, Node], str]] = []
        for index, item in enumerate(node.value):
            item_path = f"{join(path, key)}[{index}]"
            fields = _entries(self.r, item, item_path)
            if ref in fields:
                obj = self._ref(kind, fields[ref], join(item_path, ref))
            else:
                obj = self._object(item, item_path, top_level=False, kind=kind, version=version)
            spec_node = _need(_entries(self.r, obj.node, obj.path), obj.node, obj.path, "spec")
            spec_path = join(obj.path, "spec")
            out.append((item, item_path, obj.name, spec_node,
                        _entries(self.r, spec_node, spec_path), spec_path))
        return out

    def _condition(
        self, spec_node: Node, spec: dict[str, Node], path: str, period: model.Period | None
    ) -> tuple[model.AlertWindow, str]:
        """A burn-rate condition as a single-window alert and its severity as written.

        ``threshold`` is a fixed burn-rate factor, ``lookbackWindow`` the
        window, ``alertAfter`` how long the condition must hold. Severity
        ``page``, ``critical`` or ``high`` is a page, anything else a ticket.
        The window must fit the SLO period, checked when ``period`` is given.
        """
        severity_node = _need(spec, spec_node, path, "severity")
        severity_text = _text(self.r, severity_node, join(path, "severity")).strip()
        if not severity_text:
            raise _Reject(severity_node, join(path, "severity"), "must not be empty")
        severity = "page" if severity_text.lower() in _PAGE_SEVERITIES else "ticket"
        node = _need(spec, spec_node, path, "condition")
        cpath = join(path, "condition")
        fields = _entries(self.r, node, cpath)
        kind = _text(self.r, fields["kind"], join(cpath, "kind")) if "kind" in fields \
            else "burnrate"
        if kind != "burnrate":
            raise _Reject(fields["kind"], join(cpath, "kind"),
                          f"condition kind {kind!r} is not supported; only burnrate is")
        op = _text(self.r, fields["op"], join(cpath, "op")) if "op" in fields else "gt"
        if op != "gt":
            raise _Reject(fields["op"], join(cpath, "op"),
                          f"a burn-rate alert fires when the burn rate is above its threshold "
                          f"(gt); op {op!r} cannot map")
        long = _fixed_seconds(self.r, _need(fields, node, cpath, "lookbackWindow"),
                              join(cpath, "lookbackWindow"))
        hold = 0.0
        if "alertAfter" in fields:
            after = fields["alertAfter"]
            zero = isinstance(after, ScalarNode) and _ZERO.fullmatch(str(after.value))
            hold = 0.0 if zero else _fixed_seconds(self.r, after, join(cpath, "alertAfter"))
        threshold_node = _need(fields, node, cpath, "threshold")
        threshold = _number(self.r, threshold_node, join(cpath, "threshold"))
        if threshold <= 0:
            raise _Reject(threshold_node, join(cpath, "threshold"),
                          "must be a burn rate above 0")
        if period is not None and long > period.longest:
            raise _Reject(fields["lookbackWindow"], join(cpath, "lookbackWindow"),
                          f"the window {format_duration(long)} is longer than the SLO period "
                          f"{period.label}: it would need older data than the SLO keeps")
        return model.AlertWindow(severity, long, None, factor=threshold, hold=hold), \
            severity_text


@dataclass(frozen=True)
class _Alert:
    """One condition of one policy as it maps: its window, its severity's settings, and
    where it is written."""

    window: model.AlertWindow
    settings: model.AlertSettings
    node: Node
    path: str


_PAGE_SEVERITIES = ("page", "critical", "high")
_ALERT_CHARS = re.compile(r"[^a-zA-Z0-9_:]")
_ZERO = re.compile(r"0[mhdw]?")


def _alert_name(name: str) -> str:
    """A policy name as a Prometheus alert name: each character an alert name cannot
    hold becomes ``_`` (``fast-burn`` is ``fast_burn``), and a leading digit gets one."""
    text = _ALERT_CHARS.sub("_", name)
    return f"_{text}" if text[:1].isdigit() else text


def _alerting(alerts: list[_Alert]) -> model.Alerting:
    """The windows of every condition, and one settings per severity (they must agree)."""
    chosen: dict[str, _Alert] = {}
    seen: dict[tuple[str, float, float | None], _Alert] = {}
    for alert in alerts:
        first = seen.get(alert.window.key)
        if first is not None:
            raise _Reject(alert.node, alert.path,
                          f"the same {alert.window.severity} alert window as {first.path} "
                          "(severity and lookbackWindow); give each condition its own")
        seen[alert.window.key] = alert
        severity = alert.window.severity
        first = chosen.setdefault(severity, alert)
        if first.settings != alert.settings:
            raise _Reject(alert.node, alert.path,
                          f"maps to {severity} alerts as {first.path} does, but with another "
                          "policy name, severity, notification targets or alertWhenBreaching: "
                          f"an SLO's {severity} alerts have one name and label set")
    empty = model.AlertSettings()
    return model.Alerting(
        windows=tuple(alert.window for alert in alerts),
        page=chosen["page"].settings if "page" in chosen else empty,
        ticket=chosen["ticket"].settings if "ticket" in chosen else empty,
    )


def _boundary_problem(unit: str, start: datetime) -> str:
    if start.tzinfo is not None:
        return "give the local time without an offset; timeZone says where"
    if (start.hour, start.minute, start.second, start.microsecond) != (0, 0, 0, 0):
        return "periods start at local midnight"
    day: date = start.date()
    if unit == "week" and day.isoweekday() != 1:
        return "ISO weeks start on Monday"
    if unit == "month" and day.day != 1:
        return "months start on the 1st"
    if unit == "quarter" and (day.day != 1 or day.month not in (1, 4, 7, 10)):
        return "quarters start on January, April, July or October 1st"
    if unit == "year" and (day.day, day.month) != (1, 1):
        return "years start on January 1st"
    return ""

