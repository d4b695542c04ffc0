"""The native YAML configuration: text -> frozen ``model.Config``.

Owns the config file format and its validation. The YAML is composed into
nodes (not constructed into dicts) so that every problem can name the line it
was found on; each section is then checked against the keys it allows and
turned straight into the frozen objects of ``model``. Every problem found is
collected and raised together in one ``ConfigError``; nothing past this module
ever sees a raw YAML value.

Top-level keys starting with ``x-`` are ignored so that they can hold YAML
anchors (``x-labels: &team {...}``) merged elsewhere with ``<<: *team``.

Relative file paths in the config (``ca_file``, ``password_file``,
``bearer_token_file``, ...) are resolved against the directory of the config
file, as Prometheus does, so a config and its secrets can move together.

Must not do I/O beyond reading the config file itself: referenced files are
only checked when they are used, so a config can be validated on a machine
that does not hold the secrets.
"""

from __future__ import annotations

import difflib
import ipaddress
import itertools
import math
import os
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TypeVar
from urllib.parse import urlsplit

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from slo_exporter import model
from slo_exporter.durations import format_duration, parse_duration
from slo_exporter.errors import ConfigError, ConfigProblem

__all__ = ["format_problems", "load_config", "parse_config"]

T = TypeVar("T")

_TAG = "tag:yaml.org,2002:"
_NULL, _BOOL, _INT, _FLOAT, _STR, _MERGE = (
    _TAG + name for name in ("null", "bool", "int", "float", "str", "merge")
)

_SLI_KINDS = ("latency", "probe", "ratio")
_PROBE_MODULES = ("dns", "http", "tcp", "tls")
_DNS_QUERY_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT")
_DNS_TRANSPORTS = ("tcp", "udp")
_DNS_RCODES = (
    "NOERROR",
    "FORMERR",
    "SERVFAIL",
    "NXDOMAIN",
    "NOTIMP",
    "REFUSED",
    "YXDOMAIN",
    "YXRRSET",
    "NXRRSET",
    "NOTAUTH",
    "NOTZONE",
)

#: labels the exporter sets on its own series; user labels must not clash
_RESERVED_LABELS = ("le", "result", "service", "severity", "slo", "window")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
#: service and SLO names appear in the store key "service/slo" and in URLs
_OBJECT_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.:-]*")
#: an HTTP header field name (RFC 9110 token)
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HTTP_METHOD = re.compile(r"[A-Z]+")
_HOSTNAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?")
_TEMPLATE_VAR = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_SIZE = re.compile(r"(\d+)\s*([kmgt]i?b|b)?", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}

_MIN_WINDOW = 3600.0
_SELECTOR_EXAMPLE = 'http_requests_total{job="api",code!~"5.."}'
_TEMPLATE_EXAMPLE = 'sum(increase(http_requests_total{job="api"}[{{.window}}]))'


# ------------------------------------------------------------------ public API


def load_config(path: str) -> model.Config:
    """Read and validate the config file at ``path``.

    Raises ``ConfigError`` listing every problem, each located by file, line
    and dotted field path.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError([ConfigProblem(path, "", f"cannot read the file: {reason}")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [ConfigProblem(path, "", f"the file is not UTF-8 text (byte {exc.start})")]
        ) from None
    return parse_config(text, path)


def parse_config(text: str, filename: str) -> model.Config:
    """Validate config ``text``; ``filename`` is used in messages and to resolve paths."""
    checker = _Checker(filename)
    config = checker.document(text)
    if checker.problems or config is None:
        raise ConfigError(_ordered(checker.problems))
    return config


def format_problems(err: ConfigError) -> str:
    """The problems of ``err`` as text, one ``FILE:LINE: path: reason`` per line."""
    return "\n".join(str(problem) for problem in err.problems)


def _ordered(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    """Problems without repeats, in file order (unlocated ones first)."""
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: -1 if p.line is None else p.line)


# ------------------------------------------------------------ node utilities


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _describe(node: Node) -> str:
    """How a value is shown in a message: ``150``, ``'abc'``, ``a list``."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    text = str(node.value)
    if node.tag == _NULL:
        return "nothing (null)"
    if node.tag == _STR:
        shown = text if len(text) <= 80 else text[:77] + "..."
        return repr(shown)
    if not node.tag.startswith(_TAG):
        return f"a value tagged {node.tag}"
    return text


def _number_text(value: float) -> str:
    """``0.25`` -> ``'0.25'``, ``1.0`` -> ``'1'``: numbers as a user would write them."""
    return str(int(value)) if value.is_integer() else repr(value)


def _choices(options: Iterable[str]) -> str:
    return ", ".join(sorted(options))


# ------------------------------------------------------------------- checker


class _Fields:
    """The entries of one YAML mapping, already checked against the allowed keys."""

    def __init__(
        self,
        checker: _Checker,
        node: MappingNode,
        path: str,
        entries: dict[str, Node],
        required: tuple[str, ...],
    ) -> None:
        self.checker = checker
        self.node = node
        self.path = path
        self.entries = entries
        self.required = required

    def has(self, key: str) -> bool:
        return key in self.entries

    def get(self, key: str) -> Node | None:
        """The value node of ``key``; None when absent or, for optional keys, null."""
        value = self.entries.get(key)
        if value is None or (_is_null(value) and key not in self.required):
            return None
        return value

    def at(self, key: str) -> Node:
        """The node a problem about ``key`` is reported at: its value, else the mapping."""
        return self.entries.get(key) or self.node

    def key_path(self, key: str) -> str:
        return _join(self.path, key)

    def read(self, key: str, reader: Callable[[Node, str], T]) -> T | None:
        value = self.get(key)
        return None if value is None else reader(value, self.key_path(key))

    def string(self, key: str, *, non_empty: bool = False) -> str | None:
        value = self.read(key, self.checker.string)
        if value is not None and non_empty and not value.strip():
            self.checker.report(self.at(key), self.key_path(key), "must not be empty")
            return None
        return value

    def file_path(self, key: str) -> str | None:
        value = self.string(key, non_empty=True)
        return None if value is None else self.checker.resolve_path(value)

    def boolean(self, key: str) -> bool | None:
        return self.read(key, self.checker.boolean)

    def integer(self, key: str, *, minimum: int) -> int | None:
        value = self.read(key, self.checker.integer)
        if value is not None and value < minimum:
            self.checker.report(
                self.at(key), self.key_path(key), f"must be at least {minimum}, got {value}"
            )
            return None
        return value

    def duration(self, key: str, *, above_zero: bool = False) -> float | None:
        value = self.read(key, self.checker.duration)
        if value is not None and above_zero and value <= 0:
            node = self.at(key)
            self.checker.report(
                node, self.key_path(key), f"must be longer than 0, got {_describe(node)}"
            )
            return None
        return value

    def url(self, key: str) -> str | None:
        return self.read(key, self.checker.url)

    def regexps(self, key: str) -> tuple[str, ...] | None:
        return self.read(key, self.checker.regexp_list)


class _Checker:
    """Walks the composed YAML, building model objects and collecting problems."""

    def __init__(self, filename: str) -> None:
        self.file = filename
        self.base_dir = os.path.dirname(filename)
        self.problems: list[ConfigProblem] = []
        self._constructor = SafeConstructor()
        self._storage = model.StorageConfig()
        #: False when storage.resolution is invalid, so windows are not judged by it
        self._resolution_known = True
        #: mappings being merged with "<<" right now, to stop a mapping merging itself
        self._merging: set[int] = set()

    # ----------------------------------------------------------- reporting

    def report(self, node: Node | None, path: str, reason: str) -> None:
        line = None if node is None else _line(node)
        self.problems.append(ConfigProblem(self.file, path, reason, line))

    def resolve_path(self, value: str) -> str:
        if os.path.isabs(value) or not self.base_dir:
            return value
        return os.path.join(self.base_dir, value)

    # ------------------------------------------------------ YAML structure

    def document(self, text: str) -> model.Config | None:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = None if mark is None else int(mark.line) + 1
            detail = exc.problem or "syntax error"
            if "'\\t'" in detail:
                detail += " (indent with spaces; YAML does not allow tabs there)"
            if exc.context:
                started = exc.context_mark
                where = "" if started is None else f" on line {int(started.line) + 1}"
                detail = f"{exc.context}{where}, {detail}"
            self.problems.append(ConfigProblem(self.file, "", f"invalid YAML: {detail}", line))
            return None
        except yaml.YAMLError as exc:
            self.problems.append(ConfigProblem(self.file, "", f"invalid YAML: {exc}", None))
            return None
        if root is None or _is_null(root):
            self.problems.append(
                ConfigProblem(self.file, "", "the file is empty; expected a 'services' list", 1)
            )
            return None
        return self.config(root)

    def entries(self, node: MappingNode, path: str) -> dict[str, tuple[Node, Node]]:
        """Key -> (key node, value node), with ``<<`` merges applied and duplicates reported."""
        explicit: dict[str, tuple[Node, Node]] = {}
        merged: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for source in sources:
                    if not isinstance(source, MappingNode):
                        self.report(source, path, "'<<' can only merge mappings")
                        continue
                    if id(source) in self._merging:
                        self.report(source, path, "'<<' merges a mapping into itself")
                        continue
                    self._merging.add(id(source))
                    try:
                        for key, pair in self.entries(source, path).items():
                            merged.setdefault(key, pair)
                    finally:
                        self._merging.discard(id(source))
                continue
            if not isinstance(key_node, ScalarNode) or _is_null(key_node):
                self.report(key_node, path, f"keys must be names, got {_describe(key_node)}")
                continue
            key = str(key_node.value)
            if key in explicit:
                first = _line(explicit[key][0])
                self.report(
                    key_node, _join(path, key), f"duplicate key (first given on line {first})"
                )
                continue
            explicit[key] = (key_node, value_node)
        return {**merged, **explicit}

    def mapping(
        self,
        node: Node,
        path: str,
        allowed: Iterable[str],
        required: tuple[str, ...] = (),
    ) -> _Fields | None:
        """Check that ``node`` is a mapping with only ``allowed`` keys and all ``required`` ones."""
        allowed = tuple(allowed)
        if not isinstance(node, MappingNode):
            what = f"must be a mapping with keys {_choices(allowed)}, got {_describe(node)}"
            if not path:
                what = "the top level must be a mapping with a 'services' list"
                what += f", got {_describe(node)}"
            self.report(node, path, what)
            return None
        known: dict[str, Node] = {}
        for key, (key_node, value_node) in self.entries(node, path).items():
            if key in allowed:
                known[key] = value_node
                continue
            if not path and key.startswith("x-"):
                # top-level "x-" keys hold YAML anchors for reuse (as in Compose files)
                continue
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            self.report(
                key_node, _join(path, key), f"unknown key{hint}; allowed keys: {_choices(allowed)}"
            )
        for key in required:
            if key not in known:
                self.report(node, path, f"missing required key {key!r}")
        return _Fields(self, node, path, known, required)

    def sequence(self, node: Node, path: str, what: str) -> list[tuple[Node, str]] | None:
        """The items of a list with their paths; ``what`` names an item in messages."""
        if not isinstance(node, SequenceNode):
            self.report(node, path, f"must be a list of {what}, got {_describe(node)}")
            return None
        return [(item, f"{path}[{index}]") for index, item in enumerate(node.value)]

    # ------------------------------------------------------------- scalars

    def _scalar(self, node: Node, path: str, expected: str) -> ScalarNode | None:
        if isinstance(node, ScalarNode) and not _is_null(node) and node.tag.startswith(_TAG):
            return node
        self.report(node, path, f"must be {expected}, got {_describe(node)}")
        return None

    def string(self, node: Node, path: str) -> str | None:
        # Any plain scalar is taken as the text the user typed, so that
        # `tier: 1` or `password: 0123` keep their spelling.
        scalar = self._scalar(node, path, "a string")
        return None if scalar is None else str(scalar.value)

    def boolean(self, node: Node, path: str) -> bool | None:
        if isinstance(node, ScalarNode) and node.tag == _BOOL:
            return bool(self._constructor.construct_object(node))
        self.report(node, path, f"must be true or false, got {_describe(node)}")
        return None

    def integer(self, node: Node, path: str) -> int | None:
        if isinstance(node, ScalarNode) and node.tag == _INT:
            return int(self._constructor.construct_object(node))
        self.report(node, path, f"must be a whole number, got {_describe(node)}")
        return None

    def number(self, node: Node, path: str) -> float | None:
        if isinstance(node, ScalarNode) and node.tag in (_INT, _FLOAT):
            value = float(self._constructor.construct_object(node))
            if math.isfinite(value):
                return value
        self.report(node, path, f"must be a number, got {_describe(node)}")
        return None

    def duration(self, node: Node, path: str) -> float | None:
        if isinstance(node, ScalarNode) and node.tag == _STR:
            try:
                return parse_duration(str(node.value))
            except ValueError as exc:
                self.report(node, path, str(exc))
                return None
        hint = " (add a unit)" if isinstance(node, ScalarNode) and node.tag == _INT else ""
        self.report(
            node,
            path,
            f"must be a duration such as '30s', '5m' or '1h30m', got {_describe(node)}{hint}",
        )
        return None

    def url(self, node: Node, path: str) -> str | None:
        text = self.string(node, path)
        if text is None:
            return None
        try:
            parts = urlsplit(text.strip())
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
            _ = parts.port  # raises ValueError for a port that is not 0-65535
        except ValueError:
            valid = False
        if not valid:
            self.report(node, path, f"must be an http:// or https:// URL with a host, got {text!r}")
            return None
        return text.strip()

    def regexp_list(self, node: Node, path: str) -> tuple[str, ...] | None:
        items = self.sequence(node, path, "regular expressions")
        if items is None:
            return None
        patterns = [self.regexp(item, item_path) for item, item_path in items]
        return tuple(p for p in patterns if p is not None)

    def regexp(self, node: Node, path: str) -> str | None:
        text = self.string(node, path)
        if text is None:
            return None
        try:
            re.compile(text)
        except re.error as exc:
            self.report(node, path, f"invalid regular expression {text!r}: {exc}")
            return None
        return text

    # ------------------------------------------------------------ sections

    def config(self, root: Node) -> model.Config | None:
        top = self.mapping(
            root,
            "",
            ("prometheus", "evaluation_interval", "storage", "services"),
            required=("services",),
        )
        if top is None:
            return None
        # storage first: windows and chunks are checked against its resolution
        storage = top.read("storage", self.storage) or model.StorageConfig()
        self._storage = storage
        prometheus = top.read("prometheus", self.prometheus) or model.PrometheusConfig()
        interval = top.duration("evaluation_interval", above_zero=True)
        services = top.read("services", self.services)
        if services is None:
            return None
        return model.Config(
            services=services,
            prometheus=prometheus,
            evaluation_interval=30.0 if interval is None else interval,
            storage=storage,
            source_file=self.file,
        )

    def storage(self, node: Node, path: str) -> model.StorageConfig | None:
        fields = self.mapping(node, path, ("resolution", "retention_margin"))
        if fields is None:
            return None
        defaults = model.StorageConfig()
        resolution = fields.duration("resolution")
        shortest = model.STANDARD_WINDOWS[0]
        if resolution is not None and (
            resolution < 1 or not resolution.is_integer() or shortest % resolution
        ):
            # every exported window, down to the 5m one, must be whole buckets
            self.report(
                fields.at("resolution"),
                fields.key_path("resolution"),
                f"must be a whole number of seconds that divides {format_duration(shortest)} "
                "(the shortest alert window), such as 15s, 30s or 1m, "
                f"got {_describe(fields.at('resolution'))}",
            )
            resolution = None
        if fields.get("resolution") is not None and resolution is None:
            self._resolution_known = False
        margin = fields.duration("retention_margin")
        return model.StorageConfig(
            resolution=defaults.resolution if resolution is None else resolution,
            retention_margin=defaults.retention_margin if margin is None else margin,
        )

    def _whole_buckets(self, node: Node, path: str, value: float) -> bool:
        """Whether ``value`` is a whole number of storage buckets; reports it if not."""
        resolution = self._storage.resolution
        if not self._resolution_known or round(value * 1000) % round(resolution * 1000) == 0:
            return True
        self.report(
            node,
            path,
            f"must be a multiple of storage.resolution ({format_duration(resolution)}), "
            f"got {_describe(node)}",
        )
        return False

    def prometheus(self, node: Node, path: str) -> model.PrometheusConfig | None:
        fields = self.mapping(
            node,
            path,
            (
                "url",
                "timeout",
                "headers",
                "basic_auth",
                "bearer_token_file",
                "tls",
                "query_delay",
                "retries",
                "retry_backoff",
                "backfill_chunk",
            ),
        )
        if fields is None:
            return None
        defaults = model.PrometheusConfig()
        url = fields.url("url")
        timeout = fields.duration("timeout", above_zero=True)
        headers = fields.read("headers", self.headers)
        basic_auth, bearer = self._auth(fields)
        tls = fields.read("tls", self.tls_config)
        query_delay = fields.duration("query_delay")
        retries = fields.integer("retries", minimum=1)
        retry_backoff = fields.duration("retry_backoff")
        chunk = fields.duration("backfill_chunk", above_zero=True)
        if chunk is not None and not self._whole_buckets(
            fields.at("backfill_chunk"), fields.key_path("backfill_chunk"), chunk
        ):
            chunk = None
        return model.PrometheusConfig(
            url=defaults.url if url is None else url,
            timeout=defaults.timeout if timeout is None else timeout,
            headers=model.frozen_map(headers),
            basic_auth=basic_auth,
            bearer_token_file=bearer,
            tls=tls or model.TLSConfig(),
            query_delay=defaults.query_delay if query_delay is None else query_delay,
            retries=defaults.retries if retries is None else retries,
            retry_backoff=defaults.retry_backoff if retry_backoff is None else retry_backoff,
            backfill_chunk=defaults.backfill_chunk if chunk is None else chunk,
        )

    def _auth(self, fields: _Fields) -> tuple[model.BasicAuth | None, str | None]:
        basic_auth = fields.read("basic_auth", self.basic_auth)
        bearer = fields.file_path("bearer_token_file")
        if fields.get("basic_auth") is not None and fields.get("bearer_token_file") is not None:
            self.report(
                fields.at("bearer_token_file"),
                fields.path,
                "basic_auth and bearer_token_file are mutually exclusive; give one of them",
            )
        return basic_auth, bearer

    def basic_auth(self, node: Node, path: str) -> model.BasicAuth | None:
        fields = self.mapping(
            node, path, ("username", "password", "password_file"), required=("username",)
        )
        if fields is None:
            return None
        username = fields.string("username", non_empty=True)
        password = fields.string("password")
        password_file = fields.file_path("password_file")
        if fields.get("password") is not None and fields.get("password_file") is not None:
            self.report(
                fields.at("password_file"),
                path,
                "password and password_file are mutually exclusive; give one of them",
            )
        if username is None:
            return None
        return model.BasicAuth(username=username, password=password, password_file=password_file)

    def tls_config(self, node: Node, path: str) -> model.TLSConfig | None:
        fields = self.mapping(
            node,
            path,
            ("ca_file", "cert_file", "key_file", "insecure_skip_verify", "server_name"),
        )
        if fields is None:
            return None
        cert_file = fields.file_path("cert_file")
        key_file = fields.file_path("key_file")
        if (fields.get("cert_file") is None) != (fields.get("key_file") is None):
            given, missing = ("cert_file", "key_file")
            if fields.get("key_file") is not None:
                given, missing = missing, given
            self.report(fields.at(given), path, f"{given} needs {missing} as well")
        return model.TLSConfig(
            ca_file=fields.file_path("ca_file"),
            cert_file=cert_file,
            key_file=key_file,
            insecure_skip_verify=bool(fields.boolean("insecure_skip_verify")),
            server_name=fields.string("server_name", non_empty=True),
        )

    def headers(self, node: Node, path: str) -> dict[str, str] | None:
        return self._string_map(
            node, path, "header names to values", _header_name_problem, _header_value_problem
        )

    def labels(self, node: Node, path: str) -> dict[str, str] | None:
        return self._string_map(
            node, path, "label names to values", _label_name_problem, _label_value_problem
        )

    def _string_map(
        self,
        node: Node,
        path: str,
        what: str,
        name_problem: Callable[[str], str | None],
        value_problem: Callable[[str], str | None],
    ) -> dict[str, str] | None:
        """A mapping of names to strings; each bad name or value is reported once."""
        fields = self._free_mapping(node, path, what)
        if fields is None:
            return None
        out: dict[str, str] = {}
        for name, (key_node, value_node) in fields.items():
            name_path = _join(path, name)
            problem = name_problem(name)
            if problem:
                self.report(key_node, name_path, problem)
                continue
            value = self.string(value_node, name_path)
            if value is None:
                continue
            problem = value_problem(value)
            if problem:
                self.report(value_node, name_path, problem)
                continue
            out[name] = value
        return out

    def _free_mapping(
        self, node: Node, path: str, what: str
    ) -> dict[str, tuple[Node, Node]] | None:
        """A mapping whose keys are user-chosen (labels, headers)."""
        if not isinstance(node, MappingNode):
            self.report(node, path, f"must be a mapping of {what}, got {_describe(node)}")
            return None
        return self.entries(node, path)

    # ----------------------------------------------------- services / SLOs

    def services(self, node: Node, path: str) -> tuple[model.Service, ...] | None:
        items = self.sequence(node, path, "services")
        if items is None:
            return None
        if not items:
            self.report(node, path, "must list at least one service")
            return None
        services: list[model.Service] = []
        seen: dict[str, int] = {}
        for item, item_path in items:
            service = self.service(item, item_path, seen)
            if service is not None:
                services.append(service)
        return tuple(services)

    def _name(self, fields: _Fields, seen: dict[str, int], what: str) -> str | None:
        name = fields.string("name", non_empty=True)
        if name is None:
            return None
        node = fields.at("name")
        if not _OBJECT_NAME.fullmatch(name):
            self.report(
                node,
                fields.key_path("name"),
                "must start with a letter or digit and contain only letters, digits, "
                f"'_', '.', ':' and '-', got {name!r}",
            )
            return None
        if name in seen:
            self.report(
                node,
                fields.key_path("name"),
                f"duplicate {what} name {name!r} (first defined on line {seen[name]})",
            )
            return None
        seen[name] = _line(node)
        return name

    def service(self, node: Node, path: str, seen: dict[str, int]) -> model.Service | None:
        fields = self.mapping(node, path, ("name", "labels", "slos"), required=("name", "slos"))
        if fields is None:
            return None
        name = self._name(fields, seen, "service")
        labels = fields.read("labels", self.labels) or {}
        slos_node = fields.get("slos")
        if slos_node is None:
            return None
        items = self.sequence(slos_node, fields.key_path("slos"), "SLOs")
        if items is None:
            return None
        if not items:
            self.report(slos_node, fields.key_path("slos"), "must list at least one SLO")
        slo_names: dict[str, int] = {}
        slos = [
            self.slo(item, item_path, name or "", labels, slo_names) for item, item_path in items
        ]
        if name is None:
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
        seen: dict[str, int],
    ) -> model.SLO | None:
        fields = self.mapping(
            node,
            path,
            ("name", "objective", "window", "sli", "description", "labels", "runbook_url"),
            required=("name", "objective", "window", "sli"),
        )
        if fields is None:
            return None
        name = self._name(fields, seen, "SLO")
        objective = fields.read("objective", self.objective)
        window = fields.read("window", self.window)
        sli: model.SLI | None = fields.read("sli", self.sli)
        description = fields.string("description") or ""
        labels = fields.read("labels", self.labels) or {}
        runbook_url = fields.url("runbook_url")
        if name is None or objective is None or window is None or sli is None:
            return None
        return model.SLO(
            service=service,
            name=name,
            objective=objective,
            period=model.RollingPeriod(window),
            sli=sli,
            description=description,
            labels=model.frozen_map({**service_labels, **labels}),
            runbook_url=runbook_url,
        )

    def objective(self, node: Node, path: str) -> float | None:
        if not (isinstance(node, ScalarNode) and node.tag in (_INT, _FLOAT)):
            self.report(
                node,
                path,
                f"must be a number (a percentage such as 99.9), got {_describe(node)}",
            )
            return None
        percent = float(self._constructor.construct_object(node))
        if not 0 < percent < 100:
            self.report(
                node,
                path,
                f"must be a percentage strictly between 0 and 100, got {_describe(node)}",
            )
            return None
        # via Decimal so that 99.9 becomes 0.999, not 0.9990000000000001
        return float(Decimal(repr(percent)) / 100)

    def window(self, node: Node, path: str) -> float | None:
        window = self.duration(node, path)
        if window is None:
            return None
        if window < _MIN_WINDOW:
            self.report(node, path, f"must be at least 1h, got {_describe(node)}")
            return None
        return window if self._whole_buckets(node, path, window) else None

    # ------------------------------------------------------------------ SLIs

    def sli(self, node: Node, path: str) -> model.SLI | None:
        if not isinstance(node, MappingNode):
            self.report(
                node,
                path,
                f"must be a mapping with one SLI kind ({_choices(_SLI_KINDS)}), "
                f"got {_describe(node)}",
            )
            return None
        entries = self.entries(node, path)
        for key, (key_node, _) in entries.items():
            if key not in _SLI_KINDS:
                self.report(
                    key_node,
                    _join(path, key),
                    f"unknown SLI kind {key!r}; expected one of: {_choices(_SLI_KINDS)}",
                )
        kinds = [key for key in entries if key in _SLI_KINDS]
        if len(kinds) > 1:
            self.report(
                node,
                path,
                f"must have exactly one SLI kind, got {len(kinds)}: {', '.join(kinds)}",
            )
            return None
        if not kinds:
            if len(entries) == 0:
                self.report(
                    node, path, f"must have exactly one SLI kind ({_choices(_SLI_KINDS)}), got none"
                )
            return None
        kind = kinds[0]
        value = entries[kind][1]
        kind_path = _join(path, kind)
        if kind == "ratio":
            return self.ratio(value, kind_path)
        if kind == "latency":
            return self.latency(value, kind_path)
        return self.probe(value, kind_path)

    def ratio(self, node: Node, path: str) -> model.RatioSLI | None:
        fields = self.mapping(node, path, ("good", "bad", "total"), required=("total",))
        if fields is None:
            return None
        good: model.Query | None = fields.read("good", self.query)
        bad: model.Query | None = fields.read("bad", self.query)
        total: model.Query | None = fields.read("total", self.query)
        has_good, has_bad = fields.get("good") is not None, fields.get("bad") is not None
        if has_good and has_bad:
            self.report(node, path, "give either 'good' or 'bad', not both")
            return None
        if not has_good and not has_bad:
            self.report(node, path, "missing required key 'good' or 'bad' (give one of them)")
            return None
        events = good if has_good else bad
        if events is None or total is None:
            return None
        if type(events) is not type(total):
            which = "good" if has_good else "bad"
            self.report(
                node,
                path,
                f"{which} and total must both be plain selectors or both {{{{.window}}}} "
                "templates: selectors are counted exactly from raw samples, templates by "
                "Prometheus, and the two do not mix into one ratio",
            )
            return None
        return model.RatioSLI(total=total, good=good, bad=bad)

    def query(self, node: Node, path: str) -> model.Query | None:
        text = self.string(node, path)
        if text is None:
            return None
        text = text.strip()
        if not text:
            self.report(node, path, "must not be empty")
            return None
        variables = _TEMPLATE_VAR.findall(text)
        if variables:
            unknown = sorted({v for v in variables if v != ".window"})
            if unknown:
                self.report(
                    node,
                    path,
                    f"unknown template variable {{{{{unknown[0]}}}}}; "
                    "only {{.window}} is supported",
                )
                return None
            problem = _unbalanced(text)
            if problem:
                self.report(node, path, f"invalid PromQL template {text!r}: {problem}")
                return None
            # one spelling, so that Template.render can substitute it
            return model.Template(_TEMPLATE_VAR.sub("{{.window}}", text))
        try:
            name, matchers = _parse_selector(text)
        except ValueError as exc:
            self.report(
                node,
                path,
                f"{text!r} is not a plain series selector ({exc}); give a selector such as "
                f"{_SELECTOR_EXAMPLE} or PromQL that counts the events in {{{{.window}}}}, "
                f"such as {_TEMPLATE_EXAMPLE}",
            )
            return None
        return model.Selector(_selector_text(name, matchers))

    def latency(self, node: Node, path: str) -> model.LatencySLI | None:
        fields = self.mapping(
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
                listed = ", ".join(_number_text(b) for b in buckets)
                self.report(
                    fields.at("threshold"),
                    fields.key_path("threshold"),
                    f"threshold {shown} is not a bucket boundary of [{listed}]; "
                    "use one of them as the threshold",
                )
                return None
        if histogram is None or threshold is None:
            return None
        return model.LatencySLI(histogram=histogram, threshold=threshold[0], buckets=buckets)

    def histogram(self, node: Node, path: str) -> model.Selector | None:
        text = self.string(node, path)
        if text is None:
            return None
        text = text.strip()
        try:
            name, matchers = _parse_selector(text)
        except ValueError as exc:
            self.report(
                node,
                path,
                f"{text!r} is not a histogram selector ({exc}); give the histogram's base name "
                'with optional matchers, such as http_request_duration_seconds{job="api"}',
            )
            return None
        if not name:
            self.report(
                node, path, f"{text!r} needs a metric name, such as http_request_duration_seconds"
            )
            return None
        for suffix in ("_bucket", "_count", "_sum"):
            if name.endswith(suffix):
                self.report(
                    node,
                    path,
                    f"give the histogram's base name {name.removesuffix(suffix)!r}, "
                    f"without {suffix}",
                )
                return None
        for label, _, _ in matchers:
            if label in ("le", "__name__"):
                self.report(
                    node, path, f"the selector must not match on {label!r}; the exporter sets it"
                )
                return None
        return model.Selector(_selector_text(name, matchers))

    def threshold(self, node: Node, path: str) -> tuple[float, str] | None:
        """The threshold in seconds (or histogram units) and how to show it in messages."""
        if isinstance(node, ScalarNode) and node.tag in (_INT, _FLOAT):
            value = self.number(node, path)
            shown = None if value is None else _number_text(value)
        else:
            value = self.duration(node, path)
            shown = None if value is None else f"{_number_text(value)}s"
        if value is None or shown is None:
            return None
        if value <= 0:
            self.report(node, path, f"must be greater than 0, got {_describe(node)}")
            return None
        return value, shown

    def buckets(self, node: Node, path: str) -> tuple[float, ...] | None:
        items = self.sequence(node, path, "bucket boundaries (numbers)")
        if items is None:
            return None
        if not items:
            self.report(node, path, "must list at least one bucket boundary")
            return None
        values = [self.number(item, item_path) for item, item_path in items]
        if any(v is None for v in values):
            return None
        bounds = tuple(v for v in values if v is not None)
        for (previous, current), (item, item_path) in zip(
            itertools.pairwise(bounds), items[1:], strict=True
        ):
            if current <= previous:
                self.report(
                    item,
                    item_path,
                    f"bucket boundaries must increase, got {_number_text(current)} "
                    f"after {_number_text(previous)}",
                )
                return None
        return bounds

    # ---------------------------------------------------------------- probes

    def probe(self, node: Node, path: str) -> model.ProbeSLI | None:
        fields = self.mapping(
            node, path, (*_PROBE_MODULES, "interval", "timeout", "latency_threshold")
        )
        if fields is None:
            return None
        modules = [m for m in _PROBE_MODULES if fields.has(m)]
        target: model.ProbeTarget | None = None
        if len(modules) > 1:
            self.report(
                node,
                path,
                f"must have exactly one probe module, got {len(modules)}: {', '.join(modules)}",
            )
        elif not modules:
            self.report(
                node, path, f"missing a probe module: give one of {_choices(_PROBE_MODULES)}"
            )
        else:
            builders: dict[str, Callable[[Node, str], model.ProbeTarget | None]] = {
                "http": self.http_probe,
                "tcp": self.tcp_probe,
                "tls": self.tls_probe,
                "dns": self.dns_probe,
            }
            module = modules[0]
            module_node = fields.get(module)
            if module_node is None:
                self.report(fields.at(module), fields.key_path(module), "must not be empty")
            else:
                target = builders[module](module_node, fields.key_path(module))

        interval = fields.duration("interval", above_zero=True)
        timeout = fields.duration("timeout", above_zero=True)
        latency = fields.duration("latency_threshold", above_zero=True)
        defaults = model.ProbeSLI(target=model.TCPProbe(address="localhost:1"))
        # compare only values that are valid (given or defaulted), so one bad
        # duration does not cause a second, confusing complaint
        interval_ok = interval is not None or fields.get("interval") is None
        timeout_ok = timeout is not None or fields.get("timeout") is None
        interval_s = defaults.interval if interval is None else interval
        timeout_s = defaults.timeout if timeout is None else timeout
        if interval_ok and timeout_ok and timeout_s >= interval_s:
            self.report(
                fields.at("timeout" if fields.get("timeout") is not None else "interval"),
                fields.key_path("timeout"),
                f"must be shorter than the interval ({format_duration(interval_s)}), "
                f"got {format_duration(timeout_s)}",
            )
            return None
        if timeout_ok and latency is not None and latency >= timeout_s:
            self.report(
                fields.at("latency_threshold"),
                fields.key_path("latency_threshold"),
                f"must be shorter than the timeout ({format_duration(timeout_s)}), "
                f"got {format_duration(latency)}",
            )
            return None
        if target is None or not (interval_ok and timeout_ok):
            return None
        return model.ProbeSLI(
            target=target, interval=interval_s, timeout=timeout_s, latency_threshold=latency
        )

    def http_probe(self, node: Node, path: str) -> model.HTTPProbe | None:
        fields = self.mapping(
            node,
            path,
            (
                "url",
                "method",
                "headers",
                "body",
                "valid_status_codes",
                "fail_if_body_matches_regexp",
                "fail_if_body_not_matches_regexp",
                "follow_redirects",
                "max_redirects",
                "basic_auth",
                "bearer_token_file",
                "tls_config",
                "fail_if_ssl",
                "fail_if_not_ssl",
                "body_size_limit",
            ),
            required=("url",),
        )
        if fields is None:
            return None
        defaults = model.HTTPProbe(url="http://localhost/")
        url = fields.url("url")
        method = fields.read("method", self.http_method)
        headers = fields.read("headers", self.headers)
        codes = fields.read("valid_status_codes", self.status_codes)
        basic_auth, bearer = self._auth(fields)
        fail_if_ssl = fields.boolean("fail_if_ssl")
        fail_if_not_ssl = fields.boolean("fail_if_not_ssl")
        if fail_if_ssl and fail_if_not_ssl:
            self.report(
                fields.at("fail_if_not_ssl"),
                path,
                "fail_if_ssl and fail_if_not_ssl cannot both be true: every probe would fail",
            )
        max_redirects = fields.integer("max_redirects", minimum=0)
        size_limit = fields.read("body_size_limit", self.byte_size)
        follow = fields.boolean("follow_redirects")
        tls = fields.read("tls_config", self.tls_config)
        probe = model.HTTPProbe(
            url=url or defaults.url,
            method=method or defaults.method,
            headers=model.frozen_map(headers),
            body=fields.string("body"),
            valid_status_codes=codes or (),
            fail_if_body_matches_regexp=fields.regexps("fail_if_body_matches_regexp") or (),
            fail_if_body_not_matches_regexp=fields.regexps("fail_if_body_not_matches_regexp") or (),
            follow_redirects=defaults.follow_redirects if follow is None else follow,
            max_redirects=defaults.max_redirects if max_redirects is None else max_redirects,
            basic_auth=basic_auth,
            bearer_token_file=bearer,
            tls=tls or model.TLSConfig(),
            fail_if_ssl=bool(fail_if_ssl),
            fail_if_not_ssl=bool(fail_if_not_ssl),
            body_size_limit=defaults.body_size_limit if size_limit is None else size_limit,
        )
        return None if url is None else probe

    def http_method(self, node: Node, path: str) -> str | None:
        text = self.string(node, path)
        if text is None:
            return None
        method = text.strip().upper()
        if not _HTTP_METHOD.fullmatch(method):
            self.report(node, path, f"must be an HTTP method such as GET or POST, got {text!r}")
            return None
        return method

    def status_codes(self, node: Node, path: str) -> tuple[int, ...] | None:
        items = self.sequence(node, path, "HTTP status codes")
        if items is None:
            return None
        codes: list[int] = []
        for item, item_path in items:
            code = self.integer(item, item_path)
            if code is None:
                continue
            if not 100 <= code <= 599:
                self.report(
                    item, item_path, f"must be an HTTP status code from 100 to 599, got {code}"
                )
                continue
            codes.append(code)
        return tuple(codes)

    def byte_size(self, node: Node, path: str) -> int | None:
        expected = "a size in bytes, such as 1048576 or '10MB' (KB = 1024 bytes)"
        if isinstance(node, ScalarNode) and node.tag == _INT:
            size = int(self._constructor.construct_object(node))
        elif isinstance(node, ScalarNode) and node.tag == _STR:
            match = _SIZE.fullmatch(str(node.value).strip())
            if match is None:
                self.report(node, path, f"must be {expected}, got {_describe(node)}")
                return None
            number, unit = match.groups()
            size = int(number) * _SIZE_UNITS[(unit or "b")[0].lower()]
        else:
            self.report(node, path, f"must be {expected}, got {_describe(node)}")
            return None
        if size <= 0:
            self.report(node, path, f"must be greater than 0, got {_describe(node)}")
            return None
        return size

    def address(self, node: Node, path: str) -> str | None:
        return self._host_port(node, path, port_required=True)

    def _host_port(self, node: Node, path: str, *, port_required: bool) -> str | None:
        text = self.string(node, path)
        if text is None:
            return None
        problem = _host_port_problem(text.strip(), port_required=port_required)
        if problem:
            form = "host:port" if port_required else "host or host:port"
            self.report(node, path, f"must be {form}, got {text!r} ({problem})")
            return None
        return text.strip()

    def tcp_probe(self, node: Node, path: str) -> model.TCPProbe | None:
        fields = self.mapping(
            node, path, ("address", "send", "expect", "tls", "tls_config"), required=("address",)
        )
        if fields is None:
            return None
        address = fields.read("address", self.address)
        send = fields.string("send")
        expect = fields.read("expect", self.regexp)
        use_tls = fields.boolean("tls")
        tls_config = fields.read("tls_config", self.tls_config)
        if address is None:
            return None
        return model.TCPProbe(
            address=address,
            send=send,
            expect=expect,
            tls=bool(use_tls),
            tls_config=tls_config or model.TLSConfig(),
        )

    def tls_probe(self, node: Node, path: str) -> model.TLSProbe | None:
        fields = self.mapping(node, path, ("address", "tls_config"), required=("address",))
        if fields is None:
            return None
        address = fields.read("address", self.address)
        tls_config = fields.read("tls_config", self.tls_config)
        if address is None:
            return None
        return model.TLSProbe(address=address, tls_config=tls_config or model.TLSConfig())

    def dns_probe(self, node: Node, path: str) -> model.DNSProbe | None:
        fields = self.mapping(
            node,
            path,
            ("query_name", "server", "query_type", "transport", "valid_rcodes", "expect"),
            required=("query_name",),
        )
        if fields is None:
            return None
        defaults = model.DNSProbe(query_name="localhost")
        query_name = fields.string("query_name", non_empty=True)
        server = fields.read("server", self.dns_server)
        query_type = fields.read(
            "query_type", self._choice(_DNS_QUERY_TYPES, "a DNS record type", str.upper)
        )
        transport = fields.read(
            "transport", self._choice(_DNS_TRANSPORTS, "a DNS transport", str.lower)
        )
        rcodes = fields.read("valid_rcodes", self.rcodes)
        expect = fields.regexps("expect")
        if query_name is None:
            return None
        return model.DNSProbe(
            query_name=query_name.strip(),
            server=server,
            query_type=query_type or defaults.query_type,
            transport=transport or defaults.transport,
            valid_rcodes=rcodes or defaults.valid_rcodes,
            expect=expect or (),
        )

    def dns_server(self, node: Node, path: str) -> str | None:
        return self._host_port(node, path, port_required=False)

    def _choice(
        self, options: tuple[str, ...], what: str, normalize: Callable[[str], str]
    ) -> Callable[[Node, str], str | None]:
        def read(node: Node, path: str) -> str | None:
            text = self.string(node, path)
            if text is None:
                return None
            value = normalize(text.strip())
            if value not in options:
                self.report(
                    node, path, f"must be {what}, one of {', '.join(options)}, got {text!r}"
                )
                return None
            return value

        return read

    def rcodes(self, node: Node, path: str) -> tuple[str, ...] | None:
        items = self.sequence(node, path, "DNS response codes")
        if items is None:
            return None
        read = self._choice(_DNS_RCODES, "a DNS response code", str.upper)
        codes = [read(item, item_path) for item, item_path in items]
        if not codes:
            self.report(node, path, "must list at least one response code")
            return None
        return tuple(code for code in codes if code is not None)


# ------------------------------------------------------------ text checkers


def _host_port_problem(text: str, *, port_required: bool) -> str | None:
    """Why ``text`` is not ``host:port`` (or ``host`` when the port is optional)."""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            return "an IPv6 address needs a closing ']'"
        if not _is_ip(host, version=6):
            return f"{host!r} is not an IPv6 address"
        if not rest and not port_required:
            return None
        if not rest.startswith(":"):
            return "the port is missing"
        port = rest[1:]
    elif text.count(":") > 1:
        if not port_required and _is_ip(text, version=6):
            return None
        return "IPv6 addresses must be written in brackets, such as [::1]:53"
    else:
        host, sep, port = text.partition(":")
        if not sep:
            return "the port is missing" if port_required else _host_problem(host)
        problem = _host_problem(host)
        if problem:
            return problem
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        return "the port must be a number from 1 to 65535"
    return None


def _host_problem(host: str) -> str | None:
    if not host:
        return "the host is missing"
    if not _HOSTNAME.fullmatch(host):
        return f"{host!r} is not a host name or IP address"
    return None


def _is_ip(text: str, *, version: int) -> bool:
    try:
        return ipaddress.ip_address(text).version == version
    except ValueError:
        return False


def _unbalanced(text: str) -> str | None:
    """The first unbalanced bracket or quote in PromQL ``text``, if any."""
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    quote = ""
    escaped = False
    for index, char in enumerate(text, start=1):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote != "`":
                escaped = True
            elif char == quote:
                quote = ""
            continue
        if char in "\"'`":
            quote = char
        elif char in "([{":
            stack.append(char)
        elif char in pairs and (not stack or stack.pop() != pairs[char]):
            return f"unmatched {char!r} at position {index}"
    if quote:
        return f"unterminated {quote} string"
    if stack:
        return f"unclosed {stack[-1]!r}"
    return None


def _parse_selector(text: str) -> tuple[str, list[tuple[str, str, str]]]:
    """Split a plain series selector into (metric name, [(label, op, quoted value)]).

    The value keeps its quotes, so any of PromQL's three quote styles survive.
    Raises ``ValueError`` saying where the text stops being a selector.
    """
    pos = 0
    end = len(text)

    def skip_space() -> None:
        nonlocal pos
        while pos < end and text[pos].isspace():
            pos += 1

    def unexpected(what: str = "") -> ValueError:
        if pos >= end:
            return ValueError(f"unexpected end of text{what}")
        return ValueError(f"unexpected {text[pos]!r} at position {pos + 1}{what}")

    name = ""
    match = _METRIC_NAME.match(text, pos)
    if match:
        name = match.group()
        pos = match.end()
    skip_space()
    matchers: list[tuple[str, str, str]] = []
    if pos < end and text[pos] == "{":
        pos += 1
        while True:
            skip_space()
            if pos < end and text[pos] == "}":
                pos += 1
                break
            label_match = _LABEL_NAME.match(text, pos)
            if not label_match:
                raise unexpected(", expected a label name")
            label = label_match.group()
            pos = label_match.end()
            skip_space()
            op = next((o for o in ("=~", "!~", "!=", "=") if text.startswith(o, pos)), None)
            if op is None:
                raise unexpected(", expected =, !=, =~ or !~")
            pos += len(op)
            skip_space()
            value, pos = _quoted(text, pos)
            matchers.append((label, op, value))
            skip_space()
            if pos < end and text[pos] == ",":
                pos += 1
            elif pos < end and text[pos] == "}":
                pos += 1
                break
            else:
                raise unexpected(", expected ',' or '}'")
        skip_space()
    if pos != end:
        raise unexpected()
    if not name and not any(label == "__name__" for label, _, _ in matchers):
        raise ValueError("a selector needs a metric name or a __name__ matcher")
    return name, matchers


def _selector_text(name: str, matchers: list[tuple[str, str, str]]) -> str:
    """One spelling per selector, without spaces or a trailing comma, so that
    other modules can append matchers (``le``) and whitespace edits do not
    change the SLI's fingerprint."""
    if not matchers:
        return name
    return name + "{" + ",".join(f"{label}{op}{value}" for label, op, value in matchers) + "}"


def _quoted(text: str, pos: int) -> tuple[str, int]:
    """Read a quoted PromQL string at ``pos``; return it with its quotes and the end position."""
    if pos >= len(text):
        raise ValueError("unexpected end of text, expected a quoted value")
    if text[pos] not in "\"'`":
        raise ValueError(f"unexpected {text[pos]!r} at position {pos + 1}, expected a quoted value")
    quote = text[pos]
    index = pos + 1
    while index < len(text):
        char = text[index]
        if char == "\\" and quote != "`":
            index += 2
            continue
        if char == quote:
            return text[pos : index + 1], index + 1
        if char == "\n":
            break
        index += 1
    raise ValueError(f"unterminated string starting at position {pos + 1}")


def _header_name_problem(name: str) -> str | None:
    return None if _HEADER_NAME.fullmatch(name) else f"invalid HTTP header name {name!r}"


def _header_value_problem(value: str) -> str | None:
    return "header values must be a single line" if "\n" in value or "\r" in value else None


def _label_name_problem(name: str) -> str | None:
    if not _LABEL_NAME.fullmatch(name):
        return f"invalid label name {name!r}: must match [a-zA-Z_][a-zA-Z0-9_]*"
    if name in _RESERVED_LABELS or name.startswith("__"):
        return (
            f"label name {name!r} is reserved: the exporter sets "
            f"{', '.join(_RESERVED_LABELS[:-1])} and {_RESERVED_LABELS[-1]} itself, "
            "and names starting with __ belong to Prometheus"
        )
    return None


def _label_value_problem(value: str) -> str | None:
    return None if value else "label values must not be empty"
