"""The Kafka -> ClickHouse consumer against the real broker and the real ClickHouse engine (chDB): batches land,
offsets are committed only after the insert, a crash between the two re-inserts without duplicating, a crash
before the insert loses nothing, and poison goes to the dead-letter topic."""

from __future__ import annotations

import asyncio
import secrets
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from gateway.ingest.rows import log_row
from services.observability.events import NDJSON, Batch, TelemetryConsumer, process
from services.observability.store import ClickHouse
from vigil.runtime import bus
from vigil.runtime.cloudevents import CloudEvent

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so the consumer's reconnect loop does not absorb it."""


def message(tenant: str, run: str, start: int, count: int) -> tuple[bytes, list[tuple[str, bytes]]]:
    now = time.time_ns()
    rows = b"".join(log_row(tenant, 7, ts_ns=now + i, service="svc", severity="INFO", severity_no=9,
                            body=f"{run} {start + i}") for i in range(count))
    event = CloudEvent(type="telemetry.logs", source="test", tenant_id=tenant, data=rows, content_type=NDJSON)
    return rows, event.headers()


async def produce(bootstrap: str, topic: str, tenant: str, run: str, messages: int, per: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for m in range(messages):
            rows, headers = message(tenant, run, m * per, per)
            await producer.send_and_wait(topic, value=rows, key=tenant.encode(), headers=headers)
    finally:
        await producer.stop()


async def counts(ch: ClickHouse, tenant: str) -> tuple[int, int]:
    rows = await ch.query("SELECT count(), uniqExact(Body) FROM otel_logs WHERE TenantId = {t:String}", {"t": tenant})
    return int(rows[0][0]), int(rows[0][1])


async def wait_count(ch: ClickHouse, tenant: str, expected: int, timeout: float = 40.0) -> tuple[int, int]:
    deadline = time.monotonic() + timeout
    got = (0, 0)
    while time.monotonic() < deadline:
        got = await counts(ch, tenant)
        if got[0] >= expected:
            return got
        await asyncio.sleep(0.2)
    return got


def consumer(ch: ClickHouse, bootstrap: str, group: str, topic: str, dlq: str = "") -> TelemetryConsumer:
    return TelemetryConsumer(ch, bootstrap=bootstrap, group_id=group, topic_names=[topic], max_rows=250,
                             max_seconds=0.2, dead_letter_topic=dlq or f"{topic}.dlq",
                             producer_factory=lambda: bus.producer(bootstrap, "test-dlq"))


@pytest.fixture
def names() -> dict[str, str]:
    run = secrets.token_hex(4)
    return {"topic": f"test.telemetry.logs.{run}", "group": f"test-obs-{run}", "tenant": f"t-{run}", "run": run}


async def test_batches_land_and_offsets_follow(clickhouse, kafka_bootstrap, names):
    await bus.ensure_topics(kafka_bootstrap, [names["topic"]], partitions=2)
    await produce(kafka_bootstrap, names["topic"], names["tenant"], names["run"], messages=20, per=50)
    c = consumer(clickhouse, kafka_bootstrap, names["group"], names["topic"])
    c.start()
    try:
        assert await wait_count(clickhouse, names["tenant"], 1000) == (1000, 1000)
    finally:
        await c.stop()
    assert c.inserted_rows == 1000 and c.inserted_batches >= 4  # size-bounded (250 rows) batches


async def test_crash_after_insert_before_commit_does_not_duplicate(clickhouse, kafka_bootstrap, names):
    await bus.ensure_topics(kafka_bootstrap, [names["topic"]], partitions=1)
    await produce(kafka_bootstrap, names["topic"], names["tenant"], names["run"], messages=10, per=100)
    crashed: list[Batch] = []
    first = consumer(clickhouse, kafka_bootstrap, names["group"], names["topic"])

    def crash(batch: Batch) -> None:
        if not crashed:
            crashed.append(batch)
            raise Crash("between the insert and the offset commit")

    first.after_insert = crash
    task = asyncio.create_task(first.run())
    with pytest.raises(Crash):
        await asyncio.wait_for(task, 30)
    # The crashed batch is in ClickHouse, its offsets are not committed.
    assert (await counts(clickhouse, names["tenant"]))[0] == crashed[0].rows > 0

    second = consumer(clickhouse, kafka_bootstrap, names["group"], names["topic"])
    second.start()
    try:
        await wait_count(clickhouse, names["tenant"], 1000)
        await asyncio.sleep(1.0)  # give a duplicate the chance to show up
        assert await counts(clickhouse, names["tenant"]) == (1000, 1000)
    finally:
        await second.stop()


async def test_crash_before_insert_loses_nothing(clickhouse, kafka_bootstrap, names):
    await bus.ensure_topics(kafka_bootstrap, [names["topic"]], partitions=1)
    await produce(kafka_bootstrap, names["topic"], names["tenant"], names["run"], messages=6, per=100)
    first = consumer(clickhouse, kafka_bootstrap, names["group"], names["topic"])

    async def down(*_args, **_kwargs):
        raise Crash("before the insert")

    first.ch = ClickHouse.__new__(ClickHouse)  # a store whose every call crashes the process
    first.ch.command = down  # type: ignore[method-assign]
    first.ch.query = down  # type: ignore[method-assign]
    first.ch.insert_json_rows = down  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await asyncio.wait_for(first.run(), 30)
    assert (await counts(clickhouse, names["tenant"]))[0] == 0

    second = consumer(clickhouse, kafka_bootstrap, names["group"], names["topic"])
    second.start()
    try:
        assert await wait_count(clickhouse, names["tenant"], 600) == (600, 600)
    finally:
        await second.stop()


async def test_poison_goes_to_the_dead_letter_topic(clickhouse, kafka_bootstrap, names):
    topic, dlq = names["topic"], names["topic"] + ".dlq"
    await bus.ensure_topics(kafka_bootstrap, [topic, dlq], partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    good, headers = message(names["tenant"], names["run"], 0, 10)
    bad_rows = good.replace(b'"SeverityNumber":9', b'"SeverityNumber":"not a number"')
    try:
        await producer.send_and_wait(topic, value=b"not telemetry", headers=[("ce_type", b"x")])
        await producer.send_and_wait(topic, value=bad_rows, headers=headers)
        await producer.send_and_wait(topic, value=good, headers=headers)
    finally:
        await producer.stop()
    c = consumer(clickhouse, kafka_bootstrap, names["group"], topic, dlq)
    c.start()
    try:
        assert await wait_count(clickhouse, names["tenant"], 10) == (10, 10)
    finally:
        await c.stop()
    reader = AIOKafkaConsumer(dlq, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest",
                              group_id=f"{names['group']}-dlq-reader")
    await reader.start()
    try:
        got = await reader.getmany(timeout_ms=10_000)
        reasons = [dict(m.headers)["vigil_dlq_reason"].decode() for ms in got.values() for m in ms]
    finally:
        await reader.stop()
    assert len(reasons) == 2 and any("not a telemetry row batch" in r for r in reasons)
    assert any("insert refused" in r for r in reasons)


def test_process_is_pure_and_refuses_what_is_not_a_row_batch():
    rows, headers = message("t-1", "r", 0, 3)
    batch = process(headers, rows)
    assert batch is not None and batch.table == "otel_logs" and batch.count == 3 and batch.tenant_id == "t-1"
    assert process(headers, b"") is None
    assert process([h for h in headers if h[0] != "ce_tenantid"], rows) is None
    assert process([(k, b"telemetry.unknown" if k == "ce_type" else v) for k, v in headers], rows) is None
    assert process([(k, b"application/json" if k == "content-type" else v) for k, v in headers], rows) is None
    assert process([("ce_type", b"\xff")], rows) is None
