"""Two gateway replicas on one PostgreSQL database (and one incident service): a tenant's rate limit holds across
them, a revocation through one is immediate there and reaches the other within VIGIL_API_KEY_CACHE_SECONDS, and
both write one audit log."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from gateway.app import Runner
from gateway.config import GatewaySettings
from services.incident.config import IncidentSettings
from services.incident.server import build
from tests.support import api

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
INCIDENT = {"title": "Replica test", "severity": "P3"}
KEY_CACHE_SECONDS = 1.0


@pytest.fixture
async def replicas(tmp_path: Path, kafka_bootstrap: str, postgres_url: str):
    runtime = await build(IncidentSettings(data_dir=tmp_path, grpc_port=0, kafka_bootstrap=kafka_bootstrap,
                                           log_json=False))
    port = await runtime.start()
    runners = []
    for i in range(2):
        settings = GatewaySettings(
            data_dir=tmp_path / f"gw{i}", tenant_port=0, control_port=0, kafka_bootstrap=kafka_bootstrap,
            database_url=postgres_url, jwt_secret="shared-secret-of-both-replicas-0123456789",
            operator_email=api.OPERATOR_EMAIL, operator_password=api.OPERATOR_PASSWORD,
            incident_addr=f"127.0.0.1:{port}", api_key_cache_seconds=KEY_CACHE_SECONDS, tenant_cache_seconds=0.5)
        runner = Runner(settings)
        await runner.start()
        runners.append(runner)
    async with aiohttp.ClientSession() as session:
        bases = [(f"http://127.0.0.1:{r.ports['tenant']}", f"http://127.0.0.1:{r.ports['control']}")
                 for r in runners]
        yield session, bases
    for runner in runners:
        await runner.stop()
    await runtime.stop()


async def test_the_rate_limit_holds_across_replicas(replicas):
    session, bases = replicas
    clients = (await api.tenant(session, bases[0][0], bases[0][1], "acme", roles=("admin", "responder")))
    op = {"Authorization": f"Bearer {await api.operator_token(session, bases[1][1])}"}
    await api.request(session, "PATCH", f"{bases[1][1]}/api/tenants/acme/limits", headers=op,
                      json={"rate_limits": {"write": 12}})
    await asyncio.sleep(0.6)  # both replicas' tenant caches see the override
    await api.wait_for_a_fresh_minute_if_this_one_ends_soon()
    responder = clients["responder"]

    async def create(base: str) -> int:
        resp = await api.request(session, "POST", base + "/api/incidents", json=INCIDENT, headers=responder.headers)
        return resp.status

    statuses = await asyncio.gather(*(create(bases[i % 2][0]) for i in range(60)))
    assert statuses.count(201) == 12 and statuses.count(429) == 48
    assert statuses[0::2].count(201) > 0 and statuses[1::2].count(201) > 0  # both replicas served some


async def test_revocation_reaches_the_other_replica_within_the_cache_bound(replicas):
    session, bases = replicas
    admin = (await api.tenant(session, bases[0][0], bases[0][1], "globex", roles=("admin",)))["admin"]
    minted = (await api.request(session, "POST", bases[1][0] + "/api/api-keys", headers=admin.headers,
                                json={"name": "k", "scopes": ["incidents:read"], "role": "viewer"})).data
    headers = {"X-Api-Key": minted["token"]}
    for base, _ in bases:  # both replicas have verified (and cached) the key
        assert (await api.request(session, "GET", base + "/api/incidents", headers=headers)).status == 200
    revoked_at = time.monotonic()
    assert (await admin.post(f"/api/api-keys/{minted['id']}/revoke")).status == 200
    assert (await api.request(session, "GET", bases[0][0] + "/api/incidents", headers=headers)).status == 401
    while (await api.request(session, "GET", bases[1][0] + "/api/incidents", headers=headers)).status != 401:
        assert time.monotonic() - revoked_at < KEY_CACHE_SECONDS + 2, "the other replica kept accepting the key"
        await asyncio.sleep(0.05)
    # both replicas write the one audit log (the mint went through the second, the revocation the first)
    entries = (await admin.get("/api/audit")).data["items"]
    assert {"/api/api-keys", "/api/api-keys/{id}/revoke"} <= {e["route"] for e in entries}
