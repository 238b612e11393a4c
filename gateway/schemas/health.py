"""Probe answers."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.schemas.base import Query, Resource


class Health(Resource):
    status: Literal["ok", "ready"]


class ReadyQuery(Query):
    """As Kubernetes' own /readyz: checks to leave out."""

    exclude: list[str] = Field(default_factory=list, description=(
        "checks to leave out: a service name (incident, itsm, cmdb, observability, ai) or `upstreams` for all "
        "of them (the chart's readiness probe: the gateway's own readiness only)"))
