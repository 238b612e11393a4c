"""The gateway: two aiohttp applications, the tenant plane and the control plane, on their own ports.

Each plane is its declared routes (gateway/routes/, gateway/routing.py) behind the middleware chain
(gateway/middleware.py); the state they share is built here once (gateway/state.py). Handlers only translate
HTTP <-> gRPC; the domain lives in the services.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from aiohttp import web

from gateway import auth, middleware, routes
from gateway.clients import Upstreams
from gateway.config import GatewaySettings
from gateway.events.stream import EventHub
from gateway.idempotency import IdempotencyStore
from gateway.identity import IdentityStore
from gateway.ingest.pipeline import TelemetryIngest
from gateway.mcp.server import McpServer
from gateway.routing import Plane
from gateway.state import GATEWAY_KEY, PLANE_KEY, Gateway
from gateway.webhooks.service import Webhooks
from vigil.runtime import grpcio, telemetry
from vigil.runtime.clock import Clock
from vigil.runtime.db import Database

log = logging.getLogger("vigil.gateway")
MIGRATIONS = Path(__file__).with_name("migrations")


def plane(g: Gateway, name: Plane) -> web.Application:
    app = web.Application(middlewares=middleware.CHAIN, client_max_size=g.settings.max_body_bytes)
    app[GATEWAY_KEY] = g
    app[PLANE_KEY] = name
    app.add_routes([web.route(r.method, r.path, r.endpoint) for r in routes.collect(name)])
    return app


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

    g = Gateway(
        settings=settings,
        db=db,
        identity=identity,
        idempotency=IdempotencyStore(db),
        upstreams=Upstreams(settings.upstreams()),
        tenant_tokens=auth.Tokens(secret, settings.jwt_issuer, ttl),
        control_tokens=auth.Tokens(secret + ":control", settings.jwt_issuer, ttl),
        telemetry=TelemetryIngest(settings.kafka_bootstrap, settings.telemetry_consumer_group,
                                  settings.telemetry_max_lag_batches, settings.telemetry_retention_days, plan_of),
        webhooks=Webhooks(db, settings, clock),
        events=EventHub(settings.kafka_bootstrap, history=settings.event_stream_history,
                        client_queue=settings.event_stream_client_queue,
                        heartbeat_seconds=settings.event_stream_heartbeat_seconds),
    )
    g.mcp = McpServer(routes.collect("tenant"), lambda: g.tenant_url)
    return g, plane(g, "tenant"), plane(g, "control")


def start(g: Gateway) -> None:
    """The gateway's own loops: webhook feed and worker, the live stream's consumer."""
    if g.webhooks is not None:
        g.webhooks.start()
    if g.events is not None:
        g.events.start()


async def close(g: Gateway) -> None:
    if g.mcp is not None:
        await g.mcp.close()
    if g.webhooks is not None:
        await g.webhooks.stop()
    if g.telemetry is not None:
        await g.telemetry.close()
    await g.upstreams.close()
    await g.db.dispose()


class Runner:
    """Both planes on their ports; used by `python -m gateway`, `vigil up` and the tests."""

    def __init__(self, settings: GatewaySettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.runners: list[web.AppRunner] = []
        self.ports: dict[str, int] = {}
        self.gateway: Gateway | None = None

    async def start(self) -> dict[str, int]:
        started = time.perf_counter()
        self.gateway, tenant_app, control_app = await build(self.settings, self.clock)
        for name, app, port in (("tenant", tenant_app, self.settings.tenant_port),
                                ("control", control_app, self.settings.control_port)):
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, self.settings.host, port, reuse_address=True)
            await site.start()
            self.runners.append(runner)
            self.ports[name] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        host = self.settings.host if self.settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        self.gateway.tenant_url = f"http://{host}:{self.ports['tenant']}"
        start(self.gateway)
        log.info("gateway up in %.0fms: tenant plane :%d, control plane :%d", (time.perf_counter() - started) * 1000,
                 self.ports["tenant"], self.ports["control"])
        return self.ports

    async def stop(self) -> None:
        if self.gateway is not None and self.gateway.events is not None:
            await self.gateway.events.close()  # open streams would hold the shutdown up
        for runner in self.runners:
            await runner.cleanup()
        if self.gateway:
            await close(self.gateway)


def main() -> None:
    import asyncio

    import uvloop

    settings = GatewaySettings()
    uvloop.install()
    runner = Runner(settings)

    async def _start() -> None:
        await runner.start()

    asyncio.run(grpcio.run_until_signalled(_start, runner.stop))
