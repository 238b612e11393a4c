"""The alert intake consumer: Kafka (topic vigil.alert.intake) -> decisions stored in the incident database.

Batched the Snuba way: `decode(message)` is pure; a batch is whatever one poll returned (up to `max_batch`
messages, across partitions, each partition's messages in offset order); it is decided and stored in ONE
database transaction (AlertProcessor -> AlertStore.apply); only then are the offsets committed, by hand.

Nothing accepted is lost or double-counted: until the transaction commits, nothing is stored and the offsets
are not committed, so a crash (or a SIGKILL of the process) re-delivers the batch; a re-delivered alert whose
transaction had committed is recognised by its id (stored alerts are skipped), so it is counted once. While the
database is down the same batch is retried with backoff and the consumer reads no further (the lag waits in
Kafka). A message that is not an alert, or that fails alone, goes to the dead-letter topic.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from google.protobuf.message import DecodeError

from services.incident.alerts.decisions import Incoming
from services.incident.alerts.service import AlertProcessor
from vigil.incident.v1 import alerts_pb2
from vigil.runtime import bus, topics
from vigil.runtime.errors import is_transient
from vigil.runtime.protos import struct_dict

log = logging.getLogger("vigil.incident.alerts.intake")
STATUSES = ("firing", "resolved", "acknowledged")


def decode(headers, value: bytes | None) -> Incoming | None:
    """One intake message -> the alert it carries, or None when it is not one (poison)."""
    if not value:
        return None
    try:
        msg = alerts_pb2.AlertMessage.FromString(value)
    except DecodeError:
        return None
    if not (msg.id and msg.tenant_id and msg.integration_id and msg.fingerprint and msg.status in STATUSES
            and msg.received_at.seconds):
        return None
    h = {k: v for k, v in headers or ()}
    traceparent = h.get("ce_traceparent", b"")

    def dt(ts):
        return ts.ToDatetime(tzinfo=UTC) if ts.seconds or ts.nanos else None

    return Incoming(
        id=msg.id, tenant_id=msg.tenant_id, integration_id=msg.integration_id,
        integration_name=msg.integration_name, source=msg.source, fingerprint=msg.fingerprint, status=msg.status,
        title=msg.title, description=msg.description, source_severity=msg.source_severity,
        labels=dict(msg.labels), annotations=dict(msg.annotations),
        details=struct_dict(msg.details) if msg.HasField("details") else {},
        starts_at=dt(msg.starts_at), ends_at=dt(msg.ends_at), received_at=dt(msg.received_at),
        source_group_key=msg.source_group_key, url=msg.url,
        traceparent=traceparent.decode(errors="replace") if isinstance(traceparent, bytes) else str(traceparent))


class AlertIntakeConsumer:
    def __init__(self, processor: AlertProcessor, *, bootstrap: str, group_id: str, max_batch: int = 1000,
                 topic: str = topics.ALERT_INTAKE, dead_letter_topic: str = topics.ALERT_DEAD_LETTER,
                 producer_factory: Callable[[], AIOKafkaProducer] | None = None) -> None:
        self.processor = processor
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.max_batch = max_batch
        self.topic = topic
        self.dead_letter_topic = dead_letter_topic
        self.producer_factory = producer_factory
        self.producer: AIOKafkaProducer | None = None
        self.processed = 0
        self.batches = 0
        self.dead_lettered = 0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"alert-intake-{self.group_id}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None

    async def run(self) -> None:
        backoff = 0.5
        while True:
            try:
                await bus.ensure_topics(self.bootstrap, [self.topic, self.dead_letter_topic])
            except Exception as exc:  # noqa: BLE001 - the broker may be starting; subscribing retries anyway
                log.warning("could not ensure the alert topics: %s", exc)
            consumer = AIOKafkaConsumer(
                self.topic, bootstrap_servers=self.bootstrap, group_id=self.group_id, enable_auto_commit=False,
                auto_offset_reset="earliest",
                # A batch may wait long for the database to come back; the group must not give up on us.
                max_poll_interval_ms=3_600_000)
            try:
                await consumer.start()
                backoff = 0.5
                while True:
                    fetched = await consumer.getmany(timeout_ms=200, max_records=self.max_batch)
                    if fetched:
                        await self.handle(fetched)
                        await consumer.commit({tp: msgs[-1].offset + 1 for tp, msgs in fetched.items()})
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - broker trouble: reconnect, resume from committed offsets
                log.warning("alert intake %s: %s: %s; reconnecting", self.group_id, type(exc).__name__, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                try:
                    await consumer.stop()
                except Exception:  # noqa: BLE001
                    pass

    async def handle(self, fetched: dict[TopicPartition, list]) -> None:
        """Decide and store one poll's messages; returns only when they are stored (or dead-lettered)."""
        batch: list[Incoming] = []
        for messages in fetched.values():
            for msg in messages:
                alert = decode(msg.headers, msg.value)
                if alert is None:
                    await self._dead_letter(msg.value or b"", list(msg.headers or ()), "not an alert message",
                                            f"{msg.topic}/{msg.partition}/{msg.offset}")
                else:
                    batch.append(alert)
        if not batch:
            return
        try:
            stored = await self._retrying(batch)
        except Exception as exc:  # noqa: BLE001 - a bad alert must not block the others: one by one
            log.warning("alert batch failed (%s: %s); processing its alerts one by one", type(exc).__name__, exc)
            stored = 0
            for alert in batch:
                try:
                    stored += await self._retrying([alert])
                except Exception as one:  # noqa: BLE001
                    await self._dead_letter(b"", [("ce_id", alert.id.encode())], f"{type(one).__name__}: {one}"[:500],
                                            f"{alert.tenant_id}/{alert.integration_id}/{alert.fingerprint}")
        self.processed += stored
        self.batches += 1

    async def _retrying(self, batch: list[Incoming]) -> int:
        backoff = 0.2
        while True:
            try:
                return len(await self.processor.process(batch))
            except Exception as exc:
                # The database away, restarting or shutting down, whatever the driver calls it (asyncpg's
                # "shutting down" is a plain DBAPIError): wait. Anything else is the batch's own failure.
                if not (is_transient(exc) or isinstance(exc, OSError)):
                    raise
                log.warning("database unavailable for alerts (%s); the batch waits", type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _dead_letter(self, value: bytes, headers: list, reason: str, source: str) -> None:
        self.dead_lettered += 1
        log.warning("dead-lettering an alert message (%s): %s", source, reason)
        if self.producer_factory is None:
            return
        if self.producer is None:
            self.producer = self.producer_factory()
            await self.producer.start()
        await self.producer.send_and_wait(self.dead_letter_topic, value=value, headers=[
            *headers, ("vigil_dlq_reason", reason.encode()), ("vigil_dlq_source", source.encode())])
