"""The gateway's Kafka producers (telemetry, alerts): started on first use and thrown away after a failed send,
so that the next request starts afresh. After a broker restart an idempotent producer can be left with sequence
numbers the broker no longer accepts (OutOfOrderSequenceNumber on every send from then on)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiokafka import AIOKafkaProducer

from vigil.runtime.errors import Unavailable


class Producer:
    def __init__(self, what: str, **options: Any) -> None:
        self.what = what  # "the telemetry pipeline": named in the 503 a client gets
        self.options = options
        self.current: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

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

    async def discard(self, producer: AIOKafkaProducer) -> None:
        async with self._lock:
            if self.current is producer:
                self.current = None
        with contextlib.suppress(Exception):  # it is being thrown away
            await producer.stop()

    async def close(self) -> None:
        if self.current is not None:
            await self.current.stop()
