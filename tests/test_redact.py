"""Credential scrubbing of free text (slo_exporter.redact)."""

from __future__ import annotations

from pathlib import Path

import pytest

from slo_exporter.config import parse_config
from slo_exporter.redact import (
    MASK,
    is_secret_header,
    read_secret_file,
    redact_url,
    remember,
    remember_config,
    scrub,
    scrub_event,
)


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


def test_remembered_secrets_are_masked_in_any_form_of_text() -> None:
    """A configured secret is masked even where no pattern would recognise it."""
    remember("Zq9-remembered-value", "ab", None)
    out = scrub("server said: credentials user:Zq9-remembered-value (ab)")
    assert "Zq9-remembered-value" not in out
    assert "(ab)" in out  # too short to search for


def test_secret_header_names() -> None:
    """Credential-bearing header names are recognised, tenancy headers are not."""
    for name in ("Authorization", "Proxy-Authorization", "X-Api-Key", "Api_Key", "X-Token",
                 "Cookie", "X-Session-Id", "X-Client-Secret", "X-Password", "X-Credential"):
        assert is_secret_header(name), name
    assert not is_secret_header("X-Scope-OrgID")


def test_remember_config_masks_inline_and_file_secrets(tmp_path: Path) -> None:
    """Passwords, secret files, credential headers and URL passwords of a config are masked."""
    token = tmp_path / "token"
    token.write_text("Tk7-file-bearer-token\n")
    config = parse_config(
        "prometheus:\n"
        "  url: http://127.0.0.1:9090\n"
        "  headers: {X-Scope-OrgID: team-a, Authorization: Bearer Hd4-header-token}\n"
        f"  bearer_token_file: {token}\n"
        "services:\n"
        "  - name: web\n"
        "    slos:\n"
        "      - name: home\n"
        "        objective: 99\n"
        "        window: 1d\n"
        "        sli:\n"
        "          probe:\n"
        "            http:\n"
        "              url: http://127.0.0.1:1/\n"
        "              basic_auth: {username: u, password: Pw3-inline-password}\n",
        str(tmp_path / "c.yaml"),
    )
    remember_config(config)
    text = "Tk7-file-bearer-token Hd4-header-token Pw3-inline-password team-a"
    assert scrub(text) == f"{MASK} {MASK} {MASK} team-a"


def test_scrub_event_masks_nested_values() -> None:
    """The log processor reaches strings inside lists, dicts and exceptions."""
    remember("Nv2-nested-secret")
    event = {"event": "x", "problems": ["a Nv2-nested-secret"], "d": {"k": "Nv2-nested-secret"},
             "error": ValueError("bad Nv2-nested-secret"), "n": 3}
    out = scrub_event(None, "info", event)
    assert "Nv2-nested-secret" not in repr(out)
    assert out["n"] == 3


def test_secret_files_are_bounded_and_must_be_text(tmp_path: Path) -> None:
    """A secret file over 64 KiB or not UTF-8 is an OSError naming why, never a garbled token."""
    big, binary, ok = tmp_path / "big", tmp_path / "binary", tmp_path / "ok"
    big.write_bytes(b"x" * (64 * 1024 + 1))
    binary.write_bytes(b"\xff\xfe token")
    ok.write_text("  Rf5-read-secret \n")
    with pytest.raises(OSError, match="larger than 64 KiB"):
        read_secret_file(str(big))
    with pytest.raises(OSError, match="not UTF-8"):
        read_secret_file(str(binary))
    assert read_secret_file(str(ok)) == "Rf5-read-secret"
    assert read_secret_file(str(ok), lambda t: t.rstrip("\n")) == "  Rf5-read-secret "
    assert "Rf5-read-secret" not in scrub("got Rf5-read-secret")
