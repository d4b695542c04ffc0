"""deploy/kubernetes-postgres: the sharded StatefulSets run as HA pairs on one PostgreSQL store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from slo_exporter import cli
from tests.test_deploy import DEPLOY, POD_INDEX, STATE_DIR, _holds_a_list, _kustomize_build
from tests.test_deploy import _sharded_build as sharded_build

POSTGRES = DEPLOY / "kubernetes-postgres"
SECRET_ENV = "PGPASSWORD"


def _build() -> dict[tuple[str, str], dict[str, Any]]:
    """``kubectl kustomize deploy/kubernetes-postgres``, keyed by kind and name."""
    objects: dict[tuple[str, str], dict[str, Any]] = {}
    for doc in _kustomize_build(POSTGRES):
        key = (doc["kind"], doc["metadata"]["name"])
        assert key not in objects, f"two {key} objects"
        objects[key] = doc
    return objects


def _sides() -> list[dict[str, Any]]:
    return [doc for (kind, _), doc in sorted(_build().items()) if kind == "StatefulSet"]


def _container(statefulset: dict[str, Any]) -> dict[str, Any]:
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def _flags(args: list[str]) -> dict[str, str]:
    return {a.split("=", 1)[0]: a.split("=", 1)[1] for a in args if a.startswith("--")}


def test_the_overlay_uses_only_what_the_test_build_models() -> None:
    """Resources, namespace and delete patches by path, as _kustomize_build assumes."""
    kustomization = yaml.safe_load((POSTGRES / "kustomization.yaml").read_text())
    assert set(kustomization) == {"apiVersion", "kind", "namespace", "resources", "patches"}
    for patch in kustomization["patches"]:
        assert set(patch) == {"path"}
        (change,) = yaml.safe_load_all((POSTGRES / patch["path"]).read_text())
        assert change.get("$patch") == "delete"
        assert not _holds_a_list(change)


def test_two_statefulsets_replace_the_sharded_one_and_validate() -> None:
    """Objects: the sharded overlay's, with StatefulSets a and b instead of its one; each
    validates strictly and sits in the base's namespace."""
    objects = _build()
    kinds = sorted(k for k, _ in objects)
    assert kinds == ["ConfigMap", "PrometheusRule", "Service", "ServiceMonitor",
                     "StatefulSet", "StatefulSet"]
    assert {n for k, n in objects if k == "StatefulSet"} == {"slo-exporter-a", "slo-exporter-b"}
    version = kubernetes_validate.latest_version()
    for (kind, _), doc in objects.items():
        if kind in ("ConfigMap", "Service", "StatefulSet"):
            kubernetes_validate.validate(doc, version, strict=True)
    assert len({d["metadata"]["namespace"] for d in objects.values()}) == 1


def test_each_shard_runs_on_both_sides_against_one_store() -> None:
    """Both sides run pods 0..N-1 with --shard.index from the pod index and the same count,
    the same --storage.url and no --storage.path: pods a-I and b-I share shard I's role."""
    a, b = _sides()
    flags = [_flags(_container(s)["args"]) for s in (a, b)]
    assert flags[0] == flags[1]
    assert int(flags[0]["--shard.count"]) == a["spec"]["replicas"] == b["spec"]["replicas"] > 1
    assert flags[0]["--shard.index"] == "$(SHARD_INDEX)"
    assert flags[0]["--storage.url"].startswith("postgresql://")
    assert "--storage.path" not in flags[0]
    for side in (a, b):
        env = {e["name"]: e for e in _container(side)["env"]}
        assert env["SHARD_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] == POD_INDEX


def test_the_password_comes_from_a_secret_never_the_manifest() -> None:
    """PGPASSWORD is a secretKeyRef; the URL has no password part."""
    for side in _sides():
        container = _container(side)
        env = {e["name"]: e for e in container["env"]}
        assert set(env[SECRET_ENV]["valueFrom"]) == {"secretKeyRef"}
        url = _flags(container["args"])["--storage.url"]
        userinfo = url.split("://", 1)[1].split("@", 1)[0]
        assert ":" not in userinfo


def test_pods_have_no_volume_and_otherwise_run_as_the_sharded_ones() -> None:
    """No volume claim, no store mount; apart from the store flag, the password env and the
    anti-affinity, each pod is the sharded overlay's."""
    sharded = sharded_build()["StatefulSet"]
    base = _container(sharded)
    for side in _sides():
        spec = side["spec"]
        assert "volumeClaimTemplates" not in spec
        container = _container(side)
        assert STATE_DIR not in {m["mountPath"] for m in container["volumeMounts"]}
        plain = {k: v for k, v in container.items() if k not in ("env", "volumeMounts", "args")}
        assert plain == {k: v for k, v in base.items()
                         if k not in ("env", "volumeMounts", "args")}
        keep = [a for a in container["args"] if not a.startswith("--storage.")]
        assert keep == [a for a in base["args"] if not a.startswith("--storage.")]
        pod = {k: v for k, v in spec["template"]["spec"].items() if k != "affinity"}
        base_pod = {k: v for k, v in sharded["spec"]["template"]["spec"].items()
                    if k not in ("containers",)}
        assert {k: v for k, v in pod.items() if k != "containers"} == base_pod
        assert spec["podManagementPolicy"] == sharded["spec"]["podManagementPolicy"]


def test_each_side_prefers_nodes_without_the_other_and_owns_only_its_pods() -> None:
    """A side's selector picks its own pods only; its anti-affinity names the other side, so
    a node lost takes at most one pod of each pair; the headless Service selects both."""
    a, b = _sides()
    service = _build()[("Service", "slo-exporter")]
    assert service["spec"]["clusterIP"] == "None"
    for mine, other in ((a, b), (b, a)):
        labels = mine["spec"]["template"]["metadata"]["labels"]
        selector = mine["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items()
        assert not selector.items() <= other["spec"]["template"]["metadata"]["labels"].items()
        (term,) = (mine["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
                   ["preferredDuringSchedulingIgnoredDuringExecution"])
        wanted = term["podAffinityTerm"]["labelSelector"]["matchLabels"]
        assert wanted.items() <= other["spec"]["template"]["metadata"]["labels"].items()
        assert not wanted.items() <= labels.items()
        assert service["spec"]["selector"].items() <= labels.items()
        assert mine["spec"]["serviceName"] == service["metadata"]["name"]


def test_check_accepts_the_config_with_each_pods_flags(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`check` with a pod's flags (index filled in, the shared store's URL) accepts the
    ConfigMap's configuration on every shard."""
    objects = _build()
    config = tmp_path / "config.yaml"
    config.write_text(objects[("ConfigMap", "slo-exporter")]["data"]["config.yaml"])
    for side in _sides():
        flags = [a for a in _container(side)["args"]
                 if a.startswith(("--shard.", "--storage.url"))]
        for ordinal in range(side["spec"]["replicas"]):
            argv = [f.replace("$(SHARD_INDEX)", str(ordinal)) for f in flags]
            assert cli.main(["check", f"--config.file={config}", *argv]) == 0
            assert f"shard {ordinal} of {side['spec']['replicas']}:" in capsys.readouterr().out
