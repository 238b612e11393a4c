"""Rate limits and plan quotas through a real gateway and incident service: the operator's overrides, 429 with
Retry-After and X-RateLimit-* headers on every answer, the incidents-per-month quota under concurrent creates,
402 naming the quota, and the usage the control plane reports."""

from __future__ import annotations

import asyncio

import pytest

from tests.support import api
from tests.support.api import operator_token, request

pytestmark = pytest.mark.kafka
INCIDENT = {"title": "Queue backlog", "severity": "P3"}


async def set_limits(env, tenant: str, **body) -> dict:
    session, control = env["session"], env["control"]
    op = {"Authorization": f"Bearer {await operator_token(session, control)}"}
    resp = await request(session, "PATCH", f"{control}/api/tenants/{tenant}/limits", headers=op, json=body)
    assert resp.status == 200, resp.body
    return resp.data


async def control_get(env, path: str) -> dict:
    session, control = env["session"], env["control"]
    op = {"Authorization": f"Bearer {await operator_token(session, control)}"}
    return (await request(session, "GET", control + path, headers=op)).data


async def test_limits_follow_the_plan_and_the_operators_overrides(gateway_env, acme):
    plain = await control_get(gateway_env, "/api/tenants/acme/limits")
    assert plain["plan"] == "free" and plain["overrides"] == {}
    changed = await set_limits(gateway_env, "acme", rate_limits={"write": 7}, quotas={"users": 9})
    assert changed["rate_limits"]["write"] == 7 and changed["quotas"]["users"] == 9
    assert changed["rate_limits"]["read"] == plain["rate_limits"]["read"]
    assert changed["overrides"] == {"rate_limits": {"write": 7}, "quotas": {"users": 9}}
    back = await set_limits(gateway_env, "acme", rate_limits={"write": None})
    assert back["rate_limits"]["write"] == plain["rate_limits"]["write"] and back["overrides"] == {"quotas": {"users": 9}}


async def test_rate_limit_per_class_with_headers_on_every_answer(gateway_env, acme):
    await set_limits(gateway_env, "acme", rate_limits={"write": 5, "read": 1000})
    responder = acme["responder"]
    # 20 creates across a minute's end would meet two windows of 5 (seen: 10 created, the burst at :59.5)
    await api.wait_for_a_fresh_minute_if_this_one_ends_soon()
    answers = await asyncio.gather(*(responder.post("/api/incidents", INCIDENT) for _ in range(20)))
    created = [a for a in answers if a.status == 201]
    limited = [a for a in answers if a.status == 429]
    assert len(created) == 5 and len(limited) == 15
    for a in limited:
        assert a.body["code"] == "RATE_LIMIT" and int(a.headers["Retry-After"]) >= 1
        assert a.headers["X-RateLimit-Limit"] == "5" and a.headers["X-RateLimit-Remaining"] == "0"
    assert sorted(int(a.headers["X-RateLimit-Remaining"]) for a in created) == [0, 1, 2, 3, 4]
    assert len({a.headers["X-RateLimit-Reset"] for a in answers}) == 1
    # reads have their own bucket; an error answer carries the headers too
    read = await responder.get("/api/incidents")
    assert read.status == 200 and read.headers["X-RateLimit-Limit"] == "1000"
    missing = await responder.get("/api/incidents/INC-99999999")
    assert missing.status == 404 and "X-RateLimit-Remaining" in missing.headers


async def test_incidents_per_month_quota_under_concurrent_creates(gateway_env, acme):
    await set_limits(gateway_env, "acme", quotas={"incidents_per_month": 3})
    responder = acme["responder"]
    assert (await responder.post("/api/incidents", INCIDENT)).status == 201
    await set_limits(gateway_env, "acme", quotas={"incidents_per_month": 8})
    answers = await asyncio.gather(*(responder.post("/api/incidents", INCIDENT) for _ in range(25)))
    assert sum(a.status == 201 for a in answers) == 7
    refused = [a for a in answers if a.status == 402]
    assert len(refused) == 18 and all(a.body["code"] == "QUOTA_EXCEEDED" for a in refused)
    assert "incidents_per_month" in refused[0].body["error"]
    assert refused[0].body["fields"] == [{"field": "quota", "message": "incidents_per_month"}]
    assert (await responder.get("/api/incidents")).data["total"] == 8
    # an invalid create uses up nothing: with room for one more, a 422 leaves it there
    await set_limits(gateway_env, "acme", quotas={"incidents_per_month": 9})
    assert (await responder.post("/api/incidents", {"title": "", "severity": "P9"})).status == 422
    assert (await responder.post("/api/incidents", INCIDENT)).status == 201
    usage = await control_get(gateway_env, "/api/tenants/acme/usage")
    assert usage["used"]["incidents_per_month"] == 9 and usage["quotas"]["incidents_per_month"] == 9
    assert usage["used"]["users"] == 3 and usage["month_start"].endswith("+00:00")


async def test_the_users_quota_on_the_control_plane(gateway_env, acme):
    await set_limits(gateway_env, "acme", quotas={"users": 3})  # acme has three already
    session, control = gateway_env["session"], gateway_env["control"]
    op = {"Authorization": f"Bearer {await operator_token(session, control)}"}
    refused = await request(session, "POST", f"{control}/api/tenants/acme/users", headers=op,
                            json={"email": "fourth@acme.test", "password": "password-1234", "role": "viewer"})
    assert refused.status == 402 and "users" in refused.body["error"]
