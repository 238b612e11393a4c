"""The gRPC servicer: proto <-> domain. Domain errors propagate to the server interceptor, which maps them."""

from __future__ import annotations

from datetime import UTC

from services.incident.service import Incident, IncidentService, ListQuery, NewIncident, TimelineEntry
from vigil.common.v1 import common_pb2
from vigil.incident.v1 import incident_pb2, incident_pb2_grpc
from vigil.runtime import context
from vigil.runtime.memo import LISTED_MEMO, Memo
from vigil.runtime.protos import set_time, struct_dict
from vigil.runtime.search import filters_from_proto

FULL_NAME = incident_pb2.DESCRIPTOR.services_by_name["IncidentService"].full_name


def incident_to_proto(i: Incident) -> incident_pb2.Incident:
    msg = incident_pb2.Incident(
        id=i.id, reference=i.reference, tenant_id=i.tenant_id, title=i.title, description=i.description,
        severity=i.severity, status=i.status, source=i.source, ci_ids=list(i.ci_ids),
        resolution_notes=i.resolution_notes, assignee=i.assignee, created_by=i.created_by,
        resolved_by=i.resolved_by, version=i.version, dedup_key=i.dedup_key,
        impacted_ci_ids=list(i.impacted_ci_ids), change_ids=list(i.change_ids),
    )
    set_time(msg.created_at, i.created_at)
    set_time(msg.updated_at, i.updated_at)
    for status, at in i.status_times.items():
        set_time(msg.status_times[status], at)
    if i.labels:
        msg.labels.update(i.labels)
    return msg


def timeline_to_proto(e: TimelineEntry) -> incident_pb2.TimelineEntry:
    msg = incident_pb2.TimelineEntry(id=e.id, incident_id=e.incident_id, kind=e.kind, from_status=e.from_status,
                                     to_status=e.to_status, actor=e.actor, message=e.message)
    set_time(msg.at, e.at)
    if e.changes:
        msg.changes.update(e.changes)
    return msg


class IncidentHandlers(incident_pb2_grpc.IncidentServiceServicer):
    def __init__(self, service: IncidentService) -> None:
        self.service = service
        # List pages' incidents as messages, by tenant, id and version (see vigil.runtime.memo).
        self._listed: Memo[tuple[str, str, int], incident_pb2.Incident] = Memo(LISTED_MEMO)

    async def CreateIncident(self, request, _ctx):
        new = NewIncident(
            title=request.title, severity=request.severity, description=request.description,
            source=request.source, ci_ids=tuple(request.ci_ids), assignee=request.assignee,
            labels=struct_dict(request.labels), dedup_key=request.dedup_key,
        )
        incident = await self.service.create(context.current(), new)
        return incident_pb2.CreateIncidentResponse(incident=incident_to_proto(incident))

    async def GetIncident(self, request, _ctx):
        incident = await self.service.get(context.current(), request.id)
        return incident_pb2.GetIncidentResponse(incident=incident_to_proto(incident))

    async def ListIncidents(self, request, _ctx):
        page = request.page
        query = ListQuery(
            status=tuple(request.status), severity=tuple(request.severity), q=request.q, source=request.source,
            ci_id=request.ci_id, sort=page.sort or "created_at", order=page.order or "desc",
            limit=page.limit or 50, offset=page.offset, filters=filters_from_proto(request.filters),
            cursor=page.cursor,
        )
        listing = await self.service.list(context.current(), query)
        return incident_pb2.ListIncidentsResponse(
            items=[self._listed.get_or_make((i.tenant_id, i.id, i.version), incident_to_proto, i)
                   for i in listing.items],
            page=common_pb2.PageInfo(total=listing.total, limit=query.limit, offset=query.offset,
                                     next_cursor=listing.next_cursor),
        )

    async def UpdateIncident(self, request, _ctx):
        changes = {}
        for name in request.update_mask:
            if name == "ci_ids":
                changes[name] = tuple(request.ci_ids)
            elif name == "labels":
                changes[name] = struct_dict(request.labels)
            elif name in incident_pb2.UpdateIncidentRequest.DESCRIPTOR.fields_by_name and name not in (
                    "id", "update_mask", "expected_version"):
                changes[name] = getattr(request, name)
            else:
                changes[name] = None  # refused by the domain as an unknown field
        incident = await self.service.update(context.current(), request.id, changes, request.expected_version)
        return incident_pb2.UpdateIncidentResponse(incident=incident_to_proto(incident))

    async def TransitionIncident(self, request, _ctx):
        incident = await self.service.transition(context.current(), request.id, request.to_status, request.note,
                                                 request.expected_version)
        return incident_pb2.TransitionIncidentResponse(incident=incident_to_proto(incident))

    async def GetTimeline(self, request, _ctx):
        entries = await self.service.timeline(context.current(), request.id)
        return incident_pb2.GetTimelineResponse(entries=[timeline_to_proto(e) for e in entries])

    async def AddNote(self, request, _ctx):
        entry = await self.service.add_note(context.current(), request.id, request.message)
        return incident_pb2.AddNoteResponse(entry=timeline_to_proto(entry))

    async def CountIncidents(self, request, _ctx):
        count, last = await self.service.count_created(context.current(), request.created_from.ToDatetime(UTC))
        return incident_pb2.CountIncidentsResponse(count=count, last_number=last)
