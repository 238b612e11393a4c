"""The live event stream of one gateway replica, for `GET /api/events/stream` (Server-Sent Events).

Every replica reads every domain event (a Kafka consumer of its own, no group, from the latest offset: a stream
client connected to any replica sees all of its tenant's events), renders it once when its tenant has a client
connected or one resumes past it (gateway/events/registry.py), and hands it to the clients that want it. Each
client has a bounded queue: handing an event over never waits, and a client whose queue is full (it reads more
slowly than events come) is dropped — its connection is closed, it reconnects with `Last-Event-ID` — so one
slow client never slows the others.

`Last-Event-ID` resumes from a bounded history kept per tenant in memory (the last `history` events). An id
that is no longer there (older than the history, from before this replica started, or unknown) gets a `reset`
event: the client re-reads what it shows through the REST API, then follows the stream. Event ids are the
CloudEvent ids, the same as webhooks carry; every replica orders events per resource as Kafka does, but events
of different resources may interleave differently on different replicas, so a client resuming on another
replica should de-duplicate by id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from gateway.events.registry import TOPICS, Published, Received, matches, received
from gateway.scopes import Scope
from vigil.runtime import bus

log = logging.getLogger("vigil.events")


@dataclass(eq=False)
class Client:
    """One connected stream client: what it wants, its queue, and how to cut it off."""

    tenant_id: str
    scopes: frozenset[Scope]
    types: tuple[str, ...]
    resource_type: str
    resource_id: str
    queue: asyncio.Queue[Published | None]
    disconnect: Callable[[], None]
    dropped: bool = False

    def wants(self, event: Published) -> bool:
        return ((event.scope is None or event.scope in self.scopes)
                and (not self.types or matches(self.types, event.type))
                and (not self.resource_type or event.resource_type == self.resource_type)
                and (not self.resource_id or event.resource_id == self.resource_id))


@dataclass
class Counters:
    published: int = 0
    handed: int = 0
    dropped_clients: int = 0


class EventHub:
    def __init__(self, bootstrap: str, *, history: int, client_queue: int, heartbeat_seconds: float) -> None:
        self.bootstrap = bootstrap
        self.history_size = history
        self.client_queue = client_queue
        self.heartbeat_seconds = heartbeat_seconds
        self.history: dict[str, deque[Published | Received]] = defaultdict(lambda: deque(maxlen=self.history_size))
        self.clients: dict[str, set[Client]] = defaultdict(set)
        self.counters = Counters()
        self.ready = asyncio.Event()  # the consumer sits at the end of every partition
        self.closing = False
        self._positions: dict[TopicPartition, int] = {}
        self._task: asyncio.Task | None = None

    # -- clients ------------------------------------------------------------------------------------------------

    def connect(self, client_filter: dict, last_event_id: str | None,
                disconnect: Callable[[], None]) -> tuple[Client, list[Published] | None]:
        """Register a client; returns it and the events it missed after `last_event_id` (None: the id is not in
        the history, the client must start afresh). Registering and reading the history happen without a
        pause, so no event falls between them."""
        client = Client(queue=asyncio.Queue(self.client_queue), disconnect=disconnect, **client_filter)
        backlog: list[Published] | None = []
        if last_event_id:
            kept = list(self.history.get(client.tenant_id, ()))
            ids = [e.id for e in kept]
            if last_event_id in ids:
                backlog = [p for e in kept[ids.index(last_event_id) + 1:]
                           if (p := e.rendered()) is not None and client.wants(p)]
            else:
                backlog = None
        self.clients[client.tenant_id].add(client)
        if self.closing:
            client.queue.put_nowait(None)  # shutting down: the stream ends at once
        return client, backlog

    def disconnect(self, client: Client) -> None:
        found = self.clients.get(client.tenant_id)
        if found is not None:
            found.discard(client)
            if not found:
                del self.clients[client.tenant_id]

    def publish(self, event: Published | Received) -> None:
        """Keep the event in its tenant's history and hand it to the clients that want it, never waiting. It is
        rendered when a client of its tenant is connected, or resumes from the history, not before."""
        self.counters.published += 1
        self.history[event.tenant_id].append(event)
        clients = self.clients.get(event.tenant_id)
        if not clients:
            return
        rendered = event.rendered()
        if rendered is None:
            return
        for client in list(clients):
            if not client.wants(rendered):
                continue
            try:
                client.queue.put_nowait(rendered)
                self.counters.handed += 1
            except asyncio.QueueFull:
                self._drop(client)

    def _drop(self, client: Client) -> None:
        client.dropped = True
        self.counters.dropped_clients += 1
        self.disconnect(client)
        log.info("event stream: dropped a client of tenant %s that fell %d events behind", client.tenant_id,
                 client.queue.qsize())
        client.disconnect()

    # -- the consumer -------------------------------------------------------------------------------------------

    async def run(self) -> None:
        def consumer() -> AIOKafkaConsumer:
            return AIOKafkaConsumer(*TOPICS, bootstrap_servers=self.bootstrap, group_id=None,
                                    enable_auto_commit=False, auto_offset_reset="latest",
                                    **bus.BATCHED_FETCH)

        async def session(consumer: AIOKafkaConsumer) -> None:
            await self._position(consumer)
            self.ready.set()
            while True:
                batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
                for tp, records in batches.items():
                    for event in received(records):
                        self.publish(event)
                    self._positions[tp] = records[-1].offset + 1

        await bus.keep_consuming("event stream consumer", consumer, session, bootstrap=self.bootstrap,
                                 topics=TOPICS)

    async def _position(self, consumer: AIOKafkaConsumer) -> None:
        """Start at the end of each partition, or where this replica stopped reading before a reconnect."""
        for _ in range(100):
            if consumer.assignment():
                break
            await asyncio.sleep(0.05)
        for tp in consumer.assignment():
            if tp in self._positions:
                consumer.seek(tp, self._positions[tp])
            else:
                self._positions[tp] = await consumer.position(tp)

    async def wait_ready(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self.ready.wait()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="event-stream")

    async def close(self) -> None:
        """Stop reading and end every stream (so the server can shut down without waiting for them)."""
        self.closing = True
        for clients in list(self.clients.values()):
            for client in list(clients):
                try:
                    client.queue.put_nowait(None)
                except asyncio.QueueFull:
                    self._drop(client)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
