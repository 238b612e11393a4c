"""The itsm service's outbound gRPC: the CMDB's blast-radius call, adapted to the domain's ImpactLookup.

Conflict detection needs both directions: a change to a database clashes with a change to the service that
depends on it (downstream of the database), and the other way round (upstream of the service). Both walks go
out at once with `ids_only` (no item payloads) and a short deadline; any failure is reported as Unavailable
so the domain accepts the change and marks the check incomplete.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import grpc

from services.itsm.service import Neighbourhood, Related
from vigil.cmdb.v1 import cmdb_pb2, cmdb_pb2_grpc
from vigil.runtime import grpcio
from vigil.runtime.errors import Unavailable, from_rpc_error


class CmdbImpact:
    def __init__(self, address: str, depth: int, timeout: float) -> None:
        self.address = address
        self.depth = depth
        self.timeout = timeout
        self._channel: grpcio.Channel | None = None
        self._cmdb: cmdb_pb2_grpc.CmdbServiceStub | None = None

    def _stub(self) -> cmdb_pb2_grpc.CmdbServiceStub:
        if self._cmdb is None:
            self._channel = grpcio.channel(self.address)
            self._cmdb = cmdb_pb2_grpc.CmdbServiceStub(self._channel)
        return self._cmdb

    async def related(self, ci_ids: Sequence[str]) -> Neighbourhood:
        stub = self._stub()

        async def walk(direction: str) -> cmdb_pb2.GetImpactResponse:
            request = cmdb_pb2.GetImpactRequest(ci_ids=list(ci_ids), depth=self.depth, direction=direction,
                                                ids_only=True)
            return await stub.GetImpact(request, timeout=self.timeout)

        try:
            down, up = await asyncio.gather(walk("downstream"), walk("upstream"))
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                # The CMDB refuses a walk when it knows none of the starting CIs.
                return Neighbourhood(related={}, unknown=tuple(dict.fromkeys(ci_ids)))
            err = from_rpc_error(exc)
            raise Unavailable(f"{exc.code().name.lower()}: {err.message}") from None
        mine = set(ci_ids)
        related: dict[str, tuple[int, Related]] = {}
        for resp in (down, up):
            for hit in resp.items:
                ci = hit.item.id
                if ci in mine:
                    continue
                path = tuple(hit.path)
                best = related.get(ci)
                if best is None or hit.depth < best[0]:
                    related[ci] = (hit.depth, Related(ci_id=ci, origin=path[0] if path else "", path=path))
        unknown = tuple(dict.fromkeys([*down.unknown_ci_ids, *up.unknown_ci_ids]))
        return Neighbourhood(related={ci: r for ci, (_, r) in related.items()}, unknown=unknown)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
