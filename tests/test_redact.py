"""Credential scrubbing of free text (slo_exporter.redact)."""

from __future__ import annotations

import pytest

from slo_exporter.redact import MASK, redact_url, scrub


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("GET http://alice:s3cr3t-pw@prom:9090/api/v1/query failed", "s3cr3t-pw"),
        ('header "Authorization: Bearer abcdef123456" rejected', "abcdef123456"),
        ("Authorization=Basic YWxpY2U6c2VjcmV0", "YWxpY2U6c2VjcmV0"),
        ('{"error": "bad token=tok_9f8e7d6c5b"}', "tok_9f8e7d6c5b"),
        ("password: hunter2hunter2", "hunter2hunter2"),
        ("X-Api-Key: key-0123456789", "key-0123456789"),
        ("api_key=AKIAIOSFODNN7EXAMPLE&x=1", "AKIAIOSFODNN7EXAMPLE"),
    ],
)
def test_scrub_removes_credentials(text: str, secret: str) -> None:
    """Every credential shape is masked and the rest of the text stays readable."""
    out = scrub(text)
    assert secret not in out
    assert MASK in out


def test_scrub_keeps_plain_text() -> None:
    """Text without credentials passes unchanged."""
    text = 'bad_data: parse error at char 5: unexpected "}" in http_requests_total{code="5xx"}'
    assert scrub(text) == text


def test_redact_url_masks_only_the_password() -> None:
    """The user, host, port and path stay; only the password is masked."""
    assert redact_url("https://bob:pa55@[::1]:8443/x?y=1") == f"https://bob:{MASK}@[::1]:8443/x?y=1"
    assert redact_url("http://127.0.0.1:9090/") == "http://127.0.0.1:9090/"
