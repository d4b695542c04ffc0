# slo-exporter container image.
#
#   docker build -t slo-exporter .
#   docker run -p 10950:10950 -v slo-data:/var/lib/slo-exporter \
#     -v "$PWD/config/container.yaml:/etc/slo-exporter/config.yaml:ro" --read-only slo-exporter
#
# The image carries config/container.yaml as its config: it probes only the
# exporter's own health endpoint (inside the container, loopback holds
# nothing else). Mount your own file over it, as above.
#
# BASE may be any Debian-like image with python3 (>= 3.11) and its venv
# module, e.g. one imported locally from a debootstrap tree; both stages use
# it so the virtualenv's interpreter path is the same at build and run time.
# The root filesystem can be mounted read-only: the event store is the only
# state, under the /var/lib/slo-exporter volume.
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS build
WORKDIR /src
RUN python3 -m venv /opt/slo-exporter
COPY pyproject.toml README.md ./
COPY slo_exporter ./slo_exporter
# A regular (non-editable) install: the runtime stage copies only the venv.
# The postgres extra (psycopg, pure Python) serves --storage.url; it needs
# libpq at run time only.
RUN /opt/slo-exporter/bin/pip install --no-cache-dir --disable-pip-version-check ".[postgres]" \
    && /opt/slo-exporter/bin/slo-exporter --version

FROM ${BASE}
# The listen port; keep it equal to the CLI default (tests/test_deploy.py checks).
ARG PORT=10950
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
# The repository the image was built from; pass --build-arg SOURCE=<url>.
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="slo-exporter" \
      org.opencontainers.image.description="Exact, restart-proof SLOs from Prometheus metrics and active probes, exported for Prometheus" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${SOURCE}"

# libpq for the PostgreSQL store (--storage.url). Versions follow the base
# image's own Debian release, which BASE chooses, so they are not pinned here.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 \
    && rm -rf /var/lib/apt/lists/*

# A fixed numeric uid/gid, so Kubernetes runAsNonRoot and volume ownership work.
RUN groupadd --system --gid 10950 slo-exporter \
    && useradd --system --uid 10950 --gid slo-exporter --no-create-home \
       --home-dir /var/lib/slo-exporter --shell /usr/sbin/nologin slo-exporter \
    && mkdir -p /var/lib/slo-exporter /etc/slo-exporter \
    && chown slo-exporter:slo-exporter /var/lib/slo-exporter

COPY --from=build /opt/slo-exporter /opt/slo-exporter
COPY config/container.yaml /etc/slo-exporter/config.yaml

ENV PATH=/opt/slo-exporter/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SLO_EXPORTER_PORT=${PORT}

USER 10950:10950
WORKDIR /var/lib/slo-exporter
VOLUME ["/var/lib/slo-exporter"]
EXPOSE ${PORT}

# No curl in the image: the venv's python asks /-/healthy itself.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['SLO_EXPORTER_PORT'] + '/-/healthy', timeout=4)"]

ENTRYPOINT ["slo-exporter"]
CMD ["run", "--config.file=/etc/slo-exporter/config.yaml", "--storage.path=/var/lib/slo-exporter", "--web.listen-address=:10950"]
