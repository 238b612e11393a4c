"""docker-compose.yml: the cluster shape on one Docker host, validated by `docker compose config` when the
compose plugin (or docker-compose) is installed, and structurally always."""

from __future__ import annotations

import base64
import shutil
import subprocess

import pytest
from chart_support import COMPOSE, GATEWAY_PORTS, GRPC_PORTS, REPO, repo_services

pytestmark = pytest.mark.charts

INFRA = {"kafka": "apache/kafka", "postgres": "postgres:16", "clickhouse": "clickhouse/clickhouse-server"}


def test_exactly_one_compose_file() -> None:
    names = ("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml")
    found = [p.name for p in REPO.iterdir() if p.name in names or p.name.startswith("docker-compose.")]
    assert found == [COMPOSE.name]


def _compose_command() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_docker_compose_config_accepts_the_file() -> None:
    command = _compose_command()
    if command is None:
        pytest.fail("neither the docker compose plugin nor docker-compose is installed (.ci/run installs it)")
    out = subprocess.run([*command, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True,
                         cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr


def test_infrastructure_services(compose) -> None:
    services = compose["services"]
    for name, image in INFRA.items():
        assert services[name]["image"].startswith(image), name
        assert "healthcheck" in services[name], name
        # Restarted with the host, and their data on named volumes: a recreated container keeps what was
        # accepted (Kafka holds alerts and telemetry answered 202 until they are consumed).
        assert services[name]["restart"] == "unless-stopped", name
        [volume] = [v for v in services[name]["volumes"] if ":" in v]
        assert volume.split(":")[0] in compose["volumes"], name
    kafka_env = services["kafka"]["environment"]
    assert "controller" in kafka_env["KAFKA_PROCESS_ROLES"]  # KRaft, no ZooKeeper
    assert services["kafka"]["volumes"] == [f"kafka-data:{kafka_env['KAFKA_LOG_DIRS']}"]
    # Kafka reads CLUSTER_ID as a UUID in URL-safe base64 (Uuid.fromString): 16 bytes, or the broker won't start.
    assert len(base64.urlsafe_b64decode(kafka_env["CLUSTER_ID"] + "==")) == 16
    assert not any("zookeeper" in name for name in services)


def test_every_vigil_process_runs_from_the_one_image(compose) -> None:
    services = compose["services"]
    vigil = [n for n, s in services.items() if n not in INFRA]
    assert set(vigil) == repo_services() | {"gateway", "migrate"}
    for name in vigil:
        assert services[name]["build"] == ".", name
        assert services[name]["image"] == services["gateway"]["image"], name


@pytest.mark.parametrize("name", sorted(GRPC_PORTS))
def test_grpc_services_have_a_grpc_health_check(compose, name: str) -> None:
    service = compose["services"][name]
    assert service["command"] == ["python", "-m", f"services.{name}"]
    assert service["healthcheck"]["test"] == [
        "CMD", "python", "-m", "vigil.runtime.healthcheck", f"127.0.0.1:{GRPC_PORTS[name]}"]
    depends = service["depends_on"]
    assert depends["migrate"] == {"condition": "service_completed_successfully"}
    assert depends["kafka"] == {"condition": "service_healthy"}


def test_gateway_waits_for_every_service_and_checks_readyz(compose) -> None:
    gateway = compose["services"]["gateway"]
    assert gateway["command"] == ["python", "-m", "gateway"]
    assert "/readyz" in " ".join(gateway["healthcheck"]["test"])
    for name in repo_services():
        assert gateway["depends_on"][name] == {"condition": "service_healthy"}
    assert sorted(gateway["ports"]) == sorted(f"{p}:{p}" for p in GATEWAY_PORTS.values())


def test_migrate_is_one_shot_over_every_service(compose) -> None:
    migrate = compose["services"]["migrate"]
    script = migrate["command"][-1]
    assert 'vigil migrate "$$service"' in script
    listed = script.split("for service in ", 1)[1].split(";", 1)[0].split()
    assert set(listed) == repo_services() | {"gateway"}
    assert migrate["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert migrate["restart"] == "no"


def test_database_url_is_asyncpg(compose) -> None:
    for name in repo_services() | {"gateway", "migrate"}:
        url = compose["services"][name]["environment"]["VIGIL_DATABASE_URL"]
        assert url.startswith("postgresql+asyncpg://") and url.endswith("@postgres:5432/vigil"), name
