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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import TypeVar

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from slo_exporter import model
from slo_exporter.config import nodes
from slo_exporter.config.alerting import MAX_WINDOWS
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

#: the keys each part of an object may have; any other key is reported (a typo
#: such as ``sevice`` or ``calender`` is never silently dropped)
_TOP_KEYS = ("apiVersion", "kind", "metadata", "spec")
_METADATA_KEYS = ("name", "displayName", "labels", "annotations")
_SLO_KEYS = ("description", "timeWindow", "budgetingMethod", "objectives", "alertPolicies")
_SPEC_KEYS: dict[tuple[str, str], tuple[str, ...]] = {
    ("SLO", V1): ("service", "indicator", "indicatorRef", *_SLO_KEYS),
    ("SLO", V2ALPHA): ("serviceRef", "sli", "sliRef", *_SLO_KEYS),
    ("SLI", V1): ("description", "ratioMetric", "thresholdMetric"),
    ("DataSource", V1): ("description", "type", "connectionDetails"),
    ("Service", V1): ("description",),
    ("AlertPolicy", V1): ("description", "alertWhenNoData", "alertWhenResolved",
                          "alertWhenBreaching", "conditions", "notificationTargets"),
    ("AlertCondition", V1): ("description", "severity", "condition"),
    ("AlertNotificationTarget", V1): ("description", "target"),
}
_OBJECTIVE_KEYS = ("displayName", "op", "value", "target", "targetPercent", "timeSliceTarget",
                   "timeSliceWindow", "compositeWeight")
_TIME_WINDOW_KEYS = ("duration", "isRolling", "calendar")
_CALENDAR_KEYS = ("startTime", "timeZone")
_RATIO_KEYS = ("counter", "good", "bad", "total", "rawType", "raw")
_CONDITION_KEYS = ("kind", "op", "threshold", "lookbackWindow", "alertAfter")
#: a Prometheus metric source's spec: the query alone
_PROMETHEUS_KEYS = ("query",)


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


class _Reported(Exception):
    """An object whose problems have all been reported already."""


T = TypeVar("T")


class _Checks:
    """Runs independent checks of one object: each rejection is reported and the next
    check still runs, so every problem among them is told at once."""

    def __init__(self, reader: Reader) -> None:
        self.r = reader
        self.failed = False
        #: what was told: the SLO's one indicator is read for each of its objectives
        self._told: set[tuple[int, str, str]] = set()

    def __call__(self, check: Callable[[], T]) -> T | None:
        try:
            return check()
        except _Reject as reject:
            told = (id(reject.node), reject.path, reject.reason)
            if told not in self._told:
                self._told.add(told)
                self.r.report(reject.node, reject.path, reject.reason)
            self.failed = True
            return None


def services(
    documents: Sequence[nodes.Document], reader: Reader, context: Context
) -> list[model.Service]:
    """The services of every OpenSLO SLO in ``documents``; problems go to ``reader``."""
    return _Loader(reader, context).load(documents)


# ----------------------------------------------------------- node helpers


def _entries(
    r: Reader, node: Node, path: str, allowed: tuple[str, ...] | None = None
) -> dict[str, Node]:
    """The entries of a mapping; with ``allowed``, every other key is reported (not raised,
    so the rest of the object is still checked)."""
    if not isinstance(node, MappingNode):
        raise _Reject(node, path, f"must be a mapping, got {describe(node)}")
    if allowed is not None:
        r.mapping(node, path, allowed)
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
                    by_service.setdefault(service, []).extend(slos)
                else:
                    self._alone(obj)
            except _Reject as reject:
                self.r.report(reject.node, reject.path, reject.reason)
            except _Reported:
                pass
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
        fields = _entries(self.r, node, path, _TOP_KEYS)
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
        metadata = _entries(self.r, _need(fields, node, path, "metadata"), join(path, "metadata"),
                            _METADATA_KEYS)
        name = _text(self.r, _need(metadata, fields["metadata"], join(path, "metadata"), "name"),
                     join(path, "metadata.name"))
        assert found is not None
        assert version is not None
        spec = fields.get("spec")
        if isinstance(spec, MappingNode):
            keys = _SPEC_KEYS.get((found, version)) or _SPEC_KEYS[(found, V1)]
            self.r.mapping(spec, join(path, "spec"), keys)
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
        """The SLOs of one OpenSLO SLO: one per objective, and a weighted composite.

        Independent parts (name, service, indicator, window, budgeting method,
        labels, policies, each objective's SLI, target, budgeting and weight)
        are checked one by one, so every problem among them is reported at once.
        """
        v1 = obj.version == V1
        top = _entries(self.r, obj.node, obj.path)
        spec_path = join(obj.path, "spec")
        spec_node = _need(top, obj.node, obj.path, "spec")
        spec = _entries(self.r, spec_node, spec_path)
        check = _Checks(self.r)
        check(lambda: self._slo_name(obj, top))
        service = check(lambda: self._service(spec, spec_node, spec_path, v1))
        keys = ("indicator", "indicatorRef") if v1 else ("sli", "sliRef")
        objectives = check(lambda: self._objectives(spec, spec_node, spec_path, keys)) or []
        shared = check(lambda: (self._shared_indicator(
            spec, spec_node, spec_path, objectives, keys=keys, version=obj.version),))
        period = check(lambda: self._period(spec, spec_node, spec_path))
        method = check(lambda: self._method(spec, spec_node, spec_path))
        labels = model.frozen_map(check(lambda: self._labels(top, obj.path)) or {})
        description = check(lambda: self._description(spec, spec_path)) or ""
        alerting = check(lambda: self._alert_policies(spec, spec_path, period, obj.version))
        # a weight that fails is None here, and the SLO is not returned (check.failed)
        weights = [check(partial(self._weight, fields, path)) for _node, path, fields in objectives]
        composite = any(w is not None for w in weights)
        slos: list[model.SLO] = []
        names: set[str] = set()
        for index, (node, path, fields) in enumerate(objectives):
            sli = None if shared is None else check(partial(
                self._objective_sli, shared[0], fields, node, path, keys=keys,
                version=obj.version))
            target = check(partial(self._target, fields, node, path))
            budgeting = None
            if method is not None and period is not None:
                budgeting = check(partial(self._budgeting, method, fields, node, path, period))
            suffix = check(partial(self._suffix, fields, path))
            if (check.failed or service is None or sli is None or target is None
                    or period is None or budgeting is None or alerting is None):
                continue
            name = obj.name
            if len(objectives) > 1 or composite:
                name = f"{obj.name}-{suffix or index}"
                if name in names:
                    name = f"{obj.name}-{index}"
            names.add(name)
            slos.append(model.SLO(
                service=service, name=name, objective=float(target), period=period, sli=sli,
                description=description, labels=labels, budgeting=budgeting, alerting=alerting,
            ))
        if check.failed or service is None:
            raise _Reported
        if composite:
            slos.append(self._composite(obj.name, spec_node, spec_path, slos, weights))
        return service, slos

    def _slo_name(self, obj: _Object, top: dict[str, Node]) -> None:
        if not OBJECT_NAME.fullmatch(obj.name):
            raise _Reject(top["metadata"], join(obj.path, "metadata.name"),
                          "must start with a letter or digit and contain only letters, "
                          f"digits, '_', '.', ':' and '-', got {obj.name!r}")

    def _service(self, spec: dict[str, Node], node: Node, path: str, v1: bool) -> str:
        key = "service" if v1 else "serviceRef"
        service = _text(self.r, _need(spec, node, path, key), join(path, key))
        if not OBJECT_NAME.fullmatch(service):
            raise _Reject(spec[key], join(path, key), f"{service!r} is not a valid service name")
        return service

    def _objectives(
        self, spec: dict[str, Node], node: Node, path: str, keys: tuple[str, str]
    ) -> list[tuple[Node, str, dict[str, Node]]]:
        """Each objective's node, path and entries (their unknown keys reported)."""
        found = [(item, f"{path}.objectives[{index}]") for index, item in
                 enumerate(self._objective_nodes(spec, node, path))]
        return [(item, item_path, _entries(self.r, item, item_path, (*_OBJECTIVE_KEYS, *keys)))
                for item, item_path in found]

    def _shared_indicator(
        self, spec: dict[str, Node], node: Node, path: str,
        objectives: list[tuple[Node, str, dict[str, Node]]], *, keys: tuple[str, str],
        version: str,
    ) -> tuple[dict[str, Node], str] | None:
        """The SLO's own indicator; None for a composite, whose objectives have theirs."""
        own = [any(key in fields for key in keys) for _n, _p, fields in objectives]
        if not any(own):
            return self._inline_or_ref(spec, node, path, keys, kind="SLI", version=version)
        # the SDK's rule: an indicator per objective (composite) or one for the SLO
        for key in keys:
            if key in spec:
                raise _Reject(spec[key], join(path, key),
                              "give the indicator either on the SLO or on every objective "
                              "(a composite SLO), not both")
        if not all(own):
            item, item_path, _fields = objectives[own.index(False)]
            raise _Reject(item, item_path, f"missing required key {keys[0]!r} or "
                          f"{keys[1]!r}: in a composite SLO every objective has its own")
        return None

    def _method(self, spec: dict[str, Node], node: Node, path: str) -> str:
        method_node = _need(spec, node, path, "budgetingMethod")
        method = _text(self.r, method_node, join(path, "budgetingMethod"))
        if method not in ("Occurrences", "Timeslices", "RatioTimeslices"):
            raise _Reject(method_node, join(path, "budgetingMethod"),
                          f"unknown budgetingMethod {method!r}; expected Occurrences, "
                          "Timeslices or RatioTimeslices")
        return method

    def _description(self, spec: dict[str, Node], path: str) -> str:
        if "description" not in spec:
            return ""
        return _text(self.r, spec["description"], join(path, "description"))

    def _objective_sli(
        self, shared: tuple[dict[str, Node], str] | None, fields: dict[str, Node], node: Node,
        path: str, *, keys: tuple[str, str], version: str,
    ) -> model.SLI:
        """One objective's SLI: the SLO's indicator, or its own in a composite."""
        sli_spec, sli_path = shared if shared is not None else self._inline_or_ref(
            fields, node, path, keys, kind="SLI", version=version)
        sli = self._sli(sli_spec, sli_path, fields, node, path)
        assert sli is not None  # an objective is given
        if not isinstance(sli, model.LatencySLI):
            self._ratio_objective(fields, path)
        return sli

    def _suffix(self, fields: dict[str, Node], path: str) -> str:
        """What names an objective's SLO after the SLO's name: its displayName as a slug."""
        if "displayName" not in fields:
            return ""
        return _slug(_text(self.r, fields["displayName"], join(path, "displayName")))

    def _ratio_objective(self, fields: dict[str, Node], path: str) -> None:
        """A ratio SLI's objective has a target only: ``value`` (a thresholdMetric's
        threshold) would be ignored, and ``op`` can only say the ratio must reach it."""
        if "value" in fields:
            raise _Reject(fields["value"], join(path, "value"),
                          "value is the threshold of a thresholdMetric; the objective of a "
                          "ratioMetric has only a target")
        if "op" in fields:
            op = _text(self.r, fields["op"], join(path, "op"))
            if op not in ("gt", "gte"):
                raise _Reject(fields["op"], join(path, "op"),
                              f"op {op!r} cannot apply to a ratioMetric, whose good ratio must "
                              "reach the target (gt or gte)")

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
        if not 0.0 < float(value) < 1.0:
            # more digits than a double holds: no error budget (or no objective) left
            key = "target" if "target" in fields else "targetPercent"
            raise _Reject(fields[key], join(path, key),
                          f"{nodes.describe(fields[key]).strip(chr(39))} is "
                          f"{'0' if float(value) == 0 else '1'} once held as a number (a "
                          "double); write fewer digits")
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
        fields = _entries(self.r, wnode, wpath, _TIME_WINDOW_KEYS)
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
        calendar = _entries(self.r, calendar_node, cpath, _CALENDAR_KEYS)
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
        if "ratioMetric" in sli and "thresholdMetric" in sli:
            raise _Reject(sli["thresholdMetric"], join(sli_path, "thresholdMetric"),
                          "give either ratioMetric or thresholdMetric, not both")
        if "ratioMetric" in sli:
            return self._ratio_metric(sli["ratioMetric"], join(sli_path, "ratioMetric"))
        if "thresholdMetric" in sli:
            return self._threshold_metric(
                sli["thresholdMetric"], join(sli_path, "thresholdMetric"),
                objective, objective_node, objective_path)
        raise _Reject(next(iter(sli.values()), objective_node), sli_path,
                      "an SLI needs ratioMetric or thresholdMetric")

    def _ratio_metric(self, node: Node, path: str) -> model.RatioSLI | model.RawRatioSLI:
        fields = _entries(self.r, node, path, _RATIO_KEYS)
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
            _entries(self.r, node, path, ("metricSource",))
            path = join(path, "metricSource")
            node = fields["metricSource"]
            fields = _entries(self.r, node, path, ("metricSourceRef", "type", "spec"))
            kind = self._source_type(fields, node, path, "metricSourceRef")
        else:  # v2alpha: dataSourceRef beside spec
            _entries(self.r, node, path, ("dataSourceRef", "dataSourceSpec", "spec"))
            kind = self._source_type(fields, node, path, "dataSourceRef")
        if kind.lower() != "prometheus":
            raise _Reject(node, path,
                          f"data source type {kind!r} cannot be read; only Prometheus is")
        spec = _entries(self.r, _need(fields, node, path, "spec"), join(path, "spec"),
                        _PROMETHEUS_KEYS)
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
        self, spec: dict[str, Node], path: str, period: model.Period | None, version: str
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
                _entries(self.r, item, item_path, ("alertPolicyRef",))
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
        if len(alerts) > MAX_WINDOWS:
            raise _Reject(node, ppath, f"the policies give {len(alerts)} alert windows; an SLO "
                                       f"has at most {MAX_WINDOWS}")
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
                _entries(self.r, item, item_path, (ref,))
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
        fields = _entries(self.r, node, cpath, _CONDITION_KEYS)
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
        long_node = _need(fields, node, cpath, "lookbackWindow")
        long = _fixed_seconds(self.r, long_node, join(cpath, "lookbackWindow"))
        resolution = self.context.storage.resolution
        if round(long * 1000) % round(resolution * 1000):
            raise _Reject(long_node, join(cpath, "lookbackWindow"),
                          f"must be a multiple of storage.resolution "
                          f"({format_duration(resolution)}), got {nodes.describe(long_node)}")
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

