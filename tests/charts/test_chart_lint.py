"""`helm lint --strict` over every ci/*-values.yaml scenario, and the chart's own defaults."""

from __future__ import annotations

import pytest
from chart_support import CHART, KUBE_VERSION, SCENARIOS

pytestmark = pytest.mark.charts


def test_there_are_the_documented_scenarios() -> None:
    assert {"default", "external", "ai-llm", "ha"} <= set(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_lint_strict(helm, scenario: str) -> None:
    out = helm("lint", "--strict", str(CHART), "--kube-version", KUBE_VERSION,
               "-f", str(CHART / "ci" / f"{scenario}-values.yaml"))
    assert "0 chart(s) failed" in out.stdout
    assert "[WARNING]" not in out.stdout and "[ERROR]" not in out.stdout


def test_lint_strict_defaults(helm) -> None:
    # Defaults alone lint clean (helm lint reports validateValues' `fail` as INFO, not as an error).
    out = helm("lint", "--strict", str(CHART), "--kube-version", KUBE_VERSION)
    assert "0 chart(s) failed" in out.stdout
