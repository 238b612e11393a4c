"""The transactional outbox: a state change and its event commit in one transaction; a relay publishes the
committed events to Kafka afterwards, in commit order, and deletes them once the broker acknowledged them.

If Kafka is down, events wait in the table and the service goes on serving; the relay retries with backoff.
The producer is idempotent (acks=all) so its own retries never duplicate; a crash between the broker's
acknowledgement and the delete re-sends a batch, which consumers absorb by event id (see bus.EventConsumer).
On PostgreSQL a session advisory lock keeps exactly one relay active among a service's replicas.
"""

from __future__ import annotations

import asyncio
import logging
import zlib

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.runtime import telemetry
from vigil.runtime.clock import as_utc
from vigil.runtime.cloudevents import CloudEvent
from vigil.runtime.db import Database

log = logging.getLogger("vigil.outbox")

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def define_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    outbox = sa.Table(
        "outbox",
        metadata,
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("dataschema", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("traceparent", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    processed = sa.Table(
        "processed_events",
        metadata,
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )
    return outbox, processed


def create_tables(op) -> None:
    """For a service's first migration: the outbox and the consumer dedup table."""
    for table in define_tables(sa.MetaData()):
        op.create_table(table.name, *[c._copy() for c in table.columns])


class Outbox:
    def __init__(self, table: sa.Table, source: str) -> None:
        self.table = table
        self.source = source
        self._wake = asyncio.Event()

    def event_row(self, *, topic: str, key: str, event_type: str, tenant_id: str, payload: bytes,
                  dataschema: str = "", subject: str = "", traceparent: str | None = None) -> dict:
        """An outbox row for one event. The trace context is the caller's unless given (work batched on
        behalf of several requests captures each request's own)."""
        event = CloudEvent(type=event_type, source=self.source, tenant_id=tenant_id, data=payload)
        return {
            "topic": topic, "key": key, "event_id": event.id, "event_type": event_type, "source": self.source,
            "tenant_id": tenant_id, "dataschema": dataschema, "subject": subject, "payload": payload,
            "traceparent": current_traceparent() if traceparent is None else traceparent,
            "created_at": event.time,
        }

    async def add(self, conn: AsyncConnection, **event) -> str:
        """Stage one event in the caller's transaction. Returns the CloudEvent id."""
        row = self.event_row(**event)
        await conn.execute(self.table.insert(), [row])
        return row["event_id"]

    async def add_rows(self, conn: AsyncConnection, rows: list[dict]) -> None:
        """Stage several events (rows from event_row) in one statement."""
        if rows:
            await conn.execute(self.table.insert(), rows)

    def committed(self) -> None:
        """Tell the relay new rows are there (it also polls, for rows written by other processes)."""
        self._wake.set()

    async def wait(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            pass
        self._wake.clear()


def current_traceparent() -> str:
    carrier: dict[str, str] = {}
    telemetry.inject(carrier)
    return carrier.get("traceparent", "")


class OutboxRelay:
    """Publishes outbox rows to Kafka in id order. Run as a background task for the life of the service."""

    def __init__(self, db: Database, outbox: Outbox, producer_factory, poll_seconds: float = 0.5,
                 batch_size: int = 500, service: str = "") -> None:
        self.db = db
        self.outbox = outbox
        self.producer_factory = producer_factory
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.lock_key = zlib.crc32(f"vigil-outbox-{service}".encode())
        self.published = 0
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        backoff = 0.2
        producer = None
        while not self._stopping.is_set():
            try:
                if producer is None:
                    producer = self.producer_factory()
                    await producer.start()
                    backoff = 0.2
                async with self.db.leader_lock(self.lock_key) as leader:
                    while leader and not self._stopping.is_set():
                        sent = await self._publish_batch(producer)
                        if sent < self.batch_size:
                            await self.outbox.wait(self.poll_seconds)
                    if not leader:
                        await asyncio.sleep(self.poll_seconds * 4)
            except asyncio.CancelledError:
                break
            except Exception as exc:  # noqa: BLE001 - broker or database down: keep the rows, retry
                log.warning("outbox relay: %s: %s; retrying in %.1fs", type(exc).__name__, exc, backoff)
                if producer is not None:
                    try:
                        await producer.stop()
                    except Exception:  # noqa: BLE001
                        pass
                    producer = None
                try:
                    await asyncio.wait_for(self._stopping.wait(), backoff)
                except TimeoutError:
                    pass
                backoff = min(backoff * 2, 5.0)
        if producer is not None:
            await producer.stop()

    async def _publish_batch(self, producer) -> int:
        t = self.outbox.table
        async with self.db.read() as conn:
            rows = (await conn.execute(sa.select(t).order_by(t.c.id).limit(self.batch_size))).all()
        if not rows:
            return 0
        futures = []
        for row in rows:
            event = CloudEvent(
                id=row.event_id,
                type=row.event_type,
                source=row.source,
                tenant_id=row.tenant_id,
                data=row.payload,
                dataschema=row.dataschema,
                subject=row.subject,
                time=as_utc(row.created_at),
                traceparent=row.traceparent,
            )
            futures.append(await producer.send(row.topic, value=row.payload, key=row.key.encode(),
                                               headers=event.headers()))
        results = await asyncio.gather(*futures, return_exceptions=True)
        # Forget exactly the rows the broker acknowledged: re-sending an acknowledged row would duplicate it.
        done = [row.id for row, result in zip(rows, results, strict=True) if not isinstance(result, BaseException)]
        if done:
            async with self.db.write() as conn:
                await conn.execute(t.delete().where(t.c.id.in_(done)))
            self.published += len(done)
        failed = next((r for r in results if isinstance(r, BaseException)), None)
        if failed is not None:
            raise failed
        return len(rows)

    def stop(self) -> None:
        self._stopping.set()
        self.outbox.committed()


