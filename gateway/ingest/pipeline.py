"""The gateway's Kafka producer for telemetry and its view of the observability consumer's lag.

Rows are written to the telemetry topics as CloudEvents (binary mode, tenant in `ce_tenantid`, data =
newline-delimited JSON rows, split into messages well under Kafka's 1 MiB default), and a batch is answered
202 only after the broker acknowledged every message of it (acks=all): what was accepted is not lost. When the
observability consumer group lags more than the configured bound, ingest is refused with 429 and Retry-After;
when Kafka cannot take the batch, 503 with Retry-After. The OTLP exporters and our SDK back off and retry both.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from gateway.ingest.producer import PUBLISH_TIMEOUT_SECONDS, Producer
from vigil.runtime import context, topics
from vigil.runtime.cloudevents import CloudEvent
from vigil.runtime.errors import RateLimited

log = logging.getLogger("vigil.gateway.telemetry")

NDJSON = "application/x-ndjson"
ROW_SCHEMA = "vigil.telemetry.rows.v1"
# Kafka's default message limit is 1 MiB; rows are split into messages well below it.
MAX_MESSAGE_BYTES = 512 * 1024
RETRY_AFTER_SECONDS = 2
KIND_TOPIC = {"logs": topics.TELEMETRY_LOGS, "metrics": topics.TELEMETRY_METRICS, "traces": topics.TELEMETRY_TRACES}
PLAN_CACHE_SECONDS = 60.0


class TelemetryIngest:
    def __init__(self, bootstrap: str, consumer_group: str, max_lag_messages: int, retention_days: dict[str, int],
                 plan_of: Callable[[str], Awaitable[str]], lag_poll_seconds: float = 1.0,
                 publish_timeout: float = PUBLISH_TIMEOUT_SECONDS) -> None:
        self.bootstrap = bootstrap
        self.consumer_group = consumer_group
        self.max_lag_messages = max_lag_messages
        self.retention_days = retention_days
        self.plan_of = plan_of
        self.lag_poll_seconds = lag_poll_seconds
        self.lag = 0
        self.lag_known_at = 0.0
        self.producer = Producer("the telemetry pipeline", publish_timeout, bootstrap_servers=bootstrap,
                                 client_id="vigil-gateway-telemetry", linger_ms=5, max_request_size=4 * 1024 * 1024,
                                 request_timeout_ms=10_000, max_batch_size=1024 * 1024)
        self._plans: dict[str, tuple[float, int]] = {}
        self._monitor: asyncio.Task | None = None

    async def _producer(self) -> AIOKafkaProducer:
        producer = await self.producer.get()
        if self._monitor is None:
            self._monitor = asyncio.create_task(self._watch_lag(), name="telemetry-lag")
        return producer

    def check_capacity(self) -> None:
        if self.lag > self.max_lag_messages:
            raise RateLimited(f"telemetry ingest is {self.lag} batches behind (bound {self.max_lag_messages}); "
                              "retry later", retry_after=RETRY_AFTER_SECONDS)

    async def retention_for(self, tenant_id: str) -> int:
        """Days the tenant's rows are kept (by its plan), cached for a minute: this runs on every batch."""
        cached = self._plans.get(tenant_id)
        now = time.monotonic()
        if cached and cached[0] > now:
            return cached[1]
        plan = await self.plan_of(tenant_id)
        days = self.retention_days.get(plan, self.retention_days.get("free", 7))
        self._plans[tenant_id] = (now + PLAN_CACHE_SECONDS, days)
        return days

    async def ingest(self, kind: str, tenant_id: str, to_rows: Callable[[Any, str, int], list[bytes]],
                     batch: Any) -> int:
        """A decoded batch (JSON or OTLP) as rows of the tenant, published; the number of rows taken."""
        self.check_capacity()
        rows = to_rows(batch, tenant_id, await self.retention_for(tenant_id))
        return await self.publish(kind, tenant_id, rows) if rows else 0

    async def publish(self, kind: str, tenant_id: str, rows: list[bytes]) -> int:
        """Send the rows as one or more messages and wait for the broker's acknowledgement of all of them.
        Under an Idempotency-Key each message's CloudEvent id derives from the key, so a retry of a request
        whose answer was lost (but whose messages were written) is recognised by the consumer and inserted
        once (services/observability/events.py)."""
        self.check_capacity()
        await self._producer()  # started, with the lag monitor
        topic = KIND_TOPIC[kind]
        ctx = context.bound()
        async with self.producer.sending() as producer:
            futures = []
            for n, chunk in enumerate(_chunks(rows, MAX_MESSAGE_BYTES)):
                ids = {"id": ctx.resource_id(f"telemetry.{kind}.{n}")} if ctx and ctx.idempotency_key else {}
                event = CloudEvent(type=f"telemetry.{kind}", source="vigil/gateway", tenant_id=tenant_id, data=chunk,
                                   dataschema=ROW_SCHEMA, content_type=NDJSON, **ids)
                futures.append(await producer.send(topic, value=chunk, key=tenant_id.encode(), headers=event.headers()))
            await asyncio.gather(*futures)
        return len(rows)

    async def _watch_lag(self) -> None:
        admin: AIOKafkaAdminClient | None = None
        probe: AIOKafkaConsumer | None = None
        while True:
            try:
                if admin is None:
                    admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
                    await admin.start()
                    probe = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
                    await probe.start()
                assert probe is not None
                described = await admin.describe_topics(list(KIND_TOPIC.values()))
                tps = [TopicPartition(d["topic"], p["partition"]) for d in described if d["error_code"] == 0
                       for p in d["partitions"]]
                committed = await admin.list_consumer_group_offsets(self.consumer_group)
                ends = await probe.end_offsets(tps) if tps else {}
                lag = 0
                for tp, end in ends.items():
                    meta = committed.get(tp)
                    lag += max(0, end - (meta.offset if meta is not None and meta.offset >= 0 else 0))
                self.lag = lag
                self.lag_known_at = time.monotonic()
            except asyncio.CancelledError:
                break
            except Exception as exc:  # noqa: BLE001 - keep the last figure; the publish path reports Kafka trouble
                log.debug("telemetry lag probe: %s", exc)
                await _close(admin, probe)
                admin = probe = None
            await asyncio.sleep(self.lag_poll_seconds)
        await _close(admin, probe)

    async def close(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            try:
                await self._monitor
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        await self.producer.close()


async def _close(admin: AIOKafkaAdminClient | None, probe: AIOKafkaConsumer | None) -> None:
    for stop in (admin.close if admin else None, probe.stop if probe else None):
        if stop is not None:
            try:
                await stop()
            except Exception:  # noqa: BLE001 - best effort on a broken connection
                pass


def _chunks(rows: list[bytes], limit: int) -> Iterable[bytes]:
    buf: list[bytes] = []
    size = 0
    for row in rows:
        if buf and size + len(row) > limit:
            yield b"".join(buf)
            buf, size = [], 0
        buf.append(row)
        size += len(row)
    if buf:
        yield b"".join(buf)
