"""The ItsmService servicer through an in-process gRPC server on port 0 (real SQLite store): proto <-> domain,
domain errors -> status + trailing metadata, and the one call the AI service makes, "what changed on these
CIs in this window" (ListChanges with ci_ids + from/to)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf import struct_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from services.itsm.events import ItsmEvents
from services.itsm.handlers import ItsmHandlers
from services.itsm.server import MIGRATIONS
from services.itsm.service import ItsmService, Neighbourhood
from services.itsm.store import ItsmStore, outbox_table
from vigil.common.v1 import common_pb2
from vigil.itsm.v1 import itsm_pb2, itsm_pb2_grpc
from vigil.runtime import errors
from vigil.runtime.context import CallContext
from vigil.runtime.db import Database
from vigil.runtime.grpcio import GrpcServer
from vigil.runtime.outbox import Outbox

T0 = datetime(2026, 4, 1, 18, 0, tzinfo=UTC)


class NoGraph:
    async def related(self, ci_ids: Sequence[str]) -> Neighbourhood:
        return Neighbourhood(related={})


def ts(value: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value)
    return out


@pytest.fixture
async def stub(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'itsm.db'}", "itsm")
    await db.migrate(MIGRATIONS)
    service = ItsmService(ItsmStore(db, ItsmEvents(Outbox(outbox_table, "vigil/itsm"))), NoGraph())
    server = GrpcServer("127.0.0.1", 0)
    server.add(itsm_pb2_grpc.add_ItsmServiceServicer_to_server, ItsmHandlers(service), "vigil.itsm.v1.ItsmService")
    port = await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    yield itsm_pb2_grpc.ItsmServiceStub(channel)
    await channel.close()
    await server.stop(0)
    await db.dispose()


META = CallContext(tenant_id="t1", actor="alice@x", role="responder").metadata()


async def create(stub, title: str, ci_ids: list[str], start: datetime, hours: float) -> itsm_pb2.Change:
    resp = await stub.CreateChange(itsm_pb2.CreateChangeRequest(
        title=title, type="normal", risk_level="low", requested_start=ts(start),
        requested_end=ts(start + timedelta(hours=hours)), ci_ids=ci_ids), metadata=META)
    return resp.change


async def test_what_changed_on_these_cis_in_this_window(stub):
    before = await create(stub, "before", ["api"], T0 - timedelta(days=2), 2)
    during = await create(stub, "during", ["db"], T0 - timedelta(hours=1), 2)
    straddles = await create(stub, "straddles", ["api", "cache"], T0 - timedelta(days=1), 48)
    await create(stub, "other ci", ["mail"], T0, 1)
    await create(stub, "after", ["db"], T0 + timedelta(days=3), 1)
    req = itsm_pb2.ListChangesRequest(ci_ids=["api", "db"], to=ts(T0 + timedelta(hours=6)))
    getattr(req, "from").CopyFrom(ts(T0 - timedelta(hours=6)))
    resp = await stub.ListChanges(req, metadata=META)
    assert {c.title for c in resp.items} == {"during", "straddles"}
    assert resp.page.total == 2
    assert before.reference == "CHG-00000001" and during.status == "new" and list(straddles.ci_ids) == ["api", "cache"]
    # another tenant asks the same question and sees nothing
    other = CallContext(tenant_id="t2", actor="x", role="admin").metadata()
    assert (await stub.ListChanges(req, metadata=other)).page.total == 0


async def test_domain_errors_carry_code_and_fields(stub):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.CreateChange(itsm_pb2.CreateChangeRequest(title="x", type="normal", risk_level="low",
                                                             requested_start=ts(T0), requested_end=ts(T0)),
                                metadata=META)
    mapped = errors.from_rpc_error(err.value)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert isinstance(mapped, errors.ValidationFailed) and [f.field for f in mapped.fields] == ["requested_end"]
    c = await create(stub, "a", [], T0, 1)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.UpdateChange(itsm_pb2.UpdateChangeRequest(id=c.id, update_mask=["status"], status="closed"),
                                metadata=META)
    assert isinstance(errors.from_rpc_error(err.value), errors.InvalidTransition)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetChange(itsm_pb2.GetChangeRequest(id=c.id))  # no tenant in the metadata
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_filters_and_cursor_over_grpc(stub):
    for i in range(7):
        await create(stub, f"c{i}", ["db" if i % 2 else "api"], T0 + timedelta(hours=i), 1)
    on_db = common_pb2.Filter(attribute="ci_id", operator="IS", values=[struct_pb2.Value(string_value="db")])
    late = common_pb2.Filter(attribute="requested_start", operator="GTE",
                             values=[struct_pb2.Value(string_value=(T0 + timedelta(hours=2)).isoformat())])
    seen, cursor = [], ""
    while True:
        resp = await stub.ListChanges(itsm_pb2.ListChangesRequest(
            filters=[on_db, late], page=common_pb2.PageRequest(limit=1, sort="requested_start", order="asc",
                                                               cursor=cursor)), metadata=META)
        seen += [c.title for c in resp.items]
        assert resp.page.total == 2
        if not resp.page.next_cursor:
            break
        cursor = resp.page.next_cursor
    assert seen == ["c3", "c5"]
    bad = common_pb2.Filter(attribute="risk_level", operator="GT", values=[struct_pb2.Value(number_value=2)])
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ListChanges(itsm_pb2.ListChangesRequest(filters=[bad]), metadata=META)
    mapped = errors.from_rpc_error(err.value)
    assert isinstance(mapped, errors.ValidationFailed) and [f.field for f in mapped.fields] == ["filters[0].values[0]"]
