"""API keys through a real gateway and incident service: minted by a tenant admin or the operator, shown once,
kept only as a hash, accepted as X-Api-Key and as a bearer token, refused at once when revoked, out of scope,
from outside the allowlist, expired, or of another tenant; a key never does more than its creator's role."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import sqlalchemy as sa

from gateway.api_keys import api_keys, new_token, well_formed
from gateway.app import flush_usage
from tests.support.api import PASSWORD, operator_token, request

pytestmark = pytest.mark.kafka
INCIDENT = {"title": "Disk full on db-1", "severity": "P2"}


async def mint(admin, **body) -> dict:
    resp = await admin.post("/api/api-keys", {"name": "ci", "scopes": ["incidents:*"], **body})
    assert resp.status == 201, resp.body
    return resp.data


def with_key(token: str, bearer: bool = False) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if bearer else {"X-Api-Key": token}


async def as_key(env, method: str, path: str, token: str, bearer: bool = False, **kw):
    return await request(env["session"], method, env["tenant"] + path, headers={**with_key(token, bearer),
                                                                               **kw.pop("headers", {})}, **kw)


def test_tokens_are_recognisable_and_checked_before_any_lookup():
    token = new_token()
    assert token.startswith("vgl_") and len(token) == 42 and well_formed(token)
    assert not well_formed(token[:-1] + ("A" if token[-1] != "A" else "B"))  # checksum
    assert not well_formed("vgl_" + "x" * 38) and not well_formed(token.replace("vgl_", "vgx_"))


async def test_minted_once_stored_as_a_hash_and_accepted_both_ways(gateway_env, acme):
    minted = await mint(acme["admin"], scopes=["incidents:read", "incidents:write"])
    token = minted["token"]
    assert well_formed(token) and minted["prefix"] == token[:12] and minted["status"] == "active"
    assert minted["created_by"] == acme["admin"].email and minted["created_by_kind"] == "user"
    # never shown again
    listed = (await acme["admin"].get("/api/api-keys")).data["items"]
    again = (await acme["admin"].get(f"/api/api-keys/{minted['id']}")).data
    assert "token" not in again and all("token" not in k for k in listed) and minted["id"] in {k["id"] for k in listed}
    # kept as its SHA-256 only
    db = gateway_env["runner"].gateway.db
    async with db.read() as conn:
        row = (await conn.execute(sa.select(api_keys).where(api_keys.c.id == minted["id"]))).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(tuple(row))
    # X-Api-Key and Authorization: Bearer, with or without x-tenant-id; the caller is the key
    for bearer in (False, True):
        made = await as_key(gateway_env, "POST", "/api/incidents", token, bearer, json=INCIDENT)
        assert made.status == 201 and made.data["created_by"] == f"api_key:{minted['id']}"
        assert "X-RateLimit-Remaining" in made.headers
    same_tenant = await as_key(gateway_env, "GET", "/api/incidents", token, headers={"x-tenant-id": "acme"})
    assert same_tenant.status == 200 and same_tenant.data["total"] == 2
    other = await as_key(gateway_env, "GET", "/api/incidents", token, headers={"x-tenant-id": "globex"})
    assert other.status == 401
    # last use is written in batches
    await flush_usage(gateway_env["runner"].gateway)
    used = (await acme["admin"].get(f"/api/api-keys/{minted['id']}")).data
    assert used["last_used_at"] is not None and used["last_used_ip"] == "127.0.0.1"


async def test_scopes_refuse_at_once_naming_the_missing_scope(gateway_env, acme):
    reader = (await mint(acme["admin"], scopes=["incidents:read"]))["token"]
    refused = await as_key(gateway_env, "POST", "/api/incidents", reader, json=INCIDENT)
    assert refused.status == 403 and refused.body["code"] == "FORBIDDEN"
    assert "insufficient_scope" in refused.body["error"] and "incidents:write" in refused.body["error"]
    assert refused.body["fields"] == [{"field": "scope", "message": "incidents:write"}]
    assert (await as_key(gateway_env, "GET", "/api/incidents", reader)).status == 200
    assert (await as_key(gateway_env, "GET", "/api/cmdb/items", reader)).status == 403
    # a family wildcard, and `*:read`
    everything_read = (await mint(acme["admin"], scopes=["*:read"], role="viewer"))["token"]
    assert (await as_key(gateway_env, "GET", "/api/incidents", everything_read)).status == 200
    assert (await as_key(gateway_env, "POST", "/api/incidents", everything_read, json=INCIDENT)).status == 403


async def test_bad_mints_are_refused_naming_the_field(acme):
    admin = acme["admin"]
    for body, field in (
        ({"scopes": ["incidents:delete"]}, "scopes[0]"),
        ({"scopes": ["tenants:write"]}, "scopes[0]"),
        ({"scopes": ["incidents:write"], "role": "viewer"}, "scopes[0]"),
        ({"allowed_cidrs": ["10.0.0.0/33"]}, "allowed_cidrs[0]"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"scopes": []}, "scopes"),
        ({"role": "operator"}, "role"),
    ):
        resp = await admin.post("/api/api-keys", {"name": "x", "scopes": ["incidents:read"], **body})
        assert resp.status == 422 and field in {f["field"] for f in resp.body["fields"]}, (body, resp.body)
    # only admins mint; a key never mints
    assert (await acme["responder"].post("/api/api-keys", {"name": "x", "scopes": ["incidents:read"]})).status == 403
    key = (await mint(admin, scopes=["*"], role="admin"))["token"]
    resp = await request(admin.session, "POST", admin.base + "/api/api-keys", headers=with_key(key),
                         json={"name": "y", "scopes": ["incidents:read"]})
    assert resp.status == 403 and "signed-in admin" in resp.body["error"]


async def test_revoked_key_is_refused_at_once_and_stays_listed(gateway_env, acme):
    minted = await mint(acme["admin"])
    assert (await as_key(gateway_env, "GET", "/api/incidents", minted["token"])).status == 200  # now cached
    revoked = (await acme["admin"].post(f"/api/api-keys/{minted['id']}/revoke")).data
    assert revoked["status"] == "revoked" and revoked["revoked_by"] == acme["admin"].email
    refused = await as_key(gateway_env, "GET", "/api/incidents", minted["token"])
    assert refused.status == 401 and refused.body["code"] == "UNAUTHORIZED"
    again = (await acme["admin"].post(f"/api/api-keys/{minted['id']}/revoke")).data
    assert again["revoked_at"] == revoked["revoked_at"]  # idempotent
    assert minted["id"] in {k["id"] for k in (await acme["admin"].get("/api/api-keys")).data["items"]}


async def test_ip_allowlist_and_expiry(gateway_env, acme):
    elsewhere = (await mint(acme["admin"], allowed_cidrs=["10.0.0.0/8", "2001:db8::/32"]))["token"]
    refused = await as_key(gateway_env, "GET", "/api/incidents", elsewhere)
    assert refused.status == 403 and refused.body["code"] == "FORBIDDEN"
    assert "ip_not_allowed" in refused.body["error"] and "127.0.0.1" in refused.body["error"]
    here = (await mint(acme["admin"], allowed_cidrs=["127.0.0.1"]))["token"]
    assert (await as_key(gateway_env, "GET", "/api/incidents", here)).status == 200
    soon = datetime.now(UTC) + timedelta(seconds=2)
    brief = await mint(acme["admin"], expires_at=soon.isoformat())
    assert (await as_key(gateway_env, "GET", "/api/incidents", brief["token"])).status == 200
    await asyncio.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.2)
    expired = await as_key(gateway_env, "GET", "/api/incidents", brief["token"])
    assert expired.status == 401 and "expired" in expired.body["error"]
    assert (await acme["admin"].get(f"/api/api-keys/{brief['id']}")).data["status"] == "expired"


async def test_a_key_never_does_more_than_its_creator_may(gateway_env, acme):
    session, control = gateway_env["session"], gateway_env["control"]
    op = {"Authorization": f"Bearer {await operator_token(session, control)}"}
    admin = acme["admin"]
    users = (await request(session, "GET", f"{control}/api/tenants/acme/users", headers=op)).data["items"]
    admin_id = next(u["id"] for u in users if u["email"] == admin.email)
    key = (await mint(admin, scopes=["*"], role="admin"))["token"]
    assert (await as_key(gateway_env, "POST", "/api/incidents", key, json=INCIDENT)).status == 201
    # the creator is demoted to viewer: the key is a viewer's at once
    await request(session, "PATCH", f"{control}/api/tenants/acme/users/{admin_id}", headers=op, json={"role": "viewer"})
    demoted = await as_key(gateway_env, "POST", "/api/incidents", key, json=INCIDENT)
    assert demoted.status == 403 and "viewers" in demoted.body["error"]
    assert (await as_key(gateway_env, "GET", "/api/incidents", key)).status == 200
    # disabled: the key stops
    await request(session, "PATCH", f"{control}/api/tenants/acme/users/{admin_id}", headers=op,
                  json={"disabled": True})
    assert (await as_key(gateway_env, "GET", "/api/incidents", key)).status == 401
    await request(session, "PATCH", f"{control}/api/tenants/acme/users/{admin_id}", headers=op,
                  json={"disabled": False, "role": "admin", "password": PASSWORD})


async def test_operator_mints_service_keys_and_keys_stay_in_their_tenant(gateway_env, acme):
    session, control = gateway_env["session"], gateway_env["control"]
    op = {"Authorization": f"Bearer {await operator_token(session, control)}"}
    await request(session, "POST", f"{control}/api/tenants", headers=op, json={"name": "Globex", "id": "globex"})
    minted = (await request(session, "POST", f"{control}/api/tenants/globex/api-keys", headers=op,
                            json={"name": "ingest", "scopes": ["incidents:*"], "role": "responder"})).data
    assert minted["tenant_id"] == "globex" and minted["created_by_kind"] == "operator"
    made = await as_key(gateway_env, "POST", "/api/incidents", minted["token"], json=INCIDENT)
    assert made.status == 201 and made.data["created_by"] == f"api_key:{minted['id']}"
    # acme sees neither globex's incident nor its key
    assert (await acme["admin"].get(f"/api/incidents/{made.data['id']}")).status == 404
    assert (await acme["admin"].get(f"/api/api-keys/{minted['id']}")).status == 404
    assert (await acme["admin"].post(f"/api/api-keys/{minted['id']}/revoke")).status == 404
    assert (await as_key(gateway_env, "GET", f"/api/incidents/{made.data['id']}", minted["token"])).status == 200
    # keys are for the tenant plane only
    assert (await request(session, "GET", f"{control}/api/tenants", headers=with_key(minted["token"]))).status == 401
    # the operator revokes: refused at once
    await request(session, "POST", f"{control}/api/tenants/globex/api-keys/{minted['id']}/revoke", headers=op)
    assert (await as_key(gateway_env, "GET", "/api/incidents", minted["token"])).status == 401


async def test_the_api_keys_quota(gateway_env, acme):
    session, control = gateway_env["session"], gateway_env["control"]
    op = {"Authorization": f"Bearer {await operator_token(session, control)}"}
    await request(session, "PATCH", f"{control}/api/tenants/acme/limits", headers=op, json={"quotas": {"api_keys": 2}})
    first = await mint(acme["admin"])
    await mint(acme["admin"])
    refused = await acme["admin"].post("/api/api-keys", {"name": "third", "scopes": ["incidents:read"]})
    assert refused.status == 402 and refused.body["code"] == "QUOTA_EXCEEDED" and "api_keys" in refused.body["error"]
    await acme["admin"].post(f"/api/api-keys/{first['id']}/revoke")  # a revoked key frees its place
    assert (await acme["admin"].post("/api/api-keys", {"name": "third", "scopes": ["incidents:read"]})).status == 201


async def test_jwts_that_must_be_refused(gateway_env, acme):
    """alg none, a wrong key, expired, wrong audience, the other plane's token, another tenant's."""
    session, base, control = gateway_env["session"], gateway_env["tenant"], gateway_env["control"]
    g = gateway_env["runner"].gateway
    claims = jwt.decode(acme["viewer"].token, options={"verify_signature": False})
    unsigned = jwt.encode({**claims, "role": "admin"}, None, algorithm="none")
    operator = await operator_token(session, control)
    cases = {
        "alg none": (unsigned, "acme"),
        "wrong key": (jwt.encode(claims, "k" * 48, "HS256"), "acme"),
        "expired": (jwt.encode({**claims, "exp": 1_000_000}, g.tenant_tokens.secret, "HS256"), "acme"),
        "wrong audience": (jwt.encode({**claims, "aud": "vigil-control"}, g.tenant_tokens.secret, "HS256"), "acme"),
        "the control plane's": (operator, "acme"),
        "another tenant's": (acme["viewer"].token, "globex"),
    }
    for name, (token, tenant) in cases.items():
        resp = await request(session, "GET", base + "/api/incidents",
                             headers={"Authorization": f"Bearer {token}", "x-tenant-id": tenant})
        assert resp.status == 401 and resp.body["code"] == "UNAUTHORIZED", name
    on_control = await request(session, "GET", control + "/api/tenants",
                               headers={"Authorization": f"Bearer {acme['admin'].token}"})
    assert on_control.status == 401
    unsigned_operator = jwt.encode({**jwt.decode(operator, options={"verify_signature": False})}, None, "none")
    assert (await request(session, "GET", control + "/api/tenants",
                          headers={"Authorization": f"Bearer {unsigned_operator}"})).status == 401
