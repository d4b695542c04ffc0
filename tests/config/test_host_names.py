"""Host names check accepts can be put on the wire: no empty label, none over 63 characters.

The IDNA codec that every connection passes a host name through refuses an
empty label (``a..b``) and a label longer than 63 characters; a Prometheus
URL or ``tls.server_name`` like that passed ``check`` and then failed every
query of ``run`` with a raw ``UnicodeError``.
"""

from __future__ import annotations

import pytest

from slo_exporter.config import parse_config
from slo_exporter.prometheus import PrometheusClient
from tests.config.native_docs import messages as _messages
from tests.config.native_docs import ratio_and_probe

LONG_LABEL = "x" * 64 + ".example"
LABELS = "a host name's labels (between dots) must be 1 to 63 characters long"


def _config(*, prometheus: str = "url: 'http://127.0.0.1:9090'",
            probe: str = "http: {url: 'http://127.0.0.1:9/'}") -> str:
    return ratio_and_probe(prometheus, probe)


@pytest.mark.parametrize(("config", "where"), [
    (_config(prometheus=f"url: 'http://{LONG_LABEL}:9090'"), "test.yaml:1: prometheus.url"),
    (_config(prometheus="url: 'http://a..b:9090'"), "test.yaml:1: prometheus.url"),
    (_config(probe=f"http: {{url: 'https://{LONG_LABEL}/'}}"),
     "test.yaml:12: services[0].slos[1].sli.probe.http.url"),
    (_config(probe=f"tcp: {{address: '{LONG_LABEL}:443'}}"),
     "test.yaml:12: services[0].slos[1].sli.probe.tcp.address"),
    (_config(prometheus="url: 'https://127.0.0.1:9090', tls: {server_name: a..b}"),
     "test.yaml:1: prometheus.tls.server_name"),
    (_config(prometheus=f"url: 'https://127.0.0.1:9090', tls: {{server_name: {LONG_LABEL}}}"),
     "test.yaml:1: prometheus.tls.server_name"),
    (_config(probe=f"http: {{url: 'https://127.0.0.1/', tls_config: {{server_name: "
                   f"{LONG_LABEL}}}}}"),
     "test.yaml:12: services[0].slos[1].sli.probe.http.tls_config.server_name"),
])
def test_host_names_with_an_empty_or_too_long_label_are_refused(config: str, where: str) -> None:
    """An empty label or one of 64 characters is refused where it is written, saying why."""
    [message] = _messages(config)
    assert message.startswith(f"{where}: ")
    assert LABELS in message


def test_a_host_name_over_253_characters_is_refused() -> None:
    """Five 63-character labels make a 319-character name: refused for its length."""
    name = ".".join(["y" * 63] * 5)
    [message] = _messages(_config(prometheus=f"url: 'http://{name}:9090'"))
    assert message.startswith(
        "test.yaml:1: prometheus.url: a host name must not be longer than 253 characters")


@pytest.mark.parametrize("name", ["a b", "shop.example:443", "*.example", "bücher.example"])
def test_a_server_name_that_is_no_host_name_is_refused(name: str) -> None:
    """server_name is a host name or an IP address, written in ASCII (punycode, xn--)."""
    [message] = _messages(_config(
        prometheus=f"url: 'https://127.0.0.1:9090', tls: {{server_name: '{name}'}}"))
    assert message.startswith("test.yaml:1: prometheus.tls.server_name: ")
    assert "host name or IP address" in message


@pytest.mark.parametrize("name", [
    "shop.internal", "xn--bcher-kva.example", "x" * 63 + ".example", "127.0.0.1", "::1",
    "host.example.", "under_score.internal",
])
def test_server_names_that_can_be_sent_are_accepted_and_run(name: str) -> None:
    """Host names with labels of 1 to 63 characters and IP addresses pass check and the client."""
    config = parse_config(_config(
        prometheus=f"url: 'https://127.0.0.1:9090', tls: {{server_name: '{name}'}}"), "test.yaml")
    assert config.prometheus.tls.server_name == name
    PrometheusClient(config.prometheus).close()
