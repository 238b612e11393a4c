"""The gRPC servicer: proto <-> domain. Domain errors propagate to the server interceptor, which maps them."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from services.itsm.service import (
    Approval,
    Blackout,
    CatalogItem,
    Change,
    ChangeQuery,
    ItsmService,
    NewChange,
    Page,
    RequestQuery,
    ServiceRequest,
)
from vigil.common.v1 import common_pb2
from vigil.itsm.v1 import itsm_pb2, itsm_pb2_grpc
from vigil.runtime import context
from vigil.runtime.protos import struct_dict
from vigil.runtime.search import Listing, filters_from_proto

FULL_NAME = itsm_pb2.DESCRIPTOR.services_by_name["ItsmService"].full_name


def _ts(msg: Timestamp, value: datetime | None) -> None:
    if value is not None:
        msg.FromDatetime(value)


def _dt(ts: Timestamp) -> datetime | None:
    """An unset Timestamp is None (a missing time), never 1970."""
    if not ts.seconds and not ts.nanos:
        return None
    return ts.ToDatetime(tzinfo=UTC)


def approval_to_proto(a: Approval) -> itsm_pb2.Approval:
    msg = itsm_pb2.Approval(approver=a.approver, role=a.role, decision=a.decision, comment=a.comment)
    msg.at.FromDatetime(a.at)
    return msg


def change_to_proto(c: Change) -> itsm_pb2.Change:
    msg = itsm_pb2.Change(
        id=c.id, reference=c.reference, tenant_id=c.tenant_id, title=c.title, description=c.description,
        type=c.type, risk_level=c.risk_level, status=c.status, implementation_plan=c.implementation_plan,
        rollback_plan=c.rollback_plan, requested_by=c.requested_by, ci_ids=list(c.ci_ids),
        created_by=c.created_by, version=c.version, approval_status=c.approval_status,
        required_approvals=c.required_approvals, approvals=[approval_to_proto(a) for a in c.approvals],
        conflicts=[itsm_pb2.Conflict(kind=x.kind, ci_id=x.ci_id, change_id=x.change_id,
                                     change_reference=x.change_reference, blackout_id=x.blackout_id,
                                     related_ci_id=x.related_ci_id, path=list(x.path), message=x.message)
                   for x in c.conflicts],
        conflict_check=c.conflict_check, conflict_check_note=c.conflict_check_note,
        skipped_stages=list(c.skipped_stages), outcome=c.outcome, close_notes=c.close_notes,
    )
    for name in ("requested_start", "requested_end", "created_at", "updated_at"):
        getattr(msg, name).FromDatetime(getattr(c, name))
    for status, at in c.status_times.items():
        msg.status_times[status].FromDatetime(at)
    return msg


def item_to_proto(i: CatalogItem) -> itsm_pb2.CatalogItem:
    msg = itsm_pb2.CatalogItem(id=i.id, tenant_id=i.tenant_id, name=i.name, description=i.description,
                               category=i.category, requires_approval=i.requires_approval, active=i.active,
                               fulfillment_group=i.fulfillment_group, version=i.version)
    msg.created_at.FromDatetime(i.created_at)
    msg.updated_at.FromDatetime(i.updated_at)
    return msg


def request_to_proto(r: ServiceRequest) -> itsm_pb2.ServiceRequest:
    msg = itsm_pb2.ServiceRequest(
        id=r.id, reference=r.reference, tenant_id=r.tenant_id, catalog_item_id=r.catalog_item_id,
        catalog_item_name=r.catalog_item_name, requested_by=r.requested_by, status=r.status,
        approvals=[approval_to_proto(a) for a in r.approvals], created_by=r.created_by,
        fulfilled_by=r.fulfilled_by, note=r.note, version=r.version)
    if r.details:
        msg.details.update(r.details)
    msg.created_at.FromDatetime(r.created_at)
    msg.updated_at.FromDatetime(r.updated_at)
    for status, at in r.status_times.items():
        msg.status_times[status].FromDatetime(at)
    return msg


def blackout_to_proto(b: Blackout) -> itsm_pb2.Blackout:
    msg = itsm_pb2.Blackout(id=b.id, tenant_id=b.tenant_id, name=b.name, reason=b.reason, ci_ids=list(b.ci_ids),
                            created_by=b.created_by, version=b.version)
    for name in ("start", "end", "created_at", "updated_at"):
        getattr(msg, name).FromDatetime(getattr(b, name))
    return msg


def _page(request_page: common_pb2.PageRequest) -> Page:
    return Page(limit=request_page.limit or 50, offset=request_page.offset)


def _page_info(total: int, page: Page) -> common_pb2.PageInfo:
    return common_pb2.PageInfo(total=total, limit=page.limit, offset=page.offset)


def _listing_info(listing: Listing, limit: int, offset: int) -> common_pb2.PageInfo:
    return common_pb2.PageInfo(total=listing.total, limit=limit, offset=offset, next_cursor=listing.next_cursor)


def _mask(request, fields: dict[str, object]) -> dict[str, object]:
    """The fields named in update_mask; an unknown name passes through to be refused by the domain."""
    return {name: fields[name] if name in fields else None for name in request.update_mask}


class ItsmHandlers(itsm_pb2_grpc.ItsmServiceServicer):
    def __init__(self, service: ItsmService) -> None:
        self.service = service

    # -- changes

    async def CreateChange(self, request, _ctx):
        new = NewChange(
            title=request.title, description=request.description, type=request.type,
            risk_level=request.risk_level, requested_start=_dt(request.requested_start),
            requested_end=_dt(request.requested_end), implementation_plan=request.implementation_plan,
            rollback_plan=request.rollback_plan, requested_by=request.requested_by, ci_ids=tuple(request.ci_ids))
        change = await self.service.create_change(context.current(), new)
        return itsm_pb2.CreateChangeResponse(change=change_to_proto(change))

    async def GetChange(self, request, _ctx):
        change = await self.service.get_change(context.current(), request.id)
        return itsm_pb2.GetChangeResponse(change=change_to_proto(change))

    async def ListChanges(self, request, _ctx):
        page = request.page
        query = ChangeQuery(
            status=tuple(request.status), type=tuple(request.type), ci_ids=tuple(request.ci_ids),
            start=_dt(getattr(request, "from")), end=_dt(request.to), q=request.q,
            conflicting_only=request.conflicting_only, sort=page.sort or "created_at", order=page.order or "desc",
            limit=page.limit or 50, offset=page.offset, filters=filters_from_proto(request.filters),
            cursor=page.cursor)
        listing = await self.service.list_changes(context.current(), query)
        return itsm_pb2.ListChangesResponse(items=[change_to_proto(c) for c in listing.items],
                                            page=_listing_info(listing, query.limit, query.offset))

    async def UpdateChange(self, request, _ctx):
        changes = _mask(request, {
            "title": request.title, "description": request.description, "risk_level": request.risk_level,
            "requested_start": _dt(request.requested_start), "requested_end": _dt(request.requested_end),
            "implementation_plan": request.implementation_plan, "rollback_plan": request.rollback_plan,
            "ci_ids": tuple(request.ci_ids), "status": request.status, "outcome": request.outcome,
            "close_notes": request.close_notes,
        })
        change = await self.service.update_change(context.current(), request.id, changes, request.expected_version)
        return itsm_pb2.UpdateChangeResponse(change=change_to_proto(change))

    async def DecideChange(self, request, _ctx):
        change = await self.service.decide_change(context.current(), request.id, request.decision, request.comment)
        return itsm_pb2.DecideChangeResponse(change=change_to_proto(change))

    async def CheckChangeConflicts(self, request, _ctx):
        change = await self.service.check_conflicts(context.current(), request.id)
        return itsm_pb2.CheckChangeConflictsResponse(change=change_to_proto(change))

    # -- catalog

    async def CreateCatalogItem(self, request, _ctx):
        item = await self.service.create_catalog_item(
            context.current(), request.name, request.description, request.category, request.requires_approval,
            request.fulfillment_group)
        return itsm_pb2.CreateCatalogItemResponse(item=item_to_proto(item))

    async def GetCatalogItem(self, request, _ctx):
        item = await self.service.get_catalog_item(context.current(), request.id)
        return itsm_pb2.GetCatalogItemResponse(item=item_to_proto(item))

    async def ListCatalogItems(self, request, _ctx):
        page = _page(request.page)
        items, total = await self.service.list_catalog_items(context.current(), request.category, request.q,
                                                             request.include_retired, page)
        return itsm_pb2.ListCatalogItemsResponse(items=[item_to_proto(i) for i in items],
                                                 page=_page_info(total, page))

    async def UpdateCatalogItem(self, request, _ctx):
        changes = _mask(request, {name: getattr(request, name) for name in (
            "name", "description", "category", "requires_approval", "fulfillment_group", "active")})
        item = await self.service.update_catalog_item(context.current(), request.id, changes)
        return itsm_pb2.UpdateCatalogItemResponse(item=item_to_proto(item))

    # -- service requests

    async def SubmitRequest(self, request, _ctx):
        details = struct_dict(request.details) if request.details.fields else {}
        created = await self.service.submit_request(context.current(), request.catalog_item_id,
                                                    request.requested_by, details)
        return itsm_pb2.SubmitRequestResponse(request=request_to_proto(created))

    async def GetRequest(self, request, _ctx):
        found = await self.service.get_request(context.current(), request.id)
        return itsm_pb2.GetRequestResponse(request=request_to_proto(found))

    async def ListRequests(self, request, _ctx):
        page = request.page
        query = RequestQuery(status=tuple(request.status), catalog_item_id=request.catalog_item_id,
                             requested_by=request.requested_by, filters=filters_from_proto(request.filters),
                             sort=page.sort or "reference", order=page.order or "desc", limit=page.limit or 50,
                             offset=page.offset, cursor=page.cursor)
        listing = await self.service.list_requests(context.current(), query)
        return itsm_pb2.ListRequestsResponse(items=[request_to_proto(r) for r in listing.items],
                                             page=_listing_info(listing, query.limit, query.offset))

    async def DecideRequest(self, request, _ctx):
        decided = await self.service.decide_request(context.current(), request.id, request.decision,
                                                    request.comment)
        return itsm_pb2.DecideRequestResponse(request=request_to_proto(decided))

    async def TransitionRequest(self, request, _ctx):
        moved = await self.service.transition_request(context.current(), request.id, request.to_status,
                                                      request.note, request.expected_version)
        return itsm_pb2.TransitionRequestResponse(request=request_to_proto(moved))

    # -- blackouts

    async def CreateBlackout(self, request, _ctx):
        blackout = await self.service.create_blackout(context.current(), request.name, request.reason,
                                                      _dt(request.start), _dt(request.end), tuple(request.ci_ids))
        return itsm_pb2.CreateBlackoutResponse(blackout=blackout_to_proto(blackout))

    async def GetBlackout(self, request, _ctx):
        blackout = await self.service.get_blackout(context.current(), request.id)
        return itsm_pb2.GetBlackoutResponse(blackout=blackout_to_proto(blackout))

    async def ListBlackouts(self, request, _ctx):
        page = _page(request.page)
        items, total = await self.service.list_blackouts(context.current(), _dt(getattr(request, "from")),
                                                         _dt(request.to), page)
        return itsm_pb2.ListBlackoutsResponse(items=[blackout_to_proto(b) for b in items],
                                              page=_page_info(total, page))

    async def UpdateBlackout(self, request, _ctx):
        changes = _mask(request, {"name": request.name, "reason": request.reason, "start": _dt(request.start),
                                  "end": _dt(request.end), "ci_ids": tuple(request.ci_ids)})
        blackout = await self.service.update_blackout(context.current(), request.id, changes)
        return itsm_pb2.UpdateBlackoutResponse(blackout=blackout_to_proto(blackout))

    async def DeleteBlackout(self, request, _ctx):
        await self.service.delete_blackout(context.current(), request.id)
        return itsm_pb2.DeleteBlackoutResponse()
