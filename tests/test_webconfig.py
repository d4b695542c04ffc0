"""The web config file (--web.config.file) is read strictly, with located errors and no secrets."""

from __future__ import annotations

import os
import re
import ssl
import time
from pathlib import Path

import bcrypt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from slo_exporter import cli
from slo_exporter.errors import ConfigError
from slo_exporter.webconfig import load_web_config
from tests.support.probe_servers import PKI, make_pki

#: cost 4 keeps parsing tests fast; the server tests use a realistic cost
HASH = bcrypt.hashpw(b"s3cret-pw", bcrypt.gensalt(4)).decode()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _write(directory: Path, text: str) -> str:
    path = directory / "web.yml"
    path.write_text(text)
    return str(path)


def _problems(path: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_web_config(path)
    return [str(p) for p in info.value.problems]


def test_full_config_is_parsed_with_paths_relative_to_the_file(pki: PKI) -> None:
    """cert/key/CA paths are relative to the web config's directory, as in exporter-toolkit."""
    path = _write(pki.ca.parent, f"""
tls_server_config:
  cert_file: {pki.valid_cert.name}
  key_file: {pki.key.name}
  client_auth_type: VerifyClientCertIfGiven
  client_ca_file: {pki.ca.name}
  min_version: TLS12
  max_version: TLS13
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]
  prefer_server_cipher_suites: false
http_server_config:
  http2: false
  headers:
    X-Frame-Options: deny
    Strict-Transport-Security: max-age=31536000
basic_auth_users:
  prometheus: {HASH}
""")
    config = load_web_config(path)
    assert config.tls is not None
    assert config.tls.cert_file == str(pki.valid_cert)
    assert config.tls.client_ca_file == str(pki.ca)
    assert config.tls.cipher_suites == ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",)
    assert config.tls.prefer_server_cipher_suites is False
    assert config.users == (("prometheus", HASH.encode()),)
    assert config.headers == (("X-Frame-Options", "deny"),
                              ("Strict-Transport-Security", "max-age=31536000"))
    assert HASH not in repr(config)


@pytest.mark.parametrize("text", ["", "tls_server_config: {}\n", "basic_auth_users:\n"])
def test_empty_config_means_plain_http_without_auth(tmp_path: Path, text: str) -> None:
    """An empty file or empty blocks serve plain HTTP with no auth, as in exporter-toolkit."""
    config = load_web_config(_write(tmp_path, text))
    assert config.tls is None
    assert config.users == ()


@pytest.mark.parametrize(("text", "expected"), [
    ("tls_server_config:\n  cert_file: a.pem\n",
     "web.yml:2: tls_server_config.key_file: missing; TLS needs both cert_file and key_file"),
    ("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequestClientCert\n",
     "web.yml:4: tls_server_config.client_auth_type: RequestClientCert (a client certificate"
     " that is not verified) is not supported; use VerifyClientCertIfGiven or"
     " RequireAndVerifyClientCert with client_ca_file"),
    ("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Sometimes\n",
     "web.yml:4: tls_server_config.client_auth_type: must be one of NoClientCert,"
     " VerifyClientCertIfGiven, RequireAndVerifyClientCert, got 'Sometimes'"),
    ("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: ca\n",
     "web.yml:4: tls_server_config.client_ca_file: a client CA is configured without a"
     " client_auth_type that verifies it"),
    ("tls_server_config:\n  cert_file: a\n  key_file: b\n"
     "  client_auth_type: RequireAndVerifyClientCert\n",
     "web.yml:2: tls_server_config.client_ca_file: RequireAndVerifyClientCert needs"
     " client_ca_file"),
    ("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS14\n",
     "web.yml:4: tls_server_config.min_version: must be one of TLS10, TLS11, TLS12, TLS13,"
     " got 'TLS14'"),
    ("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n"
     "  max_version: TLS12\n",
     "web.yml:2: tls_server_config.min_version: TLS13 is above max_version TLS12"),
    ("tls_server_config:\n  cert_file: a\n  key_file: b\n  curve_preferences: [X25519]\n",
     "web.yml:4: tls_server_config.curve_preferences: not supported by slo-exporter"
     " (OpenSSL's defaults apply)"),
    ("tls_server_config:\n  cert: inline\n",
     "web.yml:2: tls_server_config.cert: inline certificates are not supported; use cert_file"),
    ("tls_server_config:\n  cert_file: a\n  key_file: b\n  prefer_server_cipher_suites: 1\n",
     "web.yml:4: tls_server_config.prefer_server_cipher_suites: must be true or false"),
    ("http_server_config:\n  headers:\n    Set-Cookie: a=b\n",
     "web.yml:3: http_server_config.headers.Set-Cookie: this header cannot be set; allowed:"
     " Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options, X-XSS-Protection,"
     " Content-Security-Policy"),
    ("http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
     "web.yml:3: http_server_config.headers.X-Frame-Options: must be one of deny, sameorigin,"
     " got 'allow'"),
    ("http_server_config:\n  headers:\n    Content-Security-Policy: \"a\\r\\nSet-Cookie: x\"\n",
     "web.yml:3: http_server_config.headers.Content-Security-Policy: must be printable ASCII"
     " on one line"),
    ("rate_limit: {burst: 1}\n", "web.yml:1: rate_limit: not supported by slo-exporter"),
    ("basic_auth_user: {}\n",
     "web.yml:1: basic_auth_user: unknown field; expected one of ['basic_auth_users',"
     " 'http_server_config', 'rate_limit', 'tls_server_config']"),
    (f"basic_auth_users:\n  a: {HASH}\n  a: {HASH}\n",
     "web.yml:3: basic_auth_users.a: duplicate key"),
    ("basic_auth_users: [a, b]\n", "web.yml:1: basic_auth_users: must be a mapping"),
    ("basic_auth_users:\n  'a:b': x\n",
     "web.yml:2: basic_auth_users.a:b: a user name must be non-empty and contain no ':'"),
    ("tls_server_config: [\n", "web.yml:2: invalid YAML: expected the node content, but found"
     " '<stream end>'"),
    ("a: 1\n---\nb: 2\n", "web.yml:2: invalid YAML: but found another document"),
])
def test_bad_config_is_a_located_error(tmp_path: Path, text: str, expected: str) -> None:
    """Each mistake is reported with file, line, field path and what is expected."""
    problems = _problems(_write(tmp_path, text))
    assert [p.replace(str(tmp_path) + os.sep, "") for p in problems] == [expected]


def test_cipher_suite_names_are_checked(tmp_path: Path) -> None:
    """An unknown cipher suite name lists the supported ones."""
    [problem] = _problems(_write(tmp_path, "tls_server_config:\n  cert_file: a\n  key_file: b\n"
                                           "  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n"))
    assert "cipher_suites[0]: unknown or unsupported cipher suite 'TLS_RSA_WITH_RC4_128_SHA'" \
        in problem
    assert "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" in problem


@pytest.mark.parametrize("value", ["plaintext-password", "$2b$10$short", "$1$abc$defghijkl", 42])
def test_a_password_that_is_not_a_bcrypt_hash_is_refused_without_echoing_it(
        tmp_path: Path, value: object) -> None:
    """basic_auth_users values must be bcrypt hashes; the message never repeats the value."""
    [problem] = _problems(_write(tmp_path, f"basic_auth_users:\n  alice: {value!s}\n"))
    assert "basic_auth_users.alice:" in problem
    assert "value not shown" in problem
    # the temp directory's own name may hold the digits (pytest-1422 holds 42)
    assert str(value) not in problem.replace(str(tmp_path), "")


def test_missing_unreadable_and_mismatched_certificates_are_located(
        tmp_path: Path, pki: PKI) -> None:
    """A certificate or CA that does not load is a config error naming the file."""
    other_key = tmp_path / "other.key"
    other_key.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    problems = _problems(_write(tmp_path, f"""
tls_server_config:
  cert_file: {pki.valid_cert}
  key_file: {other_key}
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: missing-ca.pem
"""))
    assert len(problems) == 2
    assert "tls_server_config.cert_file: cannot load" in problems[0]
    assert "KEY_VALUES_MISMATCH" in problems[0] or "key values mismatch" in problems[0]
    assert f"tls_server_config.client_ca_file: cannot load {tmp_path}/missing-ca.pem:" \
        in problems[1]


def test_an_encrypted_key_is_refused_instead_of_prompting(tmp_path: Path, pki: PKI) -> None:
    """A passphrase-protected key fails at start-up instead of waiting on the terminal."""
    key = tmp_path / "enc.key"
    key.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase")))
    [problem] = _problems(_write(
        tmp_path, f"tls_server_config:\n  cert_file: {pki.valid_cert}\n  key_file: {key}\n"))
    assert "encrypted" in problem


def test_missing_fifo_and_oversized_files_are_refused(tmp_path: Path) -> None:
    """The file must exist, be a regular file and be small; a FIFO does not hang start-up."""
    assert "cannot read the web config file: No such file or directory" in \
        _problems(str(tmp_path / "nope.yml"))[0]
    fifo = tmp_path / "fifo.yml"
    os.mkfifo(fifo)
    start = time.monotonic()
    assert "is not a regular file" in _problems(str(fifo))[0]
    assert time.monotonic() - start < 1
    big = tmp_path / "big.yml"
    big.write_text("# " + "x" * 70_000)
    assert "larger than 65536 bytes" in _problems(str(big))[0]
    binary = tmp_path / "bin.yml"
    binary.write_bytes(b"\xff\xfe")
    assert "not UTF-8" in _problems(str(binary))[0]


def test_alias_bombs_and_deep_nesting_fail_fast(tmp_path: Path) -> None:
    """Billion-laughs aliases are never expanded and deep nesting is a plain error."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 12)]
    start = time.monotonic()
    problems = _problems(_write(tmp_path, "\n".join(lines) + "\n"))
    assert time.monotonic() - start < 1
    assert "a0: unknown field" in problems[0]
    start = time.monotonic()
    deep = _problems(_write(tmp_path, "basic_auth_users: " + "[" * 5000 + "]" * 5000 + "\n"))
    assert deep == [f"{tmp_path}/web.yml:1: invalid YAML: nested deeper than 20 levels"]
    # a deadline, not a speed figure: the depth check scans the whole flow (the scanner
    # looks ahead to the end of it), about 0.2 s here and five times that under coverage
    # on a busy machine, where an unchecked composer would recurse 5,000 levels
    assert time.monotonic() - start < 5


def test_run_with_a_bad_web_config_exits_1_with_a_located_message(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """slo-exporter run refuses a bad --web.config.file before starting, without a traceback."""
    web = _write(tmp_path, "basic_auth_users:\n  alice: not-a-hash\n")
    slo_config = Path(__file__).parent / "configs" / "valid" / "minimal.yaml"
    code = cli.main(["run", f"--config.file={slo_config}", f"--web.config.file={web}",
                     f"--storage.path={tmp_path / 'data'}", "--web.listen-address=127.0.0.1:0"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"{web}:2: basic_auth_users.alice: is not a bcrypt hash" in err
    assert "1 problem(s) found; the web config is invalid." in err
    assert "Traceback" not in err
    assert not (tmp_path / "data").exists()


def test_server_context_honours_versions(tmp_path: Path, pki: PKI) -> None:
    """min_version and max_version become the context's protocol bounds."""
    from slo_exporter.webconfig import build_ssl_context
    config = load_web_config(_write(tmp_path, f"""
tls_server_config:
  cert_file: {pki.valid_cert}
  key_file: {pki.key}
  min_version: TLS13
"""))
    ctx = build_ssl_context(config)
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_3
    assert ctx.maximum_version == ssl.TLSVersion.TLSv1_3
    assert ctx.verify_mode == ssl.CERT_NONE


def test_the_readme_example_is_a_valid_web_config(tmp_path: Path, pki: PKI) -> None:
    """The web config shown in README.md loads once its placeholders are real."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    [example] = re.findall(r"```yaml\n(tls_server_config:.*?)```", readme, flags=re.S)
    (tmp_path / "server.crt").write_bytes(pki.valid_cert.read_bytes())
    (tmp_path / "server.key").write_bytes(pki.key.read_bytes())
    config = load_web_config(_write(tmp_path, example.replace("$2y$10$...", HASH)))
    assert config.tls is not None
    assert config.headers == (("X-Frame-Options", "deny"),)
    assert [name for name, _ in config.users] == ["prometheus"]
