"""`helm template` for each scenario, with assertions on the rendered objects."""

from __future__ import annotations

import base64
import re
import shutil

import pytest
import yaml
from chart_support import (
    CHART,
    GATEWAY_PORTS,
    GRPC_PORTS,
    KUBE_VERSION,
    SCENARIOS,
    by_kind,
    component,
    repo_services,
)

pytestmark = pytest.mark.charts

SECRET_VARS = {"VIGIL_DATABASE_URL", "VIGIL_CLICKHOUSE_URL", "VIGIL_JWT_SECRET", "VIGIL_OPERATOR_PASSWORD",
               "VIGIL_LLM_API_KEY"}


def deployment_of(objects: list[dict], name: str) -> dict:
    found = [d for d in by_kind(objects, "Deployment").values() if component(d) == name]
    assert len(found) == 1, f"expected one Deployment for {name}, found {len(found)}"
    return found[0]


def service_of(objects: list[dict], name: str) -> dict:
    found = [s for s in by_kind(objects, "Service").values() if component(s) == name]
    assert len(found) == 1, f"expected one Service for {name}, found {len(found)}"
    return found[0]


def container_of(deployment: dict) -> dict:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_grpc_service_has_deployment_service_and_grpc_probes(render, scenario: str) -> None:
    objects = render(scenario)
    for name in sorted(repo_services()):
        deployment = deployment_of(objects, name)
        container = container_of(deployment)
        assert container["command"] == ["python", "-m", f"services.{name}"]
        port = GRPC_PORTS[name]
        assert {"name": "grpc", "containerPort": port, "protocol": "TCP"} in container["ports"]
        env = {e["name"]: e for e in container["env"]}
        assert env["VIGIL_GRPC_PORT"]["value"] == str(port)
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            # Health means serving: the native probe asks grpc.health.v1, never a bare TCP connect.
            assert container[probe]["grpc"] == {"port": port}, (name, probe)
            assert "tcpSocket" not in container[probe]
        service = service_of(objects, name)
        assert service["spec"]["type"] == "ClusterIP"
        assert service["spec"]["ports"] == [
            {"name": "grpc", "port": port, "targetPort": "grpc", "protocol": "TCP", "appProtocol": "grpc"}]
        assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
        assert deployment["spec"]["template"]["metadata"]["labels"].items() >= service["spec"]["selector"].items()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_gateway_has_both_ports_and_http_probes(render, scenario: str) -> None:
    objects = render(scenario)
    container = container_of(deployment_of(objects, "gateway"))
    assert container["command"] == ["python", "-m", "gateway"]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == GATEWAY_PORTS
    env = {e["name"]: e for e in container["env"]}
    assert env["VIGIL_TENANT_PORT"]["value"] == "8080"
    assert env["VIGIL_CONTROL_PORT"]["value"] == "8081"
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "tenant"}
    # Its own readiness only: one service down must not take every gateway pod out of the Service.
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz?exclude=upstreams", "port": "tenant"}
    service = service_of(objects, "gateway")
    assert {p["port"] for p in service["spec"]["ports"]} == set(GATEWAY_PORTS.values())


def test_only_the_known_processes_are_deployed(render) -> None:
    objects = render("default")
    assert {component(d) for d in by_kind(objects, "Deployment").values()} == repo_services() | {"gateway"}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_configmap_carries_the_shared_vocabulary(render, scenario: str) -> None:
    objects = render(scenario)
    (configmap,) = by_kind(objects, "ConfigMap").values()
    data = configmap["data"]
    for key in ("VIGIL_KAFKA_BOOTSTRAP", "VIGIL_DATA_DIR", "VIGIL_LOG_LEVEL", "VIGIL_LOG_JSON", "VIGIL_SELF_TELEMETRY"):
        assert key in data
    for name, port in GRPC_PORTS.items():
        assert data[f"VIGIL_{name.upper()}_ADDR"] == f"vigil-{name}:{port}"
        assert f"vigil-{name}" in by_kind(objects, "Service")
    assert not SECRET_VARS & set(data)
    assert data["VIGIL_LOG_JSON"] in ("true", "false")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_migrations_hook_job(render, scenario: str) -> None:
    objects = render(scenario)
    jobs = by_kind(objects, "Job")
    assert list(jobs) == ["vigil-migrations"]
    job = jobs["vigil-migrations"]
    annotations = job["metadata"]["annotations"]
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert "helm.sh/hook-weight" in annotations
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    script = container["command"][-1]
    assert 'vigil migrate "$service"' in script
    assert set(re.search(r"for service in ([^;]+);", script).group(1).split()) == repo_services() | {"gateway"}
    # The URLs come from a Secret that exists before the hook runs: a lower-weight hook Secret, or existingSecret.
    refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
    (ref,) = refs
    values = yaml.safe_load((CHART / "ci" / f"{scenario}-values.yaml").read_text())
    if values.get("existingSecret"):
        assert ref == values["existingSecret"]
    else:
        hook_secret = by_kind(objects, "Secret")[ref]
        assert hook_secret["metadata"]["annotations"]["helm.sh/hook"] == annotations["helm.sh/hook"]
        assert int(hook_secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(annotations["helm.sh/hook-weight"])


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_secrets_are_never_plain_env_values(render, scenario: str) -> None:
    objects = render(scenario)
    pods = [d["spec"]["template"]["spec"] for d in by_kind(objects, "Deployment").values()]
    pods += [j["spec"]["template"]["spec"] for j in by_kind(objects, "Job").values()]
    pods += [p["spec"] for p in by_kind(objects, "Pod").values()]
    seen: set[str] = set()
    for pod in pods:
        for container in pod["containers"]:
            for env in container.get("env", []):
                if env["name"] in SECRET_VARS:
                    seen.add(env["name"])
                    assert "value" not in env, env["name"]
                    assert "secretKeyRef" in env["valueFrom"], env["name"]
    assert seen == SECRET_VARS
    # And no secret value leaks into any non-Secret object.
    values = yaml.safe_load((CHART / "ci" / f"{scenario}-values.yaml").read_text())
    secrets = [values.get("database", {}).get("url"), values.get("clickhouse", {}).get("url"),
               values.get("llm", {}).get("apiKey"), values.get("auth", {}).get("jwtSecret"),
               values.get("auth", {}).get("operatorPassword")]
    text = yaml.safe_dump_all([o for o in objects if o["kind"] != "Secret"])
    for secret in filter(None, secrets):
        assert secret not in text


def test_secret_holds_the_values(render) -> None:
    objects = render("ai-llm")
    secret = by_kind(objects, "Secret")["vigil"]
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["llm-api-key"] == "not-a-real-key"
    assert data["database-url"].startswith("postgresql+asyncpg://")
    assert data["clickhouse-url"].startswith("http://")
    assert len(data["jwt-secret"]) >= 32 and data["operator-password"]  # generated
    ai = {e["name"]: e for e in container_of(deployment_of(objects, "ai"))["env"]}
    assert ai["VIGIL_LLM_BASE_URL"]["value"] == "http://vllm.llm.svc:8000/v1"
    assert ai["VIGIL_LLM_MODEL"]["value"] == "qwen2.5-7b-instruct"


def test_existing_secret_scenario_renders_no_secret(render) -> None:
    objects = render("external")
    assert by_kind(objects, "Secret") == {}
    for deployment in by_kind(objects, "Deployment").values():
        for env in container_of(deployment)["env"]:
            if "valueFrom" in env:
                assert env["valueFrom"]["secretKeyRef"]["name"] == "vigil-credentials"


def test_ha_scenario_replicas_and_budgets(render) -> None:
    objects = render("ha")
    deployments = by_kind(objects, "Deployment")
    # every process but the CMDB, whose graph is per process (one replica: no budget)
    assert {component(d): d["spec"]["replicas"] for d in deployments.values()} == {
        **{name: 3 for name in ("incident", "itsm", "observability", "ai", "gateway")}, "cmdb": 1}
    budgets = by_kind(objects, "PodDisruptionBudget")
    assert set(budgets) == set(deployments) - {"vigil-cmdb"}
    for name, budget in budgets.items():
        # The incident service overrides the default budget; the others take podDisruptionBudget.maxUnavailable.
        expected = {"minAvailable": 2} if component(budget) == "incident" else {"maxUnavailable": 1}
        assert {k: v for k, v in budget["spec"].items() if k != "selector"} == expected, name
        assert budget["spec"]["selector"] == deployments[name]["spec"]["selector"]


def test_budgets_only_for_processes_with_two_or_more_replicas(render) -> None:
    # A budget over a single pod would block every node drain: one replica gets none.
    assert by_kind(render("default"), "PodDisruptionBudget") == {}
    objects = render("default", "--set", "services.itsm.replicas=2")
    budgets = by_kind(objects, "PodDisruptionBudget")
    assert list(budgets) == ["vigil-itsm"]
    assert budgets["vigil-itsm"]["spec"]["maxUnavailable"] == 1
    off = render("default", "--set", "services.itsm.replicas=2", "--set", "podDisruptionBudget.enabled=false")
    assert by_kind(off, "PodDisruptionBudget") == {}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_rolling_restarts_drain_before_the_process_stops(render, scenario: str) -> None:
    objects = render(scenario)
    values = yaml.safe_load((CHART / "ci" / f"{scenario}-values.yaml").read_text())
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())["gracefulShutdown"]
    shutdown = {**defaults, **values.get("gracefulShutdown", {})}
    (configmap,) = by_kind(objects, "ConfigMap").values()
    assert configmap["data"]["VIGIL_DRAIN_SECONDS"] == str(shutdown["drainSeconds"])
    for name, deployment in by_kind(objects, "Deployment").items():
        # A new pod is ready before an old one goes; the CMDB's pod is replaced (never two graphs at once).
        assert deployment["spec"]["strategy"] == ({"type": "Recreate"} if component(deployment) == "cmdb" else {
            "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}}), name
        pod = deployment["spec"]["template"]["spec"]
        container = container_of(deployment)
        # Endpoints drop the pod during the preStop sleep; only then SIGTERM starts the drain.
        assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", str(shutdown["preStopSeconds"])]
        # Kubernetes kills the pod only after the sleep and the whole drain.
        assert pod["terminationGracePeriodSeconds"] > shutdown["preStopSeconds"] + shutdown["drainSeconds"], name
        # Readiness is what turns off first on SIGTERM (gRPC health NOT_SERVING, gateway /readyz 503).
        assert "grpc" in container["readinessProbe"] or "/readyz" in container["readinessProbe"]["httpGet"]["path"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_helm_test_pod_checks_gateway_readyz(render, scenario: str) -> None:
    objects = render(scenario)
    (pod,) = by_kind(objects, "Pod").values()
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    command = pod["spec"]["containers"][0]["command"]
    assert "http://vigil-gateway:8080/readyz" in command
    assert "http://vigil-gateway:8081/readyz" in command


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_pods_run_as_non_root(render, scenario: str) -> None:
    objects = render(scenario)
    for obj in [*by_kind(objects, "Deployment").values(), *by_kind(objects, "Job").values()]:
        pod = obj["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_rendered_objects_match_kubernetes_schemas(render, scenario: str) -> None:
    # kubeconform needs its schemas from the internet; kubernetes-validate (PyPI) ships the same schemas.
    import kubernetes_validate  # a dev dependency: the Kubernetes JSON schemas, offline

    for obj in render(scenario):
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)


# --- values.schema.json refuses unknown keys --------------------------------------------------------------

@pytest.mark.parametrize("setting", [
    "bogus=1",
    "services.incident.bogus=1",
    "services.bogus.replicas=1",
    "services.gateway.ports.admin=9000",
    "config.logFormat=text",
    "image.registry=example.com",
    "podDisruptionBudget.minAvailable=1",
    "services.incident.podDisruptionBudget.maxUnavaliable=1",
    "gracefulShutdown.grace=1",
    "migrations.image=other",
])
def test_schema_refuses_unknown_keys(helm, setting: str) -> None:
    out = helm("template", "vigil", str(CHART), "--kube-version", KUBE_VERSION,
               "-f", str(CHART / "ci" / "default-values.yaml"), "--set", setting, check=False)
    assert out.returncode != 0
    assert "additional properties" in out.stderr and "not allowed" in out.stderr


@pytest.mark.parametrize("setting", ["services.incident.ports.grpc=70000", "config.logLevel=LOUD",
                                     "services.ai.replicas=-1", "gatewayServiceType=Ingress",
                                     "gracefulShutdown.drainSeconds=-1", "podDisruptionBudget.maxUnavailable=0",
                                     "services.itsm.podDisruptionBudget.minAvailable=1,"
                                     "services.itsm.podDisruptionBudget.maxUnavailable=1"])
def test_schema_refuses_bad_types_and_ranges(helm, setting: str) -> None:
    out = helm("template", "vigil", str(CHART), "--kube-version", KUBE_VERSION,
               "-f", str(CHART / "ci" / "default-values.yaml"), "--set", setting, check=False)
    assert out.returncode != 0 and "values don't meet the specifications of the schema" in out.stderr


# --- validateValues refuses impossible combinations --------------------------------------------------------

@pytest.mark.parametrize(("settings", "message"), [
    (["kafka.bootstrap="], "vigil: kafka.bootstrap"),
    (["database.url="], "vigil: database.url"),
    (["database.url=sqlite+aiosqlite:///tmp/x.db"], "must be a\n    postgresql+asyncpg:// URL"),
    (["clickhouse.url="], "vigil: clickhouse.url"),
    (["llm.baseUrl=http://llm:8000/v1"], "vigil: llm.model"),
    (["services.incident.replicas=2", "services.incident.podDisruptionBudget.minAvailable=2"],
     "vigil: services.incident.podDisruptionBudget.minAvailable"),
    (["services.cmdb.replicas=2"], "vigil: services.cmdb.replicas"),
])
def test_validate_values_refuses_impossible_combinations(helm, settings: list[str], message: str) -> None:
    args = [a for s in settings for a in ("--set", s)]
    out = helm("template", "vigil", str(CHART), "--kube-version", KUBE_VERSION,
               "-f", str(CHART / "ci" / "default-values.yaml"), *args, check=False)
    assert out.returncode != 0
    assert "VALUES VALIDATION" in out.stderr and message in out.stderr, out.stderr


def test_validate_values_reports_every_problem_at_once(helm) -> None:
    out = helm("template", "vigil", str(CHART), "--kube-version", KUBE_VERSION, check=False)
    assert out.returncode != 0
    for key in ("kafka.bootstrap", "database.url", "clickhouse.url"):
        assert f"vigil: {key}" in out.stderr


def test_existing_secret_satisfies_the_url_checks(render) -> None:
    objects = render("default", "--set", "database.url=", "--set", "clickhouse.url=",
                     "--set", "existingSecret=mine")
    assert by_kind(objects, "Secret") == {}


def test_notes_render(helm, tmp_path) -> None:
    # NOTES.txt renders only on install (a cluster); render it here through tpl in a copy of the chart.

    chart = tmp_path / "vigil"
    shutil.copytree(CHART, chart)
    shutil.copy(chart / "templates" / "NOTES.txt", chart / "notes.txt")
    (chart / "templates" / "zz-notes.yaml").write_text(
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: |\n'
        '{{ tpl (.Files.Get "notes.txt") . | indent 4 }}\n')
    out = helm("template", "vigil", str(chart), "--kube-version", KUBE_VERSION,
               "-f", str(CHART / "ci" / "default-values.yaml"), "--show-only", "templates/zz-notes.yaml")
    notes = yaml.safe_load(out.stdout)["data"]["notes"]
    for name in GRPC_PORTS:
        assert f"vigil-{name}" in notes
    assert "port-forward svc/vigil-gateway 8080 8081" in notes
    assert "helm test vigil" in notes
