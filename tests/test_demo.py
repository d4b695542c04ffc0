"""The demo target answers 200 or injected 500s and counts them."""

from __future__ import annotations

import random
import threading

import requests

from slo_exporter.demo import DemoTarget, make_server


def test_failure_injection_round_trip() -> None:
    """POSTing a failure ratio makes the demo answer 500s, and /metrics counts them."""
    target = DemoTarget(0.0, rng=random.Random(1))
    httpd = make_server("127.0.0.1:0", target)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        assert requests.get(base + "/", timeout=5).status_code == 200
        assert requests.post(base + "/-/failure-ratio", data="1", timeout=5).status_code == 200
        assert requests.get(base + "/", timeout=5).status_code == 500
        assert requests.post(base + "/-/failure-ratio?ratio=2", timeout=5).status_code == 400
        metrics = requests.get(base + "/metrics", timeout=5).text
        assert 'demo_requests_total{code="500"} 1.0' in metrics
        assert 'demo_requests_total{code="200"} 1.0' in metrics
    finally:
        httpd.shutdown()
        httpd.server_close()
