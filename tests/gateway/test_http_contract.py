"""The gateway's HTTP contract: envelope, validation with named fields, auth, roles, tenancy, concurrency."""

import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from tests.support import api
from tests.support.api import request

pytestmark = pytest.mark.kafka


def assert_error(resp, status, code, *fields):
    assert resp.status == status, resp.body
    assert resp.body["code"] == code
    assert isinstance(resp.body["error"], str) and resp.body["error"]
    assert len(resp.body["trace_id"]) == 32
    if fields:
        assert {f["field"] for f in resp.body["fields"]} >= set(fields), resp.body


async def test_create_and_get_in_the_envelope(acme):
    client = acme["responder"]
    created = await client.post("/api/incidents", {"title": "DB pool exhausted", "severity": "P1",
                                                   "description": "...", "source": "prometheus",
                                                   "ci_ids": ["ci-001"], "labels": {"team": "db"}})
    assert created.status == 201
    inc = created.data
    assert inc["reference"] == "INC-00000001" and inc["status"] == "triggered" and inc["version"] == 1
    assert inc["labels"] == {"team": "db"} and inc["created_by"] == client.email
    assert created.headers["ETag"] == '"1"'
    for key in (inc["id"], inc["reference"]):
        got = await client.get(f"/api/incidents/{key}")
        assert got.data["id"] == inc["id"]
    listed = await client.get("/api/incidents?status=triggered&severity=P1&limit=10")
    assert listed.data["total"] == 1 and listed.data["limit"] == 10 and listed.data["offset"] == 0
    assert listed.data["items"][0]["id"] == inc["id"]


@pytest.mark.parametrize("body,fields", [
    ({"severity": "P1"}, ["title"]),
    ({"title": "x", "severity": "P9"}, ["severity"]),
    ({"title": 5, "severity": "P1"}, ["title"]),
    ({"title": "x", "severity": "P1", "ci_ids": "ci-1"}, ["ci_ids"]),
    ({"title": "x", "severity": "P1", "ci_ids": [1]}, ["ci_ids[0]"]),
    ({"title": "x", "severity": "P1", "owner": "me"}, ["owner"]),
    ({"title": "", "severity": "P1"}, ["title"]),
    ([1, 2], ["body"]),
])
async def test_bad_bodies_name_the_failing_fields(acme, body, fields):
    resp = await acme["responder"].post("/api/incidents", body)
    assert_error(resp, 422, "VALIDATION_ERROR", *fields)


async def test_malformed_json_empty_and_oversize_bodies(acme):
    client = acme["responder"]
    resp = await client.call("POST", "/api/incidents", data=b'{"title": "x",', headers={"Content-Type": "application/json"})
    assert_error(resp, 422, "VALIDATION_ERROR", "body")
    resp = await client.call("POST", "/api/incidents", data=b"")
    assert_error(resp, 422, "VALIDATION_ERROR", "body")
    resp = await client.post("/api/incidents", {"title": "x" * 70_000, "severity": "P1"})
    assert_error(resp, 413, "VALIDATION_ERROR", "body")
    assert (await client.get("/api/incidents")).data["total"] == 0  # nothing half-accepted


@pytest.mark.parametrize("path,field", [
    ("/api/incidents?limit=0", "limit"), ("/api/incidents?limit=201", "limit"), ("/api/incidents?limit=x", "limit"),
    ("/api/incidents?offset=-1", "offset"), ("/api/incidents?status=exploded", "status"),
    ("/api/incidents?severity=P7", "severity"), ("/api/incidents?sort=password", "sort"),
    ("/api/incidents?order=sideways", "order"), ("/api/incidents?colour=red", "colour"),
    ("/api/incidents/not-an-id", "id"), ("/api/incidents/INC-1", "id"),
])
async def test_bad_query_and_ids(acme, path, field):
    assert_error(await acme["viewer"].get(path), 422, "VALIDATION_ERROR", field)


async def test_patch_validation_if_match_and_conflict(acme):
    client = acme["responder"]
    inc = (await client.post("/api/incidents", {"title": "x", "severity": "P2"})).data
    url = f"/api/incidents/{inc['id']}"
    assert_error(await client.patch(url, {}), 422, "VALIDATION_ERROR", "body")
    assert_error(await client.patch(url, {"title": None}), 422, "VALIDATION_ERROR", "title")
    assert_error(await client.patch(url, {"reference": "INC-2"}), 422, "VALIDATION_ERROR", "reference")
    assert_error(await client.patch(url, {"title": "y"}, headers={"If-Match": "abc"}), 422, "VALIDATION_ERROR",
                 "If-Match")
    ok = await client.patch(url, {"title": "y"}, headers={"If-Match": '"1"'})
    assert ok.data["version"] == 2 and ok.headers["ETag"] == '"2"'
    assert_error(await client.patch(url, {"title": "z"}, headers={"If-Match": '"1"'}), 409, "CONFLICT")
    assert (await client.get(url)).data["title"] == "y"
    assert_error(await client.patch(url, {"status": "resolved"}), 400, "INVALID_TRANSITION", "status")
    moved = await client.patch(url, {"status": "open", "note": "paged"})
    assert moved.data["status"] == "open"
    timeline = (await client.get(url + "/timeline")).data["items"]
    assert [e["kind"] for e in timeline] == ["created", "updated", "transitioned"]
    assert timeline[-1]["message"] == "paged" and timeline[-1]["actor"] == client.email


@pytest.mark.parametrize("value", ['"99999999999999999999"', '"9223372036854775808"', '"\u00b2"', '"\u0663"', '"0"'])
async def test_if_match_out_of_range_or_not_ascii_digits_is_a_validation_error(acme, value):
    """Found by hand: a version beyond int64 or a Unicode digit (`"²"`) in If-Match was a 500."""
    client = acme["responder"]
    inc = (await client.post("/api/incidents", {"title": "x", "severity": "P2"})).data
    resp = await client.patch(f"/api/incidents/{inc['id']}", {"title": "y"}, headers={"If-Match": value})
    assert_error(resp, 422, "VALIDATION_ERROR", "If-Match")
    assert (await client.get(f"/api/incidents/{inc['id']}")).data["version"] == 1


async def test_unknown_route_and_method(acme):
    assert_error(await acme["viewer"].get("/api/nothing-here"), 404, "NOT_FOUND")
    resp = await acme["admin"].call("DELETE", "/api/incidents")
    assert resp.status == 405 and resp.body["code"] == "VALIDATION_ERROR"


async def test_authentication_failures(gateway_env, acme):
    session, base = gateway_env["session"], gateway_env["tenant"]
    good = acme["viewer"]
    assert_error(await request(session, "GET", base + "/api/incidents"), 401, "UNAUTHORIZED")
    assert_error(await request(session, "GET", base + "/api/incidents",
                               headers={"Authorization": "Basic abc", "x-tenant-id": "acme"}), 401, "UNAUTHORIZED")
    assert_error(await request(session, "GET", base + "/api/incidents",
                               headers={"Authorization": f"Bearer {good.token}"}), 401, "UNAUTHORIZED")
    assert_error(await request(session, "GET", base + "/api/incidents",
                               headers={"Authorization": f"Bearer {good.token}", "x-tenant-id": "other"}),
                 401, "UNAUTHORIZED")
    claims = jwt.decode(good.token, options={"verify_signature": False})
    forged = jwt.encode({**claims, "role": "admin"}, "not-the-secret-not-the-secret-not-the-secret", "HS256")
    assert_error(await request(session, "GET", base + "/api/incidents",
                               headers={"Authorization": f"Bearer {forged}", "x-tenant-id": "acme"}), 401,
                 "UNAUTHORIZED")
    secret = gateway_env["runner"].gateway.tenant_tokens.secret
    expired = jwt.encode({**claims, "exp": int(time.time()) - 60}, secret, "HS256")
    resp = await request(session, "GET", base + "/api/incidents",
                         headers={"Authorization": f"Bearer {expired}", "x-tenant-id": "acme"})
    assert_error(resp, 401, "UNAUTHORIZED")
    assert "expired" in resp.body["error"]
    wrong_audience = jwt.encode({**claims, "aud": "vigil-control"}, secret, "HS256")
    assert_error(await request(session, "GET", base + "/api/incidents",
                               headers={"Authorization": f"Bearer {wrong_audience}", "x-tenant-id": "acme"}),
                 401, "UNAUTHORIZED")
    # A tenant-plane token is no good on the control plane.
    assert_error(await request(session, "GET", gateway_env["control"] + "/api/tenants",
                               headers={"Authorization": f"Bearer {good.token}"}), 401, "UNAUTHORIZED")
    # A Unicode email on the control plane is a wrong sign-in, not a failure.
    assert_error(await request(session, "POST", gateway_env["control"] + "/api/auth/token",
                               json={"email": "öé@vigil.test", "password": "x"}), 401, "UNAUTHORIZED")
    # Wrong password.
    resp = await request(session, "POST", base + "/api/auth/token",
                         json={"email": good.email, "password": "wrong-password", "tenant_id": "acme"})
    assert_error(resp, 401, "UNAUTHORIZED")


async def test_viewer_never_mutates_and_roles_hold(acme):
    viewer = acme["viewer"]
    assert_error(await viewer.post("/api/incidents", {"title": "x", "severity": "P1"}), 403, "FORBIDDEN")
    inc = (await acme["responder"].post("/api/incidents", {"title": "x", "severity": "P1"})).data
    assert_error(await viewer.patch(f"/api/incidents/{inc['id']}", {"title": "y"}), 403, "FORBIDDEN")
    assert (await viewer.get(f"/api/incidents/{inc['id']}")).data["title"] == "x"
    assert (await acme["admin"].patch(f"/api/incidents/{inc['id']}", {"title": "z"})).data["title"] == "z"


async def test_refresh_rotates_and_old_refresh_token_dies(gateway_env, acme):
    session, base = gateway_env["session"], gateway_env["tenant"]
    first = await request(session, "POST", base + "/api/auth/token",
                          json={"email": acme["viewer"].email, "password": api.PASSWORD},
                          headers={"x-tenant-id": "acme"})
    refresh_token = first.data["refresh_token"]
    assert first.data["user"] == {"email": acme["viewer"].email, "role": "viewer", "tenant_id": "acme"}
    second = await request(session, "POST", base + "/api/auth/refresh", json={"refresh_token": refresh_token})
    assert second.data["token"] and second.data["refresh_token"] != refresh_token
    assert_error(await request(session, "POST", base + "/api/auth/refresh", json={"refresh_token": refresh_token}),
                 401, "UNAUTHORIZED")
    me = await request(session, "GET", base + "/api/auth/me",
                       headers={"Authorization": f"Bearer {second.data['token']}", "x-tenant-id": "acme"})
    assert me.data["role"] == "viewer"


async def test_suspended_tenant_is_refused_and_can_come_back(gateway_env, acme):
    session, control = gateway_env["session"], gateway_env["control"]
    op = {"Authorization": f"Bearer {await api.operator_token(session, control)}"}
    assert (await request(session, "POST", control + "/api/tenants/acme/suspend", headers=op)).data["status"] == "suspended"
    assert_error(await acme["admin"].get("/api/incidents"), 403, "FORBIDDEN")
    assert_error(await request(session, "POST", gateway_env["tenant"] + "/api/auth/token",
                               json={"email": acme["admin"].email, "password": api.PASSWORD, "tenant_id": "acme"}),
                 403, "FORBIDDEN")
    await request(session, "POST", control + "/api/tenants/acme/activate", headers=op)
    assert (await acme["admin"].get("/api/incidents")).status == 200


async def test_control_plane(gateway_env):
    session, control = gateway_env["session"], gateway_env["control"]
    bad = await request(session, "POST", control + "/api/auth/token",
                        json={"email": api.OPERATOR_EMAIL, "password": "nope"})
    assert_error(bad, 401, "UNAUTHORIZED")
    op = {"Authorization": f"Bearer {await api.operator_token(session, control)}"}
    assert_error(await request(session, "POST", control + "/api/tenants", json={"name": "X", "id": "Bad Id!"},
                               headers=op), 422, "VALIDATION_ERROR", "id")
    assert_error(await request(session, "POST", control + "/api/tenants", json={"name": "X", "plan": "gold"},
                               headers=op), 422, "VALIDATION_ERROR", "plan")
    made = (await request(session, "POST", control + "/api/tenants", json={"name": "Globex", "id": "globex"},
                          headers=op)).data
    assert made["status"] == "active"
    assert_error(await request(session, "POST", control + "/api/tenants", json={"name": "again", "id": "globex"},
                               headers=op), 409, "CONFLICT", "id")
    assert_error(await request(session, "POST", control + "/api/tenants/globex/users",
                               json={"email": "x@y", "password": "long-enough", "role": "root"}, headers=op),
                 422, "VALIDATION_ERROR", "role")
    assert_error(await request(session, "POST", control + "/api/tenants/nope/users",
                               json={"email": "x@y", "password": "long-enough", "role": "admin"}, headers=op),
                 404, "NOT_FOUND")
    listed = (await request(session, "GET", control + "/api/tenants?limit=5", headers=op)).data
    assert "globex" in [t["id"] for t in listed["items"]] and listed["limit"] == 5
    user = (await request(session, "POST", control + "/api/tenants/globex/users",
                          json={"email": "Ops@Globex.io", "password": "long-enough", "role": "responder"},
                          headers=op)).data
    assert user["email"] == "ops@globex.io" and "password" not in str(user)
    changed = (await request(session, "PATCH", control + f"/api/tenants/globex/users/{user['id']}",
                             json={"role": "viewer"}, headers=op)).data
    assert changed["role"] == "viewer"


async def test_idempotency_key_replays_the_first_response(acme):
    client = acme["responder"]
    key = {"Idempotency-Key": "create-db-incident-1"}
    body = {"title": "DB down", "severity": "P1"}
    first = await client.post("/api/incidents", body, headers=key)
    again = await client.post("/api/incidents", body, headers=key)
    assert first.status == again.status == 201
    assert again.body == first.body and again.headers["Idempotent-Replayed"] == "true"
    assert (await client.get("/api/incidents")).data["total"] == 1
    # Same key, different request: refused, nothing created.
    other = await client.post("/api/incidents", {"title": "other", "severity": "P2"}, headers=key)
    assert_error(other, 422, "VALIDATION_ERROR", "Idempotency-Key")
    # A failed request does not burn its key.
    bad_key = {"Idempotency-Key": "k2"}
    assert (await client.post("/api/incidents", {"title": "x", "severity": "P1", "zzz": 1}, headers=bad_key)).status == 422
    assert (await client.post("/api/incidents", {"title": "x", "severity": "P1"}, headers=bad_key)).status == 201
    # Keys are per tenant: another tenant's identical key is its own.
    assert (await client.get("/api/incidents")).data["total"] == 2


async def test_idempotency_key_is_per_tenant(gateway_env, acme):
    other = await api.tenant(gateway_env["session"], gateway_env["tenant"], gateway_env["control"], "globex",
                             roles=("responder",))
    key = {"Idempotency-Key": "same-key"}
    mine = await acme["responder"].post("/api/incidents", {"title": "a", "severity": "P1"}, headers=key)
    theirs = await other["responder"].post("/api/incidents", {"title": "a", "severity": "P1"}, headers=key)
    assert mine.status == theirs.status == 201
    assert mine.data["id"] != theirs.data["id"] and "Idempotent-Replayed" not in theirs.headers


async def test_a_claim_abandoned_by_a_dead_gateway_is_taken_over_and_the_retry_writes_nothing_twice(
        gateway_env, acme):
    from gateway.idempotency import PENDING_LEASE, keys

    client = acme["responder"]
    key = {"Idempotency-Key": "lost-answer"}
    body = {"title": "DB down", "severity": "P1"}
    first = await client.post("/api/incidents", body, headers=key)
    assert first.status == 201
    # What a gateway killed after the service committed leaves behind: the claim still pending.
    db = gateway_env["runner"].gateway.db

    async def pending(age) -> None:
        async with db.write() as conn:
            await conn.execute(keys.update().where(keys.c.key == "lost-answer").values(
                status=0, body=b"", created_at=datetime.now(UTC) - age))

    await pending(timedelta(seconds=1))
    assert_error(await client.post("/api/incidents", body, headers=key), 409, "CONFLICT")  # still in its lease
    await pending(PENDING_LEASE + timedelta(seconds=1))
    retried = await client.post("/api/incidents", body, headers=key)
    # Taken over and run again; the service derives the incident's id from the key: the same incident.
    assert retried.status == 201 and "Idempotent-Replayed" not in retried.headers
    assert retried.data["id"] == first.data["id"] and retried.data["reference"] == first.data["reference"]
    assert (await client.get("/api/incidents")).data["total"] == 1
    replayed = await client.post("/api/incidents", body, headers=key)
    assert replayed.headers["Idempotent-Replayed"] == "true" and replayed.data["id"] == first.data["id"]
