# Two commands matter: `make run` and `make test` (see README).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CONFIG ?= config/example.yaml
STORAGE ?= data
LISTEN ?= 127.0.0.1:10950
DEMO_LISTEN ?= 127.0.0.1:8080
# Debian packages the integration tests run for real.
DEB_TEST_PACKAGES := prometheus prometheus-alertmanager chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test check lint bench system-deps venv clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# Starts the demo target (failure injection) beside the daemon, so the
# default config shows live SLOs with nothing else installed.
run: venv
	@$(BIN)/slo-exporter demo --listen-address=$(DEMO_LISTEN) & demo=$$!; \
	trap 'kill $$demo 2>/dev/null' EXIT INT TERM; \
	$(BIN)/slo-exporter run --config.file=$(CONFIG) --storage.path=$(STORAGE) --web.listen-address=$(LISTEN)

system-deps:
	@missing=""; \
	command -v prometheus >/dev/null || missing="$$missing prometheus"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v prometheus-alertmanager >/dev/null || command -v alertmanager >/dev/null || missing="$$missing prometheus-alertmanager"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $(DEB_TEST_PACKAGES)"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(DEB_TEST_PACKAGES); \
	fi

# Two workers, whole files per worker: the slow alerting end-to-end file runs
# beside the rest instead of after it. --cov enforces the coverage floor
# (pyproject.toml, [tool.coverage.report] fail_under).
PYTEST_ARGS ?= -n 2 --dist loadfile --cov

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
