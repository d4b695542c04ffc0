"""The native writer: a frozen ``model.Config`` -> native config YAML text.

Owns the inverse of ``native`` (with ``native_probes``, ``httpclient`` and
``slm``): every field of the model is written under its native key, in the
order the reference lists them, and a value equal to its default is left
out, so the text says what was given. ``convert`` renders the text and
then reads it back with the native reader; a model that does not come back
equal fails with the field and the reason, named at the SLO's own file and
document, never at the generated text. Nothing is dropped silently.

Each SLO is preceded by a comment naming the file and document it was read
from (``# from slos/api.yaml (documents[2])``). When a file that ``convert``
wrote is converted again, those comments are kept (``carried_origins``), so
a second conversion gives the same bytes.

Secrets: file references (``password_file``, ``bearer_token_file``, TLS
files) are written as paths, never read; a password or header value is
written only because the model holds it, which means it was literally in
the input. Problems never quote a URL with its user info.

Must not read any file, and must not know another dialect.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from slo_exporter import model
from slo_exporter.config.httpclient import HTTPClientSettings
from slo_exporter.durations import format_duration
from slo_exporter.errors import ConfigError, ConfigProblem
from slo_exporter.redact import scrub
from slo_exporter.sla import SLA

HEADER = "# slo-exporter native configuration, written by `slo-exporter convert`.\n"
#: the comment before each SLO that names where it was read from
ORIGIN_PREFIX = "# from "
_SLO_INDENT = " " * 6
_SERVICE_NAME = re.compile(r"  - name: (?P<name>.+)")
_SLO_NAME = re.compile(r"      - name: (?P<name>.+)")
_ORIGIN = re.compile(r"      # from (?P<origin>.+)")
_PROBLEM_PATH = re.compile(r"services\[(\d+)\](?:\.slos\[(\d+)\])?(?:\.(.*))?")
#: what the native format cannot hold is reported with this before the reader's reason
_CANNOT = "the native format cannot hold this value"


class _Dumper(yaml.SafeDumper):
    """Block style with indented lists, no anchors, exact decimals as plain numbers."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    text = format(value.normalize() if value == value.to_integral() else value, "f")
    tag = "tag:yaml.org,2002:float" if "." in text else "tag:yaml.org,2002:int"
    return dumper.represent_scalar(tag, text)


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # several lines read best as a literal block; the emitter quotes instead
    # where a block cannot hold the text exactly (trailing spaces)
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(Decimal, _represent_decimal)
_Dumper.add_representer(str, _represent_text)


def _number(value: float) -> Decimal:
    """A float as the shortest decimal that reads back as the same float."""
    return Decimal(repr(value))


def _percent(ratio: float) -> Decimal:
    """A ratio (0.999) as the percentage the native reader turns back into it (99.9)."""
    return _number(ratio).scaleb(2)


def _path(value: str) -> str:
    """A file reference the way it is meant wherever the output is saved: absolute."""
    return os.path.abspath(value)


def _printable(text: str) -> str:
    """``text`` on one line: a file name must not end a comment and start YAML."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def origin_text(slo: model.SLO) -> str:
    """``slos/api.yaml (documents[2])``: where ``slo`` was read from."""
    where = _printable(slo.source_file) or "an unnamed source"
    if slo.source_document is None:
        return where
    return f"{where} (documents[{slo.source_document}])"


@dataclass
class _Problems:
    """Problems found while writing, each at the SLO's own file and document."""

    config: model.Config
    found: list[ConfigProblem]

    def add(self, slo: model.SLO | None, key: str, reason: str) -> None:
        if slo is None:
            self.found.append(ConfigProblem(self.config.source_file, key, reason))
            return
        where = f"{slo.key}.{key}" if key else slo.key
        if slo.source_document is not None:
            where = f"documents[{slo.source_document}] {where}"
        self.found.append(ConfigProblem(slo.source_file or self.config.source_file, where, reason))


# ------------------------------------------------------------------ data


def _put(data: dict[str, Any], key: str, value: Any, default: Any = None) -> None:
    """Set ``key`` unless ``value`` is its default (what was not given is not written)."""
    if value != default:
        data[key] = value


def _tls(tls: model.TLSConfig) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key in ("ca_file", "cert_file", "key_file"):
        value = getattr(tls, key)
        if value is not None:
            data[key] = _path(value)
    _put(data, "insecure_skip_verify", tls.insecure_skip_verify, False)
    _put(data, "server_name", tls.server_name)
    return data


def _client(data: dict[str, Any], client: HTTPClientSettings, tls_key: str) -> None:
    if client.headers:
        data["headers"] = dict(client.headers)
    if client.basic_auth is not None:
        auth: dict[str, Any] = {"username": client.basic_auth.username}
        _put(auth, "password", client.basic_auth.password)
        if client.basic_auth.password_file is not None:
            auth["password_file"] = _path(client.basic_auth.password_file)
        data["basic_auth"] = auth
    if client.bearer_token_file is not None:
        data["bearer_token_file"] = _path(client.bearer_token_file)
    _put(data, tls_key, _tls(client.tls), {})


def _reads_prometheus(config: model.Config) -> bool:
    return any(isinstance(slo.sli, model.RatioSLI | model.RawRatioSLI | model.LatencySLI)
               for slo in config.slos)


def _prometheus(settings: model.PrometheusConfig, reads: bool) -> dict[str, Any]:
    """The settings that differ from the defaults; the URL whenever an SLO reads it."""
    default = model.PrometheusConfig()
    data: dict[str, Any] = {}
    if reads or settings.url != default.url:
        data["url"] = settings.url
    if settings.timeout != default.timeout:
        data["timeout"] = format_duration(settings.timeout)
    _client(data, HTTPClientSettings(settings.headers, settings.basic_auth,
                                     settings.bearer_token_file, settings.tls), "tls")
    for key in ("query_delay", "retry_backoff", "backfill_chunk", "backfill_hourly_after"):
        value = getattr(settings, key)
        if value != getattr(default, key):
            data[key] = format_duration(value)
    _put(data, "retries", settings.retries, default.retries)
    _put(data, "max_response_size", settings.max_response_size, default.max_response_size)
    if settings.max_counter_increase != default.max_counter_increase:
        data["max_counter_increase"] = _number(settings.max_counter_increase)
    _put(data, "partial_response", settings.partial_response, default.partial_response)
    return data


def _storage(storage: model.StorageConfig) -> dict[str, Any]:
    default = model.StorageConfig()
    return {
        key: format_duration(getattr(storage, key))
        for key in ("resolution", "retention_margin")
        if getattr(storage, key) != getattr(default, key)
    }


def _instant(at: datetime, zone_name: str) -> str:
    """Wall-clock text in the window's zone where it names one instant, else RFC 3339."""
    zone = ZoneInfo(zone_name)
    local = at.astimezone(zone)
    # the reader takes a wall-clock time at its first occurrence (fold=0);
    # aware datetimes of one zone compare by wall clock, so instants are compared
    wall = local.replace(tzinfo=None, fold=0)
    text = wall.isoformat(sep=" ")
    if wall.replace(tzinfo=zone).astimezone(UTC) == at.astimezone(UTC):
        return text
    return local.isoformat()


def _maintenance(window: model.MaintenanceWindow) -> dict[str, Any]:
    data: dict[str, Any] = {"name": window.name,
                            "start": _instant(window.start, window.time_zone)}
    if window.end is not None:
        data["end"] = _instant(window.end, window.time_zone)
    if window.duration is not None:
        data["duration"] = format_duration(window.duration)
    _put(data, "rrule", window.rrule)
    _put(data, "time_zone", window.time_zone, "UTC")
    _put(data, "services", list(window.services), [])
    _put(data, "slos", [slo.key for slo in window.slos], [])
    _put(data, "reason", window.reason, "")
    return data


def _query(query: model.Query) -> str:
    return query.text


def _sli(sli: model.SLI, slo: model.SLO, problems: _Problems) -> dict[str, Any]:
    if isinstance(sli, model.RatioSLI):
        ratio: dict[str, Any] = {}
        if sli.good is not None:
            ratio["good"] = _query(sli.good)
        if sli.bad is not None:
            ratio["bad"] = _query(sli.bad)
        ratio["total"] = _query(sli.total)
        return {"ratio": ratio}
    if isinstance(sli, model.RawRatioSLI):
        key = "error_ratio" if sli.measures == "bad" else "success_ratio"
        return {"raw": {key: sli.query.text}}
    if isinstance(sli, model.LatencySLI):
        latency: dict[str, Any] = {
            "histogram": sli.histogram.text, "threshold": _number(sli.threshold)}
        if sli.buckets is not None:
            latency["buckets"] = [_number(b) for b in sli.buckets]
        return {"latency": latency}
    if isinstance(sli, model.CompositeSLI):
        components: list[dict[str, Any]] = []
        for component in sli.components:
            item: dict[str, Any] = {"slo": component.slo.key}
            if component.weight != 1.0:
                item["weight"] = _number(component.weight)
            components.append(item)
        return {"composite": {"mode": sli.mode, "components": components}}
    if isinstance(sli, model.ProbeSLI):
        return {"probe": _probe(sli)}
    if isinstance(sli, model.BoolGaugeSLI):
        return {"bool_gauge": {"metric": sli.gauge.text}}
    problems.add(slo, "sli", f"{_CANNOT}: an SLI of kind {type(sli).__name__}")
    return {}


def _probe(sli: model.ProbeSLI) -> dict[str, Any]:
    data: dict[str, Any] = {sli.module: _target(sli.target)}
    default = model.ProbeSLI(target=sli.target)
    for key in ("interval", "timeout"):
        if getattr(sli, key) != getattr(default, key):
            data[key] = format_duration(getattr(sli, key))
    if sli.latency_threshold is not None:
        data["latency_threshold"] = format_duration(sli.latency_threshold)
    return data


def _target(target: model.ProbeTarget) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if isinstance(target, model.HTTPProbe):
        default = model.HTTPProbe(url=target.url)
        data["url"] = target.url
        _put(data, "method", target.method, default.method)
        _put(data, "body", target.body)
        _put(data, "valid_status_codes", list(target.valid_status_codes), [])
        for key in ("fail_if_body_matches_regexp", "fail_if_body_not_matches_regexp"):
            _put(data, key, list(getattr(target, key)), [])
        _put(data, "follow_redirects", target.follow_redirects, default.follow_redirects)
        _put(data, "max_redirects", target.max_redirects, default.max_redirects)
        _client(data, HTTPClientSettings(target.headers, target.basic_auth,
                                         target.bearer_token_file, target.tls), "tls_config")
        _put(data, "fail_if_ssl", target.fail_if_ssl, False)
        _put(data, "fail_if_not_ssl", target.fail_if_not_ssl, False)
        _put(data, "body_size_limit", target.body_size_limit, default.body_size_limit)
    elif isinstance(target, model.TCPProbe):
        data["address"] = target.address
        _put(data, "send", target.send)
        _put(data, "expect", target.expect)
        _put(data, "tls", target.tls, False)
        _put(data, "tls_config", _tls(target.tls_config), {})
    elif isinstance(target, model.TLSProbe):
        data["address"] = target.address
        _put(data, "tls_config", _tls(target.tls_config), {})
    else:
        dns = model.DNSProbe(query_name=target.query_name)
        data["query_name"] = target.query_name
        _put(data, "server", target.server)
        _put(data, "query_type", target.query_type, dns.query_type)
        _put(data, "transport", target.transport, dns.transport)
        _put(data, "valid_rcodes", list(target.valid_rcodes), list(dns.valid_rcodes))
        _put(data, "expect", list(target.expect), [])
    return data


def _budgeting(budgeting: model.Budgeting) -> dict[str, Any]:
    if budgeting.ratio_timeslices is not None:
        return {"ratio_timeslices": {"slice": format_duration(budgeting.ratio_timeslices.slice)}}
    slices = budgeting.timeslices
    if slices is None:
        return {}
    data: dict[str, Any] = {
        "timeslices": {"slice": format_duration(slices.slice), "target": slices.target.scaleb(2)}
    }
    _put(data, "empty_slices", slices.empty, "skip")
    return data


def _sla(sla: SLA) -> dict[str, Any]:
    data: dict[str, Any] = {"objective": sla.objective}
    _put(data, "period", sla.period, "month")
    if sla.tiers:
        data["credits"] = [{"below": t.below, "credit": t.credit} for t in sla.tiers]
    _put(data, "maintenance", sla.maintenance, "excluded")
    return data


def _settings(settings: model.AlertSettings) -> dict[str, Any]:
    data: dict[str, Any] = {}
    _put(data, "name", settings.name)
    _put(data, "labels", dict(settings.labels), {})
    _put(data, "annotations", dict(settings.annotations), {})
    _put(data, "disabled", settings.disabled, False)
    return data


def _window(window: model.AlertWindow) -> dict[str, Any]:
    data: dict[str, Any] = {"severity": window.severity, "long": format_duration(window.long)}
    if window.short is not None:
        data["short"] = format_duration(window.short)
    if window.budget_fraction is not None:
        data["budget_percent"] = _percent(window.budget_fraction)
    if window.factor is not None:
        data["factor"] = _number(window.factor)
    if window.hold:
        data["for"] = format_duration(window.hold)
    return data


def _alerting(alerting: model.Alerting) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if alerting.windows != model.ALERT_WINDOWS:
        data["windows"] = [_window(w) for w in alerting.windows]
    for severity in model.SEVERITIES:
        _put(data, severity, _settings(alerting.settings(severity)), {})
    return data


def _period(slo: model.SLO) -> dict[str, Any]:
    period = slo.period
    if isinstance(period, model.RollingPeriod):
        return {"window": format_duration(period.seconds)}
    calendar: dict[str, Any] = {"period": period.unit}
    _put(calendar, "time_zone", period.time_zone, "UTC")
    return {"calendar": calendar}


def _slo(slo: model.SLO, service: model.Service, problems: _Problems) -> dict[str, Any]:
    data: dict[str, Any] = {"name": slo.name}
    _put(data, "description", slo.description, "")
    data["objective"] = _percent(slo.objective)
    data.update(_period(slo))
    _put(data, "budgeting", _budgeting(slo.budgeting), {})
    if slo.sla is not None:
        data["sla"] = _sla(slo.sla)
    own = {k: v for k, v in slo.labels.items() if service.labels.get(k) != v}
    _put(data, "labels", own, {})
    _put(data, "runbook_url", slo.runbook_url)
    _put(data, "alerting", _alerting(slo.alerting), {})
    _put(data, "group_by", list(slo.group_by), [])
    _put(data, "max_groups", slo.max_groups, model.SLO.__dataclass_fields__["max_groups"].default)
    if slo.group:
        problems.add(slo, "group", f"{_CANNOT}: one group of a grouped SLO "
                     f"({', '.join(f'{k}={v!r}' for k, v in slo.group.items())}); "
                     "write its definition with group_by instead")
    data["sli"] = _sli(slo.sli, slo, problems)
    return data


def _service(service: model.Service) -> dict[str, Any]:
    data: dict[str, Any] = {"name": service.name}
    _put(data, "description", service.description, "")
    _put(data, "labels", dict(service.labels), {})
    _put(data, "depends_on", list(service.depends_on), [])
    return data


def _top(config: model.Config) -> dict[str, Any]:
    data: dict[str, Any] = {}
    _put(data, "prometheus", _prometheus(config.prometheus, _reads_prometheus(config)), {})
    if config.evaluation_interval != model.Config(services=()).evaluation_interval:
        data["evaluation_interval"] = format_duration(config.evaluation_interval)
    _put(data, "storage", _storage(config.storage), {})
    _put(data, "grafana_url", config.grafana_url)
    _put(data, "maintenance", [_maintenance(w) for w in config.maintenance], [])
    return data


def config_data(config: model.Config) -> dict[str, Any]:
    """The native config as plain data (mappings, lists, text, numbers), keys in order.

    Raises ``ConfigError`` naming each value the native format cannot hold.
    """
    problems = _Problems(config, [])
    data = _top(config)
    data["services"] = [
        {**_service(service), "slos": [_slo(slo, service, problems) for slo in service.slos]}
        for service in config.services
    ]
    if problems.found:
        raise ConfigError(problems.found)
    return data


# ------------------------------------------------------------------ text


def _dump(data: Any, indent: str = "") -> str:
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=math.inf)
    return "".join(indent + line if line.strip() else line
                   for line in text.splitlines(keepends=True))


def render(
    config: model.Config, origins: Mapping[model.SLOId, str] | None = None
) -> str:
    """The native YAML text of ``config``, each SLO under a comment naming its origin.

    ``origins`` overrides the origin shown for some SLOs (see
    ``carried_origins``). Raises ``ConfigError`` as ``config_data`` does.
    """
    data = config_data(config)
    services = data.pop("services")
    parts = [HEADER]
    if data:
        parts.append(_dump(data))
    parts.append("services:\n")
    for service, written in zip(config.services, services, strict=True):
        slos = written.pop("slos")
        parts.append(_dump([written], "  "))
        parts.append("    slos:\n")
        for slo, slo_data in zip(service.slos, slos, strict=True):
            origin = (origins or {}).get(slo.id) or origin_text(slo)
            parts.append(f"{_SLO_INDENT}{ORIGIN_PREFIX}{_printable(origin)}\n")
            parts.append(_dump([slo_data], _SLO_INDENT))
    return "".join(parts)


def carried_origins(text: str) -> dict[model.SLOId, str]:
    """The origin comments a file ``convert`` wrote holds, by SLO.

    Read from the layout ``render`` writes (a service item at two spaces,
    its SLO items at six, each right under its comment); an SLO without
    such a comment is not in the result.
    """
    found: dict[model.SLOId, str] = {}
    service: str | None = None
    pending: str | None = None
    for line in text.splitlines():
        if (match := _SERVICE_NAME.fullmatch(line)) is not None:
            service, pending = _scalar(match["name"]), None
        elif (match := _ORIGIN.fullmatch(line)) is not None:
            pending = match["origin"]
        elif (match := _SLO_NAME.fullmatch(line)) is not None:
            name = _scalar(match["name"])
            if service is not None and name is not None and pending is not None:
                found[model.SLOId(service, name)] = pending
            pending = None
        else:
            pending = None
    return found


def _scalar(text: str) -> str | None:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return value if isinstance(value, str) else None


# ----------------------------------------------------------- read back


Read = Callable[[str], model.Config]


def convert(
    config: model.Config, read: Read, origins: Mapping[model.SLOId, str] | None = None
) -> str:
    """The native text of ``config``, checked by reading it back with ``read``.

    Raises ``ConfigError`` when a value cannot be written, or when the text
    does not read back as the same services, SLOs and settings; each
    problem names the SLO's own file, document and field.
    """
    text = render(config, origins)
    problems = _Problems(config, [])
    try:
        back = read(text)
    except ConfigError as exc:
        for problem in exc.problems:
            _relocate(problem, config, problems)
        raise ConfigError(problems.found or exc.problems) from None
    _compare(config, back, problems)
    if problems.found:
        raise ConfigError(problems.found)
    return text


def _relocate(problem: ConfigProblem, config: model.Config, problems: _Problems) -> None:
    """A problem of the generated text, told at the SLO (or setting) it came from."""
    match = _PROBLEM_PATH.fullmatch(problem.path)
    reason = f"{_CANNOT}: {scrub(problem.reason)}"
    if match is None or int(match[1]) >= len(config.services):
        problems.add(None, problem.path, reason)
        return
    service = config.services[int(match[1])]
    if match[2] is None or int(match[2]) >= len(service.slos):
        key = f"service {service.name}" + (f".{match[3]}" if match[3] else "")
        problems.add(service.slos[0] if service.slos else None, key, reason)
        return
    problems.add(service.slos[int(match[2])], match[3] or "", reason)


def absolute_paths(value: Any) -> Any:
    """``value`` (a model object) with every file reference made absolute, as written."""
    if isinstance(value, tuple):
        return tuple(absolute_paths(item) for item in value)
    if not is_dataclass(value) or isinstance(value, type):
        return value
    changes: dict[str, Any] = {}
    for field in fields(value):
        item = getattr(value, field.name)
        if field.name.endswith("_file") and field.name != "source_file":
            if isinstance(item, str):
                changes[field.name] = _path(item)
        elif isinstance(item, tuple) or (is_dataclass(item) and not isinstance(item, type)):
            changes[field.name] = absolute_paths(item)
    return replace(value, **changes)


def _instants(windows: Sequence[model.MaintenanceWindow]) -> list[model.MaintenanceWindow]:
    """The windows with their times in UTC: times of one zone compare by wall clock only,
    so the two passes of a repeated hour would look equal."""
    return [replace(w, start=w.start.astimezone(UTC),
                    end=None if w.end is None else w.end.astimezone(UTC)) for w in windows]


def _compare(given: model.Config, back: model.Config, problems: _Problems) -> None:
    """Report every field that reads back different (a value the writer cannot express)."""
    config: model.Config = absolute_paths(given)
    for key in ("prometheus", "evaluation_interval", "storage", "grafana_url"):
        if getattr(config, key) != getattr(back, key):
            problems.add(None, key, f"{_CANNOT}: it reads back as a different value")
    if _instants(config.maintenance) != _instants(back.maintenance):
        problems.add(None, "maintenance", f"{_CANNOT}: it reads back as a different value")
    pairs: Sequence[tuple[model.Service, model.Service]] = list(
        zip(config.services, back.services, strict=False))
    if len(config.services) != len(back.services):
        problems.add(None, "services", f"{_CANNOT}: the services read back differently")
        return
    for service, again in pairs:
        for key in ("name", "labels", "description", "depends_on"):
            if getattr(service, key) != getattr(again, key):
                first = service.slos[0] if service.slos else None
                problems.add(first, f"service {service.name}.{key}",
                             f"{_CANNOT}: it reads back as a different value")
        for slo, slo_back in zip(service.slos, again.slos, strict=False):
            for field in fields(slo):
                if field.compare and getattr(slo, field.name) != getattr(slo_back, field.name):
                    problems.add(slo, field.name,
                                 f"{_CANNOT}: it reads back as a different value")


__all__ = [
    "HEADER",
    "absolute_paths",
    "carried_origins", "config_data", "convert", "origin_text", "render"]
