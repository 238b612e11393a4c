"""An idempotent consumer acts once per event id even when deliveries of one event are handled at the same
moment by two replicas (a rebalance), on SQLite and PostgreSQL; a delivery whose handler failed leaves no
record, so the next delivery acts."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from vigil.runtime import outbox
from vigil.runtime.bus import EventConsumer
from vigil.runtime.cloudevents import CloudEvent
from vigil.runtime.db import Database, schema_for

metadata = sa.MetaData()
_, processed = outbox.define_tables(metadata)
effects = sa.Table("effects", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                   sa.Column("event_id", sa.String(64), nullable=False))


@pytest.fixture
async def replicas(database_url):
    dbs = [Database(database_url, "consumer") for _ in range(2)]
    async with dbs[0].writer.begin() as conn:
        if dbs[0].is_postgres:
            await conn.execute(sa.text(f'CREATE SCHEMA "{schema_for("consumer")}"'))
        await conn.run_sync(metadata.create_all)
    yield dbs
    for db in dbs:
        await db.dispose()


def consumer(db: Database, handler) -> EventConsumer:
    return EventConsumer(db, processed, bootstrap="unused:9092", topics=["t"], group_id="g", handler=handler)


async def count(db: Database) -> int:
    async with db.read() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(effects))).scalar_one()


async def test_one_event_handled_at_once_by_two_replicas_acts_once(replicas):
    async def handler(conn, event: CloudEvent) -> None:
        await conn.execute(effects.insert().values(event_id=event.id))
        await asyncio.sleep(0.01)  # the effect takes a while; the other delivery arrives meanwhile

    consumers = [consumer(db, handler) for db in replicas]
    event = CloudEvent(type="thing.happened", source="test", tenant_id="t1", data=b"")
    results = await asyncio.gather(*(consumers[i % 2].handle(event) for i in range(10)))
    assert results.count(True) == 1 and results.count(False) == 9
    assert sum(c.skipped_duplicates for c in consumers) == 9
    assert await count(replicas[0]) == 1


async def test_a_failed_delivery_is_not_recorded(replicas):
    calls = []

    async def handler(conn, event: CloudEvent) -> None:
        calls.append(event.id)
        await conn.execute(effects.insert().values(event_id=event.id))
        if len(calls) == 1:
            raise RuntimeError("the database of the effect is away")

    c = consumer(replicas[0], handler)
    event = CloudEvent(type="thing.happened", source="test", tenant_id="t1", data=b"")
    with pytest.raises(RuntimeError):
        await c.handle(event)
    assert await c.handle(event) is True and await c.handle(event) is False
    assert await count(replicas[0]) == 1


async def test_an_event_the_handler_does_not_want_costs_no_write(replicas):
    class Handler:
        async def wanted(self, event: CloudEvent) -> bool:
            return event.tenant_id == "asks"

        async def __call__(self, conn, event: CloudEvent) -> None:
            await conn.execute(effects.insert().values(event_id=event.id))

    c = consumer(replicas[0], Handler())
    unwanted = CloudEvent(type="thing.happened", source="test", tenant_id="quiet", data=b"")
    wanted = CloudEvent(type="thing.happened", source="test", tenant_id="asks", data=b"")
    assert await c.handle(unwanted) is False and await c.handle(wanted) is True
    assert await count(replicas[0]) == 1
    async with replicas[0].read() as conn:  # nothing recorded for the unwanted event: no write was made for it
        recorded = (await conn.execute(sa.select(processed.c.event_id))).scalars().all()
    assert recorded == [wanted.id]
