"""The web config file of ``--web.config.file``: TLS and basic auth for the HTTP server.

The format is the one every Prometheus exporter reads (prometheus/exporter-toolkit)::

    tls_server_config:
      cert_file: server.crt            # relative paths are relative to this file
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert   # or NoClientCert, VerifyClientCertIfGiven
      client_ca_file: clients-ca.crt
      min_version: TLS12               # TLS10..TLS13; default TLS12
      max_version: TLS13
      cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]   # TLS 1.2 and older only
      prefer_server_cipher_suites: true
    http_server_config:
      http2: false                     # accepted; the server speaks HTTP/1.1 only
      headers: {X-Frame-Options: deny}
    basic_auth_users:
      prometheus: $2b$10$...           # bcrypt hash

This module owns reading that file into a frozen ``WebConfig`` and turning its
TLS part into an ``ssl.SSLContext``. Every problem is a located ``ConfigError``.
It must not serve anything, and it must never put a password hash, a key or a
file's content into an error message or a log line.

Options of exporter-toolkit that the Python TLS stack cannot honour
(``RequestClientCert``, ``RequireAnyClientCert``, ``curve_preferences``,
inline ``cert``/``key``/``client_ca``, ``client_allowed_sans``, ``rate_limit``)
are refused with a message saying so, never silently ignored.
"""

from __future__ import annotations

import os
import re
import ssl
import stat
from dataclasses import dataclass, field

import yaml

from slo_exporter.errors import ConfigError, ConfigProblem

#: a web config file is a few lines; anything bigger is a mistake or an attack
MAX_FILE_BYTES = 64 * 1024

TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}

#: exporter-toolkit's client_auth_type -> ssl verify mode. Go can ask for a
#: client certificate without verifying it; OpenSSL through Python cannot.
CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
UNVERIFIED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert", "RequireClientCert")

#: Go's (IANA) cipher suite names -> OpenSSL names, for TLS 1.2 and older.
#: TLS 1.3 suites are not configurable, in Go as here.
CIPHER_SUITES = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
}

#: the response headers exporter-toolkit lets a web config set, with the
#: allowed values where the header is an enumeration
HEADERS: dict[str, tuple[str, ...]] = {
    "Strict-Transport-Security": (),
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": (),
    "Content-Security-Policy": (),
}

_BCRYPT = re.compile(r"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}")
_HEADER_VALUE = re.compile(r"[\x20-\x7e]*")
_STR = "tag:yaml.org,2002:str"
_BOOL = "tag:yaml.org,2002:bool"

_UNSUPPORTED = {
    "cert": "inline certificates are not supported; use cert_file",
    "key": "inline keys are not supported; use key_file",
    "client_ca": "inline CAs are not supported; use client_ca_file",
    "curve_preferences": "not supported by slo-exporter (OpenSSL's defaults apply)",
    "client_allowed_sans": "not supported by slo-exporter",
}


@dataclass(frozen=True)
class TLSServerConfig:
    """The ``tls_server_config`` block, file paths already made absolute."""

    cert_file: str
    key_file: str
    client_auth_type: str = "NoClientCert"
    client_ca_file: str = ""
    min_version: str = "TLS12"
    max_version: str = "TLS13"
    cipher_suites: tuple[str, ...] = ()
    prefer_server_cipher_suites: bool = True


@dataclass(frozen=True)
class WebConfig:
    """A parsed web config file. ``users`` maps user names to bcrypt hashes (never shown)."""

    file: str = ""
    tls: TLSServerConfig | None = None
    users: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def watched_files(self) -> tuple[str, ...]:
        """Files whose change should reload this config (the file itself, cert, key, CA)."""
        files = [self.file] if self.file else []
        if self.tls is not None:
            files += [self.tls.cert_file, self.tls.key_file]
            if self.tls.client_ca_file:
                files.append(self.tls.client_ca_file)
        return tuple(files)


def load_web_config(path: str) -> WebConfig:
    """Read, validate and (for TLS) load the certificates of the web config at ``path``."""
    text = _read(path)
    try:
        _check_depth(text, path)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError([ConfigProblem(path, "", f"invalid YAML: {exc.problem}", line)]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigProblem(path, "", f"invalid YAML: {exc}")]) from None
    except RecursionError:
        raise ConfigError([ConfigProblem(path, "", "invalid YAML: nested too deeply")]) from None
    config = _Parser(path).parse(root)
    if config.tls is not None:
        build_ssl_context(config)
    return config


#: the format is three levels deep; the YAML composer recurses once per level
MAX_DEPTH = 20
_OPEN = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken,
         yaml.FlowMappingStartToken, yaml.FlowSequenceStartToken)
_CLOSE = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


def _check_depth(text: str, path: str) -> None:
    """Refuse deep nesting from the token stream (flat), before the recursive composer runs."""
    depth = 0
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        if isinstance(token, _OPEN):
            depth += 1
            if depth > MAX_DEPTH:
                line = token.start_mark.line + 1
                raise ConfigError([ConfigProblem(
                    path, "", f"invalid YAML: nested deeper than {MAX_DEPTH} levels", line)])
        elif isinstance(token, _CLOSE):
            depth -= 1


def build_ssl_context(config: WebConfig) -> ssl.SSLContext:
    """The server-side TLS context of ``config.tls``; a file that does not load is a ConfigError."""
    tls = config.tls
    if tls is None:
        raise ValueError("the web config has no tls_server_config")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = TLS_VERSIONS[tls.min_version]
    ctx.maximum_version = TLS_VERSIONS[tls.max_version]
    ctx.set_alpn_protocols(["http/1.1"])
    if tls.prefer_server_cipher_suites:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    problems: list[ConfigProblem] = []

    def fail(where: str, reason: str) -> None:
        problems.append(ConfigProblem(config.file, f"tls_server_config.{where}", reason))

    try:
        # An encrypted key would make OpenSSL prompt on the terminal; refuse it instead.
        ctx.load_cert_chain(tls.cert_file, tls.key_file, password=_no_passphrase)
    except (OSError, ssl.SSLError, ValueError) as exc:
        fail("cert_file", f"cannot load {tls.cert_file} with key {tls.key_file}: {_short(exc)}")
    if tls.client_ca_file:
        try:
            ctx.load_verify_locations(cafile=tls.client_ca_file)
        except (OSError, ssl.SSLError) as exc:
            fail("client_ca_file", f"cannot load {tls.client_ca_file}: {_short(exc)}")
    ctx.verify_mode = CLIENT_AUTH[tls.client_auth_type]
    if tls.cipher_suites:
        try:
            ctx.set_ciphers(":".join(CIPHER_SUITES[name] for name in tls.cipher_suites))
        except ssl.SSLError as exc:
            fail("cipher_suites", f"not available in this OpenSSL: {_short(exc)}")
    if problems:
        raise ConfigError(problems)
    return ctx


def _no_passphrase() -> bytes:
    raise ValueError("the key file is encrypted; give an unencrypted key")


def _short(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _read(path: str) -> str:
    def fail(reason: str) -> ConfigError:
        return ConfigError([ConfigProblem(path, "", reason)])

    try:
        # O_NONBLOCK: opening a FIFO must not hang start-up; it is refused below.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise fail(f"cannot read the web config file: {_short(exc)}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise fail("the web config file is not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise fail(f"the web config file is larger than {MAX_FILE_BYTES} bytes")
        data = os.read(fd, MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise fail(f"cannot read the web config file: {_short(exc)}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise fail(f"the web config file is larger than {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(f"the web config file is not UTF-8 (byte {exc.start})") from None


class _Parser:
    """Walks the composed YAML nodes (never constructing them, so aliases cannot blow up)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.base = os.path.dirname(os.path.abspath(file))
        self.problems: list[ConfigProblem] = []

    def fail(self, node: yaml.Node | None, path: str, reason: str) -> None:
        line = node.start_mark.line + 1 if node is not None else None
        self.problems.append(ConfigProblem(self.file, path, reason, line))

    def parse(self, root: yaml.Node | None) -> WebConfig:
        if root is None:
            return WebConfig(file=self.file)
        top = self.mapping(root, "", {"tls_server_config", "http_server_config",
                                      "basic_auth_users", "rate_limit"})
        tls = None
        users: tuple[tuple[str, bytes], ...] = ()
        headers: tuple[tuple[str, str], ...] = ()
        if "rate_limit" in top:
            self.fail(top["rate_limit"][0], "rate_limit", "not supported by slo-exporter")
        if "tls_server_config" in top:
            tls = self.tls(top["tls_server_config"][1])
        if "http_server_config" in top:
            headers = self.http(top["http_server_config"][1])
        if "basic_auth_users" in top:
            users = self.users(top["basic_auth_users"][1])
        if self.problems:
            raise ConfigError(self.problems)
        return WebConfig(file=self.file, tls=tls, users=users, headers=headers)

    def mapping(self, node: yaml.Node, path: str,
                allowed: set[str] | None) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """A mapping's entries by key; unknown and duplicate keys are problems."""
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, path, "must be a mapping")
            return {}
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key, value in node.value:
            where = f"{path}.{key.value}" if path else str(key.value)
            if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                self.fail(key, path, "keys must be plain scalars")
            elif key.value in out:
                self.fail(key, where, "duplicate key")
            elif allowed is not None and key.value not in allowed:
                hint = _UNSUPPORTED.get(key.value)
                self.fail(key, where, hint or f"unknown field; expected one of {sorted(allowed)}")
            else:
                out[key.value] = (key, value)
        return out

    def string(self, node: yaml.Node, path: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR:
            self.fail(node, path, "must be a string")
            return None
        return str(node.value)

    def boolean(self, node: yaml.Node, path: str) -> bool | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _BOOL:
            self.fail(node, path, "must be true or false")
            return None
        return str(node.value).lower() in ("true", "yes", "on")

    def choice(self, node: yaml.Node, path: str, choices: list[str]) -> str | None:
        value = self.string(node, path)
        if value is not None and value not in choices:
            self.fail(node, path, f"must be one of {', '.join(choices)}, got {value!r}")
            return None
        return value

    def file_path(self, node: yaml.Node, path: str) -> str | None:
        value = self.string(node, path)
        if value is None:
            return None
        if not value:
            self.fail(node, path, "must not be empty")
            return None
        return os.path.join(self.base, value)

    def tls(self, node: yaml.Node) -> TLSServerConfig | None:
        keys = {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version",
                "max_version", "cipher_suites", "prefer_server_cipher_suites"}
        block = self.mapping(node, "tls_server_config", keys)
        if not block:
            return None  # an empty block means plain HTTP, as in exporter-toolkit

        def at(key: str) -> str:
            return f"tls_server_config.{key}"

        values: dict[str, str | None] = {}
        for key in ("cert_file", "key_file", "client_ca_file"):
            if key in block:
                values[key] = self.file_path(block[key][1], at(key))
        for key in ("cert_file", "key_file"):
            if key not in block:
                self.fail(node, at(key), "missing; TLS needs both cert_file and key_file")
        if "client_auth_type" in block:
            value_node = block["client_auth_type"][1]
            auth = self.string(value_node, at("client_auth_type"))
            if auth in UNVERIFIED_CLIENT_AUTH:
                self.fail(value_node, at("client_auth_type"),
                          f"{auth} (a client certificate that is not verified) is not supported;"
                          " use VerifyClientCertIfGiven or RequireAndVerifyClientCert with"
                          " client_ca_file")
            elif auth is not None and auth not in CLIENT_AUTH:
                self.fail(value_node, at("client_auth_type"),
                          f"must be one of {', '.join(CLIENT_AUTH)}, got {auth!r}")
            else:
                values["client_auth_type"] = auth
        auth = str(values.get("client_auth_type") or "NoClientCert")
        if auth != "NoClientCert" and "client_ca_file" not in block:
            self.fail(node, at("client_ca_file"), f"{auth} needs client_ca_file")
        if auth == "NoClientCert" and "client_ca_file" in block:
            self.fail(block["client_ca_file"][0], at("client_ca_file"),
                      "a client CA is configured without a client_auth_type that verifies it")
        for key in ("min_version", "max_version"):
            if key in block:
                values[key] = self.choice(block[key][1], at(key), list(TLS_VERSIONS))
        low = str(values.get("min_version") or "TLS12")
        high = str(values.get("max_version") or "TLS13")
        if TLS_VERSIONS[low] > TLS_VERSIONS[high]:
            self.fail(node, at("min_version"), f"{low} is above max_version {high}")
        ciphers = self.ciphers(block["cipher_suites"][1]) if "cipher_suites" in block else ()
        prefer = None
        if "prefer_server_cipher_suites" in block:
            prefer = self.boolean(
                block["prefer_server_cipher_suites"][1], at("prefer_server_cipher_suites"))
        if self.problems:
            return None
        return TLSServerConfig(
            cert_file=str(values["cert_file"]), key_file=str(values["key_file"]),
            client_auth_type=auth, client_ca_file=str(values.get("client_ca_file") or ""),
            min_version=low, max_version=high,
            cipher_suites=ciphers, prefer_server_cipher_suites=prefer is not False,
        )

    def ciphers(self, node: yaml.Node) -> tuple[str, ...]:
        path = "tls_server_config.cipher_suites"
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, path, "must be a list of cipher suite names")
            return ()
        names: list[str] = []
        for i, item in enumerate(node.value):
            name = self.string(item, f"{path}[{i}]")
            if name is not None and name not in CIPHER_SUITES:
                self.fail(item, f"{path}[{i}]",
                          f"unknown or unsupported cipher suite {name!r}; supported (TLS 1.2 and"
                          f" older): {', '.join(CIPHER_SUITES)}")
            elif name is not None:
                names.append(name)
        return tuple(names)

    def http(self, node: yaml.Node) -> tuple[tuple[str, str], ...]:
        block = self.mapping(node, "http_server_config", {"http2", "headers"})
        if "http2" in block:
            self.boolean(block["http2"][1], "http_server_config.http2")
        if "headers" not in block:
            return ()
        headers: list[tuple[str, str]] = []
        for name, (key, value_node) in self.mapping(
                block["headers"][1], "http_server_config.headers", None).items():
            path = f"http_server_config.headers.{name}"
            value = self.string(value_node, path)
            if name not in HEADERS:
                self.fail(key, path, f"this header cannot be set; allowed: {', '.join(HEADERS)}")
            elif value is None:
                continue
            elif HEADERS[name] and value not in HEADERS[name]:
                self.fail(value_node, path,
                          f"must be one of {', '.join(HEADERS[name])}, got {value!r}")
            elif not _HEADER_VALUE.fullmatch(value):
                self.fail(value_node, path, "must be printable ASCII on one line")
            else:
                headers.append((name, value))
        return tuple(headers)

    def users(self, node: yaml.Node) -> tuple[tuple[str, bytes], ...]:
        users: list[tuple[str, bytes]] = []
        for name, (key, value_node) in self.mapping(node, "basic_auth_users", None).items():
            path = f"basic_auth_users.{name}"
            if not name or ":" in name:
                self.fail(key, path, "a user name must be non-empty and contain no ':'")
                continue
            # The value is a secret: the messages below never echo it.
            if not isinstance(value_node, yaml.ScalarNode) or value_node.tag != _STR:
                self.fail(value_node, path, "must be a bcrypt hash string (value not shown)")
                continue
            match = _BCRYPT.fullmatch(str(value_node.value))
            if match is None or not 4 <= int(match.group(1)) <= 31:
                self.fail(value_node, path,
                          "is not a bcrypt hash (value not shown); make one with"
                          " `htpasswd -nbBC 10 USER PASSWORD` or Python's bcrypt.hashpw")
                continue
            users.append((name, str(value_node.value).encode("ascii")))
        return tuple(users)
