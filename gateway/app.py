"""The gateway: two aiohttp applications, the tenant plane and the control plane, on their own ports.

Cross-cutting concerns are middleware, in this order: tracing (one span per request; its id is every error's
trace_id) -> the error envelope -> authentication and per-route policy -> the handler. Handlers only
translate HTTP <-> gRPC; the domain lives in the services.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from opentelemetry import context as otel_context
from opentelemetry import trace

from gateway import auth, envelope
from gateway.clients import Upstreams
from gateway.config import GatewaySettings
from gateway.idempotency import HEADER as IDEMPOTENCY_HEADER
from gateway.idempotency import IdempotencyStore, guarded
from gateway.identity import IdentityStore
from vigil.runtime import context, grpcio, telemetry
from vigil.runtime.db import Database
from vigil.runtime.errors import FieldError, Forbidden, Unauthenticated, VigilError, is_transient

log = logging.getLogger("vigil.gateway")
_tracer = trace.get_tracer("vigil.gateway")
MIGRATIONS = Path(__file__).with_name("migrations")


@dataclass
class Gateway:
    """Everything the handlers need, passed in through the app (no module globals)."""

    settings: GatewaySettings
    db: Database
    identity: IdentityStore
    upstreams: Upstreams
    tenant_tokens: auth.Tokens
    control_tokens: auth.Tokens
    # Telemetry ingest: Kafka producer and consumer-lag backpressure (gateway/routes/telemetry.py).
    telemetry: Any = None
    idempotency: IdempotencyStore | None = None
    # Set on SIGTERM: /readyz answers 503 from then on while in-flight requests finish.
    draining: bool = False


GATEWAY_KEY = web.AppKey("gateway", Gateway)
PLANE_KEY = web.AppKey("plane", str)
PRINCIPAL_KEY = web.RequestKey("principal", auth.Principal)


def gw(request: web.Request) -> Gateway:
    return request.app[GATEWAY_KEY]


@web.middleware
async def trace_middleware(request: web.Request, handler):
    token = otel_context.attach(telemetry.extract(request.headers))
    try:
        with _tracer.start_as_current_span(f"{request.method} {request.path}", kind=trace.SpanKind.SERVER) as span:
            response = await handler(request)
            span.set_attribute("http.status_code", response.status)
            trace_id = telemetry.current_trace_id()
            if trace_id:
                response.headers["X-Trace-Id"] = trace_id
            return response
    finally:
        otel_context.detach(token)


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except VigilError as err:
        return envelope.from_error(err)
    except web.HTTPRequestEntityTooLarge:
        return envelope.error(413, "VALIDATION_ERROR", "request body too large",
                              [FieldError("body", f"must be at most {request.app[GATEWAY_KEY].settings.max_body_bytes} bytes")])
    except web.HTTPNotFound:
        return envelope.error(404, "NOT_FOUND", f"no route for {request.path}")
    except web.HTTPMethodNotAllowed as exc:
        return envelope.error(405, "VALIDATION_ERROR", f"{request.method} is not allowed here",
                              headers={"Allow": ", ".join(sorted(exc.allowed_methods))})
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return envelope.error(exc.status, "VALIDATION_ERROR" if exc.status < 500 else "ERROR", exc.reason)
    except Exception as exc:  # noqa: BLE001 - never a stack trace to the client
        if is_transient(exc):  # e.g. the gateway's own database restarting: retry, nothing is wrong with the request
            log.warning("%s %s: unavailable: %s: %s", request.method, request.path, type(exc).__name__, exc)
            return envelope.error(503, "UNAVAILABLE", "temporarily unavailable; retry", headers={"Retry-After": "1"})
        log.exception("unhandled error on %s %s", request.method, request.path)
        return envelope.error(500, "ERROR", "internal error")


def _policy(request: web.Request) -> auth.Policy:
    handler = request.match_info.handler
    return getattr(handler, "vigil_policy", None) or auth.Policy()


@web.middleware
async def auth_middleware(request: web.Request, handler):
    pol = _policy(request)
    if pol.auth == "public" or request.match_info.http_exception is not None:
        return await handler(request)
    g = gw(request)
    if pol.auth == "operator":
        principal = g.control_tokens.verify(auth.bearer(request.headers.get("Authorization")), auth.CONTROL_AUDIENCE)
        if principal.role != "operator":
            raise Forbidden("operator role required")
        request[PRINCIPAL_KEY] = principal
        return await _idempotent(g, "control", request, handler)

    principal = g.tenant_tokens.verify(auth.bearer(request.headers.get("Authorization")), auth.TENANT_AUDIENCE)
    tenant_id = request.headers.get("x-tenant-id", "")
    if not tenant_id:
        raise Unauthenticated("missing x-tenant-id header")
    if tenant_id != principal.tenant_id:
        raise Unauthenticated("the token does not belong to the tenant in x-tenant-id")
    status = await g.identity.tenant_status(tenant_id)
    if status is None:
        raise Unauthenticated("unknown tenant")
    if status != "active":
        raise Forbidden(f"tenant {tenant_id} is {status}")
    auth.check_role(principal, request.method, pol.role)
    request[PRINCIPAL_KEY] = principal
    ctx = context.CallContext(tenant_id=tenant_id, actor=principal.email, role=principal.role,
                              request_id=request.headers.get("X-Request-Id", ""))
    token = context.bind(ctx)
    try:
        return await _idempotent(g, tenant_id, request, handler)
    finally:
        context.reset(token)


async def _idempotent(g: Gateway, scope: str, request: web.Request, handler) -> web.StreamResponse:
    if request.method == "POST" and IDEMPOTENCY_HEADER in request.headers and g.idempotency is not None:
        return await guarded(g.idempotency, scope, request, handler)
    return await handler(request)


@auth.policy("public")
async def healthz(_request: web.Request) -> web.Response:
    return envelope.ok({"status": "ok"})


@auth.policy("public")
async def readyz(request: web.Request) -> web.Response:
    """503 while draining, or naming the upstream services that do not serve. Like Kubernetes' own /readyz,
    `?exclude=<service>` (repeatable; `upstreams` for all of them) leaves checks out: the chart's readiness
    probe excludes the upstreams, so one service down does not take every gateway replica out of its Service
    (that service's routes answer 503, the others keep working)."""
    g = gw(request)
    if g.draining:
        return envelope.error(503, "UNAVAILABLE", "draining: shutting down", headers={"Retry-After": "1"})
    excluded = set(request.query.getall("exclude", ()))
    names = [] if "upstreams" in excluded else [n for n in g.upstreams.addresses if n not in excluded]
    serving = await asyncio.gather(*(g.upstreams.serving(n) for n in names))
    down = [name for name, ok in zip(names, serving, strict=True) if not ok]
    if down:
        return envelope.error(503, "UNAVAILABLE", f"not serving: {', '.join(down)}", headers={"Retry-After": "1"})
    return envelope.ok({"status": "ready"})


def _plane(g: Gateway, name: str, routes: list[web.RouteDef]) -> web.Application:
    app = web.Application(
        middlewares=[trace_middleware, error_middleware, auth_middleware],
        client_max_size=g.settings.max_body_bytes,
    )
    app[GATEWAY_KEY] = g
    app[PLANE_KEY] = name
    app.add_routes([web.get("/healthz", healthz), web.get("/readyz", readyz), *routes])
    return app


async def build(settings: GatewaySettings) -> tuple[Gateway, web.Application, web.Application]:
    from gateway import routes

    telemetry.setup("gateway", settings.log_level, settings.log_json)
    db = Database(settings.database_url_for_gateway(), "gateway")
    await db.migrate(MIGRATIONS)
    secret = auth.load_secret(settings.jwt_secret.get_secret_value(), settings.data_dir)
    ttl = settings.access_token_ttl_seconds
    g = Gateway(
        settings=settings,
        db=db,
        identity=IdentityStore(db, settings.tenant_cache_seconds),
        idempotency=IdempotencyStore(db),
        upstreams=Upstreams(settings.upstreams()),
        tenant_tokens=auth.Tokens(secret, settings.jwt_issuer, ttl),
        control_tokens=auth.Tokens(secret + ":control", settings.jwt_issuer, ttl),
    )
    from gateway.routes.telemetry import TelemetryIngest

    g.telemetry = TelemetryIngest(settings.kafka_bootstrap, settings.telemetry_consumer_group,
                                  settings.telemetry_max_lag_batches, settings.telemetry_retention_days)
    tenant_app = _plane(g, "tenant", routes.collect("tenant"))
    control_app = _plane(g, "control", routes.collect("control"))
    return g, tenant_app, control_app


async def close(g: Gateway) -> None:
    if g.telemetry is not None:
        await g.telemetry.close()
    await g.upstreams.close()
    await g.db.dispose()


class Runner:
    """Both planes on their ports; used by `python -m gateway`, `vigil up` and the tests."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.runners: list[web.AppRunner] = []
        self.ports: dict[str, int] = {}
        self.gateway: Gateway | None = None

    async def start(self) -> dict[str, int]:
        started = time.perf_counter()
        self.gateway, tenant_app, control_app = await build(self.settings)
        for name, app, port in (("tenant", tenant_app, self.settings.tenant_port),
                                ("control", control_app, self.settings.control_port)):
            runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                   shutdown_timeout=self.settings.drain_seconds)
            await runner.setup()
            site = web.TCPSite(runner, self.settings.host, port, reuse_address=True)
            await site.start()
            self.runners.append(runner)
            self.ports[name] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        log.info("gateway up in %.0fms: tenant plane :%d, control plane :%d", (time.perf_counter() - started) * 1000,
                 self.ports["tenant"], self.ports["control"])
        return self.ports

    async def stop(self) -> None:
        """Drain: readiness off first, then both planes stop accepting and give in-flight requests up to
        VIGIL_DRAIN_SECONDS to finish."""
        if self.gateway:
            self.gateway.draining = True
        await asyncio.gather(*(runner.cleanup() for runner in self.runners))
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

