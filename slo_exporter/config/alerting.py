"""An SLO's ``alerting:`` block: its alert windows and per-severity alert settings.

Owns reading the native ``alerting`` key into ``model.Alerting`` and the
checks every dialect's alert settings share: alert names, alert label
names (``service``, ``slo`` and ``alertname`` are the alert's identity and
cannot be set), annotation names, and a window catalogue (each window
valid, fitting the SLO period, none twice). Every bad value is reported
with its field and reason, never dropped.

Must not do I/O and must not know any other dialect's spelling (the
Sloth loader calls ``settings`` and ``check_windows`` with its own values).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from yaml.nodes import Node

from slo_exporter import model
from slo_exporter.config.fields import Reader, number_text
from slo_exporter.config.nodes import describe
from slo_exporter.config.text import LABEL_NAME, shorten
from slo_exporter.durations import format_duration

#: a Prometheus alert name (a metric name: Prometheus rejects any other)
ALERT_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
#: labels an alert setting cannot set: they say which SLO and alert it is
IDENTITY_LABELS = ("alertname", "service", "slo")
#: the most characters of one annotation (a template or a text)
MAX_ANNOTATION = 10_000
#: the most windows of one catalogue
MAX_WINDOWS = 20

#: whether a window is whole storage buckets (reports it if not): node, path, seconds
WholeBuckets = Callable[[Node, str, float], bool]

_WINDOW_KEYS = ("severity", "long", "short", "budget_percent", "factor", "for")
_SETTINGS_KEYS = ("name", "labels", "annotations", "disabled")


def alert_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a Prometheus alert, or None."""
    if ALERT_NAME.fullmatch(name):
        return None
    shown = shorten(name)
    return f"invalid alert name {shown!r}: must match [a-zA-Z_:][a-zA-Z0-9_:]*"


def _alert_label_problem(name: str) -> str | None:
    if not LABEL_NAME.fullmatch(name) or name.startswith("__"):
        shown = shorten(name)
        return (f"invalid label name {shown!r}: must match [a-zA-Z_][a-zA-Z0-9_]* "
                "and not start with __")
    if name in IDENTITY_LABELS:
        return (f"label {name!r} cannot be set on an alert: "
                f"{', '.join(IDENTITY_LABELS)} say which SLO and alert it is")
    return None


def _annotation_name_problem(name: str) -> str | None:
    if LABEL_NAME.fullmatch(name):
        return None
    shown = shorten(name)
    return f"invalid annotation name {shown!r}: must match [a-zA-Z_][a-zA-Z0-9_]*"


def read_alert_labels(r: Reader, node: Node, path: str) -> dict[str, str] | None:
    """Labels added to (and overriding) an alert's own: valid names, not its identity."""
    return r.string_map(
        node, path, "label names to values", _alert_label_problem,
        lambda _name, value: None if value else "label values must not be empty")


def read_annotations(r: Reader, node: Node, path: str) -> dict[str, str] | None:
    """Annotations, passed through verbatim (Prometheus templates included)."""
    return r.string_map(
        node, path, "annotation names to texts", _annotation_name_problem,
        lambda _name, value: None if len(value) <= MAX_ANNOTATION
        else f"must be at most {MAX_ANNOTATION} characters")


def read_alert_name(r: Reader, node: Node, path: str) -> str | None:
    """An alert name; reported when Prometheus would reject it."""
    name = r.string(node, path)
    if name is None:
        return None
    problem = alert_name_problem(name)
    if problem:
        r.report(node, path, problem)
        return None
    return name


def check_windows(
    r: Reader,
    windows: Sequence[tuple[model.AlertWindow, Node, str]],
    period: model.Period | None,
) -> bool:
    """Whether a catalogue is usable for ``period``: every window fits it, none twice.

    ``windows`` holds each window with the node and path to report it at.
    A period of None (unknown) checks duplicates only.
    """
    ok = True
    seen: dict[tuple[str, float, float | None], str] = {}
    for window, node, path in windows:
        first = seen.get(window.key)
        if first is not None:
            r.report(node, path, f"duplicate alert window: {first} has the same severity "
                                 "and windows")
            ok = False
            continue
        seen[window.key] = path
        if period is not None and window.long > period.longest:
            r.report(node, path, (
                f"the long window {format_duration(window.long)} is longer than the SLO "
                f"period {period.label}: it would need older data than the SLO keeps"))
            ok = False
    return ok


def read_alerting(
    r: Reader, node: Node, path: str, period: model.Period | None, whole: WholeBuckets
) -> model.Alerting | None:
    """The native ``alerting:`` block of an SLO of ``period`` (None: its period was bad);
    ``whole`` checks that a window is whole storage buckets."""
    fields = r.mapping(node, path, ("windows", *model.SEVERITIES))
    if fields is None:
        return None
    ok = True
    windows: tuple[model.AlertWindow, ...] = model.ALERT_WINDOWS
    if fields.has("windows"):
        listed = fields.read("windows", lambda n, p: _windows(r, n, p, period, whole))
        if listed is None:
            ok = False
        else:
            windows = listed
    settings: dict[str, model.AlertSettings] = {}
    for severity in model.SEVERITIES:
        if not fields.has(severity):
            settings[severity] = model.AlertSettings()
            continue
        read = fields.read(severity, lambda n, p: _settings(r, n, p))
        if read is None:
            ok = False
        else:
            settings[severity] = read
    if not ok:
        return None
    return model.Alerting(windows=windows, page=settings["page"], ticket=settings["ticket"])


def _windows(
    r: Reader, node: Node, path: str, period: model.Period | None, whole: WholeBuckets
) -> tuple[model.AlertWindow, ...] | None:
    items = r.sequence(node, path, "alert windows")
    if items is None:
        return None
    if not items or len(items) > MAX_WINDOWS:
        r.report(node, path, f"must list from 1 to {MAX_WINDOWS} alert windows, "
                             f"got {len(items)}")
        return None
    read: list[tuple[model.AlertWindow, Node, str]] = []
    ok = True
    for item, item_path in items:
        window = _window(r, item, item_path, whole)
        if window is None:
            ok = False
        else:
            read.append((window, item, item_path))
    if not check_windows(r, read, period) or not ok:
        return None
    return tuple(window for window, _, _ in read)


def _window(r: Reader, node: Node, path: str, whole: WholeBuckets) -> model.AlertWindow | None:
    fields = r.mapping(node, path, _WINDOW_KEYS, required=("severity", "long"))
    if fields is None:
        return None
    severity = fields.read("severity", r.choice(model.SEVERITIES, "a severity", str))

    def window(key: str) -> float | None:
        seconds = fields.duration(key, above_zero=True)
        if seconds is None or not whole(fields.at(key), fields.key_path(key), seconds):
            return None
        return seconds

    long = window("long")
    short = window("short") if fields.has("short") else None
    hold = fields.duration("for") if fields.has("for") else 0.0
    given = [key for key in ("budget_percent", "factor") if fields.has(key)]
    if len(given) != 1:
        r.report(node, path, "must have exactly one of budget_percent (a share of the error "
                             f"budget spent within long) and factor (a fixed burn rate), "
                             f"got {len(given)}")
        return None
    fraction: float | None = None
    factor: float | None = None
    if given == ["budget_percent"]:
        percent = fields.read("budget_percent", r.number)
        if percent is not None and not 0.0 < percent <= 100.0:
            fields.report("budget_percent", "must be a percentage above 0 and at most 100, "
                                            f"got {number_text(percent)}")
            return None
        # from the text as written: moving its decimal point rounds once, where
        # percent / 100.0 rounds twice, so every fraction has a percent that
        # reads back as it (1/48 of the budget is 2.0833333333333332)
        text = str(getattr(fields.at("budget_percent"), "value", "")).replace("_", "")
        fraction = None if percent is None else (
            float(f"{text}e-2") if re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)", text)
            else percent / 100.0)
    else:
        factor = fields.read("factor", r.number)
        if factor is not None and not factor > 0.0:
            fields.report("factor", f"must be a burn rate above 0, got {number_text(factor)}")
            return None
    if severity is None or long is None or hold is None or (fraction is None and factor is None):
        return None
    if fields.has("short") and short is None:
        return None
    if short is not None and not short < long:
        fields.report("short", f"must be shorter than long ({format_duration(long)}), got "
                               f"{describe(fields.at('short'))}")
        return None
    return model.AlertWindow(severity, long, short, fraction, factor, hold)


def _settings(r: Reader, node: Node, path: str) -> model.AlertSettings | None:
    fields = r.mapping(node, path, _SETTINGS_KEYS)
    if fields is None:
        return None
    name = fields.read("name", lambda n, p: read_alert_name(r, n, p))
    labels = fields.read("labels", lambda n, p: read_alert_labels(r, n, p))
    annotations = fields.read("annotations", lambda n, p: read_annotations(r, n, p))
    disabled = fields.boolean("disabled")
    if any(fields.has(key) and value is None for key, value in (
            ("name", name), ("labels", labels), ("annotations", annotations),
            ("disabled", disabled))):
        return None
    return settings(name, labels or {}, annotations or {}, disabled=bool(disabled))


def settings(
    name: str | None, labels: dict[str, str], annotations: dict[str, str], *, disabled: bool
) -> model.AlertSettings:
    """``AlertSettings`` with frozen label and annotation maps."""
    return model.AlertSettings(
        name=name or None,
        labels=model.frozen_map(labels),
        annotations=model.frozen_map(annotations),
        disabled=disabled,
    )

