"""The gateway: two aiohttp applications, the tenant plane and the control plane, on their own ports.

Each plane is its declared routes (gateway/routes/, gateway/routing.py) behind the middleware chain
(gateway/middleware.py); the state they share is built here once (gateway/state.py). Handlers only translate
HTTP <-> gRPC; the domain lives in the services.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway import auth, middleware, routes
from gateway.api_keys import ApiKeyStore, parse_networks
from gateway.audit import AuditLog
from gateway.clients import Upstreams, call
from gateway.config import GatewaySettings
from gateway.counters import SharedCounters
from gateway.events.stream import EventHub
from gateway.idempotency import IdempotencyStore
from gateway.identity import IdentityStore
from gateway.ingest.alerts import AlertIntake
from gateway.ingest.pipeline import TelemetryIngest
from gateway.limits import Plans
from gateway.mcp.server import McpServer
from gateway.quotas import MonthlyIncidents, Quotas
from gateway.routing import Plane
from gateway.state import GATEWAY_KEY, PLANE_KEY, Gateway
from gateway.webhooks.service import Webhooks
from vigil.incident.v1 import incident_pb2
from vigil.runtime import context, grpcio, shutdown, telemetry
from vigil.runtime.clock import Clock
from vigil.runtime.db import Database

log = logging.getLogger("vigil.gateway")
MIGRATIONS = Path(__file__).with_name("migrations")


def plane(g: Gateway, name: Plane) -> web.Application:
    app = web.Application(middlewares=middleware.CHAIN, client_max_size=g.settings.max_body_bytes)
    app[GATEWAY_KEY] = g
    app[PLANE_KEY] = name
    app.add_routes([web.route(r.method, r.path, r.endpoint) for r in routes.collect(name)])
    app.on_response_prepare.append(middleware.rate_limit_headers)
    return app


def platform(settings: GatewaySettings, db: Database, upstreams: Upstreams) -> dict[str, Any]:
    """The gateway's platform parts over its database: plans, API keys, shared counters, quotas, the audit log."""

    async def incidents_since(tenant_id: str, since: datetime) -> tuple[int, int]:
        request = incident_pb2.CountIncidentsRequest()
        request.created_from.FromDatetime(since)
        token = context.bind(context.CallContext(tenant_id=tenant_id, actor="vigil-gateway", role="viewer"))
        try:
            counted = await call(upstreams.incident.CountIncidents(request))
            return counted.count, counted.last_number
        finally:
            context.reset(token)

    counters = SharedCounters(db)
    return {
        "plans": Plans(settings.rate_limits, settings.plan_quotas),
        "api_keys": ApiKeyStore(db, settings.api_key_cache_seconds),
        "counters": counters,
        "quotas": Quotas(counters, MonthlyIncidents(incidents_since, settings.quota_cache_seconds)),
        "audit": AuditLog(db, settings.audit_retention_days),
        "trusted_proxies": parse_networks(settings.trusted_proxies),
    }


async def build(settings: GatewaySettings, clock: Clock | None = None
                ) -> tuple[Gateway, web.Application, web.Application]:
    telemetry.setup("gateway", settings.log_level, settings.log_json)
    db = Database(settings.database_url_for_gateway(), "gateway")
    await db.migrate(MIGRATIONS)
    secret = auth.load_secret(settings.jwt_secret.get_secret_value(), settings.data_dir)
    ttl = settings.access_token_ttl_seconds
    identity = IdentityStore(db, settings.tenant_cache_seconds)

    async def plan_of(tenant_id: str) -> str:
        return (await identity.get_tenant(tenant_id)).plan

    upstreams = Upstreams(settings.upstreams(), settings.upstream_timeout_seconds)
    g = Gateway(
        settings=settings,
        db=db,
        identity=identity,
        idempotency=IdempotencyStore(db),
        **platform(settings, db, upstreams),
        upstreams=upstreams,
        tenant_tokens=auth.Tokens(secret, settings.jwt_issuer, ttl),
        control_tokens=auth.Tokens(secret + ":control", settings.jwt_issuer, ttl),
        telemetry=TelemetryIngest(settings.kafka_bootstrap, settings.telemetry_consumer_group,
                                  settings.telemetry_max_lag_batches, settings.telemetry_retention_days, plan_of),
        alerts=AlertIntake(settings.kafka_bootstrap),
        webhooks=Webhooks(db, settings, clock),
        events=EventHub(settings.kafka_bootstrap, history=settings.event_stream_history,
                        client_queue=settings.event_stream_client_queue,
                        heartbeat_seconds=settings.event_stream_heartbeat_seconds),
    )
    g.mcp = McpServer(routes.collect("tenant"), lambda: g.tenant_url)
    return g, plane(g, "tenant"), plane(g, "control")


async def flush_usage(g: Gateway) -> None:
    """What the request path keeps in memory (API keys' last use, quota use) goes to the database in batches."""
    for flush in (g.api_keys.flush, g.counters.flush):
        try:
            await flush()
        except Exception:  # noqa: BLE001 - kept in memory for the next round
            log.exception("usage not written yet; will retry")


def start(g: Gateway) -> None:
    """The gateway's own loops: webhook feed and worker, the live stream's consumer."""
    if g.webhooks is not None:
        g.webhooks.start()
    if g.events is not None:
        g.events.start()


async def keep_flushing(g: Gateway) -> None:
    pruned = 0.0
    while True:
        await asyncio.sleep(g.settings.usage_flush_seconds)
        await flush_usage(g)
        if time.monotonic() - pruned > 3600:
            pruned = time.monotonic()
            with contextlib.suppress(Exception):
                await g.audit.prune()


async def close(g: Gateway) -> None:
    if g.mcp is not None:
        await shutdown.step("the MCP server", g.mcp.close())
    if g.webhooks is not None:
        await shutdown.step("webhook delivery", g.webhooks.stop())
    await shutdown.step("the audit log", g.audit.close())
    await shutdown.step("the usage flush", flush_usage(g))
    if g.telemetry is not None:
        await shutdown.step("telemetry ingest", g.telemetry.close())
    if g.alerts is not None:
        await shutdown.step("alert intake", g.alerts.close())
    await shutdown.step("the upstream channels", g.upstreams.close())
    await shutdown.step("the database", g.db.dispose())


class Runner:
    """Both planes on their ports; used by `python -m gateway`, `vigil up` and the tests."""

    def __init__(self, settings: GatewaySettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.runners: list[web.AppRunner] = []
        self.ports: dict[str, int] = {}
        self.gateway: Gateway | None = None
        self._flusher: asyncio.Task | None = None

    async def start(self) -> dict[str, int]:
        started = time.perf_counter()
        self.gateway, tenant_app, control_app = await build(self.settings, self.clock)
        for name, app, port in (("tenant", tenant_app, self.settings.tenant_port),
                                ("control", control_app, self.settings.control_port)):
            # Long query strings (many repeated filters, cursors) fit; beyond these the parser answers 400.
            runner = web.AppRunner(app, access_log=None, handle_signals=False, max_line_size=32768,
                                   max_field_size=16384, shutdown_timeout=self.settings.drain_seconds)
            await runner.setup()
            site = web.TCPSite(runner, self.settings.host, port, reuse_address=True)
            await site.start()
            self.runners.append(runner)
            self.ports[name] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        host = self.settings.host if self.settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        self.gateway.tenant_url = f"http://{host}:{self.ports['tenant']}"
        start(self.gateway)
        self._flusher = asyncio.create_task(keep_flushing(self.gateway), name="gateway-usage-flush")
        log.info("gateway up in %.0fms: tenant plane :%d, control plane :%d", (time.perf_counter() - started) * 1000,
                 self.ports["tenant"], self.ports["control"])
        return self.ports

    async def stop(self) -> None:
        """Drain: readiness off first, then both planes stop accepting and give in-flight requests up to
        VIGIL_DRAIN_SECONDS to finish."""
        if self.gateway:
            self.gateway.draining = True
            if self.gateway.events is not None:  # open streams would hold the shutdown up
                await shutdown.step("the event stream", self.gateway.events.close())
        await asyncio.gather(*(runner.cleanup() for runner in self.runners))
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        if self.gateway:
            await close(self.gateway)


def main() -> None:
    import uvloop

    settings = GatewaySettings()
    uvloop.install()
    runner = Runner(settings)

    async def _start() -> None:
        await runner.start()

    asyncio.run(grpcio.run_until_signalled(_start, runner.stop))
