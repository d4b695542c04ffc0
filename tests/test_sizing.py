"""The Kubernetes resources against the README's sizing table (made by bench/scale.py --sizing).

The table's default row (the size the manifests are shipped for) states the
CPU request, the memory request and limit and the volume; the Deployment,
the sharded StatefulSet (each shard sized alike) and their volumes must give
at least that.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DEPLOYMENT = ROOT / "deploy" / "kubernetes" / "deployment.yaml"
PVC = ROOT / "deploy" / "kubernetes" / "pvc.yaml"
STATEFULSET = ROOT / "deploy" / "kubernetes-sharded" / "statefulset.yaml"
SECTION = "### Sizing"
#: binary and decimal suffixes of Kubernetes quantities, as multiples of one byte
SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
            "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "": 1}


def quantity(text: str) -> float:
    """A Kubernetes quantity as a number: '200m' → 0.2, '1216Mi' → bytes, '2' → 2."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?", str(text).strip())
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {text!r}")
    value, suffix = float(match[1]), match[2] or ""
    return value / 1000 if suffix == "m" else value * SUFFIXES[suffix]


def default_row(readme: str) -> dict[str, str]:
    """The sizing table's '(default)' row, by column header."""
    section = readme.split(f"\n{SECTION}\n", 1)[1].split("\n#", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if "(default)" in cells[0]:
            return dict(zip(header, cells, strict=True))
    raise AssertionError("the sizing table has no (default) row")


def table_figures(row: dict[str, str]) -> dict[str, float]:
    """CPU request (cores), memory request and limit and volume (bytes) of a table row."""
    cpu = re.search(r"\((\d+m)\)", row["CPU, steady"])
    assert cpu, row["CPU, steady"]
    request, limit = (part.strip() for part in row["memory request / limit"].split("/"))
    return {"cpu": quantity(cpu[1]), "memory_request": quantity(request),
            "memory_limit": quantity(limit), "volume": quantity(row["volume"])}


def container_resources(path: Path) -> dict[str, Any]:
    spec = yaml.safe_load(path.read_text())["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    resources: dict[str, Any] = container["resources"]
    return resources


def test_quantities_parse_as_kubernetes_reads_them() -> None:
    """250m = 0.25 cores; 1216Mi = 1216 x 2^20 bytes; 5Gi = 5 x 2^30; 1G = 10^9."""
    assert quantity("250m") == pytest.approx(0.25)
    assert quantity("1216Mi") == 1216 * 2**20
    assert quantity("5Gi") == 5 * 2**30
    assert quantity("1G") == 10**9
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        quantity("lots")


def test_default_row_is_read_by_header() -> None:
    """A made-up section: the (default) row's cells come back under their headers."""
    text = (f"x\n{SECTION}\n\n| ratio SLOs | CPU, steady | memory request / limit | volume |\n"
            "|---|---|---|---|\n| 100 | 0.01 cores (50m) | 64Mi / 128Mi | 1Gi |\n"
            "| 1,000 (default) | 0.2 cores (200m) | 832Mi / 1216Mi | 5Gi |\n\n## Next\n")
    assert table_figures(default_row(text)) == {
        "cpu": pytest.approx(0.2), "memory_request": 832 * 2**20,
        "memory_limit": 1216 * 2**20, "volume": 5 * 2**30}


@pytest.mark.parametrize("manifest", [DEPLOYMENT, STATEFULSET], ids=["deployment", "sharded"])
def test_manifest_resources_cover_the_default_size(manifest: Path) -> None:
    """Requests and the memory limit are at least the README table's default row."""
    want = table_figures(default_row(README.read_text()))
    resources = container_resources(manifest)
    assert quantity(resources["requests"]["cpu"]) >= want["cpu"]
    assert quantity(resources["requests"]["memory"]) >= want["memory_request"]
    assert quantity(resources["limits"]["memory"]) >= want["memory_limit"]
    assert quantity(resources["limits"]["memory"]) >= quantity(resources["requests"]["memory"])


def test_volumes_hold_the_default_size() -> None:
    """The PVC and each shard's volumeClaimTemplate hold at least the table's volume."""
    want = table_figures(default_row(README.read_text()))["volume"]
    pvc = yaml.safe_load(PVC.read_text())
    assert quantity(pvc["spec"]["resources"]["requests"]["storage"]) >= want
    (claim,) = yaml.safe_load(STATEFULSET.read_text())["spec"]["volumeClaimTemplates"]
    assert quantity(claim["spec"]["resources"]["requests"]["storage"]) >= want
