"""ITSM: change requests, the service catalog, service requests and blackout windows (the protos are
vigil.itsm.v1.Change, CatalogItem, ServiceRequest, Blackout). See docs/itsm.md for the state machines."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from gateway.schemas.base import (
    AwareTime,
    Body,
    Cursor,
    Derived,
    JsonObject,
    Paging,
    ProtoField,
    Resource,
    Sorting,
    Time,
    in_utc,
    invalid,
)

ChangeType = Literal["normal", "standard", "emergency"]
RiskLevel = Literal["low", "medium", "high", "critical"]
Decision = Literal["approve", "reject"]
CiIds = list[str]


def _aware_time(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        value = datetime.fromisoformat(raw.replace(" ", "+"))  # a '+' left unencoded arrives as a space
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise invalid("must be an ISO 8601 time with a timezone, e.g. 2026-04-01T18:00:00Z")
    return in_utc(value)


# A time in a query string: ISO 8601 with a timezone.
QueryTime = Annotated[datetime, BeforeValidator(_aware_time)]


# -- changes ----------------------------------------------------------------------------------------------------


class NewChange(Body):
    title: str = Field(min_length=1, max_length=500)
    type: ChangeType = "normal"
    risk_level: RiskLevel = "medium"
    requested_start: AwareTime
    requested_end: AwareTime
    description: str = Field(default="", max_length=20_000)
    implementation_plan: str = Field(default="", max_length=20_000)
    rollback_plan: str = Field(default="", max_length=20_000)
    requested_by: str = Field(default="", max_length=320, description="empty: the caller")
    ci_ids: CiIds = Field(default_factory=list, max_length=100)


class ChangePatch(Body):
    """Fields (before authorization) and/or a `status` to move to."""

    title: str | None = Field(default=None, min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=20_000)
    risk_level: RiskLevel | None = None
    requested_start: AwareTime | None = None
    requested_end: AwareTime | None = None
    implementation_plan: str | None = Field(default=None, max_length=20_000)
    rollback_plan: str | None = Field(default=None, max_length=20_000)
    ci_ids: CiIds | None = Field(default=None, max_length=100)
    status: str | None = None
    outcome: str | None = Field(default=None, description="at review: successful, failed or rolled_back")
    close_notes: str | None = Field(default=None, max_length=20_000)


class DecisionBody(Body):
    decision: Decision
    comment: str = Field(default="", max_length=5_000)


class ChangeQuery(Paging, Sorting, Cursor):
    status: list[str] = Field(default_factory=list)
    type: list[str] = Field(default_factory=list)
    ci_id: Annotated[list[str], ProtoField("ci_ids")] = Field(default_factory=list, description="changes on any of "
                                                                                               "these CIs")
    from_: QueryTime | None = Field(None, alias="from", description="changes whose window ends after this")
    to: QueryTime | None = Field(None, description="changes whose window starts before this")
    q: str = ""
    conflicting: Annotated[bool, ProtoField("conflicting_only")] = Field(False, description="only flagged changes")


class CiChangeQuery(Paging, Sorting, Cursor):
    """The changes of one CI: the change filters but `ci_id`."""

    status: list[str] = Field(default_factory=list)
    type: list[str] = Field(default_factory=list)
    from_: QueryTime | None = Field(None, alias="from")
    to: QueryTime | None = None
    q: str = ""
    conflicting: Annotated[bool, ProtoField("conflicting_only")] = False


class Approval(Resource):
    approver: str
    role: str
    decision: str
    comment: str
    at: Time


class ChangeConflict(Resource):
    kind: Literal["same_ci", "dependent_ci", "blackout"]
    message: str
    ci_id: str | None
    change_id: str | None
    change_reference: str | None
    blackout_id: str | None
    related_ci_id: str | None
    path: list[str]


class Change(Resource):
    id: str
    reference: str = Field(description="per tenant, gap-free: CHG-00000001")
    title: str
    description: str
    type: ChangeType
    risk_level: RiskLevel
    status: str
    requested_start: Time
    requested_end: Time
    implementation_plan: str
    rollback_plan: str
    requested_by: str
    ci_ids: list[str]
    created_by: str
    approval_status: str
    required_approvals: int
    approvals: list[Approval]
    has_conflicts: Annotated[bool, Derived(lambda c: bool(c.conflicts))]
    conflicts: list[ChangeConflict]
    conflict_check: str
    conflict_check_note: str | None
    skipped_stages: list[str]
    outcome: str | None
    close_notes: str
    version: int
    created_at: Time
    updated_at: Time
    status_times: dict[str, Time]


# -- catalog ----------------------------------------------------------------------------------------------------


class NewCatalogItem(Body):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000)
    category: str = Field(default="", max_length=100)
    requires_approval: bool = True
    fulfillment_group: str = Field(default="", max_length=200)


class CatalogPatch(Body):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    category: str | None = Field(default=None, max_length=100)
    requires_approval: bool | None = None
    fulfillment_group: str | None = Field(default=None, max_length=200)
    active: bool | None = None


class CatalogQuery(Paging):
    category: str = ""
    q: str = ""
    include_retired: bool = False


class CatalogItem(Resource):
    id: str
    name: str
    description: str
    category: str
    requires_approval: bool
    active: bool = Field(description="retired items stay readable but take no new requests")
    fulfillment_group: str
    version: int
    created_at: Time
    updated_at: Time


# -- service requests -------------------------------------------------------------------------------------------


class NewRequest(Body):
    catalog_item_id: str = Field(min_length=1, max_length=64)
    requested_by: str = Field(default="", max_length=320, description="empty: the caller")
    details: dict[str, Any] = Field(default_factory=dict)


class RequestPatch(Body):
    status: Literal["fulfilled", "cancelled"]
    note: str = Field(default="", max_length=5_000)


class RequestQuery(Paging, Sorting, Cursor):
    status: list[str] = Field(default_factory=list)
    catalog_item_id: str = ""
    requested_by: str = ""


class ServiceRequest(Resource):
    id: str
    reference: str = Field(description="per tenant, gap-free: REQ-00000001")
    catalog_item_id: str
    catalog_item_name: str
    requested_by: str
    status: Literal["pending_approval", "approved", "rejected", "fulfilled", "cancelled"]
    details: JsonObject
    approvals: list[Approval]
    created_by: str
    fulfilled_by: str | None
    note: str
    version: int
    created_at: Time
    updated_at: Time
    status_times: dict[str, Time]


# -- blackouts --------------------------------------------------------------------------------------------------


class NewBlackout(Body):
    name: str = Field(min_length=1, max_length=200)
    start: AwareTime
    end: AwareTime
    reason: str = Field(default="", max_length=2_000)
    ci_ids: CiIds = Field(default_factory=list, max_length=100, description="empty: every CI of the tenant")


class BlackoutPatch(Body):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    start: AwareTime | None = None
    end: AwareTime | None = None
    reason: str | None = Field(default=None, max_length=2_000)
    ci_ids: CiIds | None = Field(default=None, max_length=100)


class BlackoutQuery(Paging):
    from_: QueryTime | None = Field(None, alias="from", description="blackouts ending after this")
    to: QueryTime | None = Field(None, description="blackouts starting before this")


class Blackout(Resource):
    id: str
    name: str
    reason: str
    start: Time
    end: Time
    ci_ids: list[str]
    created_by: str
    version: int
    created_at: Time
    updated_at: Time


class Deleted(Resource):
    id: str
    deleted: bool
