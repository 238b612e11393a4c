"""The incident service's cache of the CMDB's blast-radius answers (services/incident/impact.py), with the CMDB's
gRPC stub replaced by a counting double (the real CMDB and Kafka: tests/cmdb/test_incident_impact.py)."""

import asyncio

import grpc
import pytest

from services.incident.impact import CmdbImpact
from vigil.runtime.context import CallContext


class Answer:
    def __init__(self, ids):
        self.items = [type("Entry", (), {"item": type("Item", (), {"id": i})()})() for i in ids]


class FakeCmdb:
    def __init__(self, graph):
        self.graph = graph  # (tenant, ci) -> downstream ids
        self.calls = 0
        self.fail = False
        self.gate: asyncio.Event | None = None

    async def GetImpact(self, request, timeout):  # noqa: N802 - the stub's method name
        from vigil.runtime import context

        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, None, None)
        tenant = context.current().tenant_id
        return Answer([x for ci in request.ci_ids for x in self.graph.get((tenant, ci), ())])


def impact_with(cmdb: FakeCmdb, watching: bool = True) -> CmdbImpact:
    impact = CmdbImpact("127.0.0.1:1", cache_seconds=30.0)
    impact.stub = cmdb
    impact.watching = watching
    return impact


async def ask(impact: CmdbImpact, tenant: str, ci_ids: tuple[str, ...]) -> tuple[str, ...]:
    from vigil.runtime import context

    token = context.bind(CallContext(tenant_id=tenant, actor="t"))
    try:
        return await impact(context.current(), ci_ids)
    finally:
        context.reset(token)


async def test_answers_are_reused_per_tenant_until_the_tenants_graph_changes():
    cmdb = FakeCmdb({("a", "db"): ("api",), ("b", "db"): ("other",)})
    impact = impact_with(cmdb)
    assert await ask(impact, "a", ("db",)) == ("api",)
    assert await ask(impact, "a", ("db",)) == ("api",)
    assert cmdb.calls == 1
    assert await ask(impact, "b", ("db",)) == ("other",)  # another tenant's graph, never the cached answer
    assert cmdb.calls == 2
    cmdb.graph[("a", "db")] = ("api", "web")
    impact.graph_changed("a")
    assert await ask(impact, "a", ("db",)) == ("api", "web")
    assert await ask(impact, "b", ("db",)) == ("other",)  # tenant b's answer survives a's change
    assert cmdb.calls == 3


async def test_concurrent_lookups_share_one_call_and_a_cancelled_caller_does_not_cancel_it():
    cmdb = FakeCmdb({("a", "db"): ("api",)})
    cmdb.gate = asyncio.Event()
    impact = impact_with(cmdb)
    first = asyncio.create_task(ask(impact, "a", ("db",)))
    others = [asyncio.create_task(ask(impact, "a", ("db",))) for _ in range(9)]
    await asyncio.sleep(0.05)
    first.cancel()
    cmdb.gate.set()
    assert await asyncio.gather(*others) == [("api",)] * 9
    assert cmdb.calls == 1


async def test_nothing_is_cached_while_graph_changes_may_go_unseen_nor_a_failure_nor_an_answer_older_than_a_change():
    cmdb = FakeCmdb({("a", "db"): ("api",)})
    impact = impact_with(cmdb, watching=False)  # the graph-change consumer is not reading
    await ask(impact, "a", ("db",))
    await ask(impact, "a", ("db",))
    assert cmdb.calls == 2
    impact.watching = True
    cmdb.fail = True
    assert await ask(impact, "a", ("db",)) == ()  # the CMDB is down: nothing known, nothing kept
    cmdb.fail = False
    assert await ask(impact, "a", ("db",)) == ("api",)
    assert cmdb.calls == 4
    # a change arriving while an answer is on its way: that answer is not kept
    impact.graph_changed("a")
    cmdb.gate = asyncio.Event()
    asking = asyncio.create_task(ask(impact, "a", ("db",)))
    await asyncio.sleep(0.05)
    impact.graph_changed("a")
    cmdb.gate.set()
    await asking
    cmdb.gate = None
    await ask(impact, "a", ("db",))
    assert cmdb.calls == 6


@pytest.mark.parametrize("seconds", [0.0])
async def test_a_cache_of_zero_seconds_asks_every_time(seconds):
    cmdb = FakeCmdb({("a", "db"): ("api",)})
    impact = impact_with(cmdb)
    impact.cache_seconds = seconds
    await ask(impact, "a", ("db",))
    await ask(impact, "a", ("db",))
    assert cmdb.calls == 2
