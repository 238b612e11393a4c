"""Service requests against catalog items: submitted, approved or rejected by someone other than the
requester, then fulfilled or cancelled."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from services.itsm.service.catalog import CatalogItem
from services.itsm.service.common import (
    DECISIONS,
    Approval,
    Event,
    Outcome,
    check_choice,
    check_decision,
    check_key,
    check_page,
    check_text,
    is_key,
    require_writer,
)
from vigil.runtime.clock import new_id, now
from vigil.runtime.context import CallContext
from vigil.runtime.errors import FieldError, Forbidden, InvalidTransition, NotFound, ValidationFailed
from vigil.runtime.search import Filter, Listing

REQUEST_STATUSES = ("pending_approval", "approved", "rejected", "fulfilled", "cancelled")
# Manual moves of a service request; approved/rejected come from DecideRequest.
REQUEST_TRANSITIONS: dict[str, frozenset[str]] = {
    "pending_approval": frozenset({"cancelled"}),
    "approved": frozenset({"fulfilled", "cancelled"}),
    "rejected": frozenset(),
    "fulfilled": frozenset(),
    "cancelled": frozenset(),
}
REQUEST_REF = re.compile(r"^REQ-(\d{8})$")
REQUEST_SORT_FIELDS = ("reference", "created_at", "updated_at", "status")


@dataclass(frozen=True, slots=True)
class ServiceRequest:
    id: str
    tenant_id: str
    number: int
    catalog_item_id: str
    catalog_item_name: str
    requested_by: str
    status: str
    details: dict[str, Any]
    approvals: tuple[Approval, ...]
    created_by: str
    fulfilled_by: str
    note: str
    version: int
    created_at: datetime
    updated_at: datetime
    status_times: dict[str, datetime]

    @property
    def reference(self) -> str:
        return f"REQ-{self.number:08d}"


@dataclass(frozen=True, slots=True)
class RequestQuery:
    status: tuple[str, ...] = ()
    catalog_item_id: str = ""
    requested_by: str = ""
    filters: tuple[Filter, ...] = ()  # structured filters, all of which must hold (vigil.runtime.search)
    sort: str = "reference"
    order: str = "desc"
    limit: int = 50
    offset: int = 0
    cursor: str = ""  # from the previous page's next_cursor; replaces offset


class RequestStore(Protocol):
    async def get_catalog_item(self, tenant_id: str, item_id: str) -> CatalogItem | None: ...
    async def insert_request(self, request: ServiceRequest, events: tuple[Event, ...]) -> ServiceRequest: ...
    async def get_request(self, tenant_id: str, key: str) -> ServiceRequest | None: ...
    async def list_requests(self, tenant_id: str, query: RequestQuery) -> Listing[ServiceRequest]: ...
    async def mutate_request(self, tenant_id: str, key: str, decide: Callable[[ServiceRequest], Outcome],
                             expected_version: int = 0) -> ServiceRequest: ...


def apply_request_decision(request: ServiceRequest, ctx: CallContext, decision: str, comment: str,
                           at: datetime) -> Outcome:
    check_decision(ctx, decision, comment, "requests")
    if request.status != "pending_approval":
        raise InvalidTransition(f"request {request.reference} is {request.status}, not pending_approval",
                                [FieldError("status", f"is {request.status}, not pending_approval")])
    if ctx.actor and ctx.actor.lower() in {request.requested_by.lower(), request.created_by.lower()}:
        raise Forbidden(f"{ctx.actor} requested {request.reference} and cannot approve it")
    approval = Approval(approver=ctx.actor, role=ctx.role, decision=DECISIONS[decision], comment=comment, at=at)
    target = approval.decision
    updated = replace(request, status=target, approvals=(*request.approvals, approval),
                      status_times={**request.status_times, target: at}, version=request.version + 1,
                      updated_at=at)
    return Outcome(updated, (Event(f"request.{target}", from_status=request.status, to_status=target,
                                   approval=approval),))


def apply_request_transition(request: ServiceRequest, actor: str, target: str, note: str, at: datetime) -> Outcome:
    if target not in REQUEST_STATUSES:
        raise ValidationFailed("invalid status", [FieldError("status", f"unknown status {target!r}")])
    errors: list[FieldError] = []
    check_text(errors, "note", note)
    if errors:
        raise ValidationFailed("invalid transition", errors)
    if target not in REQUEST_TRANSITIONS[request.status]:
        allowed = ", ".join(sorted(REQUEST_TRANSITIONS[request.status])) or "none (final)"
        if request.status == "pending_approval" and target in ("approved", "rejected"):
            allowed += "; approvals decide (POST .../approvals)"
        raise InvalidTransition(f"cannot move request {request.reference} from {request.status} to {target}; "
                                f"allowed: {allowed}",
                                [FieldError("status", f"{request.status} -> {target} is not allowed")])
    extra = {"fulfilled_by": actor} if target == "fulfilled" else {}
    updated = replace(request, status=target, note=note or request.note,
                      status_times={**request.status_times, target: at}, version=request.version + 1,
                      updated_at=at, **extra)
    return Outcome(updated, (Event(f"request.{target}", from_status=request.status, to_status=target),))


class RequestsService:
    store: RequestStore

    async def submit_request(self, ctx: CallContext, catalog_item_id: str, requested_by: str,
                             details: dict[str, Any]) -> ServiceRequest:
        errors: list[FieldError] = []
        check_text(errors, "requested_by", requested_by)
        if not catalog_item_id:
            errors.append(FieldError("catalog_item_id", "is required"))
        elif not is_key(catalog_item_id, None):
            errors.append(FieldError("catalog_item_id", "unknown catalog item"))
        if errors:
            raise ValidationFailed("invalid service request", errors)
        item = await self.store.get_catalog_item(ctx.tenant_id, catalog_item_id)
        if item is None:
            raise ValidationFailed("unknown catalog item",
                                   [FieldError("catalog_item_id", f"unknown catalog item {catalog_item_id}")])
        if not item.active:
            raise ValidationFailed("retired catalog item",
                                   [FieldError("catalog_item_id", f"catalog item {item.name!r} is retired")])
        at = now()
        # Items that need no approval start approved (nothing to wait for).
        status = "pending_approval" if item.requires_approval else "approved"
        request = ServiceRequest(
            id=new_id(), tenant_id=ctx.tenant_id, number=0, catalog_item_id=item.id, catalog_item_name=item.name,
            requested_by=requested_by or ctx.actor, status=status, details=dict(details), approvals=(),
            created_by=ctx.actor, fulfilled_by="", note="", version=1, created_at=at, updated_at=at,
            status_times={status: at},
        )
        return await self.store.insert_request(request, (Event("request.submitted", to_status=status),))

    async def get_request(self, ctx: CallContext, key: str) -> ServiceRequest:
        check_key(key, "service request", REQUEST_REF, "REQ-00000001")
        request = await self.store.get_request(ctx.tenant_id, key)
        if request is None:
            raise NotFound(f"service request {key} not found")
        return request

    async def list_requests(self, ctx: CallContext, query: RequestQuery) -> Listing[ServiceRequest]:
        errors: list[FieldError] = []
        for s in query.status:
            if s not in REQUEST_STATUSES:
                errors.append(FieldError("status", f"unknown status {s!r}; one of {', '.join(REQUEST_STATUSES)}"))
        check_choice(errors, "sort", query.sort, REQUEST_SORT_FIELDS)
        check_choice(errors, "order", query.order, ("asc", "desc"))
        check_page(errors, query.limit, query.offset, query.cursor)
        if errors:
            raise ValidationFailed("invalid query", errors)
        return await self.store.list_requests(ctx.tenant_id, query)

    async def decide_request(self, ctx: CallContext, key: str, decision: str, comment: str) -> ServiceRequest:
        check_key(key, "service request", REQUEST_REF, "REQ-00000001")

        def decide(request: ServiceRequest) -> Outcome:
            return apply_request_decision(request, ctx, decision, comment, now())

        return await self.store.mutate_request(ctx.tenant_id, key, decide)

    async def transition_request(self, ctx: CallContext, key: str, target: str, note: str,
                                 expected_version: int = 0) -> ServiceRequest:
        require_writer(ctx)
        check_key(key, "service request", REQUEST_REF, "REQ-00000001")

        def decide(request: ServiceRequest) -> Outcome:
            return apply_request_transition(request, ctx.actor, target, note, now())

        return await self.store.mutate_request(ctx.tenant_id, key, decide, expected_version)
