"""Integration tests: real Prometheus, Alertmanager and daemon processes on 127.0.0.1."""
