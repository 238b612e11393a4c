"""The cross-cutting steps every request passes, in the order of `CHAIN` (outermost first):

1. `tracing`: one server span per request, continuing the caller's trace; its id is every error's trace_id
   and the `X-Trace-Id` header.
2. `errors`: anything raised below becomes the envelope (`{"error", "code", "trace_id"}`), with `Retry-After`
   when the error carries one; never a stack trace.
3. `authenticate`: the credentials become one `Principal` (gateway/auth.py) according to the route's `auth`:
   on the tenant plane an API key (`X-Api-Key` or `Authorization: Bearer vgl_…`; gateway/api_keys.py) or a
   JWT (whose tenant must equal `x-tenant-id`), on the control plane an operator JWT; `public` and
   `integration` routes pass (an integration door's handler checks its key, then admits the caller with
   `admitted`). The principal is bound as the gRPC call context, so every service call carries tenant, actor
   and role.
4. `tenant_status`: the principal's tenant exists and is active (a suspended tenant is refused everything).
5. `audit`: every mutation by an authenticated caller is recorded once it is answered, refused or not
   (gateway/audit.py); telemetry and alert intake (rate class `ingest`) are data, counted in usage instead.
6. `authorize`: an API key's IP allowlist, the route's minimum role (a viewer never mutates), and the route's
   scope (`insufficient_scope` names it; a JWT session holds its role's scopes).
7. `rate_limit`: the tenant's limit for the route's rate class (gateway/counters.py); every answer after it
   carries `X-RateLimit-Limit/Remaining/Reset` (`rate_limit_headers`), a refusal is 429 with `Retry-After`.
8. `idempotency`: a POST with `Idempotency-Key` replays the first 2xx answer (gateway/idempotency.py).
9. `quota`: the plan quota the route uses up (gateway/quotas.py), inside idempotency so a replay costs none;
   a request that fails gives it back.
Then the route's endpoint (gateway/routing.py) validates the inputs and calls the handler.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import orjson
from aiohttp import web
from opentelemetry import trace

from gateway import api_keys, auth, envelope
from gateway.audit import AuditEntry
from gateway.idempotency import HEADER as IDEMPOTENCY_HEADER
from gateway.idempotency import guarded
from gateway.routing import READ_METHODS, Route, route_of
from gateway.state import API_KEY_KEY, GATEWAY_KEY, PLANE_KEY, PRINCIPAL_KEY, RATE_KEY, Gateway, limits_of
from vigil.runtime import context, telemetry
from vigil.runtime.clock import new_id, now
from vigil.runtime.errors import (
    FieldError,
    Forbidden,
    RateLimited,
    Unauthenticated,
    Unavailable,
    VigilError,
    is_transient,
)

log = logging.getLogger("vigil.gateway")
_tracer = trace.get_tracer("vigil.gateway")
API_KEY_HEADER = "X-Api-Key"


@web.middleware
async def tracing(request: web.Request, handler) -> web.StreamResponse:
    with telemetry.IncomingSpan(_tracer, f"{request.method} {request.path}", request.headers) as span:
        response = await handler(request)
        span.set_attribute("http.status_code", response.status)
        trace_id = telemetry.current_trace_id()
        if trace_id:
            response.headers["X-Trace-Id"] = trace_id
        return response


@web.middleware
async def errors(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except VigilError as err:
        return envelope.from_error(err)
    except web.RequestPayloadError:
        # The body could not be read: a Content-Encoding it does not have (not gzip, not deflate) or one aiohttp
        # does not decode. The client's mistake, answered like any bad body.
        encoding = request.headers.get("Content-Encoding", "")
        return envelope.error(422, "VALIDATION_ERROR", "the request body could not be read",
                              [FieldError("body", f"is not valid for Content-Encoding {encoding!r}" if encoding
                                          else "could not be read")])
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
    except Exception as exc:  # noqa: BLE001 - never a stack trace to the client
        if is_transient(exc):  # e.g. the gateway's own database restarting: retry, nothing is wrong with the request
            log.warning("%s %s: unavailable: %s: %s", request.method, request.path, type(exc).__name__, exc)
            return envelope.from_error(Unavailable("temporarily unavailable; retry"))
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


def client_address(request: web.Request) -> str:
    """The caller's address: the peer's, or behind trusted proxies (VIGIL_TRUSTED_PROXIES) the nearest address
    in X-Forwarded-For that is not one of them."""
    peer = request.remote or ""
    trusted = request.app[GATEWAY_KEY].trusted_proxies
    if not trusted or not _within(peer, trusted):
        return peer
    for hop in reversed([h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]):
        if not _within(hop, trusted):
            return hop
    return peer


def _within(address: str, networks: tuple[api_keys.Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def _api_key(request: web.Request) -> str | None:
    """The API key the request carries, if any: `X-Api-Key`, or a bearer token that looks like one."""
    header = request.headers.get(API_KEY_HEADER)
    authorization = request.headers.get("Authorization")
    if header is not None:
        if authorization is not None:
            raise Unauthenticated(f"send either {API_KEY_HEADER} or Authorization, not both")
        return header.strip()
    if authorization is not None:
        token = auth.bearer(authorization)
        if token.startswith(api_keys.PREFIX):
            return token
    return None


@web.middleware
async def authenticate(request: web.Request, handler) -> web.StreamResponse:
    route = route_of(request)
    if route is None or route.auth in ("public", "integration"):
        return await handler(request)
    g = request.app[GATEWAY_KEY]
    key = _api_key(request)
    if route.auth == "operator":
        if key is not None:
            raise Unauthenticated("API keys are for the tenant plane; the control plane takes the operator's token")
        principal = g.control_tokens.verify(auth.bearer(request.headers.get("Authorization")), auth.CONTROL_AUDIENCE)
        if principal.role != "operator":
            raise Forbidden("operator role required")
    elif key is not None:
        verified = await g.api_keys.verify(key)
        principal = verified.principal
        tenant_id = request.headers.get("x-tenant-id")
        if tenant_id and tenant_id != principal.tenant_id:
            raise Unauthenticated("the API key does not belong to the tenant in x-tenant-id")
        request[API_KEY_KEY] = verified
    else:
        principal = g.tenant_tokens.verify(auth.bearer(request.headers.get("Authorization")), auth.TENANT_AUDIENCE)
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
async def audit(request: web.Request, handler) -> web.StreamResponse:
    route = route_of(request)
    # Reads are not audited, nor POSTs that only read (searches; MCP messages, whose tool calls that change
    # something are audited as the routes they call).
    if request.method in READ_METHODS or route is None or route.reads or route.rate == "ingest":
        return await handler(request)
    status, code, response = 500, "ERROR", None
    try:
        response = await handler(request)
        status, code = response.status, ""
        return response
    except VigilError as err:
        status, code = err.http_status, err.code
        raise
    except web.HTTPException as exc:
        status, code = exc.status, "VALIDATION_ERROR" if exc.status < 500 else "ERROR"
        raise
    finally:
        principal = request.get(PRINCIPAL_KEY)  # set by authentication, or by a sign-in or integration handler
        if principal is not None:
            entry = _audit_entry(request, route, principal, status, code, response)
            try:
                await request.app[GATEWAY_KEY].audit.record(entry)
            except Exception as exc:
                log.exception("audit entry not written: %s", entry)
                raise Unavailable("the audit log could not be written: the outcome of this request is unknown; "
                                  "read the resource before retrying") from exc


def _audit_entry(request: web.Request, route: Route, principal: auth.Principal, status: int, code: str,
                 response: web.StreamResponse | None) -> AuditEntry:
    params = dict(request.match_info)
    resource_id = params.get("id") or (list(params.values())[-1] if params else "")
    if status == 201 and isinstance(response, web.Response) and response.body:
        try:  # a create: the new object's id
            resource_id = str(orjson.loads(bytes(response.body))["data"]["id"])
        except (ValueError, KeyError, TypeError):
            pass
    tenant_id = principal.tenant_id or params.get("tenant_id", "")
    if not tenant_id and route.path == "/api/tenants" and status == 201:
        tenant_id = resource_id
    return AuditEntry(
        id=new_id(), at=now(), plane=request.app[PLANE_KEY], tenant_id=tenant_id, actor=principal.actor,
        actor_kind=principal.kind, method=request.method, route=route.path, path=request.path[:500],
        resource_id=resource_id[:200], status=status, code=code, trace_id=telemetry.current_trace_id() or "",
        source_ip=client_address(request), user_agent=request.headers.get("User-Agent", "")[:300])


@web.middleware
async def authorize(request: web.Request, handler) -> web.StreamResponse:
    route = route_of(request)
    principal = request.get(PRINCIPAL_KEY)
    if route is not None and principal is not None and route.auth == "tenant":
        key = request.get(API_KEY_KEY)
        if key is not None:
            address = client_address(request)
            if not key.allows(address):
                raise Forbidden(f"ip_not_allowed: {address} is not in this API key's IP allowlist",
                                [FieldError(API_KEY_HEADER, "ip_not_allowed")])
            request.app[GATEWAY_KEY].api_keys.used(principal, address)
        if route.role is not None:
            auth.check_role(principal, route.reads, route.role)
        if route.scope is not None and route.scope not in principal.scopes:
            raise Forbidden(f"insufficient_scope: this credential lacks the {route.scope.value} scope",
                            [FieldError("scope", route.scope.value)])
    return await handler(request)


async def check_rate(request: web.Request, principal: auth.Principal, rate_class: str) -> None:
    """Count the request against the tenant's limit for its rate class; 429 when the minute's is used up."""
    g = request.app[GATEWAY_KEY]
    limit = (await limits_of(g, principal.tenant_id)).rate[rate_class]
    decision = await g.counters.take(principal.tenant_id, f"rate:{rate_class}", "minute", limit)
    request[RATE_KEY] = decision
    if not decision.allowed:
        raise RateLimited(f"rate limit reached: {limit} {rate_class} requests per minute for tenant "
                          f"{principal.tenant_id}", retry_after=decision.retry_after)


@web.middleware
async def rate_limit(request: web.Request, handler) -> web.StreamResponse:
    route = route_of(request)
    principal = request.get(PRINCIPAL_KEY)
    if route is not None and route.rate is not None and principal is not None and principal.tenant_id:
        await check_rate(request, principal, route.rate)
    return await handler(request)


async def rate_limit_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every answer of a rate-limited request, refusals and errors included (aiohttp's on_response_prepare)."""
    decision = request.get(RATE_KEY)
    if decision is not None:
        response.headers["X-RateLimit-Limit"] = str(decision.limit)
        response.headers["X-RateLimit-Remaining"] = str(decision.remaining)
        response.headers["X-RateLimit-Reset"] = str(decision.reset)


@asynccontextmanager
async def admitted(request: web.Request, caller: auth.Principal) -> AsyncIterator[None]:
    """For handlers of `integration` routes, once they have checked their key: admit the caller as the chain
    admits the others (tenant active, rate limit of the route's class) and bind it for the gRPC calls."""
    await check_tenant(request.app[GATEWAY_KEY], caller.tenant_id)
    with bind(request, caller):
        route = route_of(request)
        if route is not None and route.rate is not None:
            await check_rate(request, caller, route.rate)
        yield


@web.middleware
async def idempotency(request: web.Request, handler) -> web.StreamResponse:
    principal = request.get(PRINCIPAL_KEY)
    if request.method == "POST" and principal is not None and IDEMPOTENCY_HEADER in request.headers:
        scope = principal.tenant_id or "control"
        return await guarded(request.app[GATEWAY_KEY].idempotency, scope, request, handler)
    return await handler(request)


@web.middleware
async def quota(request: web.Request, handler) -> web.StreamResponse:
    route = route_of(request)
    principal = request.get(PRINCIPAL_KEY)
    if route is None or route.quota is None or principal is None or not principal.tenant_id:
        return await handler(request)
    g = request.app[GATEWAY_KEY]
    tenant_id = principal.tenant_id
    amount = len(await request.read()) if route.quota == "telemetry_bytes_per_day" else 1
    await g.quotas.take(tenant_id, route.quota, (await limits_of(g, tenant_id)).quotas[route.quota], amount)
    succeeded, answer = False, b""
    try:
        response = await handler(request)
        succeeded = response.status < 400
        if isinstance(response, web.Response) and isinstance(response.body, bytes):
            answer = response.body
        return response
    finally:
        g.quotas.settle(tenant_id, route.quota, amount, succeeded, answer)


CHAIN = [tracing, errors, authenticate, tenant_status, audit, authorize, rate_limit, idempotency, quota]
