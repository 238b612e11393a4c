"""The incident service is SIGKILLed while a storm of alerts is being accepted, then restarted: every alert the
gateway accepted (202) is stored exactly once, and each fingerprint has exactly one incident. Requests that
arrive while the service is down are refused (503; the integration key cannot be checked) and re-sent, as
Alertmanager re-sends."""

import asyncio
from collections import Counter
from datetime import UTC, datetime

import aiohttp
import pytest

from tests.conftest import urls
from tests.support import api
from tests.support.alerts import am_alert, am_webhook, integration

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

FINGERPRINTS = 100
SENDERS = 4
WEBHOOKS_PER_SENDER = 25
PER_WEBHOOK = 50


async def test_every_accepted_alert_counted_once_across_a_crash(stack_factory):
    stack = stack_factory(services=("incident",))
    tenant_url, control_url = urls(stack)
    accepted: list[str] = []
    refused = Counter()
    async with aiohttp.ClientSession() as session:
        admin = (await api.tenant(session, tenant_url, control_url, roles=("admin",)))["admin"]
        _created, key = await integration(admin)
        started = datetime.now(UTC)

        async def sender(n: int) -> None:
            for w in range(WEBHOOKS_PER_SENDER):
                first = (n * WEBHOOKS_PER_SENDER + w) * PER_WEBHOOK
                alerts = [am_alert(f"Rule{(first + i) % FINGERPRINTS}", fingerprint=f"fp-{(first + i) % FINGERPRINTS}",
                                   starts=started) for i in range(PER_WEBHOOK)]
                while True:
                    resp = await api.request(session, "POST", tenant_url + "/api/alerts/alertmanager",
                                             json=am_webhook(*alerts), headers={"Authorization": f"Bearer {key}"})
                    if resp.status == 202:
                        accepted.extend(resp.data["alert_ids"])
                        break
                    refused[resp.status] += 1
                    assert resp.status == 503, resp.body  # never a 500, never a partial accept
                    await asyncio.sleep(0.2)

        async def crash() -> None:
            while len(accepted) < 1000:
                await asyncio.sleep(0.05)
            stack.kill("incident")  # a crash, as far as the supervisor knows: it restarts the service

        await asyncio.gather(crash(), *(sender(n) for n in range(SENDERS)))
        assert len(accepted) == SENDERS * WEBHOOKS_PER_SENDER * PER_WEBHOOK
        assert refused[503] > 0, "the storm should have met the outage"

        async with asyncio.timeout(120):
            while True:
                resp = await admin.get("/api/alerts", params={"limit": 1})
                if resp.status == 200 and resp.data["total"] >= len(accepted):
                    break
                await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)  # a double count, if any, would land now
        seen: list[str] = []
        offset = 0
        while True:
            page = (await admin.get("/api/alerts", params={"limit": 200, "offset": offset, "order": "asc"})).data
            seen.extend(a["id"] for a in page["items"])
            decisions = Counter(a["decision"] for a in page["items"])
            assert set(decisions) <= {"created", "duplicate", "joined"}
            offset += 200
            if offset >= page["total"]:
                break
        assert len(seen) == len(set(seen)) == len(accepted)
        assert set(seen) == set(accepted)
        incidents = (await admin.get("/api/incidents", params={"limit": 200})).data
        assert incidents["total"] == FINGERPRINTS
        created = (await admin.get("/api/alerts", params={"decision": "created", "limit": 1})).data["total"]
        assert created == FINGERPRINTS
