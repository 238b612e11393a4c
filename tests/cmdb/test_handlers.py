"""The gRPC contract others rely on (ITSM conflict checks, the incident service): CmdbService through an
in-process server on port 0 over a real SQLite store. GetImpact without a page returns every item; ids_only;
unknown CIs listed, or NOT_FOUND when none is known; errors carry the envelope code and fields."""

import json

import grpc
import pytest

from services.cmdb.handlers import FULL_NAME, CmdbHandlers
from vigil.cmdb.v1 import cmdb_pb2, cmdb_pb2_grpc
from vigil.runtime import context, grpcio
from vigil.runtime.errors import CODE_KEY, FIELDS_KEY


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'cmdb.db'}"


@pytest.fixture
async def stub(cmdb):
    server = grpcio.GrpcServer("127.0.0.1", 0)
    server.add(cmdb_pb2_grpc.add_CmdbServiceServicer_to_server, CmdbHandlers(cmdb), FULL_NAME)
    port = await server.start()
    channel = grpcio.channel(f"127.0.0.1:{port}")
    token = context.bind(context.CallContext(tenant_id="t1", actor="itsm@svc", role="admin"))
    yield cmdb_pb2_grpc.CmdbServiceStub(channel)
    context.reset(token)
    await channel.close()
    await server.stop(0)


async def test_get_impact_contract(stub):
    imported = await stub.BulkImport(cmdb_pb2.BulkImportRequest(
        items=[cmdb_pb2.NewItem(name=n, ref=n, criticality=c, **{"class": k}) for n, k, c in
               (("db", "database", "critical"), ("api", "service", "high"), ("web", "application", "low"))],
        relations=[cmdb_pb2.NewRelation(source_id="api", target_id="db", type="depends_on"),
                   cmdb_pb2.NewRelation(source_id="web", target_id="api", type="depends_on")]))
    refs = dict(imported.refs)
    full = await stub.GetImpact(cmdb_pb2.GetImpactRequest(ci_ids=[refs["db"], "ghost"]))
    assert [(x.item.id, x.item.name, x.depth, list(x.path), list(x.relation_types)) for x in full.items] == [
        (refs["api"], "api", 1, [refs["db"], refs["api"]], ["depends_on"]),
        (refs["web"], "web", 2, [refs["db"], refs["api"], refs["web"]], ["depends_on", "depends_on"])]
    assert list(full.unknown_ci_ids) == ["ghost"]
    assert (full.summary.total, dict(full.summary.by_class), full.summary.highest_criticality) == (
        2, {"service": 1, "application": 1}, "high")
    lean = await stub.GetImpact(cmdb_pb2.GetImpactRequest(ci_ids=[refs["web"]], direction="upstream",
                                                          ids_only=True, depth=1))
    assert [(x.item.id, x.item.name, getattr(x.item, "class")) for x in lean.items] == [(refs["api"], "", "service")]
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await stub.GetImpact(cmdb_pb2.GetImpactRequest(ci_ids=["ghost"]))
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await stub.GetImpact(cmdb_pb2.GetImpactRequest(ci_ids=[refs["db"]], direction="sideways"))
    meta = dict(exc.value.trailing_metadata())
    assert meta[CODE_KEY] == "VALIDATION_ERROR" and json.loads(meta[FIELDS_KEY])[0]["field"] == "direction"
    found = await stub.BatchGetItems(cmdb_pb2.BatchGetItemsRequest(ids=[refs["db"], "ghost"]))
    assert [i.name for i in found.items] == ["db"] and list(found.missing_ids) == ["ghost"]


async def test_find_items_by_name_matches_names_and_ids_of_the_callers_tenant_only(stub):
    imported = await stub.BulkImport(cmdb_pb2.BulkImportRequest(
        items=[cmdb_pb2.NewItem(name=n, ref=n, **{"class": "service"}) for n in ("checkout", "web-01", "db")]))
    refs = dict(imported.refs)
    found = await stub.FindItemsByName(cmdb_pb2.FindItemsByNameRequest(
        names=["checkout", refs["db"], "nope", "checkout"]))
    assert sorted(i.name for i in found.items) == ["checkout", "db"]
    other = context.bind(context.CallContext(tenant_id="t2", actor="x", role="admin"))
    try:
        assert not (await stub.FindItemsByName(cmdb_pb2.FindItemsByNameRequest(names=["checkout"]))).items
    finally:
        context.reset(other)
