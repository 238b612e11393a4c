"""The cross-cutting steps every request passes, in the order of `CHAIN` (outermost first):

1. `tracing`: one server span per request, continuing the caller's trace; its id is every error's trace_id
   and the `X-Trace-Id` header.
2. `errors`: anything raised below becomes the envelope (`{"error", "code", "trace_id"}`), with `Retry-After`
   when the error carries one; never a stack trace.
3. `authenticate`: the credentials become one `Principal` (gateway/auth.py) according to the route's `auth`:
   a tenant-plane JWT (whose tenant must equal `x-tenant-id`) or an operator JWT; `public` and `integration`
   routes pass (an integration door's handler checks its key, then calls `check_tenant` and `bind` itself).
   The principal is bound as the gRPC call context, so every service call carries tenant, actor and role.
4. `tenant_status`: the principal's tenant exists and is active (a suspended tenant is refused everything).
5. `authorize`: the route's minimum role (a viewer never mutates); API-key scopes are checked here too.
   -- rate limits (per tenant and the route's rate class), plan quotas and the audit log go here, between
      authorization and idempotency, so a refused or replayed request costs no quota and every mutation
      that reaches the handler is audited. --
6. `idempotency`: a POST with `Idempotency-Key` replays the first 2xx answer (gateway/idempotency.py).
Then the route's endpoint (gateway/routing.py) validates the inputs and calls the handler.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web
from opentelemetry import context as otel_context
from opentelemetry import trace

from gateway import auth, envelope
from gateway.idempotency import HEADER as IDEMPOTENCY_HEADER
from gateway.idempotency import guarded
from gateway.routing import route_of
from gateway.state import GATEWAY_KEY, PRINCIPAL_KEY, Gateway
from vigil.runtime import context, telemetry
from vigil.runtime.errors import FieldError, Forbidden, Unauthenticated, VigilError

log = logging.getLogger("vigil.gateway")
_tracer = trace.get_tracer("vigil.gateway")


@web.middleware
async def tracing(request: web.Request, handler) -> web.StreamResponse:
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
async def errors(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except VigilError as err:
        return envelope.from_error(err)
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[GATEWAY_KEY].settings.max_body_bytes
        return envelope.error(413, "VALIDATION_ERROR", "request body too large",
                              [FieldError("body", f"must be at most {limit} bytes")])
    except web.HTTPNotFound:
        return envelope.error(404, "NOT_FOUND", f"no route for {request.path}")
    except web.HTTPMethodNotAllowed as exc:
        return envelope.error(405, "VALIDATION_ERROR", f"{request.method} is not allowed here",
                              headers={"Allow": ", ".join(sorted(exc.allowed_methods))})
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return envelope.error(exc.status, "VALIDATION_ERROR" if exc.status < 500 else "ERROR", exc.reason)
    except Exception:  # noqa: BLE001 - never a stack trace to the client
        log.exception("unhandled error on %s %s", request.method, request.path)
        return envelope.error(500, "ERROR", "internal error")


@contextmanager
def bind(request: web.Request, principal: auth.Principal) -> Iterator[None]:
    """Make `principal` the request's caller, and (with a tenant) the call context of every gRPC call."""
    request[PRINCIPAL_KEY] = principal
    if not principal.tenant_id:
        yield
        return
    token = context.bind(principal.call_context(request.headers.get("X-Request-Id", "")))
    try:
        yield
    finally:
        context.reset(token)


async def check_tenant(g: Gateway, tenant_id: str) -> None:
    status = await g.identity.tenant_status(tenant_id)
    if status is None:
        raise Unauthenticated("unknown tenant")
    if status != "active":
        raise Forbidden(f"tenant {tenant_id} is {status}")


@web.middleware
async def authenticate(request: web.Request, handler) -> web.StreamResponse:
    route = route_of(request)
    if route is None or route.auth in ("public", "integration"):
        return await handler(request)
    g = request.app[GATEWAY_KEY]
    token = auth.bearer(request.headers.get("Authorization"))
    if route.auth == "operator":
        principal = g.control_tokens.verify(token, auth.CONTROL_AUDIENCE)
        if principal.role != "operator":
            raise Forbidden("operator role required")
    else:
        principal = g.tenant_tokens.verify(token, auth.TENANT_AUDIENCE)
        tenant_id = request.headers.get("x-tenant-id", "")
        if not tenant_id:
            raise Unauthenticated("missing x-tenant-id header")
        if tenant_id != principal.tenant_id:
            raise Unauthenticated("the token does not belong to the tenant in x-tenant-id")
    with bind(request, principal):
        return await handler(request)


@web.middleware
async def tenant_status(request: web.Request, handler) -> web.StreamResponse:
    principal = request.get(PRINCIPAL_KEY)
    if principal is not None and principal.tenant_id:
        await check_tenant(request.app[GATEWAY_KEY], principal.tenant_id)
    return await handler(request)


@web.middleware
async def authorize(request: web.Request, handler) -> web.StreamResponse:
    route = route_of(request)
    principal = request.get(PRINCIPAL_KEY)
    if route is not None and principal is not None and route.auth == "tenant" and route.role is not None:
        auth.check_role(principal, route.reads, route.role)
    return await handler(request)


@web.middleware
async def idempotency(request: web.Request, handler) -> web.StreamResponse:
    principal = request.get(PRINCIPAL_KEY)
    if request.method == "POST" and principal is not None and IDEMPOTENCY_HEADER in request.headers:
        scope = principal.tenant_id or "control"
        return await guarded(request.app[GATEWAY_KEY].idempotency, scope, request, handler)
    return await handler(request)


CHAIN = [tracing, errors, authenticate, tenant_status, authorize, idempotency]
