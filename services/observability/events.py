"""Kafka -> ClickHouse, the Snuba way: a pure `process(message) -> RowBatch | None`, a batcher bounded by rows,
bytes and time, one bulk INSERT per batch, offsets committed by hand only after the INSERT succeeded, poison
messages to the dead-letter topic.

The telemetry topics carry CloudEvents in binary mode whose data is newline-delimited JSON rows already in the
ClickHouse table's shape (the gateway normalises JSON batches and OTLP into them; see
gateway/ingest/rows.py). ClickHouse parses them natively, so the consumer touches no row in Python.

No loss, no duplicates: a batch holds the messages of one partition, and before its INSERT the exact offset
range is written to the `ingest_ledger` table. The INSERT carries a deduplication token derived from that
range. A crash after the INSERT but before the offset commit restarts from the committed offset; every new
batch first asks the ledger whether a batch was planned from its first offset before, and if so ends exactly
where that one ended, so it carries the same token and ClickHouse drops the repeated block. (The question is
asked when the batch starts, in the consumer's own loop: asked from the rebalance callback instead, it raced
the first records of the new assignment and a replay could be missed.) A crash before the INSERT re-inserts
from scratch. While ClickHouse is down the consumer retries the same batch (and stops reading), the lag grows
in Kafka, and the gateway's backpressure turns new ingest away once the lag passes its bound.

A client that retries an ingest whose answer it never got (a timeout, a gateway restart) with the same
Idempotency-Key may publish the same rows twice; the gateway then gives both messages the same CloudEvent id
(derived from the key). The consumer leaves out of a batch every message whose id it inserted before at an
earlier offset of the partition (`ingest_event_ids`, kept a day), and records the batch's ids after its
INSERT, with a token of their own, so a replayed batch leaves out exactly what its first attempt left out.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from services.observability.store import ClickHouse
from vigil.runtime import bus, topics

log = logging.getLogger("vigil.observability.consumer")

NDJSON = "application/x-ndjson"
# ClickHouse refusals that say "not now" rather than "not these rows" (timeouts, too many simultaneous queries,
# memory limit, too many parts, a query cancelled by a shutdown, network, keeper): waited out like an unreachable
# server, never dead-lettered. Any other refusal is the rows' own.
_NOT_NOW = {159, 160, 202, 209, 210, 241, 252, 394, 425, 999}
_CODE = re.compile(r"\bCode: (\d+)\b")
# CloudEvents type -> table. The topic says the same; the type is checked so a stray message cannot land in
# the wrong table.
TABLE_BY_TYPE = {
    "telemetry.logs": "otel_logs",
    "telemetry.metrics": "otel_metrics",
    "telemetry.traces": "otel_traces",
}
TOPIC_TYPES = {
    topics.TELEMETRY_LOGS: "telemetry.logs",
    topics.TELEMETRY_METRICS: "telemetry.metrics",
    topics.TELEMETRY_TRACES: "telemetry.traces",
}


@dataclass(frozen=True, slots=True)
class RowBatch:
    table: str
    tenant_id: str
    rows: bytes
    count: int
    event_id: str = ""


def not_now(exc: DatabaseError) -> bool:
    """An unreachable server, or a refusal by one of the `_NOT_NOW` codes."""
    if isinstance(exc, OperationalError):
        return True
    match = _CODE.search(str(exc))
    return match is not None and int(match.group(1)) in _NOT_NOW


def process(headers: Sequence[tuple[str, bytes]] | None, value: bytes | None) -> RowBatch | None:
    """One Kafka message -> the rows it carries, or None when it is not a telemetry row batch (poison)."""
    h: dict[str, str] = {}
    for key, raw in headers or ():
        try:
            h[key] = raw.decode()
        except (UnicodeDecodeError, AttributeError):
            return None
    table = TABLE_BY_TYPE.get(h.get("ce_type", ""))
    tenant = h.get("ce_tenantid", "")
    if table is None or not tenant or h.get("content-type") != NDJSON or not value or not value.strip():
        return None
    rows = value if value.endswith(b"\n") else value + b"\n"
    return RowBatch(table=table, tenant_id=tenant, rows=rows, count=rows.count(b"\n"), event_id=h.get("ce_id", ""))


@dataclass
class Batch:
    tp: TopicPartition
    table: str
    start: int
    end: int = -1
    blocks: list[bytes] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)  # offsets of the messages in blocks (for the poison path)
    event_ids: list[str] = field(default_factory=list)  # CloudEvent ids of the messages in blocks
    rows: int = 0
    size: int = 0
    opened: float = field(default_factory=time.monotonic)
    # Set when the batch re-creates one the ledger says was planned before a restart.
    replay_end: int | None = None

    def add(self, offset: int, batch: RowBatch) -> None:
        self.blocks.append(batch.rows)
        self.offsets.append(offset)
        self.event_ids.append(batch.event_id)
        self.rows += batch.count
        self.size += len(batch.rows)
        self.end = offset

    def leave_out(self, event_ids: set[str]) -> None:
        """Drop the messages with these ids, and every repeat of an id within the batch."""
        kept = []
        for item in zip(self.blocks, self.offsets, self.event_ids, strict=True):
            if item[2] and item[2] in event_ids:
                continue
            if item[2]:
                event_ids.add(item[2])
            kept.append(item)
        self.blocks, self.offsets, self.event_ids = (list(x) for x in zip(*kept, strict=True)) if kept else ([], [], [])
        self.rows = sum(b.count(b"\n") for b in self.blocks)
        self.size = sum(len(b) for b in self.blocks)

    def token(self, consumer: str) -> str:
        return f"{consumer}/{self.tp.topic}/{self.tp.partition}/{self.start}-{self.end}"


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, owner: TelemetryConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked):
        await self.owner.flush_all()

    async def on_partitions_assigned(self, assigned):
        """Nothing to prepare: each batch asks the ledger when it starts (see planned_end)."""


class TelemetryConsumer:
    def __init__(self, ch: ClickHouse, *, bootstrap: str, group_id: str,
                 topic_names: Sequence[str] = tuple(TOPIC_TYPES), max_rows: int = 200_000,
                 max_bytes: int = 64 * 1024 * 1024, max_seconds: float = 1.0,
                 producer_factory: Callable[[], AIOKafkaProducer] | None = None,
                 dead_letter_topic: str = topics.TELEMETRY_DEAD_LETTER) -> None:
        self.ch = ch
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.topics = list(topic_names)
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self.producer_factory = producer_factory
        self.dead_letter_topic = dead_letter_topic
        self.batches: dict[TopicPartition, Batch] = {}
        self.inserted_rows = 0
        self.inserted_batches = 0
        self.dead_lettered = 0
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        # Test hook: called after a batch's INSERT, before its offsets are committed.
        self.after_insert: Callable[[Batch], None] | None = None
        self._task: asyncio.Task | None = None

    # -- lifecycle

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"telemetry-consumer-{self.group_id}")

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
                await bus.ensure_topics(self.bootstrap, [*self.topics, self.dead_letter_topic])
            except Exception as exc:  # noqa: BLE001 - the broker may be starting; subscribing retries anyway
                log.warning("could not ensure telemetry topics: %s", exc)
            self.consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, group_id=self.group_id, enable_auto_commit=False,
                auto_offset_reset="earliest", max_partition_fetch_bytes=16 * 1024 * 1024,
                fetch_max_bytes=64 * 1024 * 1024,
                # A batch may wait long for ClickHouse to come back; the group must not give up on us meanwhile.
                max_poll_interval_ms=3_600_000)
            self.consumer.subscribe(self.topics, listener=_Rebalance(self))
            try:
                await self.consumer.start()
                backoff = 0.5
                await self._loop()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - broker trouble: reconnect and resume from committed offsets
                log.warning("telemetry consumer %s: %s: %s; reconnecting", self.group_id, type(exc).__name__, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                self.batches.clear()
                try:
                    await self.consumer.stop()
                except Exception:  # noqa: BLE001
                    pass

    async def _loop(self) -> None:
        assert self.consumer is not None
        while True:
            fetched = await self.consumer.getmany(timeout_ms=100, max_records=20_000)
            for tp, messages in fetched.items():
                for msg in messages:
                    await self._add(tp, msg)
            await self._flush_due()

    # -- batching

    async def planned_end(self, tp: TopicPartition, start: int) -> int | None:
        """Where a batch planned before from this offset ended (it was inserted, or not, but not committed)."""
        rows = await self.ch.query(
            "SELECT max(EndOffset) FROM ingest_ledger FINAL WHERE Consumer = {c:String} AND Topic = {t:String} "
            "AND Partition = {p:UInt32} AND StartOffset = {s:UInt64} HAVING count() > 0",
            {"c": self.group_id, "t": tp.topic, "p": tp.partition, "s": start})
        if not rows:
            return None
        log.info("replaying %s[%d] offsets %d-%d with their original dedup token", tp.topic, tp.partition, start,
                 int(rows[0][0]))
        return int(rows[0][0])

    async def _add(self, tp: TopicPartition, msg) -> None:
        batch = self.batches.get(tp)
        if batch is None:
            batch = self.batches[tp] = Batch(tp=tp, table="", start=msg.offset,
                                             replay_end=await self.planned_end(tp, msg.offset))
        rows = process(msg.headers, msg.value)
        if rows is None:
            await self._dead_letter(msg, "not a telemetry row batch")
            batch.end = msg.offset
        elif batch.table and rows.table != batch.table:
            await self._dead_letter(msg, f"{rows.table} rows on a {batch.table} partition")
            batch.end = msg.offset
        else:
            batch.table = rows.table
            batch.add(msg.offset, rows)
        if batch.replay_end is not None and batch.end >= batch.replay_end:
            await self.flush(batch)
        elif batch.replay_end is None and (batch.rows >= self.max_rows or batch.size >= self.max_bytes):
            await self.flush(batch)

    async def _flush_due(self) -> None:
        now = time.monotonic()
        for batch in list(self.batches.values()):
            if batch.replay_end is None and now - batch.opened >= self.max_seconds:
                await self.flush(batch)

    async def flush_all(self) -> None:
        for batch in list(self.batches.values()):
            if batch.replay_end is None:
                await self.flush(batch)
        self.batches.clear()

    async def flush(self, batch: Batch) -> None:
        """Ledger, INSERT, commit, in that order; retried until ClickHouse takes it."""
        assert self.consumer is not None
        self.batches.pop(batch.tp, None)
        if batch.blocks:
            await self._retrying(lambda: self.ch.command(
                "INSERT INTO ingest_ledger (Consumer, Topic, Partition, StartOffset, EndOffset) VALUES "
                "({c:String}, {t:String}, {p:UInt32}, {s:UInt64}, {e:UInt64})",
                {"c": self.group_id, "t": batch.tp.topic, "p": batch.tp.partition, "s": batch.start,
                 "e": batch.end}))
            batch.leave_out(await self._inserted_before(batch))
        if batch.blocks:
            await self._insert(batch)
            self.inserted_batches += 1
            self.inserted_rows += batch.rows
            await self._remember_event_ids(batch)
        if self.after_insert is not None:
            self.after_insert(batch)
        await self.consumer.commit({batch.tp: batch.end + 1})

    async def _inserted_before(self, batch: Batch) -> set[str]:
        """The batch's CloudEvent ids already inserted from an earlier offset of its partition."""
        ids = sorted({i for i in batch.event_ids if i})
        if not ids:
            return set()
        rows = await self._retrying(lambda: self.ch.query(
            "SELECT EventId FROM ingest_event_ids WHERE Consumer = {c:String} AND Topic = {t:String} "
            "AND Partition = {p:UInt32} AND Offset < {s:UInt64} AND EventId IN {ids:Array(String)}",
            {"c": self.group_id, "t": batch.tp.topic, "p": batch.tp.partition, "s": batch.start, "ids": ids}))
        if rows:
            log.info("leaving out %d telemetry messages already inserted under the same CloudEvent id", len(rows))
        return {r[0] for r in rows}

    async def _remember_event_ids(self, batch: Batch) -> None:
        """Record the inserted messages' CloudEvent ids (with a token of their own: a replay records nothing new)."""
        rows = b"".join(orjson.dumps({"Consumer": self.group_id, "Topic": batch.tp.topic, "Partition": batch.tp.partition,
                                      "EventId": event_id, "Offset": offset}) + b"\n"
                        for offset, event_id in zip(batch.offsets, batch.event_ids, strict=True) if event_id)
        if rows:
            await self._retrying(lambda: self.ch.insert_json_rows("ingest_event_ids", rows,
                                                                  batch.token(self.group_id) + "/event-ids"))

    async def _insert(self, batch: Batch) -> None:
        attempts = 0
        backoff = 0.2
        while True:
            try:
                await self.ch.insert_json_rows(batch.table, b"".join(batch.blocks), batch.token(self.group_id))
                return
            except DatabaseError as exc:
                if not_now(exc):  # unreachable or busy: wait, never drop
                    log.warning("clickhouse unavailable (%s); batch %s waits", str(exc)[:300],
                                batch.token(self.group_id))
                else:
                    attempts += 1
                    if attempts >= 2:
                        log.warning("batch %s refused (%s); inserting message by message",
                                    batch.token(self.group_id), str(exc)[:300])
                        await self._insert_one_by_one(batch)
                        return
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _insert_one_by_one(self, batch: Batch) -> None:
        for offset, block in zip(batch.offsets, batch.blocks, strict=True):
            token = f"{self.group_id}/{batch.tp.topic}/{batch.tp.partition}/{offset}"
            while True:
                try:
                    await self.ch.insert_json_rows(batch.table, block, token)
                    break
                except DatabaseError as exc:
                    if not_now(exc):
                        await asyncio.sleep(1.0)
                        continue
                    await self._dead_letter_raw(batch.tp.topic, block, f"insert refused: {str(exc)[:500]}")
                    batch.rows -= block.count(b"\n")
                    break

    async def _retrying(self, fn):
        backoff = 0.2
        while True:
            try:
                return await fn()
            except (OperationalError, DatabaseError) as exc:
                log.warning("clickhouse: %s; retrying", str(exc)[:300])
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    # -- dead letters

    async def _dead_letter(self, msg, reason: str) -> None:
        headers = list(msg.headers or ()) + [("vigil_dlq_reason", reason.encode()),
                                              ("vigil_dlq_source", f"{msg.topic}/{msg.partition}/{msg.offset}".encode())]
        await self._send_dead_letter(msg.value or b"", headers)

    async def _dead_letter_raw(self, topic: str, value: bytes, reason: str) -> None:
        await self._send_dead_letter(value, [("vigil_dlq_reason", reason.encode()),
                                             ("vigil_dlq_source", topic.encode())])

    async def _send_dead_letter(self, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        self.dead_lettered += 1
        log.warning("dead-lettering a telemetry message: %s", dict(headers).get("vigil_dlq_reason", b"").decode())
        if self.producer_factory is None:
            return
        if self.producer is None:
            self.producer = self.producer_factory()
            await self.producer.start()
        await self.producer.send_and_wait(self.dead_letter_topic, value=value, headers=headers)
