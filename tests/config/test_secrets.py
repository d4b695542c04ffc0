"""Secrets in a config never reach a problem message, and what cannot be sent is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slo_exporter import cli
from slo_exporter.config import parse_config
from tests.config.native_docs import messages as _messages
from tests.config.native_docs import ratio_and_probe

SECRETS = ("hunter2-url", "tok-header-9f", "pw-basic-77", "probe-pw-31", "probe-hdr-55")


def _config(*, prometheus: str = "", http: str = "url: 'http://a/'") -> str:
    return ratio_and_probe(prometheus, f"http: {{{http}}}")


def test_probe_url_with_credentials_is_refused_with_a_hint() -> None:
    """user:password@ in a probe URL is refused (it would land in the instance label)."""
    messages = _messages(_config(http="url: 'https://bob:hunter2-url@shop.example.com/'"))
    assert messages == [
        "test.yaml:12: services[0].slos[1].sli.probe.http.url: must not hold credentials "
        "(user:password@): they would be shown in the instance label and logs; give them in "
        "basic_auth (password_file) instead"
    ]


@pytest.mark.parametrize(
    ("config", "where"),
    [
        (_config(prometheus="url: 'ftp://bob:hunter2-url@prom/'"), "prometheus.url"),
        (_config(http="url: 'ftp://bob:hunter2-url@shop/'"), "http.url"),
        (_config(http="url: 'http://bob:hunter2-url@shop:99999/'"), "http.url"),
    ],
)
def test_invalid_urls_are_shown_without_their_password(config: str, where: str) -> None:
    """A URL that is refused is quoted with its password masked."""
    messages = _messages(config)
    assert any(where in m and "bob:<secret>@" in m for m in messages), messages
    assert not any("hunter2" in m for m in messages)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ('"Bearer tok-header-9f\\u00e9\\u20ac"', "must be Latin-1 (ISO-8859-1) text"),
        ('"Bearer tok-header-9f\\u0001"', "must not hold control characters"),
        ('"Bearer tok-header-9f\\u007f"', "must not hold control characters"),
        ('"Bearer tok-header-9f\\nX-Evil: 1"', "must be a single line"),
    ],
)
def test_header_values_that_cannot_be_sent_are_refused_without_the_value(
    value: str, reason: str
) -> None:
    """A header value HTTP/1.1 cannot carry is a config error that does not show it."""
    for config in (
        _config(prometheus=f"headers: {{Authorization: {value}}}"),
        _config(http=f"url: 'http://a/', headers: {{Authorization: {value}}}"),
    ):
        [message] = _messages(config)
        assert reason in message
        assert "tok-header" not in message


def test_latin1_header_values_are_accepted() -> None:
    """Latin-1 header values (such as an accented name) pass: HTTP/1.1 can send them."""
    config = parse_config(_config(http="url: 'http://a/', headers: {X-Team: 'équipe'}"), "t.yaml")
    assert config.slos[1].sli.target.headers == {"X-Team": "équipe"}  # type: ignore[union-attr]


@pytest.mark.parametrize("password", ['"pw-basic-77\\n"', '"pw-basic-77\\u20ac"'])
def test_basic_auth_that_cannot_be_sent_is_refused_without_the_password(password: str) -> None:
    """A password that cannot travel in the Authorization header is refused, unquoted."""
    messages = _messages(_config(prometheus=f"basic_auth: {{username: u, password: {password}}}"))
    assert messages == [
        "test.yaml:1: prometheus.basic_auth.password: must be single-line Latin-1 "
        "(ISO-8859-1) text"
    ]


@pytest.mark.parametrize(
    "url",
    ["http://shop example.com/", "http://shop.example.com/a b", "http://bücher.example/",
     "http://a/\u0007"],
)
def test_urls_that_cannot_be_sent_as_is_are_refused(url: str) -> None:
    """A URL with spaces, controls or non-ASCII characters is refused with how to write it."""
    [message] = _messages(_config(http=f"url: {json.dumps(url)}"))
    assert "percent-encode" in message


def _secret_laden_config() -> str:
    """Every secret-bearing field holds a distinct secret, among many mistakes."""
    return (
        "prometheus:\n"
        "  url: 'https://bob:hunter2-url@prom.example.com:99999/'\n"
        "  headers: {Authorization: 'Bearer tok-header-9f\\u20ac', X-Bad Name: v}\n"
        "  basic_auth: {username: u, password: 'pw-basic-77', password_file: f}\n"
        "  bearer_token_file: token\n"
        "  timeout: 0s\n"
        "services:\n"
        "  - name: api\n"
        "    slos:\n"
        "      - name: p\n"
        "        objective: 0.99\n"
        "        window: 30d\n"
        "        sli:\n"
        "          probe:\n"
        "            http:\n"
        "              url: 'https://eve:probe-pw-31@shop.example.com/'\n"
        "              headers: {Authorization: \"Basic probe-hdr-55\\x01\"}\n"
        "              basic_auth: {username: u, password: [probe-pw-31]}\n"
        "              method: 'G T'\n"
    )


def test_check_output_never_shows_a_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """slo-exporter check on a file full of secrets and mistakes prints none of the secrets."""
    path = tmp_path / "slos.yaml"
    path.write_text(_secret_laden_config(), encoding="utf-8")
    assert cli.main(["check", "--config.file", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "problem(s) found" in err
    assert err.count("\n") >= 8, err
    for secret in SECRETS:
        assert secret not in out + err, secret


@pytest.mark.parametrize(
    "content",
    [
        "eyJhbGciOiJIUzI1NiJ9.s3cr3t-token-payload\n",
        "admin:$2y$10$s3cr3tHashOfTheAdminPassword\nbob:$2y$10$s3cr3tHashOfBob\n",
        "prometheus:s3cr3t-pw\n",
        "12345678901234567890\n",
    ],
    ids=["token", "htpasswd", "key-colon-secret", "digits"],
)
def test_a_secret_file_given_as_config_is_not_echoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    """check on a token or password file by mistake does not print the file's content."""
    path = tmp_path / "token"
    path.write_text(content, encoding="utf-8")
    assert cli.main(["check", "--config.file", str(path)]) == 1
    _, err = capsys.readouterr()
    assert "s3cr3t" not in err
    assert "1234567890" not in err
    assert "problem(s) found" in err
