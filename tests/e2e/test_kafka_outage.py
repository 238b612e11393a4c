"""The broker goes away while incidents are created and comes back: every incident.created event reaches the
topic exactly once (transactional outbox + idempotent producer + per-row acknowledgement)."""

import asyncio
import uuid
from collections import Counter

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer

from tests.conftest import urls
from tests.support import api
from vigil.runtime import topics
from vigil.runtime.cloudevents import CloudEvent
from vigil.runtime.kafka_local import KafkaBroker, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


async def created_events(bootstrap: str, expected: int, timeout: float = 90.0) -> Counter:
    consumer = AIOKafkaConsumer(topics.INCIDENT_EVENTS, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=f"outage-{uuid.uuid4().hex}")
    await consumer.start()
    seen: Counter = Counter()
    try:
        async with asyncio.timeout(timeout):
            while sum(seen.values()) < expected:
                for msgs in (await consumer.getmany(timeout_ms=500)).values():
                    for m in msgs:
                        event = CloudEvent.from_kafka(m.headers, m.value)
                        if event.type == "incident.created":
                            seen[m.key.decode()] += 1
        for _ in range(6):  # duplicates, if any, would arrive now
            for msgs in (await consumer.getmany(timeout_ms=500)).values():
                for m in msgs:
                    if CloudEvent.from_kafka(m.headers, m.value).type == "incident.created":
                        seen[m.key.decode()] += 1
    finally:
        await consumer.stop()
    return seen


async def test_no_event_lost_or_doubled_across_a_broker_outage(stack_factory, tmp_path):
    broker = KafkaBroker(tmp_path / "kafka", free_port(), free_port()).start()
    try:
        stack = stack_factory(env={"VIGIL_KAFKA_BOOTSTRAP": broker.bootstrap}, services=("incident",))
        tenant_url, control_url = urls(stack)
        created: list[str] = []
        async with aiohttp.ClientSession() as session:
            client = (await api.tenant(session, tenant_url, control_url, "outage", roles=("responder",)))["responder"]

            async def create(n: int, phase: str) -> None:
                for i in range(n):
                    resp = await client.post("/api/incidents", {"title": f"{phase} {i}", "severity": "P2"})
                    assert resp.status == 201, resp.body
                    created.append(resp.data["id"])

            await create(15, "before")
            await asyncio.sleep(1.0)
            await asyncio.to_thread(broker.stop)
            await create(25, "during")  # accepted while Kafka is down: the outbox keeps the events
            await asyncio.to_thread(broker.start)
            await create(10, "after")
        seen = await created_events(broker.bootstrap, len(created))
        assert set(seen) == set(created), f"lost: {set(created) - set(seen)}"
        doubled = {k: v for k, v in seen.items() if v != 1}
        assert not doubled, f"doubled: {doubled}"
    finally:
        broker.stop()
