"""The Kafka bus (aiokafka): the producer every outbox relay uses, and idempotent consumers.

An EventConsumer reads CloudEvents, and for each one records (consumer, event id) in the service's
`processed_events` table in the same transaction as the handler's effect: an event delivered twice (relay
re-send, consumer restart before its offset commit, two replicas during a rebalance) acts once. Offsets are committed by hand after the
transaction, so a crash re-delivers instead of losing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import AIOKafkaConnection, CloseReason
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.runtime import telemetry
from vigil.runtime.cloudevents import CloudEvent
from vigil.runtime.db import Database, dialect_insert

log = logging.getLogger("vigil.bus")
_tracer = trace.get_tracer("vigil.bus")

# For consumers that may lag a little (event handlers, the gateway's webhook feed and live stream): a fetch waits
# up to 100 ms for 64 KiB of events instead of returning with the first one. Under load that is one fetch per
# many events instead of one per few, which took about 0.1 ms of CPU per incident create off the gateway and off
# the AI service each (docs/performance.md); an event may wait up to 100 ms longer.
BATCHED_FETCH = {"fetch_min_bytes": 64 * 1024, "fetch_max_wait_ms": 100}


def _send_or_connection_error(send):
    """aiokafka turns an OSError from writing to a connection the broker closed into a KafkaConnectionError,
    which its background tasks retry. Under uvloop (which every Vigil process runs) that write raises
    RuntimeError instead, and the task that made it (the metadata refresh, the group coordinator) dies
    silently, so a consumer stops fetching for good after the broker restarts (aio-libs/aiokafka#1038,
    open in 0.14.0; seen here in the fault tests' `kill -9 kafka`). Give that error the OSError's treatment."""
    def send_on(conn: AIOKafkaConnection, request, expect_response: bool = True):
        writer = conn._writer
        try:
            return send(conn, request, expect_response)
        except RuntimeError as err:
            if writer is None or not writer.transport.is_closing():
                raise
            conn.close(reason=CloseReason.CONNECTION_BROKEN)
            raise KafkaConnectionError(f"Connection at {conn.host}:{conn.port} broken: {err}") from err

    send_on.wrapped = send
    return send_on


if not hasattr(AIOKafkaConnection.send, "wrapped"):
    AIOKafkaConnection.send = _send_or_connection_error(AIOKafkaConnection.send)

Handler = Callable[[AsyncConnection, CloudEvent], Awaitable[None]]


def producer(bootstrap: str, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        enable_idempotence=True,  # implies acks=all; broker de-duplicates the producer's own retries
        linger_ms=5,
        # While the broker is away, batches wait this long before the relay sees a failure and retries.
        request_timeout_ms=30_000,
        retry_backoff_ms=200,
    )


async def ensure_topics(bootstrap: str, topics: Sequence[str], partitions: int = 3, replication: int = 1) -> None:
    """Create topics that do not exist yet (idempotent)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [NewTopic(t, num_partitions=partitions, replication_factor=replication) for t in topics if t not in existing]
        if new:
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


async def keep_consuming(name: str, make: Callable[[], AIOKafkaConsumer],
                         session: Callable[[AIOKafkaConsumer], Awaitable[None]], *,
                         bootstrap: str = "", topics: Sequence[str] = ()) -> None:
    """Consume for good: make a consumer (first creating `topics` when named), start it and hand it to
    `session`, which reads until something fails; on broker or database trouble stop it, wait (0.5 s, doubling
    to 5 s; back to 0.5 s once a consumer started) and begin again. Only cancellation ends it."""
    backoff = 0.5
    while True:
        consumer = make()
        try:
            if topics:
                await ensure_topics(bootstrap, topics)
            await consumer.start()
            backoff = 0.5
            await session(consumer)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - broker or database trouble: reconnect and resume
            log.warning("%s: %s: %s; reconnecting", name, type(exc).__name__, exc)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()


class EventConsumer:
    """Consume CloudEvents from topics with a group, acting once per event id."""

    def __init__(self, db: Database, processed: sa.Table, *, bootstrap: str, topics: Sequence[str],
                 group_id: str, handler: Handler, types: Sequence[str] = ()) -> None:
        self.db = db
        self.processed = processed
        self.bootstrap = bootstrap
        self.topics = list(topics)
        self.group_id = group_id
        self.handler = handler
        self.types = set(types)
        self.handled = 0
        self.skipped_duplicates = 0
        self._task: asyncio.Task | None = None

    async def handle(self, event: CloudEvent) -> bool:
        """Apply one event exactly once. Returns False when it had been applied before."""
        if self.types and event.type not in self.types:
            return False
        # A handler may say, from a read, that an event asks nothing of it: no write transaction for it then.
        wanted = getattr(self.handler, "wanted", None)
        if wanted is not None and not await wanted(event):
            return False
        span = telemetry.IncomingSpan(_tracer, f"consume {event.type}", event.trace_carrier(), trace.SpanKind.CONSUMER)
        with span:
            async with self.db.write() as conn:
                # Recording the id first, as one statement, decides between two deliveries of one event
                # handled at once (a rebalance between replicas): the second waits for the first's commit
                # and then inserts nothing.
                recorded = await conn.execute(dialect_insert(conn)(self.processed).values(
                    consumer=self.group_id, event_id=event.id, processed_at=datetime.now(UTC),
                ).on_conflict_do_nothing())
                if recorded.rowcount != 1:
                    self.skipped_duplicates += 1
                    return False
                await self.handler(conn, event)
            self.handled += 1
            return True

    async def run(self) -> None:
        def consumer() -> AIOKafkaConsumer:
            return AIOKafkaConsumer(*self.topics, bootstrap_servers=self.bootstrap, group_id=self.group_id,
                                    enable_auto_commit=False, auto_offset_reset="earliest",
                                    **BATCHED_FETCH)

        async def session(consumer: AIOKafkaConsumer) -> None:
            # Offsets are committed once per fetched batch, not per message (a broker round trip each): an event
            # handled but not yet committed when the process stops comes again and is skipped as processed.
            while True:
                fetched = await consumer.getmany(timeout_ms=1000, max_records=500)
                for records in fetched.values():
                    for msg in records:
                        try:
                            event = CloudEvent.from_kafka(msg.headers, msg.value)
                        except ValueError as exc:
                            log.warning("skipping a message that is not a CloudEvent on %s: %s", msg.topic, exc)
                        else:
                            await self.handle(event)
                if fetched:
                    await consumer.commit()

        await keep_consuming(f"consumer {self.group_id}", consumer, session)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"consumer-{self.group_id}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
