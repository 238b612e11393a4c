"""The gateway's state: everything handlers and middleware need, built once by gateway/app.py and reached
through the request's application (no module globals), plus the keys it is stored under."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from gateway.auth import Principal, Tokens
from gateway.clients import Upstreams
from gateway.config import GatewaySettings
from gateway.idempotency import IdempotencyStore
from gateway.identity import IdentityStore
from vigil.runtime.db import Database
from vigil.runtime.errors import Unavailable

if TYPE_CHECKING:
    from gateway.ingest.pipeline import TelemetryIngest


@dataclass
class Gateway:
    settings: GatewaySettings
    db: Database
    identity: IdentityStore
    upstreams: Upstreams
    tenant_tokens: Tokens
    control_tokens: Tokens
    idempotency: IdempotencyStore
    # Telemetry ingest: the Kafka producer and the consumer-lag backpressure (gateway/ingest/pipeline.py).
    telemetry: TelemetryIngest | None = None


GATEWAY_KEY = web.AppKey("gateway", Gateway)
PLANE_KEY = web.AppKey("plane", str)
PRINCIPAL_KEY = web.RequestKey("principal", Principal)


def gw(request: web.Request) -> Gateway:
    return request.app[GATEWAY_KEY]


def upstreams(request: web.Request) -> Upstreams:
    return request.app[GATEWAY_KEY].upstreams


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL_KEY]


def telemetry_ingest(request: web.Request) -> TelemetryIngest:
    pipeline = request.app[GATEWAY_KEY].telemetry
    if pipeline is None:
        raise Unavailable("telemetry ingest is not configured")
    return pipeline
