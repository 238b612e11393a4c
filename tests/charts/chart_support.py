"""Constants and helpers shared by the deployment-artefact tests (imported by conftest.py and the tests)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "vigil"
COMPOSE = REPO / "docker-compose.yml"
INSTALL_HELM = REPO / ".ci" / "install-helm.sh"
SCENARIOS = sorted(p.name.removesuffix("-values.yaml") for p in (CHART / "ci").glob("*-values.yaml"))
# The Kubernetes version the chart is rendered for (Chart.yaml kubeVersion is >=1.27: native grpc probes).
KUBE_VERSION = "1.33.0"

# The vocabulary (DESIGN.md): the five gRPC services and their default ports, and the gateway's two ports.
GRPC_PORTS = {"incident": 50051, "itsm": 50052, "cmdb": 50053, "observability": 50054, "ai": 50055}
GATEWAY_PORTS = {"tenant": 8080, "control": 8081}


def repo_services() -> set[str]:
    """Every services/<name>/ with a server.py, plus the five expected ones (the lead adds them in turn)."""
    found = {p.parent.name for p in (REPO / "services").glob("*/server.py")}
    return found | set(GRPC_PORTS)


def by_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def component(obj: dict) -> str | None:
    return obj["metadata"].get("labels", {}).get("app.kubernetes.io/component")
