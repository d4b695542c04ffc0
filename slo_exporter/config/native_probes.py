"""The probe part of the native schema: ``sli.probe`` and its four modules.

Owns ``interval``, ``timeout`` and ``latency_threshold`` of a probe and the
``http``, ``tcp``, ``tls`` and ``dns`` modules, with option names taken from
blackbox_exporter. Every value that the probe runner would refuse or choke on
(a URL it cannot send, credentials in the URL, a timeout it cannot keep) is
refused here, so ``check`` accepts nothing ``run`` cannot run.

Must not probe anything or read the files it names.
"""

from __future__ import annotations

from collections.abc import Callable

import dns.exception
import dns.name
from yaml.nodes import Node

from slo_exporter import model
from slo_exporter.config.fields import Reader, choices
from slo_exporter.config.httpclient import CLIENT_KEYS, read_client, read_tls
from slo_exporter.config.text import has_password, host_port_problem, shorten
from slo_exporter.durations import format_duration

PROBE_MODULES = ("dns", "http", "tcp", "tls")
DNS_QUERY_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT")
DNS_TRANSPORTS = ("tcp", "udp")
DNS_RCODES = (
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

#: bounds of the probe schedule: faster than 1s is load testing, not probing
MIN_INTERVAL, MAX_INTERVAL = 1.0, 3600.0
MIN_TIMEOUT = 0.01
MAX_REDIRECTS = 100
MAX_BODY_SIZE = 1 << 30
_HTTP_METHOD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def read_probe(r: Reader, node: Node, path: str) -> model.ProbeSLI | None:
    fields = r.mapping(node, path, (*PROBE_MODULES, "interval", "timeout", "latency_threshold"))
    if fields is None:
        return None
    modules = [m for m in PROBE_MODULES if fields.has(m)]
    target: model.ProbeTarget | None = None
    if len(modules) > 1:
        r.report(
            node,
            path,
            f"must have exactly one probe module, got {len(modules)}: {', '.join(modules)}",
        )
    elif not modules:
        r.report(node, path, f"missing a probe module: give one of {choices(PROBE_MODULES)}")
    else:
        builders: dict[str, Callable[[Reader, Node, str], model.ProbeTarget | None]] = {
            "http": read_http,
            "tcp": read_tcp,
            "tls": read_tls_probe,
            "dns": read_dns,
        }
        module = modules[0]
        module_node = fields.get(module)
        if module_node is None:
            fields.report(module, "must not be empty")
        else:
            target = builders[module](r, module_node, fields.key_path(module))

    interval = fields.duration(
        "interval", above_zero=True, minimum=MIN_INTERVAL, maximum=MAX_INTERVAL
    )
    timeout = fields.duration("timeout", above_zero=True, minimum=MIN_TIMEOUT)
    latency = fields.duration("latency_threshold", above_zero=True)
    defaults = model.ProbeSLI(target=model.TCPProbe(address="localhost:1"))
    # compare only values that are valid (given or defaulted), so one bad
    # duration does not cause a second, confusing complaint
    interval_ok = interval is not None or fields.get("interval") is None
    timeout_ok = timeout is not None or fields.get("timeout") is None
    interval_s = defaults.interval if interval is None else interval
    timeout_s = defaults.timeout if timeout is None else timeout
    if interval_ok and timeout_ok and timeout_s >= interval_s:
        r.report(
            fields.at("timeout" if fields.get("timeout") is not None else "interval"),
            fields.key_path("timeout"),
            f"must be shorter than the interval ({format_duration(interval_s)}), "
            f"got {format_duration(timeout_s)}",
        )
        return None
    if timeout_ok and latency is not None and latency >= timeout_s:
        fields.report(
            "latency_threshold",
            f"must be shorter than the timeout ({format_duration(timeout_s)}), "
            f"got {format_duration(latency)}",
        )
        return None
    if target is None or not (interval_ok and timeout_ok):
        return None
    return model.ProbeSLI(
        target=target, interval=interval_s, timeout=timeout_s, latency_threshold=latency
    )


def read_http(r: Reader, node: Node, path: str) -> model.HTTPProbe | None:
    fields = r.mapping(
        node,
        path,
        (
            "url",
            "method",
            "body",
            "valid_status_codes",
            "fail_if_body_matches_regexp",
            "fail_if_body_not_matches_regexp",
            "follow_redirects",
            "max_redirects",
            *CLIENT_KEYS,
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
    if url is not None and has_password(url):
        fields.report(
            "url",
            "must not hold credentials (user:password@): they would be shown in the instance "
            "label and logs; give them in basic_auth (password_file) instead",
        )
        url = None
    method = fields.read("method", lambda n, p: _http_method(r, n, p))
    codes = fields.read("valid_status_codes", lambda n, p: _status_codes(r, n, p))
    client = read_client(r, fields, tls_key="tls_config")
    fail_if_ssl = fields.boolean("fail_if_ssl")
    fail_if_not_ssl = fields.boolean("fail_if_not_ssl")
    if fail_if_ssl and fail_if_not_ssl:
        r.report(
            fields.at("fail_if_not_ssl"),
            path,
            "fail_if_ssl and fail_if_not_ssl cannot both be true: every probe would fail",
        )
    max_redirects = fields.integer("max_redirects", minimum=0, maximum=MAX_REDIRECTS)
    size_limit = fields.byte_size("body_size_limit", maximum=MAX_BODY_SIZE)
    follow = fields.boolean("follow_redirects")
    body = fields.string("body")
    if body is not None and not _latin1(body):
        fields.report("body", "must be Latin-1 (ISO-8859-1) text, as it is sent")
        body = None
    probe = model.HTTPProbe(
        url=url or defaults.url,
        method=method or defaults.method,
        headers=client.headers,
        body=body,
        valid_status_codes=codes or (),
        fail_if_body_matches_regexp=fields.regexps("fail_if_body_matches_regexp") or (),
        fail_if_body_not_matches_regexp=fields.regexps("fail_if_body_not_matches_regexp") or (),
        follow_redirects=defaults.follow_redirects if follow is None else follow,
        max_redirects=defaults.max_redirects if max_redirects is None else max_redirects,
        basic_auth=client.basic_auth,
        bearer_token_file=client.bearer_token_file,
        tls=client.tls,
        fail_if_ssl=bool(fail_if_ssl),
        fail_if_not_ssl=bool(fail_if_not_ssl),
        body_size_limit=defaults.body_size_limit if size_limit is None else size_limit,
    )
    return None if url is None else probe


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _http_method(r: Reader, node: Node, path: str) -> str | None:
    text = r.string(node, path)
    if text is None:
        return None
    method = text.strip().upper()
    if not method or not set(method) <= _HTTP_METHOD_CHARS or len(method) > 20:
        shown = shorten(text, 40)
        r.report(node, path, f"must be an HTTP method such as GET or POST, got {shown!r}")
        return None
    return method


def _status_codes(r: Reader, node: Node, path: str) -> tuple[int, ...] | None:
    items = r.sequence(node, path, "HTTP status codes")
    if items is None:
        return None
    codes: list[int] = []
    for item, item_path in items:
        code = r.integer(item, item_path)
        if code is None:
            continue
        if not 100 <= code <= 599:
            shown = str(code) if code.bit_length() < 64 else "a very large number"
            r.report(item, item_path, f"must be an HTTP status code from 100 to 599, got {shown}")
            continue
        codes.append(code)
    return tuple(codes)


def _host_port(r: Reader, node: Node, path: str, *, port_required: bool) -> str | None:
    text = r.string(node, path)
    if text is None:
        return None
    problem = host_port_problem(text.strip(), port_required=port_required)
    if problem:
        form = "host:port" if port_required else "host or host:port"
        shown = shorten(text)
        r.report(node, path, f"must be {form}, got {shown!r} ({problem})")
        return None
    return text.strip()


def _address(r: Reader, node: Node, path: str) -> str | None:
    return _host_port(r, node, path, port_required=True)


def read_tcp(r: Reader, node: Node, path: str) -> model.TCPProbe | None:
    fields = r.mapping(
        node, path, ("address", "send", "expect", "tls", "tls_config"), required=("address",)
    )
    if fields is None:
        return None
    address = fields.read("address", lambda n, p: _address(r, n, p))
    send = fields.string("send")
    if send is not None and not _latin1(send):
        fields.report("send", "must be Latin-1 (ISO-8859-1) text, as it is sent")
        send = None
    expect = fields.read("expect", r.regexp)
    use_tls = fields.boolean("tls")
    tls_config = fields.read("tls_config", lambda n, p: _tls(r, n, p))
    if address is None:
        return None
    return model.TCPProbe(
        address=address,
        send=send,
        expect=expect,
        tls=bool(use_tls),
        tls_config=tls_config or model.TLSConfig(),
    )


def _tls(r: Reader, node: Node, path: str) -> model.TLSConfig | None:
    return read_tls(r, node, path)


def read_tls_probe(r: Reader, node: Node, path: str) -> model.TLSProbe | None:
    fields = r.mapping(node, path, ("address", "tls_config"), required=("address",))
    if fields is None:
        return None
    address = fields.read("address", lambda n, p: _address(r, n, p))
    tls_config = fields.read("tls_config", lambda n, p: _tls(r, n, p))
    if address is None:
        return None
    return model.TLSProbe(address=address, tls_config=tls_config or model.TLSConfig())


def read_dns(r: Reader, node: Node, path: str) -> model.DNSProbe | None:
    fields = r.mapping(
        node,
        path,
        ("query_name", "server", "query_type", "transport", "valid_rcodes", "expect"),
        required=("query_name",),
    )
    if fields is None:
        return None
    defaults = model.DNSProbe(query_name="localhost")
    query_name = fields.string("query_name", non_empty=True)
    server = fields.read("server", lambda n, p: _host_port(r, n, p, port_required=False))
    query_type = fields.read(
        "query_type", r.choice(DNS_QUERY_TYPES, "a DNS record type", str.upper)
    )
    transport = fields.read("transport", r.choice(DNS_TRANSPORTS, "a DNS transport", str.lower))
    rcodes = fields.read("valid_rcodes", lambda n, p: _rcodes(r, n, p))
    expect = fields.regexps("expect")
    if query_name is not None:
        try:
            dns.name.from_text(query_name.strip())
        except (dns.exception.DNSException, UnicodeError, ValueError) as exc:
            fields.report("query_name", f"is not a DNS name ({exc})")
            query_name = None
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


def _rcodes(r: Reader, node: Node, path: str) -> tuple[str, ...] | None:
    items = r.sequence(node, path, "DNS response codes")
    if items is None:
        return None
    read = r.choice(DNS_RCODES, "a DNS response code", str.upper)
    codes = [read(item, item_path) for item, item_path in items]
    if not codes:
        r.report(node, path, "must list at least one response code")
        return None
    return tuple(code for code in codes if code is not None)
