"""Route declarations and the middleware chain, on a small plane of test routes served by aiohttp on a real
socket, with the real identity store (SQLite) behind the tenant checks."""

from __future__ import annotations

from pathlib import Path as FsPath

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway import middleware, routes
from gateway.app import platform
from gateway.auth import TENANT_AUDIENCE, Principal, Tokens
from gateway.clients import Upstreams
from gateway.config import GatewaySettings
from gateway.idempotency import IdempotencyStore
from gateway.identity import IdentityStore
from gateway.routing import Routes
from gateway.schemas.base import Body, ById
from gateway.scopes import ROLE_SCOPES, Scope
from gateway.state import GATEWAY_KEY, PLANE_KEY, Gateway, principal
from tests.support.api import request
from vigil.runtime import context
from vigil.runtime.db import Database
from vigil.runtime.errors import RateLimited, Unauthenticated

SECRET = "s" * 40


class Note(Body):
    text: str


test_routes = Routes("tenant", tags=("test",), scopes="incidents")
calls: list[str] = []


@test_routes.get("/t/whoami", summary="who")
async def whoami(request: web.Request) -> dict:
    ctx = context.current()
    return {"actor": principal(request).actor, "tenant": ctx.tenant_id, "role": ctx.role}


@test_routes.post("/t/notes", summary="note", body=Note)
async def add_note(request: web.Request, body: Note) -> dict:
    calls.append(body.text)
    return {"n": len(calls)}


@test_routes.post("/t/slow-down", summary="refused")
async def slow_down(request: web.Request) -> dict:
    raise RateLimited("too many", retry_after=2.2)


@test_routes.post("/t/doors/{id}", summary="an alert-source door", auth="integration", path=ById, body=Note)
async def door(request: web.Request, path: ById, body: Note) -> dict:
    """The handler checks the integration key, then admits the caller as the chain would."""
    if request.headers.get("X-Integration-Key") != f"key-of-{path.id}":
        raise Unauthenticated("unknown integration key")
    caller = Principal(actor=f"integration:{path.id}", role="responder", tenant_id=path.id, kind="integration")
    await middleware.check_tenant(request.app[GATEWAY_KEY], caller.tenant_id)
    with middleware.bind(request, caller):
        return {"actor": context.current().actor, "tenant": context.current().tenant_id, "kind": caller.kind}


@pytest.fixture
async def plane(tmp_path: FsPath):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}", "gateway")
    from gateway.app import MIGRATIONS

    await db.migrate(MIGRATIONS)
    identity = IdentityStore(db, cache_seconds=0)
    await identity.create_tenant("Acme", "acme", "free")
    await identity.create_tenant("Globex", "globex", "free")
    tokens = Tokens(SECRET, "vigil", 60)
    settings = GatewaySettings(data_dir=tmp_path)
    upstreams = Upstreams(settings.upstreams())
    g = Gateway(settings=settings, db=db, identity=identity, upstreams=upstreams, tenant_tokens=tokens,
                control_tokens=Tokens(SECRET + "c", "vigil", 60), idempotency=IdempotencyStore(db),
                **platform(settings, db, upstreams))
    app = web.Application(middlewares=middleware.CHAIN)
    app[GATEWAY_KEY], app[PLANE_KEY] = g, "tenant"
    app.add_routes([web.route(r.method, r.path, r.endpoint) for r in test_routes])
    server = TestServer(app)
    await server.start_server()
    calls.clear()
    async with aiohttp.ClientSession() as session:

        def headers(role: str, tenant: str = "acme") -> dict[str, str]:
            token = tokens.issue(Principal(actor=f"{role}@{tenant}", role=role, tenant_id=tenant), TENANT_AUDIENCE)
            return {"Authorization": f"Bearer {token}", "x-tenant-id": tenant}

        yield session, str(server.make_url("")), headers, identity
    await server.close()
    await g.upstreams.close()
    await db.dispose()


async def test_the_principal_is_bound_for_the_handler_and_the_services(plane):
    session, base, headers, _ = plane
    resp = await request(session, "GET", base + "/t/whoami", headers=headers("viewer"))
    assert resp.data == {"actor": "viewer@acme", "tenant": "acme", "role": "viewer"}


async def test_order_authentication_then_tenant_status_then_role_then_idempotency(plane):
    session, base, headers, identity = plane
    # no credentials: 401 before anything else is looked at
    assert (await request(session, "POST", base + "/t/notes", json={"text": "x"})).status == 401
    await identity.update_tenant("acme", status="suspended")
    # a suspended tenant's viewer is refused for the tenant (403 naming it), before the role rule
    refused = await request(session, "POST", base + "/t/notes", json={"text": "x"}, headers=headers("viewer"))
    assert refused.status == 403 and "suspended" in refused.body["error"]
    await identity.update_tenant("acme", status="active")
    # a viewer's POST with an Idempotency-Key is refused by role and claims no key ...
    key = {"Idempotency-Key": "k1"}
    refused = await request(session, "POST", base + "/t/notes", json={"text": "x"},
                            headers={**headers("viewer"), **key})
    assert refused.status == 403 and "viewers" in refused.body["error"]
    # ... so the responder's request with the same key runs, and its replay does not run twice
    first = await request(session, "POST", base + "/t/notes", json={"text": "y"}, headers={**headers("responder"), **key})
    again = await request(session, "POST", base + "/t/notes", json={"text": "y"}, headers={**headers("responder"), **key})
    assert first.data == again.data == {"n": 1} and again.headers["Idempotent-Replayed"] == "true"
    assert calls == ["y"]


async def test_errors_carry_retry_after(plane):
    session, base, headers, _ = plane
    resp = await request(session, "POST", base + "/t/slow-down", headers=headers("responder"))
    assert resp.status == 429 and resp.body["code"] == "RATE_LIMIT" and resp.headers["Retry-After"] == "3"


async def test_integration_doors_check_their_own_key_and_are_admitted_like_users(plane):
    session, base, _, identity = plane
    ok = await request(session, "POST", base + "/t/doors/globex", json={"text": "alert"},
                       headers={"X-Integration-Key": "key-of-globex"})
    assert ok.data == {"actor": "integration:globex", "tenant": "globex", "kind": "integration"}
    bad = await request(session, "POST", base + "/t/doors/globex", json={"text": "alert"},
                        headers={"X-Integration-Key": "stolen"})
    assert bad.status == 401
    await identity.update_tenant("globex", status="suspended")
    assert (await request(session, "POST", base + "/t/doors/globex", json={"text": "alert"},
                          headers={"X-Integration-Key": "key-of-globex"})).status == 403


def test_declaration_defaults_follow_the_method_and_the_family():
    by_id = {r.operation_id: r for r in test_routes}
    assert (by_id["whoami"].role, by_id["whoami"].scope, by_id["whoami"].rate) == ("viewer", Scope.INCIDENTS_READ,
                                                                                   "read")
    assert (by_id["add_note"].role, by_id["add_note"].scope, by_id["add_note"].rate) == ("responder",
                                                                                         Scope.INCIDENTS_WRITE,
                                                                                         "write")
    assert by_id["door"].role is None and by_id["door"].auth == "integration"


def test_a_handler_must_take_what_its_route_declares():
    table = Routes("tenant", tags=("test",))

    async def forgot_body(request: web.Request) -> dict:
        return {}

    with pytest.raises(TypeError, match="declares body"):
        table.post("/x", summary="x", body=Note)(forgot_body)


def test_every_route_of_both_planes_is_declared_completely():
    for plane in ("tenant", "control"):
        for r in routes.collect(plane):
            where = f"{r.method} {r.path}"
            assert r.summary and r.tags, where
            # The live stream and MCP check the scope of each event or tool instead of one of their own.
            if r.auth in ("tenant", "operator") and r.path not in ("/api/auth/me", "/api/events/stream", "/api/mcp"):
                assert r.scope is not None, f"{where} declares no API-key scope"
                assert r.scope in ROLE_SCOPES["operator" if r.auth == "operator" else "admin"], where
            # only public reads (probes, the API description) go unlimited
            assert r.rate is not None or (r.auth, r.method) == ("public", "GET"), f"{where} declares no rate class"
            assert r.response is not None or r.produces, f"{where} declares no answer"


def test_the_chain_order_is_the_documented_one():
    assert [m.__name__ for m in middleware.CHAIN] == [
        "tracing", "errors", "authenticate", "tenant_status", "audit", "authorize", "rate_limit", "idempotency",
        "quota"]
