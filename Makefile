# Two commands matter: `make run` and `make test` (see README).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STORAGE ?= data
LISTEN ?= 127.0.0.1:10950
DEMO_LISTEN ?= 127.0.0.1:8080
# Empty: `make run` renders config/example.yaml with the two addresses above
# into $(STORAGE)/make-run.yaml, so its probes follow LISTEN and DEMO_LISTEN.
# Set it to run your own file as it is.
CONFIG ?=
EXAMPLE_CONFIG := config/example.yaml
RUN_CONFIG = $(or $(CONFIG),$(STORAGE)/make-run.yaml)
# Debian packages the integration tests run for real.
DEB_TEST_PACKAGES := prometheus prometheus-alertmanager chromium postgresql
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Where a probe reaches a listen address: a wildcard or empty host means this
# machine (":8080" and "0.0.0.0:8080" are probed on 127.0.0.1:8080).
probe_address = $(patsubst :%,127.0.0.1:%,$(patsubst 0.0.0.0:%,127.0.0.1:%,$(patsubst [::]:%,[::1]:%,$(1))))
DEMO_URL := http://$(call probe_address,$(DEMO_LISTEN))
SELF_URL := http://$(call probe_address,$(LISTEN))

# Exit 0 when something accepts TCP connections at host:port (argv[1]).
define PORT_ANSWERS
import socket, sys
host, _, port = sys.argv[1].rpartition(":")
socket.create_connection((host.strip("[]"), int(port)), timeout=1).close()
endef
export PORT_ANSWERS

.PHONY: run run-config test check lint bench system-deps venv clean

# The runtime venv: the package and its dependencies, what `make run` needs.
$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

# The test extras (pytest, linters, validators) on top, for test/lint/bench.
$(VENV)/.test: $(VENV)/.runtime
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.test

# The example config with its two probe targets moved to DEMO_LISTEN and LISTEN.
run-config:
	@mkdir -p $(STORAGE)
	@sed -e 's|http://127.0.0.1:8080/|$(DEMO_URL)/|' \
	     -e 's|http://127.0.0.1:10950/|$(SELF_URL)/|' $(EXAMPLE_CONFIG) > $(STORAGE)/make-run.yaml.tmp
	@grep -qF '$(DEMO_URL)/' $(STORAGE)/make-run.yaml.tmp && grep -qF '$(SELF_URL)/' $(STORAGE)/make-run.yaml.tmp || { \
	  echo "make run: $(EXAMPLE_CONFIG) no longer probes http://127.0.0.1:8080/ and http://127.0.0.1:10950/; update the Makefile" >&2; exit 1; }
	@mv $(STORAGE)/make-run.yaml.tmp $(STORAGE)/make-run.yaml

# Starts the demo target (failure injection) beside the daemon, so the
# default config shows live SLOs with nothing else installed. The daemon
# starts only once this demo answers on DEMO_LISTEN: a taken port, or any
# other demo failure, stops `make run` with the demo's one-line error.
run: $(VENV)/.runtime $(if $(CONFIG),,run-config)
	@if $(BIN)/python -c "$$PORT_ANSWERS" '$(call probe_address,$(DEMO_LISTEN))' 2>/dev/null; then \
	  echo "make run: $(DEMO_LISTEN) is already in use; stop what listens there or pass DEMO_LISTEN=host:port" >&2; \
	  exit 1; \
	fi; \
	$(BIN)/slo-exporter demo --listen-address=$(DEMO_LISTEN) & demo=$$!; \
	trap 'kill $$demo 2>/dev/null; wait $$demo 2>/dev/null' EXIT; trap 'exit 130' INT TERM; \
	tries=0; \
	until $(BIN)/python -c 'import sys, urllib.request; float(urllib.request.urlopen(sys.argv[1], timeout=1).read())' \
	    '$(DEMO_URL)/-/failure-ratio' 2>/dev/null; do \
	  if ! kill -0 $$demo 2>/dev/null; then wait $$demo; exit 1; fi; \
	  tries=$$((tries + 1)); \
	  if [ $$tries -ge 50 ]; then echo "make run: the demo target did not answer on $(DEMO_LISTEN)" >&2; exit 1; fi; \
	  sleep 0.2; \
	done; \
	$(BIN)/slo-exporter run --config.file=$(RUN_CONFIG) --storage.path=$(STORAGE) --web.listen-address=$(LISTEN)

system-deps:
	@missing=""; \
	command -v prometheus >/dev/null || missing="$$missing prometheus"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v prometheus-alertmanager >/dev/null || command -v alertmanager >/dev/null || missing="$$missing prometheus-alertmanager"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $(DEB_TEST_PACKAGES)"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(DEB_TEST_PACKAGES); \
	fi

# Three workers on two cores, whole files per worker: the alerting end-to-end
# file (first, tests/conftest.py orders it) spends about six minutes waiting on
# real alert timing with its worker idle, while the other two run the rest.
# --cov enforces the coverage floor
# (pyproject.toml, [tool.coverage.report] fail_under).
PYTEST_ARGS ?= -n 3 --dist loadfile --cov --durations=25

test: venv system-deps
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check slo_exporter tests bench
	$(BIN)/mypy
	$(BIN)/python deploy/grafana/generate.py --check

check: lint test

bench: venv system-deps
	@command -v prometheus-blackbox-exporter >/dev/null || { \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus-blackbox-exporter; }
	$(BIN)/python -m bench.query_cost
	$(BIN)/python -m bench.store_bench
	$(BIN)/python -m bench.probe_throughput
	$(BIN)/python -m bench.detection_time --scenario outage

clean:
	rm -rf $(VENV) $(STORAGE) .pytest_cache .mypy_cache .ruff_cache
