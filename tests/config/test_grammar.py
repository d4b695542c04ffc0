"""The text grammar (hosts, URLs, headers) and the PromQL selector grammar, unit by unit."""

from __future__ import annotations

import pytest

from slo_exporter.config.promql import parse_selector, selector_text, unbalanced
from slo_exporter.config.text import (
    has_password,
    header_value_problem,
    host_port_problem,
    url_problem,
)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("db:5432", None),
        ("[::1]:53", None),
        ("db", "the port is missing"),
        ("db:0", "the port must be a number from 1 to 65535"),
        ("db:" + "9" * 400, "the port must be a number from 1 to 65535"),
        ("db:\u0665", "the port must be a number from 1 to 65535"),  # an Arabic-Indic digit
        ("::1:53", "IPv6 addresses must be written in brackets, such as [::1]:53"),
    ],
)
def test_host_port(text: str, problem: str | None) -> None:
    """host:port needs a port from 1 to 65535 written in ASCII digits."""
    assert host_port_problem(text, port_required=True) == problem


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://shop.example.com/healthz?x=%20", True),
        ("http://[::1]:8080/", True),
        ("http://xn--bcher-kva.example/", True),
        ("http://bücher.example/", False),
        ("http://a/b c", False),
        ("http://a/\t", False),
        ("ftp://a/", False),
        ("http://a:99999/", False),
    ],
)
def test_urls_must_be_sendable_as_is(url: str, ok: bool) -> None:
    """A URL is http(s), has a host and a valid port, and is plain printable ASCII."""
    assert (url_problem(url) is None) == ok


def test_password_in_url_is_detected() -> None:
    """user:password@ (or only user@) in a URL is user info."""
    assert has_password("https://u:p@h/")
    assert has_password("https://u@h/")
    assert not has_password("https://h/a@b")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("Bearer abc\tdef", None),
        ("caf\u00e9", None),
        ("\u20ac", "header values must be Latin-1 (ISO-8859-1) text, as HTTP/1.1 sends them"),
        ("a\x00b", "header values must not hold control characters"),
        ("a\rb", "header values must be a single line"),
    ],
)
def test_header_values(value: str, problem: str | None) -> None:
    """Header values are single-line Latin-1 without controls (tab allowed); never quoted."""
    assert header_value_problem(value) == problem


def test_selector_round_trip_is_canonical() -> None:
    """A parsed selector is written back without spaces or trailing comma."""
    name, matchers = parse_selector("x{ a = 'b' , c!~\"d\", }")
    assert selector_text(name, matchers) == "x{a='b',c!~\"d\"}"


def test_unbalanced_brackets_and_quotes() -> None:
    """The first unbalanced bracket or an open string is named."""
    assert unbalanced("sum(rate(x[5m]))") is None
    assert unbalanced("sum(x") == "unclosed '('"
    assert unbalanced("x]") == "unmatched ']' at position 2"
    assert unbalanced('x{a="b}') == 'unterminated " string'
