"""A rotated Prometheus CA file is read again: the runtime a reload builds trusts the new CA."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from slo_exporter import errors
from slo_exporter.exposition import SelfMetrics
from slo_exporter.model import (
    SLO,
    Config,
    PrometheusConfig,
    RatioSLI,
    RollingPeriod,
    Selector,
    Service,
    TLSConfig,
)
from slo_exporter.probes import ProbeMetrics
from slo_exporter.prometheus import ClientPool
from slo_exporter.runtime import Collaborators, Runtime
from slo_exporter.store import EventStore, SQLiteStore
from tests.support.probe_servers import PKI, Request, Response, TCPServer, http_app, make_pki

SCALAR = json.dumps({"status": "success", "data": {"resultType": "scalar",
                                                  "result": [1, "7"]}}).encode()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    with SQLiteStore(tmp_path / "data", 60.0) as s:
        yield s


def _config(url: str, ca_file: Path) -> Config:
    slo = SLO(service="api", name="availability", objective=0.99, period=RollingPeriod(3600.0),
              sli=RatioSLI(total=Selector("http_requests_total"),
                           bad=Selector('http_requests_total{code="500"}')))
    return Config(services=(Service("api", (slo,)),), evaluation_interval=10.0,
                  prometheus=PrometheusConfig(url=url, timeout=2.0, retries=1, query_delay=0.0,
                                              tls=TLSConfig(ca_file=str(ca_file))))


def _client(store: EventStore, config: Config) -> tuple[Runtime, ClientPool]:
    built: list[ClientPool] = []

    def factory(cfg: PrometheusConfig, stop: object, budget: float) -> ClientPool:
        pool = ClientPool(cfg, max_total_time=budget)
        built.append(pool)
        return pool

    deps = Collaborators(store=store, probe_metrics=ProbeMetrics(),
                         on_error=SelfMetrics(CollectorRegistry()).query_error,
                         client_factory=factory)
    return Runtime.build(config, deps), built[0]


def test_a_reload_after_a_ca_rotation_trusts_the_new_ca(tmp_path: Path, store: EventStore) -> None:
    """Old CA and certificate, then both rotated: the rebuilt runtime's client answers,
    and a client that only knows the old CA is refused by the new certificate."""
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    old: PKI = make_pki(tmp_path / "old")
    new: PKI = make_pki(tmp_path / "new")
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(old.ca.read_bytes())

    def app(request: Request) -> Response:
        return Response(200, SCALAR, {})

    with TCPServer(http_app(app), tls=old.server_context(old.valid_cert)) as server:
        config = _config(server.url("").rstrip("/"), ca_file)
        first, pool = _client(store, config)
        assert pool.query("x", time.time()).scalar == 7.0
        first.close()

        server.tls = new.server_context(new.valid_cert)  # the certificate is renewed
        stale = ClientPool(PrometheusConfig(url=config.prometheus.url, retries=1,
                                            tls=TLSConfig(ca_file=str(old.ca))))
        with pytest.raises(errors.QueryConnectionError, match=r"(?i)certificate"):
            stale.query("x", time.time())
        stale.close()

        ca_file.write_bytes(new.ca.read_bytes())  # and the CA file rotated with it
        second, pool = _client(store, config)  # what a reload builds
        try:
            assert pool.query("x", time.time()).scalar == 7.0
        finally:
            second.close()
