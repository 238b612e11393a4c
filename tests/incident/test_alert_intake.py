"""The intake consumer on the real Kafka broker and a real SQLite store: what the gateway's producer accepted is
decided and stored once, in order per fingerprint; a consumer that starts over from the beginning (a crash
before its offset commit) stores nothing twice; a message that is not an alert goes to the dead-letter topic."""

import asyncio
import uuid
from collections import Counter
from datetime import timedelta

import orjson
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from gateway.ingest.alerts import AlertIntake, Source, from_generic
from gateway.schemas.alerts import GenericBatch
from services.incident.alerts.events import AlertEvents
from services.incident.alerts.intake import AlertIntakeConsumer
from services.incident.alerts.service import AlertProcessor
from services.incident.alerts.store import AlertStore, alerts
from services.incident.events import IncidentEvents
from services.incident.integrations.service import IntegrationService
from services.incident.integrations.store import IntegrationStore
from services.incident.store import IncidentStore, incidents
from vigil.runtime import bus
from vigil.runtime.clock import now
from vigil.runtime.context import CallContext

pytestmark = pytest.mark.kafka


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'incident.db'}"


async def wait_for(predicate, timeout=60.0):
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.1)


async def test_accepted_alerts_are_decided_once_even_when_consumed_again(database, outbox, kafka_bootstrap):
    topic, dlq = f"alerts-{uuid.uuid4().hex}", f"alerts-dlq-{uuid.uuid4().hex}"
    await bus.ensure_topics(kafka_bootstrap, [topic, dlq], partitions=3)
    integrations = IntegrationStore(database)
    integration, _ = await IntegrationService(integrations).create(
        CallContext(tenant_id="t1", actor="a", role="admin"), "gen", "generic", {})
    store = AlertStore(database, IncidentStore(database, IncidentEvents(outbox)), integrations, AlertEvents(outbox))
    processor = AlertProcessor(store, integrations, None)
    source = Source("t1", integration.id, "gen", "generic")
    intake = AlertIntake(kafka_bootstrap, topic)
    t = now()
    firing = [{"title": f"svc {i % 10} down", "fingerprint": f"fp{i % 10}", "starts_at": t.isoformat()}
              for i in range(100)]
    resolved = [{"title": f"svc {i} down", "fingerprint": f"fp{i}", "status": "resolved",
                 "ends_at": (t + timedelta(seconds=1)).isoformat()} for i in range(5)]
    await intake.publish(from_generic(GenericBatch.model_validate_json(orjson.dumps({"alerts": firing})), source, t))
    await intake.publish(from_generic(GenericBatch.model_validate_json(orjson.dumps({"alerts": resolved})), source,
                                      t + timedelta(seconds=1)))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    await producer.send_and_wait(topic, b"not an alert", key=b"junk")
    await producer.stop()

    async def stored(n):
        async with database.read() as conn:
            return (await conn.execute(sa.select(sa.func.count()).select_from(alerts))).scalar_one() >= n

    group = f"g-{uuid.uuid4().hex}"
    first = AlertIntakeConsumer(processor, bootstrap=kafka_bootstrap, group_id=group, topic=topic,
                                dead_letter_topic=dlq, max_batch=37,
                                producer_factory=lambda: bus.producer(kafka_bootstrap, "test-dlq"))
    first.start()
    try:
        await wait_for(lambda: stored(105))
        await wait_for(lambda: asyncio.sleep(0, first.dead_lettered == 1))
    finally:
        await first.stop()
    # A consumer of a new group reads everything again, as after a crash before any offset commit.
    again = AlertIntakeConsumer(processor, bootstrap=kafka_bootstrap, group_id=f"g-{uuid.uuid4().hex}", topic=topic,
                                dead_letter_topic=dlq)
    again.start()
    try:
        await wait_for(lambda: asyncio.sleep(0, again.batches >= 1 and again.dead_lettered >= 1))
        await asyncio.sleep(1.0)
    finally:
        await again.stop()
    assert again.processed == 0
    async with database.read() as conn:
        decisions = Counter((await conn.execute(sa.select(alerts.c.decision))).scalars())
        statuses = Counter((await conn.execute(sa.select(incidents.c.status))).scalars())
    assert decisions == {"created": 10, "duplicate": 90, "resolved": 5}
    assert statuses == {"resolved": 5, "triggered": 5}
    reader = AIOKafkaConsumer(dlq, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest")
    await reader.start()
    try:
        msgs = [m for batch in (await reader.getmany(timeout_ms=5000)).values() for m in batch]
    finally:
        await reader.stop()
    assert [m.value for m in msgs] == [b"not an alert"]
    assert dict(msgs[0].headers)["vigil_dlq_reason"] == b"not an alert message"
