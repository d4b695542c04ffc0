"""The HTTP-client settings block shared by ``prometheus:`` and HTTP probes.

Owns reading ``headers``, ``basic_auth``, ``bearer_token_file`` and the TLS
block (``tls`` for Prometheus, ``tls_config`` for probes, as Prometheus and
blackbox_exporter name them) into one ``HTTPClientSettings``. Every client
(Prometheus, probes, and later the web config) reads it the same way, so a
header that cannot be sent or two conflicting credentials are refused at
``check`` time, not at the first request.

Must not show a secret in a problem: a password, a bearer token file's
content or a credential header's value never appears in a reason. Must not
read the referenced files: they are checked when used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from yaml.nodes import Node

from slo_exporter import model
from slo_exporter.config.fields import Fields, Reader
from slo_exporter.config.text import (
    header_name_problem,
    header_value_problem,
    server_name_problem,
)

#: the keys of the block besides the TLS one
CLIENT_KEYS = ("headers", "basic_auth", "bearer_token_file")


@dataclass(frozen=True)
class HTTPClientSettings:
    """What an HTTP client needs besides its URL and timeouts."""

    headers: Mapping[str, str] = field(default_factory=model.frozen_map)
    basic_auth: model.BasicAuth | None = None
    bearer_token_file: str | None = None
    tls: model.TLSConfig = field(default_factory=model.TLSConfig)


def read_client(reader: Reader, fields: Fields, *, tls_key: str) -> HTTPClientSettings:
    """The settings among ``fields``, a mapping that allows ``CLIENT_KEYS`` and ``tls_key``."""
    headers = fields.read("headers", lambda node, path: read_headers(reader, node, path))
    basic_auth = fields.read("basic_auth", lambda node, path: read_basic_auth(reader, node, path))
    bearer = fields.file_path("bearer_token_file")
    if fields.get("basic_auth") is not None and fields.get("bearer_token_file") is not None:
        reader.report(
            fields.at("bearer_token_file"),
            fields.path,
            "basic_auth and bearer_token_file are mutually exclusive; give one of them",
        )
    tls = fields.read(tls_key, lambda node, path: read_tls(reader, node, path))
    return HTTPClientSettings(
        headers=model.frozen_map(headers),
        basic_auth=basic_auth,
        bearer_token_file=bearer,
        tls=tls or model.TLSConfig(),
    )


def read_headers(reader: Reader, node: Node, path: str) -> dict[str, str] | None:
    return reader.string_map(
        node,
        path,
        "header names to values",
        header_name_problem,
        lambda _name, value: header_value_problem(value),
    )


def read_basic_auth(reader: Reader, node: Node, path: str) -> model.BasicAuth | None:
    fields = reader.mapping(
        node, path, ("username", "password", "password_file"), required=("username",)
    )
    if fields is None:
        return None
    username = fields.string("username", non_empty=True)
    password = fields.string("password")
    password_file = fields.file_path("password_file")
    if fields.get("password") is not None and fields.get("password_file") is not None:
        reader.report(
            fields.at("password_file"),
            path,
            "password and password_file are mutually exclusive; give one of them",
        )
    for key, value in (("username", username), ("password", password)):
        if value is not None and header_value_problem(value):
            # both travel base64-encoded in a header, from Latin-1 text
            fields.report(key, "must be single-line Latin-1 (ISO-8859-1) text")
            return None
    if username is None:
        return None
    return model.BasicAuth(username=username, password=password, password_file=password_file)


def read_tls(reader: Reader, node: Node, path: str) -> model.TLSConfig | None:
    fields = reader.mapping(
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
        reader.report(fields.at(given), path, f"{given} needs {missing} as well")
    server_name = fields.string("server_name", non_empty=True)
    problem = server_name_problem(server_name) if server_name else None
    if problem:
        fields.report("server_name", problem)
    return model.TLSConfig(
        ca_file=fields.file_path("ca_file"),
        cert_file=cert_file,
        key_file=key_file,
        insecure_skip_verify=bool(fields.boolean("insecure_skip_verify")),
        server_name=server_name,
    )
