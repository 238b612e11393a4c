"""The gateway's producers (alert doors, telemetry ingest) against a real Kafka broker that stops answering while
holding its connections open (paused, as in a long GC pause or a network partition): each request is answered
UNAVAILABLE within the publish timeout, so the source re-sends (docs/alerts.md: 503, Retry-After); it used to wait
until the broker came back, however long that took. Once the broker answers again, messages go through."""

import asyncio
import os
import signal
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer

from gateway.ingest.alerts import AlertIntake
from gateway.ingest.pipeline import TelemetryIngest
from vigil.incident.v1 import alerts_pb2
from vigil.runtime import bus, topics
from vigil.runtime.errors import Unavailable
from vigil.runtime.kafka_local import KafkaBroker, free_port

pytestmark = pytest.mark.kafka


@pytest.fixture
def broker(tmp_path):
    """A broker of its own: this test pauses it."""
    broker = KafkaBroker(tmp_path / "kafka", free_port(), free_port()).start()
    yield broker
    os.kill(broker.process.pid, signal.SIGCONT)
    broker.stop()


def alert(fingerprint: str) -> alerts_pb2.AlertMessage:
    return alerts_pb2.AlertMessage(id=str(uuid.uuid4()), tenant_id="t1", integration_id="i1", fingerprint=fingerprint)


async def answers_unavailable_while_paused(broker: KafkaBroker, publish) -> None:
    """While the broker is paused each `publish(text)` is Unavailable within the bound (twice: the producer that
    failed is replaced, and the next one is bounded too); once the broker answers, `publish` goes through."""
    os.kill(broker.process.pid, signal.SIGSTOP)
    try:
        for _ in range(2):
            started = time.monotonic()
            with pytest.raises(Unavailable):
                async with asyncio.timeout(30):
                    await publish("during")
            assert time.monotonic() - started < 15
    finally:
        os.kill(broker.process.pid, signal.SIGCONT)
    async with asyncio.timeout(60):
        while True:
            try:
                await publish("after")
                return
            except Unavailable:
                await asyncio.sleep(0.5)


async def test_a_broker_that_stops_answering_gets_the_source_a_503_in_bounded_time(broker):
    topic = f"alerts-{uuid.uuid4().hex}"
    await bus.ensure_topics(broker.bootstrap, [topic])
    intake = AlertIntake(broker.bootstrap, topic, publish_timeout=2.0)

    async def publish(fingerprint: str) -> None:
        await intake.publish([alert(fingerprint)])

    try:
        await publish("before")
        await answers_unavailable_while_paused(broker, publish)
    finally:
        await intake.close()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        seen: set[str] = set()
        async with asyncio.timeout(30):
            while "after" not in seen:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        seen.add(alerts_pb2.AlertMessage.FromString(record.value).fingerprint)
        assert "before" in seen
    finally:
        await consumer.stop()


async def test_telemetry_ingest_against_a_broker_that_stops_answering_is_a_503_in_bounded_time(broker):
    await bus.ensure_topics(broker.bootstrap, [topics.TELEMETRY_LOGS])

    async def plan(_tenant: str) -> str:
        return "free"

    ingest = TelemetryIngest(broker.bootstrap, "none", 1_000_000, {"free": 7}, plan, publish_timeout=2.0)

    async def publish(body: str) -> None:
        assert await ingest.publish("logs", "t1", [b'{"Body":"%s"}\n' % body.encode()]) == 1

    try:
        await publish("before")
        await answers_unavailable_while_paused(broker, publish)
    finally:
        await ingest.close()
