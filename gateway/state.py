"""The gateway's state: everything handlers and middleware need, built once by gateway/app.py and reached
through the request's application (no module globals), plus the keys it is stored under."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from gateway.api_keys import ApiKeyStore, Network, VerifiedKey
from gateway.audit import AuditLog
from gateway.auth import Principal, Tokens
from gateway.clients import Upstreams
from gateway.config import GatewaySettings
from gateway.counters import Decision, SharedCounters
from gateway.idempotency import IdempotencyStore
from gateway.identity import IdentityStore
from gateway.limits import Limits, Plans
from gateway.quotas import Quotas
from vigil.runtime.db import Database
from vigil.runtime.errors import Unauthenticated, Unavailable

if TYPE_CHECKING:
    from gateway.events.stream import EventHub
    from gateway.ingest.alerts import AlertIntake
    from gateway.ingest.pipeline import TelemetryIngest
    from gateway.mcp.server import McpServer
    from gateway.webhooks.service import Webhooks


@dataclass
class Gateway:
    settings: GatewaySettings
    db: Database
    identity: IdentityStore
    upstreams: Upstreams
    tenant_tokens: Tokens
    control_tokens: Tokens
    idempotency: IdempotencyStore
    plans: Plans
    api_keys: ApiKeyStore
    counters: SharedCounters
    quotas: Quotas
    audit: AuditLog
    # Proxies whose X-Forwarded-For is believed (VIGIL_TRUSTED_PROXIES).
    trusted_proxies: tuple[Network, ...] = ()
    # Telemetry ingest: the Kafka producer and the consumer-lag backpressure (gateway/ingest/pipeline.py).
    telemetry: TelemetryIngest | None = None
    # Alert intake: integration-key checks and the Kafka producer (gateway/ingest/alerts.py).
    alerts: AlertIntake | None = None
    # Set on SIGTERM: /readyz answers 503 from then on while in-flight requests finish.
    draining: bool = False
    # Outbound: webhook deliveries (gateway/webhooks/) and the live event stream (gateway/events/stream.py).
    webhooks: Webhooks | None = None
    events: EventHub | None = None
    mcp: McpServer | None = None
    # The tenant plane's own address, once it listens: MCP tools call their routes through it.
    tenant_url: str = ""


GATEWAY_KEY = web.AppKey("gateway", Gateway)
PLANE_KEY = web.AppKey("plane", str)
PRINCIPAL_KEY = web.RequestKey("principal", Principal)
API_KEY_KEY = web.RequestKey("api_key", VerifiedKey)
RATE_KEY = web.RequestKey("rate_limit", Decision)


def gw(request: web.Request) -> Gateway:
    return request.app[GATEWAY_KEY]


def upstreams(request: web.Request) -> Upstreams:
    return request.app[GATEWAY_KEY].upstreams


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL_KEY]


def _configured(request: web.Request, part: str, what: str) -> Any:
    found = getattr(request.app[GATEWAY_KEY], part)
    if found is None:
        raise Unavailable(f"{what} is not configured")
    return found
async def limits_of(g: Gateway, tenant_id: str) -> Limits:
    """The tenant's effective rate limits and quotas: its plan's with the operator's overrides (cached with the
    tenant's status)."""
    tenant = await g.identity.cached_tenant(tenant_id)
    if tenant is None:
        raise Unauthenticated("unknown tenant")
    return g.plans.of(tenant.plan, tenant.limits)


def telemetry_ingest(request: web.Request) -> TelemetryIngest:
    return _configured(request, "telemetry", "telemetry ingest")


def alert_intake(request: web.Request) -> AlertIntake:
    return _configured(request, "alerts", "alert intake")


def webhooks(request: web.Request) -> Webhooks:
    return _configured(request, "webhooks", "webhook delivery")


def event_hub(request: web.Request) -> EventHub:
    return _configured(request, "events", "the event stream")


def mcp_server(request: web.Request) -> McpServer:
    return _configured(request, "mcp", "the MCP server")
