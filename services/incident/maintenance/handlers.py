"""MaintenanceService servicer: proto <-> domain."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from services.incident.maintenance.service import MaintenanceService, MaintenanceWindow, Matcher
from vigil.common.v1 import common_pb2
from vigil.incident.v1 import alerts_pb2, alerts_pb2_grpc
from vigil.runtime import context

FULL_NAME = alerts_pb2.DESCRIPTOR.services_by_name["MaintenanceService"].full_name


def _dt(ts: Timestamp) -> datetime | None:
    return ts.ToDatetime(tzinfo=UTC) if ts.seconds or ts.nanos else None


def window_to_proto(w: MaintenanceWindow) -> alerts_pb2.MaintenanceWindow:
    msg = alerts_pb2.MaintenanceWindow(
        id=w.id, tenant_id=w.tenant_id, name=w.name, comment=w.comment,
        matchers=[alerts_pb2.LabelMatcher(name=m.name, operator=m.operator, value=m.value) for m in w.matchers],
        ci_ids=list(w.ci_ids), integration_ids=list(w.integration_ids), created_by=w.created_by, version=w.version)
    for name in ("starts_at", "ends_at", "created_at", "updated_at"):
        getattr(msg, name).FromDatetime(getattr(w, name))
    return msg


def _matchers(msg: alerts_pb2.MaintenanceWindow) -> tuple[Matcher, ...]:
    return tuple(Matcher(m.name, m.operator, m.value) for m in msg.matchers)


class MaintenanceHandlers(alerts_pb2_grpc.MaintenanceServiceServicer):
    def __init__(self, service: MaintenanceService) -> None:
        self.service = service

    async def CreateMaintenanceWindow(self, request, _ctx):
        w = request.window
        window = await self.service.create(context.current(), w.name, w.comment, _matchers(w), tuple(w.ci_ids),
                                           tuple(w.integration_ids), _dt(w.starts_at), _dt(w.ends_at))
        return alerts_pb2.CreateMaintenanceWindowResponse(window=window_to_proto(window))

    async def GetMaintenanceWindow(self, request, _ctx):
        window = await self.service.get(context.current(), request.id)
        return alerts_pb2.GetMaintenanceWindowResponse(window=window_to_proto(window))

    async def ListMaintenanceWindows(self, request, _ctx):
        limit = request.page.limit or 50
        items, total = await self.service.list(context.current(), _dt(request.active_at), limit, request.page.offset)
        return alerts_pb2.ListMaintenanceWindowsResponse(
            items=[window_to_proto(w) for w in items],
            page=common_pb2.PageInfo(total=total, limit=limit, offset=request.page.offset))

    async def UpdateMaintenanceWindow(self, request, _ctx):
        w = request.window
        values = {"name": w.name, "comment": w.comment, "matchers": _matchers(w), "ci_ids": tuple(w.ci_ids),
                  "integration_ids": tuple(w.integration_ids), "starts_at": _dt(w.starts_at),
                  "ends_at": _dt(w.ends_at)}
        changes = {name: values.get(name) for name in request.update_mask}
        window = await self.service.update(context.current(), w.id, changes, request.expected_version)
        return alerts_pb2.UpdateMaintenanceWindowResponse(window=window_to_proto(window))

    async def DeleteMaintenanceWindow(self, request, _ctx):
        window = await self.service.delete(context.current(), request.id)
        return alerts_pb2.DeleteMaintenanceWindowResponse(window=window_to_proto(window))
