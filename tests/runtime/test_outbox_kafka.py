"""The outbox relay and idempotent consumers against the real Kafka broker."""

import asyncio
import uuid

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer

from vigil.runtime import bus, outbox
from vigil.runtime.cloudevents import CloudEvent
from vigil.runtime.db import Database

pytestmark = pytest.mark.kafka

metadata = sa.MetaData()
outbox_table, processed = outbox.define_tables(metadata)
effects = sa.Table("effects", metadata, sa.Column("event_id", sa.String(64), primary_key=True),
                   sa.Column("n", sa.Integer))


@pytest.fixture
async def db(database_url):
    database = Database(database_url, "bus_test")
    if database.is_postgres:
        async with database.writer.begin() as conn:
            await conn.execute(sa.text('CREATE SCHEMA IF NOT EXISTS "vigil_bus_test"'))
    async with database.write() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


async def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 20.0) -> list:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=f"reader-{uuid.uuid4().hex}")
    await consumer.start()
    got = []
    try:
        async with asyncio.timeout(timeout):
            while len(got) < expected:
                batch = await consumer.getmany(timeout_ms=500)
                for msgs in batch.values():
                    got.extend(msgs)
        await asyncio.sleep(0.5)  # anything beyond `expected` would show up here
        for msgs in (await consumer.getmany(timeout_ms=500)).values():
            got.extend(msgs)
    finally:
        await consumer.stop()
    return got


async def test_relay_publishes_committed_events_as_cloudevents_in_order(db, kafka_bootstrap):
    topic = f"test.outbox.{uuid.uuid4().hex[:8]}"
    box = outbox.Outbox(outbox_table, source="vigil/test")
    ids = []
    for i in range(20):
        async with db.write() as conn:
            ids.append(await box.add(conn, topic=topic, key="agg-1", event_type="thing.happened",
                                     tenant_id="tenant-x", payload=f"payload-{i}".encode(), subject=f"s{i}"))
    # A rolled-back transaction leaves no event behind.
    with pytest.raises(RuntimeError):
        async with db.write() as conn:
            await box.add(conn, topic=topic, key="agg-1", event_type="thing.happened", tenant_id="tenant-x",
                          payload=b"never")
            raise RuntimeError("rollback")
    relay = outbox.OutboxRelay(db, box, lambda: bus.producer(kafka_bootstrap, "test"), poll_seconds=0.1)
    task = asyncio.create_task(relay.run())
    try:
        messages = await read_topic(kafka_bootstrap, topic, 20)
    finally:
        relay.stop()
        await task
    events = [CloudEvent.from_kafka(m.headers, m.value) for m in messages]
    assert [e.id for e in events] == ids
    assert [e.data for e in events] == [f"payload-{i}".encode() for i in range(20)]
    first = events[0]
    assert (first.type, first.source, first.tenant_id, first.subject) == ("thing.happened", "vigil/test", "tenant-x", "s0")
    headers = dict(messages[0].headers)
    assert headers["ce_specversion"] == b"1.0" and headers["content-type"] == b"application/protobuf"
    async with db.read() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(outbox_table))).scalar_one() == 0


async def test_consumer_acts_once_per_event_even_when_delivered_twice(db, kafka_bootstrap):
    topic = f"test.consume.{uuid.uuid4().hex[:8]}"
    await bus.ensure_topics(kafka_bootstrap, [topic], partitions=1)

    async def apply(conn, event: CloudEvent) -> None:
        await conn.execute(effects.insert().values(event_id=event.id, n=1))

    producer = bus.producer(kafka_bootstrap, "dup-test")
    await producer.start()
    events = [CloudEvent(type="x.y", source="t", tenant_id="t1", data=str(i).encode()) for i in range(5)]
    try:
        for event in events + events[:3]:  # the first three are delivered twice
            await producer.send_and_wait(topic, event.data, headers=event.headers())
        await producer.send_and_wait(topic, b"not a cloudevent")  # skipped, not fatal
    finally:
        await producer.stop()
    consumer = bus.EventConsumer(db, processed, bootstrap=kafka_bootstrap, topics=[topic], group_id="g1",
                                 handler=apply)
    consumer.start()
    try:
        async with asyncio.timeout(20):
            while consumer.handled + consumer.skipped_duplicates < 8:
                await asyncio.sleep(0.1)
    finally:
        await consumer.stop()
    assert (consumer.handled, consumer.skipped_duplicates) == (5, 3)
    async with db.read() as conn:
        rows = (await conn.execute(sa.select(effects.c.event_id))).scalars().all()
    assert sorted(rows) == sorted(e.id for e in events)

    # A restarted consumer in the same group resumes after its committed offsets: nothing is applied again.
    again = bus.EventConsumer(db, processed, bootstrap=kafka_bootstrap, topics=[topic], group_id="g1", handler=apply)
    again.start()
    await asyncio.sleep(3)
    await again.stop()
    assert again.handled == 0
