"""One vocabulary across code, compose and chart (STYLE 11): the same service names, ports and VIGIL_*
variable names everywhere."""

from __future__ import annotations

import importlib
import inspect

import pytest
from chart_support import GATEWAY_PORTS, GRPC_PORTS, by_kind, component, repo_services
from pydantic_settings import BaseSettings

pytestmark = pytest.mark.charts


def chart_env_names(objects: list[dict], name: str) -> set[str]:
    (configmap,) = by_kind(objects, "ConfigMap").values()
    (deployment,) = [d for d in by_kind(objects, "Deployment").values() if component(d) == name]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {*configmap["data"], *(e["name"] for e in container["env"])}


def compose_env_names(compose: dict, name: str) -> set[str]:
    return set(compose["services"][name]["environment"])


def vigil_vars(names: set[str]) -> set[str]:
    return {n for n in names if n.startswith("VIGIL_")}


def test_code_ports_match_the_vocabulary() -> None:
    from gateway.config import GatewaySettings
    from vigil.runtime.config import SERVICE_PORTS

    assert SERVICE_PORTS == GRPC_PORTS
    fields = GatewaySettings.model_fields
    assert {"tenant": fields["tenant_port"].default, "control": fields["control_port"].default} == GATEWAY_PORTS


@pytest.mark.parametrize("name", sorted(repo_services()))
def test_service_in_compose_and_chart_with_the_same_port(compose, chart_values, render, name: str) -> None:
    port = GRPC_PORTS[name]
    assert chart_values["services"][name]["ports"] == {"grpc": port}
    assert compose["services"][name]["environment"]["VIGIL_GRPC_PORT"] == str(port)
    assert compose["services"]["gateway"]["environment"][f"VIGIL_{name.upper()}_ADDR"] == f"{name}:{port}"
    (configmap,) = by_kind(render("default"), "ConfigMap").values()
    assert configmap["data"][f"VIGIL_{name.upper()}_ADDR"].endswith(f"-{name}:{port}")


def test_gateway_ports_in_compose_and_chart(compose, chart_values) -> None:
    assert chart_values["services"]["gateway"]["ports"] == GATEWAY_PORTS
    env = compose["services"]["gateway"]["environment"]
    assert {"tenant": int(env["VIGIL_TENANT_PORT"]), "control": int(env["VIGIL_CONTROL_PORT"])} == GATEWAY_PORTS


@pytest.mark.parametrize("name", sorted(repo_services() | {"gateway"}))
def test_same_variable_names_in_compose_and_chart(compose, render, name: str) -> None:
    chart = vigil_vars(chart_env_names(render("ai-llm"), name))
    composed = vigil_vars(compose_env_names(compose, name))
    assert chart == composed, f"only in chart: {chart - composed}; only in compose: {composed - chart}"


def _settings_class(name: str) -> type[BaseSettings]:
    module = importlib.import_module("gateway.config" if name == "gateway" else f"services.{name}.config")
    classes = [c for _, c in inspect.getmembers(module, inspect.isclass)
               if issubclass(c, BaseSettings) and c.__module__ == module.__name__]
    assert len(classes) == 1, f"{module.__name__}: expected one settings class, found {classes}"
    return classes[0]


@pytest.mark.parametrize("name", sorted(repo_services() | {"gateway"}))
def test_every_variable_the_chart_sets_is_read_by_the_code(render, name: str) -> None:
    # Settings ignore unknown variables (extra="ignore"), so a drifted name would be silently dropped.
    settings = _settings_class(name)
    prefix = settings.model_config.get("env_prefix", "")
    known = {f"{prefix}{field}".upper() for field in settings.model_fields}
    chart = vigil_vars(chart_env_names(render("ai-llm"), name))
    assert chart <= known, f"{settings.__name__} does not read {sorted(chart - known)}"
