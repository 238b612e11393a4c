"""Fixtures of the deployment-artefact tests (marker `charts`): the helm binary, rendered scenarios, the
compose file and the vocabulary both must share.

helm comes from $REPO/.cache/bin (built by .ci/install-helm.sh from the Go module proxy), else from PATH, else
the script is run once; with no helm and no go the helm tests fail and say how to get helm.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable

import pytest
import yaml
from chart_support import CHART, COMPOSE, INSTALL_HELM, KUBE_VERSION, REPO


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "charts: deployment artefacts (Helm chart, docker-compose, Dockerfile)")


def _find_helm() -> str | None:
    cached = REPO / ".cache" / "bin" / "helm"
    if cached.exists():
        return str(cached)
    if on_path := shutil.which("helm"):
        return on_path
    if shutil.which("go") is None:
        return None
    out = subprocess.run(["bash", str(INSTALL_HELM)], capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        pytest.fail(f"{INSTALL_HELM} failed:\n{out.stderr[-3000:]}")
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def helm() -> Callable[..., subprocess.CompletedProcess[str]]:
    binary = _find_helm()
    if binary is None:
        pytest.fail("no helm in .cache/bin or on PATH, and no go to build it: run .ci/install-helm.sh")

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        out = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)
        if check and out.returncode != 0:
            pytest.fail(f"helm {' '.join(args)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
        return out

    return run


@pytest.fixture(scope="session")
def render(helm) -> Callable[..., list[dict]]:
    """render(scenario, *extra_args) -> the rendered objects (helm template, parsed); cached per arguments."""
    cache: dict[tuple[str, ...], list[dict]] = {}

    def _render(scenario: str, *extra: str) -> list[dict]:
        key = (scenario, *extra)
        if key not in cache:
            out = helm("template", "vigil", str(CHART), "--namespace", "vigil", "--kube-version", KUBE_VERSION,
                       "-f", str(CHART / "ci" / f"{scenario}-values.yaml"), *extra)
            cache[key] = [doc for doc in yaml.safe_load_all(out.stdout) if doc]
        return cache[key]

    return _render


@pytest.fixture(scope="session")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="session")
def chart_values() -> dict:
    return yaml.safe_load((CHART / "values.yaml").read_text())
