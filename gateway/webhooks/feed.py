"""From Kafka to deliveries: the consumer group every gateway replica joins (so each event is taken by one
replica), turning each published event into one delivery per subscription that wants it and existed when it
occurred (a consumer group starts at the oldest event Kafka keeps: a new group, or a topic the gateway starts to
read, must not replay history to subscriptions made since).

The deliveries of a batch of events are inserted in one transaction, then the offsets are committed: a crash
in between re-reads the batch, and the unique (subscription, event id) key makes the second insert a no-op, so
every event becomes exactly one delivery per subscription. The events of one resource share a Kafka key and so a
partition; they are read, and inserted, in their order (the delivery queue's order).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from gateway.events.registry import TOPICS, received
from gateway.webhooks.store import WebhookStore
from vigil.runtime import bus
from vigil.runtime.clock import Clock


class WebhookFeed:
    def __init__(self, store: WebhookStore, clock: Clock, *, bootstrap: str, group_id: str,
                 on_enqueued: Callable[[], None]) -> None:
        self.store = store
        self.clock = clock
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.on_enqueued = on_enqueued
        self._task: asyncio.Task | None = None

    async def handle(self, records: Sequence[ConsumerRecord]) -> int:
        """Deliveries for a batch of records, in one transaction; returns how many were new. An event goes to the
        tenant's enabled subscriptions created before it occurred (and only those events are rendered); a batch
        that makes no delivery writes nothing."""
        events = received(records)
        if not events:
            return 0
        async with self.store.db.lookup() as conn:
            wanted = await self.store.enabled_by_tenant(conn, {e.tenant_id for e in events})
        now = self.clock.now()
        rows = []
        for event in events:
            takers = [s for s in wanted.get(event.tenant_id, ()) if s.events_from <= event.time]
            if takers and (rendered := event.rendered()) is not None:
                rows += [self.store.delivery_row(s, rendered, now) for s in takers if s.wants(rendered)]
        if not rows:
            return 0
        async with self.store.db.write() as conn:
            added = await self.store.enqueue(conn, rows)
        if added:
            self.on_enqueued()
        return added

    async def run(self) -> None:
        def consumer() -> AIOKafkaConsumer:
            return AIOKafkaConsumer(*TOPICS, bootstrap_servers=self.bootstrap, group_id=self.group_id,
                                    enable_auto_commit=False, auto_offset_reset="earliest",
                                    **bus.BATCHED_FETCH)

        async def session(consumer: AIOKafkaConsumer) -> None:
            while True:
                batches = await consumer.getmany(timeout_ms=1000, max_records=500)
                records = [r for tp in sorted(batches, key=str) for r in batches[tp]]
                if records:
                    await self.handle(records)
                    await consumer.commit()

        await bus.keep_consuming("webhook feed", consumer, session, bootstrap=self.bootstrap, topics=TOPICS)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="webhook-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
