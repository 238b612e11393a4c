"""The blast radius of an incident's CIs, asked of the CMDB over gRPC when the incident is created.

A CMDB that is down or slow, or CIs it does not know, never fail an incident create: the lookup returns what
is known (possibly nothing) and logs why.

The answers are cached per tenant until the tenant's graph changes: every replica reads the CMDB's `ci.*` events
(its own Kafka consumer, no group, from the latest offset) and forgets the tenant's answers on each one, so a
create sees a graph change as soon as its event arrives (the outbox relay's poll interval plus Kafka, well under a
second). Nothing is cached while that consumer is not reading (starting, broker down: events could be missed), no
answer is kept longer than `cache_seconds` whatever happens, a failed lookup is not cached, and an answer asked for
before a change that arrived meanwhile is not kept. Concurrent creates on the same CIs share one lookup.
"""

from __future__ import annotations

import asyncio
import logging
import time

import grpc
from aiokafka import AIOKafkaConsumer

from vigil.cmdb.v1 import cmdb_pb2, cmdb_pb2_grpc
from vigil.common.v1 import common_pb2
from vigil.runtime import bus, grpcio, topics
from vigil.runtime.context import CallContext

log = logging.getLogger("vigil.incident.impact")

MAX_IMPACTED = 500  # keeps the incident row bounded; the full radius is one GET /api/cmdb/impact away
MAX_CACHED = 10_000  # answers kept across tenants; beyond, the cache starts again empty
Key = tuple[str, tuple[str, ...]]  # (tenant, the incident's CI ids)


class CmdbImpact:
    def __init__(self, address: str, timeout: float = 2.0, cache_seconds: float = 0.0, bootstrap: str = "") -> None:
        self.stub = cmdb_pb2_grpc.CmdbServiceStub(grpcio.channel(address))
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self.bootstrap = bootstrap
        self.watching = False  # the graph-change consumer is reading: answers may be cached
        self._cached: dict[Key, tuple[float, tuple[str, ...]]] = {}
        self._asking: dict[Key, asyncio.Task] = {}
        self._changes: dict[str, int] = {}  # per tenant: graph changes seen

    async def __call__(self, ctx: CallContext, ci_ids: tuple[str, ...]) -> tuple[str, ...]:
        # ctx is bound to this call already; the channel carries it to the CMDB (vigil/runtime/grpcio.py).
        key = (ctx.tenant_id, ci_ids)
        hit = self._cached.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        asking = self._asking.get(key)
        if asking is None:
            asking = self._asking[key] = asyncio.create_task(self._ask(key))
            asking.add_done_callback(lambda _: self._asking.pop(key, None))
        return await asyncio.shield(asking)  # a caller that goes away does not cancel the others' answer

    async def _ask(self, key: Key) -> tuple[str, ...]:
        tenant_id, ci_ids = key
        changes = self._changes.get(tenant_id, 0)
        try:
            resp = await self.stub.GetImpact(cmdb_pb2.GetImpactRequest(
                ci_ids=list(ci_ids), direction="downstream", ids_only=True,
                page=common_pb2.PageRequest(limit=MAX_IMPACTED)), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                log.warning("impact of %s for tenant %s unavailable: %s", ci_ids, tenant_id, exc.code().name)
                return ()
            impacted: tuple[str, ...] = ()  # CIs the CMDB does not know (yet: a ci.created forgets this)
        else:
            impacted = tuple(x.item.id for x in resp.items)
        if self.watching and self.cache_seconds > 0 and self._changes.get(tenant_id, 0) == changes:
            if len(self._cached) >= MAX_CACHED:
                self._cached.clear()
            self._cached[key] = (time.monotonic() + self.cache_seconds, impacted)
        return impacted

    def graph_changed(self, tenant_id: str) -> None:
        self._changes[tenant_id] = self._changes.get(tenant_id, 0) + 1
        for key in [k for k in self._cached if k[0] == tenant_id]:
            del self._cached[key]

    def _stop_caching(self) -> None:
        self.watching = False
        self._cached.clear()
        for tenant_id in list(self._changes):
            self._changes[tenant_id] += 1

    async def watch(self) -> None:
        """Read the CMDB's events for good, forgetting a tenant's answers on each one (a worker of the service)."""
        if self.cache_seconds <= 0 or not self.bootstrap:
            return

        def consumer() -> AIOKafkaConsumer:
            return AIOKafkaConsumer(topics.CMDB_EVENTS, bootstrap_servers=self.bootstrap, group_id=None,
                                    enable_auto_commit=False, auto_offset_reset="latest")

        async def session(consumer: AIOKafkaConsumer) -> None:
            try:
                for _ in range(100):
                    if consumer.assignment():
                        break
                    await asyncio.sleep(0.05)
                else:
                    raise TimeoutError("no partition of the CMDB's topic assigned")
                for tp in consumer.assignment():
                    await consumer.position(tp)  # resolved now: events from here on are seen
                self.watching = True
                while True:
                    for records in (await consumer.getmany(timeout_ms=1000, max_records=1000)).values():
                        for record in records:
                            tenant = dict(record.headers).get("ce_tenantid")
                            if tenant:
                                self.graph_changed(tenant.decode())
            finally:
                self._stop_caching()

        await bus.keep_consuming("CMDB graph-change consumer", consumer, session, bootstrap=self.bootstrap,
                                 topics=[topics.CMDB_EVENTS])
