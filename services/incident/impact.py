"""The blast radius of an incident's CIs, asked of the CMDB over gRPC when the incident is created.

A CMDB that is down or slow, or CIs it does not know, never fail an incident create: the lookup returns what
is known (possibly nothing) and logs why."""

from __future__ import annotations

import logging

import grpc

from vigil.cmdb.v1 import cmdb_pb2, cmdb_pb2_grpc
from vigil.common.v1 import common_pb2
from vigil.runtime import grpcio
from vigil.runtime.context import CallContext

log = logging.getLogger("vigil.incident.impact")

MAX_IMPACTED = 500  # keeps the incident row bounded; the full radius is one GET /api/cmdb/impact away


class CmdbImpact:
    def __init__(self, address: str, timeout: float = 2.0) -> None:
        self.stub = cmdb_pb2_grpc.CmdbServiceStub(grpcio.channel(address))
        self.timeout = timeout

    async def __call__(self, ctx: CallContext, ci_ids: tuple[str, ...]) -> tuple[str, ...]:
        # ctx is bound to this call already; the client interceptor carries it to the CMDB.
        try:
            resp = await self.stub.GetImpact(cmdb_pb2.GetImpactRequest(
                ci_ids=list(ci_ids), direction="downstream", ids_only=True,
                page=common_pb2.PageRequest(limit=MAX_IMPACTED)), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                log.warning("impact of %s for tenant %s unavailable: %s", ci_ids, ctx.tenant_id, exc.code().name)
            return ()
        return tuple(x.item.id for x in resp.items)
