"""The gateway's Kafka producers (telemetry, alerts): started on first use and thrown away after a failed send,
so that the next request starts afresh. After a broker restart an idempotent producer can be left with sequence
numbers the broker no longer accepts (OutOfOrderSequenceNumber on every send from then on)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiokafka import AIOKafkaProducer

from vigil.runtime.errors import Unavailable

log = logging.getLogger("vigil.gateway.producer")
# How long a request waits for the broker to acknowledge its messages. The producer itself never gives up on a
# broker that holds the connection open without answering (paused, partitioned): without this bound a request
# waited until the broker came back, however long.
PUBLISH_TIMEOUT_SECONDS = 10.0


class Producer:
    def __init__(self, what: str, publish_timeout: float = PUBLISH_TIMEOUT_SECONDS, **options: Any) -> None:
        self.what = what  # "the telemetry pipeline": named in the 503 a client gets
        self.publish_timeout = publish_timeout
        self.options = options
        self.current: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._stopping: set[asyncio.Task] = set()

    async def get(self) -> AIOKafkaProducer:
        if self.current is not None:
            return self.current
        async with self._lock:
            if self.current is None:
                producer = AIOKafkaProducer(enable_idempotence=True, **self.options)
                try:
                    await producer.start()
                except Exception as exc:  # noqa: BLE001
                    await producer.stop()
                    raise Unavailable(f"{self.what} is unavailable; retry later") from exc
                self.current = producer
        return self.current

    @contextlib.asynccontextmanager
    async def sending(self) -> AsyncIterator[AIOKafkaProducer]:
        """The producer for one request's messages, which must be sent and acknowledged within `publish_timeout`.
        Anything else (the broker refused, went away or stopped answering) throws this producer away and is
        Unavailable: the client retries, as a 503 tells it to."""
        producer = await self.get()
        try:
            async with asyncio.timeout(self.publish_timeout):
                yield producer
        except Exception as exc:  # noqa: BLE001 - the broker did not take it all
            log.warning("%s: publish failed: %s: %s", self.what, type(exc).__name__, exc)
            await self.discard(producer)
            raise Unavailable(f"{self.what} is unavailable; retry later") from exc

    async def discard(self, producer: AIOKafkaProducer) -> None:
        """Forget a producer that failed, and stop it in the background: stopping flushes what it still holds,
        which waits for a broker that may not answer (the request that failed must not wait for it)."""
        async with self._lock:
            if self.current is producer:
                self.current = None
        task = asyncio.create_task(self._stop(producer))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    @staticmethod
    async def _stop(producer: AIOKafkaProducer) -> None:
        with contextlib.suppress(Exception):  # it is being thrown away
            await producer.stop()

    async def close(self) -> None:
        for task in list(self._stopping):
            task.cancel()
        if self.current is not None:
            await self.current.stop()
