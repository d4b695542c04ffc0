"""The native schema's service-level management keys: YAML nodes -> model objects.

Owns ``calendar``, ``budgeting`` and ``sla`` on an SLO, the ``composite``
SLI, ``description``/``depends_on`` on a service, and the top-level
``maintenance`` list and ``grafana_url``. References between objects (a
composite's components, ``depends_on``, a window's ``services`` and
``slos``) are checked once every service has been read, in
:meth:`SLMLoader.check_references`, so an object may refer to one defined
further down the file.

Percentages of contracts (SLA objective, credit tiers, the timeslice target)
are read from the text as written into ``Decimal``, never through a float:
``99.9`` is ``Decimal("99.9")``.

Must not do I/O or read a clock, and must not hold rules of the model: the
credit table's shape is :class:`slo_exporter.sla.SLA`'s to judge; a
``ValueError`` it raises is reported here at the offending line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from yaml.nodes import MappingNode, Node, ScalarNode

from slo_exporter.config.fields import Fields, Reader, number_text
from slo_exporter.config.nodes import FLOAT, INT, STR, describe, line
from slo_exporter.config.text import has_password, shorten
from slo_exporter.durations import format_duration
from slo_exporter.exclusions import validate_rrule
from slo_exporter.model.calendar import CALENDAR_UNITS, CalendarPeriod, CalendarUnit
from slo_exporter.model.identity import SLOId
from slo_exporter.model.period import Period, RollingPeriod
from slo_exporter.model.slm import (
    Budgeting,
    CompositeComponent,
    CompositeMode,
    CompositeSLI,
    EmptySlices,
    MaintenanceWindow,
    RatioTimeslices,
    Timeslices,
)
from slo_exporter.sla import PRESETS, SLA, CreditTier, MaintenancePolicy, SLAPeriod

#: service and SLO names: they appear in the store key "service/slo" and in URLs
OBJECT_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.:-]*")
_DECIMAL = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?"
    r"(?P<offset>[Zz]|[+-]\d{2}:\d{2})?"
)
_TIME_EXAMPLE = "'2026-03-29 02:00:00' (wall clock in time_zone) or '2026-03-29T02:00:00+01:00'"
_HUNDRED = Decimal(100)
_DAY = 86400.0
#: longest timeslice: a day; a coarser slice says little about uptime
SLICE_MAX = _DAY
#: longest name of a maintenance window (it is shown in reports and logs)
NAME_MAX = 200
#: longest maintenance window occurrence
MAINTENANCE_DURATION_MAX = 365 * _DAY
#: rule frequencies accepted for maintenance: a window recurs at most hourly,
#: so expanding a year of it stays cheap
_RRULE_FREQUENCIES = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY")
#: RFC 5545 rule parts; the BYxxx numbers with their range (negative low: also
#: counted from the end, so -high to -1 as well); None: checked by the parser
_RULE_PARTS: dict[str, tuple[int, int] | None] = {
    "FREQ": None, "UNTIL": None, "COUNT": None, "INTERVAL": None, "BYDAY": None, "WKST": None,
    "BYSECOND": (0, 60), "BYMINUTE": (0, 59), "BYHOUR": (0, 23),
    "BYMONTHDAY": (-1, 31), "BYYEARDAY": (-1, 366), "BYWEEKNO": (-1, 53),
    "BYMONTH": (1, 12), "BYSETPOS": (-1, 366),
}
# The choices as typed values: the reader checks the text, these give it its Literal type.
_UNITS: dict[str, CalendarUnit] = {unit: unit for unit in CALENDAR_UNITS}
_COMPOSITE_MODES: dict[str, CompositeMode] = {"all_good": "all_good", "weighted": "weighted"}
_EMPTY_SLICES: dict[str, EmptySlices] = {"skip": "skip", "good": "good", "bad": "bad"}
_SLA_PERIODS: dict[str, SLAPeriod] = {"week": "week", "month": "month", "quarter": "quarter"}
_SLA_MAINTENANCE: dict[str, MaintenancePolicy] = {"excluded": "excluded", "counted": "counted"}


def zone_problem(name: str) -> str | None:
    """Why ``name`` is not an IANA time zone, or None."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        shown = shorten(name)
        return f"unknown time zone {shown!r}: expected an IANA name such as UTC or Europe/Berlin"
    return None


def parse_rrule(text: str, start: datetime) -> None:
    """Raise ValueError with a short reason unless ``text`` is one RFC 5545 RRULE from ``start``.

    Stricter than ``exclusions.validate_rrule``, which it then asks, on what
    would make expanding the rule run away or is not worth a window: a
    frequency under an hour, an INTERVAL under 1, more than one line.
    """
    body = text.strip()
    if "\n" in body or "\r" in body:
        raise ValueError("must be a single RRULE line, such as FREQ=WEEKLY;BYDAY=SU")
    upper = body.upper()
    if upper.startswith("RRULE:"):
        upper = upper[len("RRULE:"):]
    parts = dict(part.partition("=")[::2] for part in upper.split(";") if part)
    if "DTSTART" in upper:
        raise ValueError("must not hold DTSTART: the window's start is the rule's start")
    if "FREQ" not in parts:
        raise ValueError("needs FREQ, such as FREQ=WEEKLY;BYDAY=SU")
    if parts["FREQ"] in ("SECONDLY", "MINUTELY"):
        raise ValueError(f"FREQ={parts['FREQ']} recurs too often; a window recurs at most HOURLY")
    if parts["FREQ"] not in _RRULE_FREQUENCIES:
        raise ValueError(
            f"invalid FREQ {parts['FREQ'][:20]!r}; expected one of {', '.join(_RRULE_FREQUENCIES)}"
        )
    interval = parts.get("INTERVAL", "1")
    if not interval.isdigit() or int(interval) < 1:
        raise ValueError(f"INTERVAL must be a whole number of at least 1, got {interval[:20]!r}")
    for name, value in parts.items():
        _check_rule_part(name, value)
    _check_day_filters(parts)
    _check_set_position(parts)
    # the rest of RFC 5545, and whether the rule ever occurs, is the expander's to judge
    try:
        validate_rrule(body, start)
    except (TypeError, IndexError, KeyError, OverflowError, ArithmeticError) as exc:
        # the library fails this way on some values out of range (BYHOUR=53,
        # BYEASTER=2026) while finding the first occurrence
        reason = str(exc)[:120] or type(exc).__name__
        raise ValueError(f"not an RFC 5545 recurrence rule ({reason}): {body[:120]!r}") from None


def _check_rule_part(name: str, value: str) -> None:
    """Refuse a part RFC 5545 does not define, or a BYxxx number out of its range.

    The library takes BYMONTH=13 or BYWEEKNO=2026 and then walks to the year
    9999 looking for an occurrence, which takes seconds; caught here at once.
    """
    if name not in _RULE_PARTS:
        raise ValueError(
            f"unknown rule part {name[:20]!r}; RFC 5545 has {', '.join(sorted(_RULE_PARTS))}"
        )
    limits = _RULE_PARTS[name]
    if limits is None:
        return
    low, high = limits
    for item in value.split(","):
        number = item.strip()
        digits = number.lstrip("+-")
        signed = number[:1] in "+-" and bool(number)
        if not digits.isdigit() or (signed and low >= 0):
            raise ValueError(f"{name} takes whole numbers, got {item[:20]!r}")
        magnitude = int(digits)
        if not (low <= magnitude <= high if low >= 0 else 1 <= magnitude <= high):
            shown = f"{low} to {high}" if low >= 0 else f"1 to {high} or -{high} to -1"
            raise ValueError(f"{name} must be {shown}, got {item[:20]!r}")


def _check_day_filters(parts: dict[str, str]) -> None:
    """RFC 5545's limits on which day filters a FREQ takes, and one of ours.

    BYWEEKNO and BYYEARDAY are not combined with another day or month
    filter: such a pair rarely has a common day (week 30 in December), and
    the library looks for one day by day up to the year 9999, for seconds.
    """
    freq = parts["FREQ"]
    if "BYWEEKNO" in parts and freq != "YEARLY":
        raise ValueError("BYWEEKNO is only allowed with FREQ=YEARLY (RFC 5545)")
    if "BYYEARDAY" in parts and freq in ("DAILY", "WEEKLY", "MONTHLY"):
        raise ValueError(f"BYYEARDAY is not allowed with FREQ={freq} (RFC 5545)")
    if "BYMONTHDAY" in parts and freq == "WEEKLY":
        raise ValueError("BYMONTHDAY is not allowed with FREQ=WEEKLY (RFC 5545)")
    for name in ("BYWEEKNO", "BYYEARDAY"):
        others = [
            other for other in ("BYMONTH", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO")
            if other != name and other in parts
        ]
        if name in parts and others:
            raise ValueError(
                f"{name} cannot be combined with {', '.join(others)}: write the days as "
                f"{name} alone, or without it"
            )


def _check_set_position(parts: dict[str, str]) -> None:
    """Refuse a BYSETPOS beyond the occurrences one FREQ period can hold.

    Such a rule never occurs, and the library, finding no candidate to
    compare with UNTIL, walks hour by hour to the year 9999 (minutes for
    ``FREQ=HOURLY;BYSETPOS=31``). The bound is exact for HOURLY and DAILY
    and generous above, where the library's walk is cheap.
    """
    if "BYSETPOS" not in parts:
        return

    def count(name: str) -> int:
        return len(parts[name].split(",")) if name in parts else 1

    times = count("BYHOUR") * count("BYMINUTE") * count("BYSECOND")
    days_filtered = any(k in parts for k in ("BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO"))
    size = {
        "HOURLY": count("BYMINUTE") * count("BYSECOND"),
        "DAILY": times,
        "WEEKLY": count("BYDAY") * times,
        "MONTHLY": (31 if days_filtered else 1) * times,
        "YEARLY": (366 if days_filtered else count("BYMONTH")) * times,
    }[parts["FREQ"]]
    for item in parts["BYSETPOS"].split(","):
        if abs(int(item)) > size:
            raise ValueError(
                f"BYSETPOS {item.strip()} never matches: a FREQ={parts['FREQ']} period of this "
                f"rule holds at most {size} occurrence(s)"
            )


@dataclass
class _Composite:
    """A composite SLO's components as written, for the reference check."""

    owner: SLOId
    components: list[tuple[SLOId, Node, str]] = field(default_factory=list)


@dataclass
class _Refs:
    """Names a part of the file refers to, with where it does."""

    services: list[tuple[str, Node, str]] = field(default_factory=list)
    slos: list[tuple[SLOId, Node, str]] = field(default_factory=list)


class SLMLoader:
    """Reads the service-level management keys; problems go to the reader's list.

    ``whole_buckets(node, path, seconds)`` says (and reports) whether a
    span is a multiple of the storage resolution.
    """

    def __init__(self, reader: Reader, whole_buckets: Callable[[Node, str, float], bool]) -> None:
        self.r = reader
        self._whole_buckets = whole_buckets
        #: every service and SLO name declared, even in an otherwise invalid
        #: entry, so one mistake does not also show as a dangling reference
        self.declared: dict[str, Collection[str]] = {}
        self._composites: list[_Composite] = []
        self._depends: list[tuple[str, _Refs]] = []
        self._maintenance: list[_Refs] = []

    # ------------------------------------------------------------ numbers

    def decimal(self, node: Node, path: str, example: str) -> Decimal | None:
        """A number exactly as written (``99.9`` is ``Decimal("99.9")``)."""
        expected = f"must be a number such as {example}"
        if isinstance(node, ScalarNode) and node.tag == STR and _DECIMAL.fullmatch(node.value):
            self.r.report(
                node, path, f"{expected}, got {describe(node)}: remove the quotes, "
                "a quoted value is text",
            )
            return None
        if isinstance(node, ScalarNode) and node.tag in (INT, FLOAT):
            text = str(node.value)
            if _DECIMAL.fullmatch(text):
                return Decimal(text)
        self.r.report(node, path, f"{expected}, got {describe(node)}")
        return None

    def _percent(self, fields: Fields, key: str) -> Decimal | None:
        return fields.read(key, lambda node, path: self.decimal(node, path, "99.9"))

    # ------------------------------------------------------------ periods

    def time_zone(self, node: Node, path: str) -> str | None:
        text = self.r.string(node, path)
        if text is None:
            return None
        problem = zone_problem(text.strip())
        if problem:
            self.r.report(node, path, problem)
            return None
        return text.strip()

    def calendar(self, node: Node, path: str) -> CalendarPeriod | None:
        fields = self.r.mapping(node, path, ("period", "time_zone"), required=("period",))
        if fields is None:
            return None
        unit = fields.read("period", self.r.choice(tuple(_UNITS), "a calendar period", str))
        zone = fields.read("time_zone", self.time_zone)
        if unit is None or (zone is None and fields.get("time_zone") is not None):
            return None
        return CalendarPeriod(_UNITS[unit], zone or "UTC")

    # ---------------------------------------------------------- budgeting

    def budgeting(self, node: Node, path: str) -> Budgeting | None:
        fields = self.r.mapping(node, path, ("timeslices", "empty_slices", "ratio_timeslices"))
        if fields is None:
            return None
        if fields.get("ratio_timeslices") is not None:
            return self._ratio_timeslices(fields)
        empty = fields.read(
            "empty_slices", self.r.choice(tuple(_EMPTY_SLICES), "what an empty slice is", str)
        )
        if fields.get("timeslices") is None:
            if fields.get("empty_slices") is not None:
                fields.report(
                    "empty_slices", "applies only to timeslice budgeting: add 'timeslices'"
                )
                return None
            return Budgeting()
        slices = fields.read("timeslices", self.timeslices)
        if slices is None or (empty is None and fields.get("empty_slices") is not None):
            return None
        slice_seconds, target = slices
        return Budgeting(Timeslices(slice_seconds, target, _EMPTY_SLICES[empty or "skip"]))

    def _ratio_timeslices(self, fields: Fields) -> Budgeting | None:
        """``ratio_timeslices: {slice: 5m}``: the SLI is the mean of the slices' ratios."""
        for key in ("timeslices", "empty_slices"):
            if fields.get(key) is not None:
                fields.report(
                    key, "give either 'timeslices' or 'ratio_timeslices' (a slice without "
                    "events has no ratio and is always skipped), not both")
                return None
        seconds = fields.read("ratio_timeslices", self._ratio_slice)
        return None if seconds is None else Budgeting(ratio_timeslices=RatioTimeslices(seconds))

    def _ratio_slice(self, node: Node, path: str) -> float | None:
        fields = self.r.mapping(node, path, ("slice",), required=("slice",))
        if fields is None:
            return None
        seconds = fields.duration("slice", above_zero=True, maximum=SLICE_MAX)
        if seconds is None or not self._whole_buckets(
            fields.at("slice"), fields.key_path("slice"), seconds
        ):
            return None
        return seconds

    def timeslices(self, node: Node, path: str) -> tuple[float, Decimal] | None:
        fields = self.r.mapping(node, path, ("slice", "target"), required=("slice", "target"))
        if fields is None:
            return None
        seconds = fields.duration("slice", above_zero=True, maximum=SLICE_MAX)
        if seconds is not None and not self._whole_buckets(
            fields.at("slice"), fields.key_path("slice"), seconds
        ):
            seconds = None
        target = fields.read("target", lambda n, p: self.decimal(n, p, "95 (percent)"))
        if target is not None and not Decimal(0) < target <= _HUNDRED:
            fields.report(
                "target",
                "must be a percentage above 0 and at most 100, "
                f"got {describe(fields.at('target'))}",
            )
            target = None
        if seconds is None or target is None:
            return None
        return seconds, target.scaleb(-2)

    def check_slice_fits(
        self, fields: Fields, budgeting: Budgeting, period: Period
    ) -> Budgeting | None:
        """``budgeting``, or None after reporting a slice longer than the rolling window."""
        slice_seconds = budgeting.slice
        if slice_seconds is None or not isinstance(period, RollingPeriod):
            return budgeting  # a calendar week is longer than the longest slice
        if slice_seconds <= period.seconds:
            return budgeting
        key = "timeslices" if budgeting.timeslices is not None else "ratio_timeslices"
        node = self._key_node(fields.at("budgeting"), key)
        self.r.report(
            self._key_node(node, "slice"),
            f"{fields.key_path('budgeting')}.{key}.slice",
            f"must not be longer than the window ({format_duration(period.seconds)}), "
            f"got {format_duration(slice_seconds)}",
        )
        return None

    # ---------------------------------------------------------------- SLA

    def sla(self, node: Node, path: str) -> SLA | None:
        fields = self.r.mapping(
            node, path, ("objective", "period", "credits", "preset", "maintenance")
        )
        if fields is None:
            return None
        period = fields.read("period", self.r.choice(tuple(_SLA_PERIODS), "an SLA period", str))
        maintenance = fields.read(
            "maintenance", self.r.choice(tuple(_SLA_MAINTENANCE), "how maintenance counts", str)
        )
        base = self._preset(fields) if fields.get("preset") is not None else self._table(fields)
        bad_choice = any(
            value is None and fields.get(key) is not None
            for key, value in (("period", period), ("maintenance", maintenance))
        )
        if base is None or bad_choice:
            return None
        return SLA(
            objective=base.objective,
            tiers=base.tiers,
            period=base.period if period is None else _SLA_PERIODS[period],
            maintenance=base.maintenance if maintenance is None else _SLA_MAINTENANCE[maintenance],
        )

    def _preset(self, fields: Fields) -> SLA | None:
        name = fields.string("preset")
        if name is None:
            return None
        preset = PRESETS.get(name.strip())
        if preset is None:
            shown = shorten(name)
            fields.report(
                "preset",
                f"unknown SLA preset {shown!r}; known presets: {', '.join(sorted(PRESETS))}",
            )
            return None
        # A preset is a published table: mixing it with our own numbers would
        # make a contract nobody signed, so the table is written out instead.
        clashes = [key for key in ("objective", "credits", "period") if fields.has(key)]
        for key in clashes:
            table = ", ".join(f"{{below: {t.below}, credit: {t.credit}}}" for t in preset.tiers)
            fields.report(
                key,
                f"cannot be combined with 'preset' ({name.strip()}: objective {preset.objective}, "
                f"period {preset.period}, credits [{table}]); drop {key!r}, or drop the preset "
                "and write its table out with your changes",
            )
        return None if clashes else preset

    def _table(self, fields: Fields) -> SLA | None:
        if not fields.has("objective"):
            self.r.report(
                fields.node, fields.path, "missing required key 'objective' (or give a 'preset')"
            )
        objective = self._percent(fields, "objective")
        tiers_node = fields.get("credits")
        items = (
            [] if tiers_node is None
            else self.r.sequence(tiers_node, fields.key_path("credits"), "credit tiers")
        )
        if items is None:
            return None
        tiers = [self.credit_tier(item, item_path) for item, item_path in items]
        if objective is None:
            return None
        try:
            SLA(objective)
        except ValueError as exc:
            fields.report("objective", str(exc))
            return None
        if any(tier is None for tier in tiers):
            return None
        checked = tuple(t for t in tiers if t is not None)
        # the shortest prefix the model refuses ends at the offending row
        for count in range(1, len(checked) + 1):
            try:
                SLA(objective, checked[:count])
            except ValueError as exc:
                item, item_path = items[count - 1]
                self.r.report(item, item_path, str(exc))
                return None
        return SLA(objective, checked)

    def credit_tier(self, node: Node, path: str) -> CreditTier | None:
        fields = self.r.mapping(node, path, ("below", "credit"), required=("below", "credit"))
        if fields is None:
            return None
        below = self._percent(fields, "below")
        credit = fields.read("credit", lambda n, p: self.decimal(n, p, "10 (percent)"))
        if below is None or credit is None:
            return None
        try:
            return CreditTier(below, credit)
        except ValueError as exc:
            self.r.report(node, path, str(exc))
            return None

    def check_sla_against_objective(
        self, node: Node, path: str, sla: SLA, objective: float
    ) -> None:
        """Warn when the contract promises more than the SLO aims for."""
        # compared as written: the SLO objective is the float of a percent / 100
        if sla.objective > Decimal(repr(objective)).scaleb(2):
            self.r.warn(
                node,
                path,
                f"the SLA commits to {sla.objective} %, more than the SLO objective "
                f"({number_text(round(objective * 100, 10))} %): the SLO should aim at least "
                "as high as what is promised",
            )

    # ----------------------------------------------------------- composite

    def composite(self, node: Node, path: str, owner: SLOId | None) -> CompositeSLI | None:
        fields = self.r.mapping(node, path, ("mode", "components"), required=("mode", "components"))
        if fields is None:
            return None
        mode = fields.read(
            "mode", self.r.choice(tuple(_COMPOSITE_MODES), "a composite mode", str)
        )
        components_node = fields.get("components")
        if components_node is None:
            return None
        items = self.r.sequence(components_node, fields.key_path("components"), "components")
        if items is None:
            return None
        if not items:
            fields.report("components", "must list at least one component SLO")
            return None
        record = _Composite(owner or SLOId("", ""))
        components: list[CompositeComponent] = []
        seen: dict[SLOId, int] = {}
        for item, item_path in items:
            component = self.component(item, item_path, mode)
            if component is None:
                continue
            slo_node = self._key_node(item, "slo")
            if component.slo in seen:
                self.r.report(
                    slo_node, f"{item_path}.slo",
                    f"duplicate component {component.slo.key!r} (first listed on line "
                    f"{seen[component.slo]})",
                )
                continue
            seen[component.slo] = line(slo_node)
            record.components.append((component.slo, slo_node, f"{item_path}.slo"))
            components.append(component)
        if owner is not None:
            self._composites.append(record)
        if mode is None or len(components) != len(items):
            return None
        return CompositeSLI(_COMPOSITE_MODES[mode], tuple(components))

    @staticmethod
    def _key_node(node: Node, key: str) -> Node:
        """The value node of ``key`` in mapping ``node`` (to locate a problem), else ``node``."""
        if isinstance(node, MappingNode):
            for key_node, value in node.value:
                if isinstance(key_node, ScalarNode) and key_node.value == key:
                    return value  # type: ignore[no-any-return]
        return node

    def component(self, node: Node, path: str, mode: str | None) -> CompositeComponent | None:
        fields = self.r.mapping(node, path, ("slo", "weight"), required=("slo",))
        if fields is None:
            return None
        slo = fields.read("slo", self.slo_ref)
        weight = fields.read("weight", self.weight)
        if fields.get("weight") is not None and weight is not None and mode == "all_good":
            fields.reader.warn(
                fields.at("weight"), fields.key_path("weight"),
                "has no effect in mode all_good (a slice is bad when any component's is); "
                "weights count in mode weighted",
            )
        if slo is None or (weight is None and fields.get("weight") is not None):
            return None
        return CompositeComponent(slo, 1.0 if weight is None else weight)

    def weight(self, node: Node, path: str) -> float | None:
        value = self.r.finite(node) if isinstance(node, ScalarNode) and node.tag in (
            INT, FLOAT) else None
        if value is None or value <= 0:
            self.r.report(node, path, f"must be a finite number above 0, got {describe(node)}")
            return None
        return value

    def slo_ref(self, node: Node, path: str) -> SLOId | None:
        text = self.r.string(node, path)
        if text is None:
            return None
        service, slash, name = text.strip().partition("/")
        if not (slash and OBJECT_NAME.fullmatch(service) and OBJECT_NAME.fullmatch(name)):
            shown = shorten(text)
            self.r.report(
                node, path, f"must name an SLO as service/slo, such as checkout/availability, "
                f"got {shown!r}",
            )
            return None
        return SLOId(service, name)

    # ------------------------------------------------------------- service

    def depends_on(self, node: Node, path: str, service: str | None) -> tuple[str, ...] | None:
        refs = self._names(node, path, "service names")
        if refs is None:
            return None
        if service is not None:
            for name, item, item_path in refs.services:
                if name == service:
                    self.r.report(item, item_path, f"a service cannot depend on itself ({name!r})")
                    return None
            self._depends.append((service, refs))
        return tuple(name for name, _, _ in refs.services)

    def _names(self, node: Node, path: str, what: str) -> _Refs | None:
        items = self.r.sequence(node, path, what)
        if items is None:
            return None
        refs = _Refs()
        seen: dict[str, int] = {}
        for item, item_path in items:
            name = self.r.string(item, item_path)
            if name is None:
                return None
            name = name.strip()
            if name in seen:
                self.r.report(
                    item, item_path, f"duplicate name {name!r} (first listed on line {seen[name]})"
                )
                return None
            seen[name] = line(item)
            refs.services.append((name, item, item_path))
        return refs

    # --------------------------------------------------------- top level

    def grafana_url(self, node: Node, path: str) -> str | None:
        url = self.r.url(node, path)
        if url is not None and has_password(url):
            self.r.report(
                node, path,
                "must not hold credentials (user:password@): the URL is shown on the status "
                "page; sign in to Grafana in the browser instead",
            )
            return None
        return url

    def maintenance(self, node: Node, path: str) -> tuple[MaintenanceWindow, ...] | None:
        items = self.r.sequence(node, path, "maintenance windows")
        if items is None:
            return None
        seen: dict[str, int] = {}
        windows = [self.window(item, item_path, seen) for item, item_path in items]
        if any(w is None for w in windows):
            return None
        return tuple(w for w in windows if w is not None)

    def window(self, node: Node, path: str, seen: dict[str, int]) -> MaintenanceWindow | None:
        fields = self.r.mapping(
            node, path,
            (
                "name", "start", "end", "duration", "rrule", "time_zone", "services", "slos",
                "reason",
            ),
            required=("name", "start"),
        )
        if fields is None:
            return None
        name = fields.string("name", non_empty=True)
        if name is not None:
            name = name.strip()
            if not name.isprintable() or len(name) > NAME_MAX:
                fields.report(
                    "name", f"must be printable text on one line, at most {NAME_MAX} characters"
                )
                name = None
            elif name in seen:
                fields.report(
                    "name", f"duplicate maintenance window {name!r} (first defined on line "
                    f"{seen[name]})",
                )
                name = None
            else:
                seen[name] = line(fields.at("name"))
        zone = fields.read("time_zone", self.time_zone)
        zone_ok = zone is not None or fields.get("time_zone") is None
        zone = zone or "UTC"
        start = fields.read("start", lambda n, p: self.instant(n, p, zone)) if zone_ok else None
        end = fields.read("end", lambda n, p: self.instant(n, p, zone)) if zone_ok else None
        duration = fields.duration("duration", above_zero=True, maximum=MAINTENANCE_DURATION_MAX)
        rrule = fields.string("rrule", non_empty=True)
        services = fields.read("services", lambda n, p: self._names(n, p, "service names"))
        slos = fields.read("slos", self.slo_refs)
        reason = fields.string("reason") or ""
        shape_ok = self._shape(fields)
        if start is not None and end is not None and end <= start:
            fields.report(
                "end",
                f"must be after start ({start.isoformat()}), got {describe(fields.at('end'))}",
            )
            return None
        if start is not None and rrule is not None and not self._rrule(fields, rrule, start):
            return None
        if services is not None or slos is not None:
            self._maintenance.append(
                _Refs(services=services.services if services else [],
                      slos=slos.slos if slos else [])
            )
        if services is not None and slos is not None and services.services:
            listed = {name for name, _, _ in services.services}
            for slo, item, item_path in slos.slos:
                if slo.service not in listed:
                    self.r.report(
                        item, item_path,
                        f"{slo.key!r} is not in this window's services "
                        f"({', '.join(sorted(listed))}); 'slos' narrows 'services'",
                    )
                    return None
        if (
            name is None or start is None or not shape_ok
            or (fields.get("end") is not None and end is None)
            or (fields.get("duration") is not None and duration is None)
            or (fields.get("rrule") is not None and rrule is None)
            or (fields.get("services") is not None and services is None)
            or (fields.get("slos") is not None and slos is None)
        ):
            return None
        return MaintenanceWindow(
            name=name,
            start=start,
            time_zone=zone,
            end=end,
            duration=duration,
            rrule=None if rrule is None else rrule.strip(),
            services=tuple(n for n, _, _ in services.services) if services else (),
            slos=tuple(s for s, _, _ in slos.slos) if slos else (),
            reason=reason,
        )

    def _shape(self, fields: Fields) -> bool:
        """One-off (``end``) or recurring (``duration`` + ``rrule``), exactly one of them."""
        has = {key: fields.get(key) is not None for key in ("end", "duration", "rrule")}
        if has["end"] and (has["duration"] or has["rrule"]):
            extra = "duration" if has["duration"] else "rrule"
            fields.report(
                extra, "give either 'end' (a one-off window) or 'duration' and 'rrule' "
                "(a recurring one), not both",
            )
            return False
        if has["end"]:
            return True
        if not has["duration"] and not has["rrule"]:
            self.r.report(
                fields.node, fields.path, "missing 'end' (a one-off window) or 'duration' and "
                "'rrule' (a recurring one)",
            )
            return False
        for key, other in (("duration", "rrule"), ("rrule", "duration")):
            if has[key] and not has[other]:
                fields.report(
                    key, f"a recurring window needs both 'duration' and 'rrule': add {other!r}"
                )
                return False
        return True

    def _rrule(self, fields: Fields, text: str, start: datetime) -> bool:
        try:
            parse_rrule(text, start)
        except ValueError as exc:
            fields.report("rrule", f"invalid recurrence rule: {exc}")
            return False
        return True

    def slo_refs(self, node: Node, path: str) -> _Refs | None:
        items = self.r.sequence(node, path, "SLOs as service/slo")
        if items is None:
            return None
        refs = _Refs()
        seen: dict[SLOId, int] = {}
        for item, item_path in items:
            slo = self.slo_ref(item, item_path)
            if slo is None:
                return None
            if slo in seen:
                self.r.report(
                    item, item_path, f"duplicate SLO {slo.key!r} (first listed on line {seen[slo]})"
                )
                return None
            seen[slo] = line(item)
            refs.slos.append((slo, item, item_path))
        return refs

    def instant(self, node: Node, path: str, zone_name: str) -> datetime | None:
        """A wall-clock time in ``zone_name``, or an RFC 3339 time with an offset.

        A wall-clock time the clock skips (in a DST gap) is an error: no
        instant has it. One it passes twice (the clock goes back) is the
        first of them, as ``fold=0`` reads it.
        """
        text = self.r.string(node, path)
        if text is None:
            return None
        match = _TIME.fullmatch(text.strip())
        shown = shorten(text)
        if match is None:
            self.r.report(node, path, f"must be a time such as {_TIME_EXAMPLE}, got {shown!r}")
            return None
        zone = ZoneInfo(zone_name)
        year, month, day, hour, minute, second = (int(match[i]) for i in range(1, 7))
        micro = int((match[7] or ".0")[1:].ljust(6, "0"))
        try:
            wall = datetime(year, month, day, hour, minute, second, micro)
        except ValueError as exc:
            self.r.report(node, path, f"not a valid time ({exc}), got {shown!r}")
            return None
        offset = match["offset"]
        if offset is not None:
            if offset in ("Z", "z"):
                fixed = UTC
            else:
                sign = -1 if offset[0] == "-" else 1
                hours, minutes = int(offset[1:3]), int(offset[4:6])
                if hours > 23 or minutes > 59:
                    self.r.report(node, path, f"invalid UTC offset {offset!r} in {shown!r}")
                    return None
                fixed = timezone(sign * timedelta(hours=hours, minutes=minutes))
            return wall.replace(tzinfo=fixed).astimezone(zone)
        local = wall.replace(tzinfo=zone)
        if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
            self.r.report(
                node, path,
                f"{wall.isoformat(sep=' ')} does not exist in {zone_name}: the clock skips it "
                "(daylight saving time starts); give a time outside the gap, or an RFC 3339 "
                "time with an offset",
            )
            return None
        return local

    # ---------------------------------------------------------- references

    def check_references(self) -> None:
        """Report references to services and SLOs the file does not declare, and cycles."""
        for service, refs in self._depends:
            for name, node, path in refs.services:
                if name not in self.declared:
                    self._unknown_service(node, path, name, f"service {service!r} depends on")
        for refs in self._maintenance:
            for name, node, path in refs.services:
                if name not in self.declared:
                    self._unknown_service(node, path, name, "the maintenance window names")
            for slo, node, path in refs.slos:
                self._check_slo(node, path, slo, "the maintenance window names")
        composites = {c.owner: c for c in self._composites}
        for composite in self._composites:
            for slo, node, path in composite.components:
                if slo == composite.owner:
                    self.r.report(
                        node, path, f"a composite SLO cannot include itself ({slo.key!r})"
                    )
                else:
                    self._check_slo(node, path, slo, "the composite includes")
        self._check_cycles(composites)

    def _unknown_service(self, node: Node, path: str, name: str, what: str) -> None:
        shown = shorten(name)
        self.r.report(
            node, path, f"{what} an unknown service {shown!r}; known services: "
            f"{', '.join(sorted(self.declared)) or 'none'}",
        )

    def _check_slo(self, node: Node, path: str, slo: SLOId, what: str) -> None:
        if slo.service not in self.declared:
            self._unknown_service(node, path, slo.service, f"{what} {slo.key!r}, of")
        elif slo.name not in self.declared[slo.service]:
            known = ", ".join(sorted(self.declared[slo.service])) or "none"
            self.r.report(
                node, path, f"{what} an unknown SLO {slo.key!r}; service {slo.service!r} has: "
                f"{known}",
            )

    def _check_cycles(self, composites: dict[SLOId, _Composite]) -> None:
        """Report each cycle among composites once, at the first composite of it in the file."""
        reported: set[frozenset[SLOId]] = set()
        for composite in self._composites:
            cycle = self._cycle_from(composite.owner, composites)
            if cycle is None or frozenset(cycle) in reported or cycle[0] != composite.owner:
                continue
            reported.add(frozenset(cycle))
            if len(cycle) == 1:
                continue  # a self-reference, reported on its own
            _, node, path = next(c for c in composite.components if c[0] == cycle[1])
            shown = " -> ".join(slo.key for slo in (*cycle, cycle[0]))
            self.r.report(
                node, path, f"composite SLOs form a cycle: {shown}; a composite is evaluated "
                "after its components, so none can include itself, even indirectly",
            )

    @staticmethod
    def _cycle_from(start: SLOId, composites: dict[SLOId, _Composite]) -> list[SLOId] | None:
        """The shortest cycle through ``start``, following composite components (BFS)."""
        parents: dict[SLOId, SLOId] = {}
        frontier = [start]
        while frontier:  # bounded: each composite is entered once
            following: list[SLOId] = []
            for current in frontier:
                for slo, _, _ in composites[current].components if current in composites else ():
                    if slo == start:
                        path = [current]
                        while path[-1] != start:
                            path.append(parents[path[-1]])
                        return path[::-1]
                    if slo not in parents and slo in composites:
                        parents[slo] = current
                        following.append(slo)
            frontier = following
        return None


__all__ = ["SLMLoader", "parse_rrule", "zone_problem"]
