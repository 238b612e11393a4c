"""ITSM domain logic: change requests (state machine, approvals, conflict rules), the service catalog, service
requests and blackout windows. No gRPC, SQL or Kafka here; the store runs these decisions inside its
transactions and the CMDB is reached through the `ImpactLookup` the wiring passes in.

The change state machine (modelled on ITIL / ServiceNow change management):

    new -> assess -> authorize -> scheduled -> implement -> review -> closed
    assess -> new (sent back for rework), assess -> rejected (by the assessor)
    authorize -> rejected (an approver rejects), new/assess/authorize/scheduled -> cancelled

- normal: walks every stage; entering `authorize` opens approval; the last required approval moves it to
  `scheduled` by itself. low/medium risk need 1 approval, high/critical 2 from different people.
- standard: pre-approved; it is created straight in `scheduled` (approval_status `pre_approved`).
- emergency: may skip `assess` (new -> authorize) and needs 1 approval, which moves it straight to
  `implement` (scheduling skipped); every skipped stage is recorded in `skipped_stages`.
Approvers are admins or responders; the requester (requested_by or creator) never approves their own change.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from vigil.runtime.clock import as_utc as utc
from vigil.runtime.clock import new_id, now
from vigil.runtime.context import CallContext
from vigil.runtime.errors import Conflict as ConflictError
from vigil.runtime.errors import (
    FieldError,
    Forbidden,
    InvalidTransition,
    NotFound,
    Unavailable,
    ValidationFailed,
)

CHANGE_TYPES = ("normal", "standard", "emergency")
RISK_LEVELS = ("low", "medium", "high", "critical")
CHANGE_TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"assess", "cancelled"}),
    "assess": frozenset({"authorize", "new", "rejected", "cancelled"}),
    "authorize": frozenset({"cancelled"}),  # leaves by approval decisions (DecideChange)
    "scheduled": frozenset({"implement", "cancelled"}),
    "implement": frozenset({"review"}),
    "review": frozenset({"closed"}),
    "closed": frozenset(),
    "cancelled": frozenset(),
    "rejected": frozenset(),
}
# Extra moves an emergency change may make; the stage it jumps over is recorded.
EMERGENCY_SHORTCUTS: dict[tuple[str, str], str] = {("new", "authorize"): "assess"}
CHANGE_STATUSES = tuple(CHANGE_TRANSITIONS)
ACTIVE_CHANGE_STATUSES = ("new", "assess", "authorize", "scheduled", "implement")
EDITABLE_STATUSES = ("new", "assess")
OUTCOMES = ("successful", "failed", "rolled_back")
APPROVER_ROLES = ("admin", "responder")
CHANGE_SORT_FIELDS = ("created_at", "updated_at", "requested_start", "risk_level", "status", "reference", "title")
CHANGE_UPDATABLE = ("title", "description", "risk_level", "requested_start", "requested_end",
                    "implementation_plan", "rollback_plan", "ci_ids", "status", "outcome", "close_notes")
REQUEST_STATUSES = ("pending_approval", "approved", "rejected", "fulfilled", "cancelled")
# Manual moves of a service request; approved/rejected come from DecideRequest.
REQUEST_TRANSITIONS: dict[str, frozenset[str]] = {
    "pending_approval": frozenset({"cancelled"}),
    "approved": frozenset({"fulfilled", "cancelled"}),
    "rejected": frozenset(),
    "fulfilled": frozenset(),
    "cancelled": frozenset(),
}
DECISIONS = {"approve": "approved", "reject": "rejected"}
CHANGE_REF = re.compile(r"^CHG-(\d{8})$")
REQUEST_REF = re.compile(r"^REQ-(\d{8})$")
MAX_LIMIT = 200
MAX_CI_IDS = 100
LIMITS = {"title": 500, "description": 20_000, "implementation_plan": 20_000, "rollback_plan": 20_000,
          "requested_by": 320, "ci_id": 128, "close_notes": 20_000, "comment": 5_000, "note": 5_000,
          "name": 200, "category": 100, "fulfillment_group": 200, "reason": 2_000, "q": 200}


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Half-open windows: a change ending at 12:00 does not clash with one starting at 12:00."""
    return a_start < b_end and b_start < a_end


# ---------------------------------------------------------------------------------------------- entities


@dataclass(frozen=True, slots=True)
class Approval:
    approver: str
    role: str
    decision: str
    comment: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ChangeConflict:
    kind: str  # same_ci, dependent_ci, blackout
    message: str
    ci_id: str = ""
    change_id: str = ""
    change_reference: str = ""
    blackout_id: str = ""
    related_ci_id: str = ""
    path: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Change:
    id: str
    tenant_id: str
    number: int
    title: str
    description: str
    type: str
    risk_level: str
    status: str
    requested_start: datetime
    requested_end: datetime
    implementation_plan: str
    rollback_plan: str
    requested_by: str
    ci_ids: tuple[str, ...]
    created_by: str
    version: int
    created_at: datetime
    updated_at: datetime
    status_times: dict[str, datetime]
    approval_status: str = "not_requested"
    required_approvals: int = 0
    approvals: tuple[Approval, ...] = ()
    conflicts: tuple[ChangeConflict, ...] = ()
    conflict_check: str = "complete"
    conflict_check_note: str = ""
    skipped_stages: tuple[str, ...] = ()
    outcome: str = ""
    close_notes: str = ""

    @property
    def reference(self) -> str:
        return f"CHG-{self.number:08d}"


@dataclass(frozen=True, slots=True)
class NewChange:
    title: str
    type: str
    risk_level: str
    requested_start: datetime | None
    requested_end: datetime | None
    description: str = ""
    implementation_plan: str = ""
    rollback_plan: str = ""
    requested_by: str = ""
    ci_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChangeQuery:
    status: tuple[str, ...] = ()
    type: tuple[str, ...] = ()
    ci_ids: tuple[str, ...] = ()
    start: datetime | None = None  # window [start, end] the change's requested window overlaps
    end: datetime | None = None
    q: str = ""
    conflicting_only: bool = False
    sort: str = "created_at"
    order: str = "desc"
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class CatalogItem:
    id: str
    tenant_id: str
    name: str
    description: str
    category: str
    requires_approval: bool
    active: bool
    fulfillment_group: str
    version: int
    created_at: datetime
    updated_at: datetime


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
class Blackout:
    id: str
    tenant_id: str
    name: str
    reason: str
    start: datetime
    end: datetime
    ci_ids: tuple[str, ...]
    created_by: str
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Event:
    """An event a mutation decided to publish."""

    type: str
    from_status: str = ""
    to_status: str = ""
    changed_fields: tuple[str, ...] = ()
    approval: Approval | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one mutation decided: the new entity and its events (no events: nothing changed)."""

    entity: Any
    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class Related:
    """A CI linked in the CMDB graph to one of a change's CIs."""

    ci_id: str
    origin: str  # the change's CI it was reached from
    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Page:
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Neighbourhood:
    """What the CMDB knows around a change's CIs: linked CIs, and the given CIs it does not know."""

    related: dict[str, Related]
    unknown: tuple[str, ...] = ()


class ImpactLookup(Protocol):
    async def related(self, ci_ids: Sequence[str]) -> Neighbourhood:
        """CIs that depend on the given CIs and CIs they depend on (excluding the given ones).
        Raises Unavailable when the CMDB cannot answer."""
        ...


class Store(Protocol):
    async def insert_change(self, change: Change, events: tuple[Event, ...]) -> Change: ...
    async def get_change(self, tenant_id: str, key: str) -> Change | None: ...
    async def list_changes(self, tenant_id: str, query: ChangeQuery) -> tuple[list[Change], int]: ...
    async def mutate_change(self, tenant_id: str, key: str, decide: Callable[[Change], Outcome],
                            expected_version: int = 0) -> Change: ...
    async def active_changes_between(self, tenant_id: str, start: datetime, end: datetime,
                                     exclude_id: str) -> list[Change]: ...
    async def blackouts_between(self, tenant_id: str, start: datetime, end: datetime) -> list[Blackout]: ...
    async def insert_catalog_item(self, item: CatalogItem) -> CatalogItem: ...
    async def get_catalog_item(self, tenant_id: str, item_id: str) -> CatalogItem | None: ...
    async def list_catalog_items(self, tenant_id: str, category: str, q: str, include_retired: bool,
                                 page: Page) -> tuple[list[CatalogItem], int]: ...
    async def mutate_catalog_item(self, tenant_id: str, item_id: str,
                                  decide: Callable[[CatalogItem], CatalogItem]) -> CatalogItem: ...
    async def insert_request(self, request: ServiceRequest, events: tuple[Event, ...]) -> ServiceRequest: ...
    async def get_request(self, tenant_id: str, key: str) -> ServiceRequest | None: ...
    async def list_requests(self, tenant_id: str, status: tuple[str, ...], catalog_item_id: str,
                            requested_by: str, page: Page) -> tuple[list[ServiceRequest], int]: ...
    async def mutate_request(self, tenant_id: str, key: str, decide: Callable[[ServiceRequest], Outcome],
                             expected_version: int = 0) -> ServiceRequest: ...
    async def insert_blackout(self, blackout: Blackout) -> Blackout: ...
    async def get_blackout(self, tenant_id: str, blackout_id: str) -> Blackout | None: ...
    async def list_blackouts(self, tenant_id: str, start: datetime | None, end: datetime | None,
                             page: Page) -> tuple[list[Blackout], int]: ...
    async def mutate_blackout(self, tenant_id: str, blackout_id: str,
                              decide: Callable[[Blackout], Blackout]) -> Blackout: ...
    async def delete_blackout(self, tenant_id: str, blackout_id: str) -> bool: ...


# ---------------------------------------------------------------------------------------------- validation


def _check_text(errors: list[FieldError], name: str, value: str, required: bool = False,
                limit_key: str | None = None) -> None:
    limit = LIMITS[limit_key or name]
    if required and not value.strip():
        errors.append(FieldError(name, "is required"))
    elif len(value) > limit:
        errors.append(FieldError(name, f"must be at most {limit} characters"))


def _check_choice(errors: list[FieldError], name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        errors.append(FieldError(name, f"must be one of {', '.join(choices)}"))


def _check_ci_ids(errors: list[FieldError], ci_ids: Sequence[str]) -> None:
    if len(ci_ids) > MAX_CI_IDS:
        errors.append(FieldError("ci_ids", f"at most {MAX_CI_IDS} items"))
    for i, ci in enumerate(ci_ids):
        if not ci or len(ci) > LIMITS["ci_id"]:
            errors.append(FieldError(f"ci_ids[{i}]", f"must be 1 to {LIMITS['ci_id']} characters"))


def _check_window(errors: list[FieldError], start: datetime | None, end: datetime | None,
                  start_name: str, end_name: str) -> None:
    if start is None:
        errors.append(FieldError(start_name, "is required"))
    if end is None:
        errors.append(FieldError(end_name, "is required"))
    if start is not None and end is not None and end <= start:
        errors.append(FieldError(end_name, f"must be after {start_name}"))


def _check_page(errors: list[FieldError], limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        errors.append(FieldError("limit", f"must be between 1 and {MAX_LIMIT}"))
    if offset < 0:
        errors.append(FieldError("offset", "must be 0 or more"))


def validate_new_change(new: NewChange) -> None:
    errors: list[FieldError] = []
    _check_text(errors, "title", new.title, required=True)
    _check_choice(errors, "type", new.type, CHANGE_TYPES)
    _check_choice(errors, "risk_level", new.risk_level, RISK_LEVELS)
    for name in ("description", "implementation_plan", "rollback_plan", "requested_by"):
        _check_text(errors, name, getattr(new, name))
    _check_window(errors, new.requested_start, new.requested_end, "requested_start", "requested_end")
    _check_ci_ids(errors, new.ci_ids)
    if errors:
        raise ValidationFailed("invalid change request", errors)


def validate_change_query(query: ChangeQuery) -> None:
    errors: list[FieldError] = []
    for s in query.status:
        if s not in CHANGE_STATUSES:
            errors.append(FieldError("status", f"unknown status {s!r}; one of {', '.join(CHANGE_STATUSES)}"))
    for t in query.type:
        if t not in CHANGE_TYPES:
            errors.append(FieldError("type", f"unknown type {t!r}; one of {', '.join(CHANGE_TYPES)}"))
    if query.start and query.end and query.end < query.start:
        errors.append(FieldError("to", "must not be before from"))
    _check_ci_ids(errors, query.ci_ids)
    _check_choice(errors, "sort", query.sort, CHANGE_SORT_FIELDS)
    _check_choice(errors, "order", query.order, ("asc", "desc"))
    _check_page(errors, query.limit, query.offset)
    _check_text(errors, "q", query.q)
    if errors:
        raise ValidationFailed("invalid query", errors)


def required_approvals(change_type: str, risk_level: str) -> int:
    if change_type == "standard":
        return 0
    if change_type == "normal" and risk_level in ("high", "critical"):
        return 2
    return 1


def _is_key(key: str, ref: re.Pattern[str] | None) -> bool:
    if ref is not None and ref.match(key):
        return True
    try:
        uuid.UUID(key)
    except ValueError:
        return False
    return True


def check_key(key: str, what: str, ref: re.Pattern[str] | None = None, example: str = "") -> None:
    if not _is_key(key, ref):
        hint = f"a {what} UUID" + (f" or a reference like {example}" if example else "")
        raise ValidationFailed(f"malformed {what} id", [FieldError("id", f"must be {hint}")])


# ---------------------------------------------------------------------------------------------- changes


def detect_conflicts(change: Change, others: Sequence[Change], blackouts: Sequence[Blackout],
                     related: dict[str, Related]) -> tuple[ChangeConflict, ...]:
    """The conflict rules, pure: another active change whose window overlaps this one on one of its CIs
    (same_ci) or on a CI linked to them in the CMDB graph (dependent_ci); a blackout window overlapping this
    one that covers all CIs or one of this change's CIs (blackout)."""
    mine = set(change.ci_ids)
    found: list[ChangeConflict] = []
    for other in others:
        if other.id == change.id or other.status not in ACTIVE_CHANGE_STATUSES:
            continue
        if not overlaps(change.requested_start, change.requested_end, other.requested_start, other.requested_end):
            continue
        for ci in other.ci_ids:
            if ci in mine:
                found.append(ChangeConflict(
                    kind="same_ci", ci_id=ci, change_id=other.id, change_reference=other.reference,
                    message=f"{other.reference} changes {ci} in an overlapping window"))
            elif ci in related:
                rel = related[ci]
                found.append(ChangeConflict(
                    kind="dependent_ci", ci_id=rel.origin, related_ci_id=ci, change_id=other.id,
                    change_reference=other.reference, path=rel.path,
                    message=f"{other.reference} changes {ci}, linked to {rel.origin}, in an overlapping window"))
    for b in blackouts:
        if not overlaps(change.requested_start, change.requested_end, b.start, b.end):
            continue
        hit = sorted(mine & set(b.ci_ids)) if b.ci_ids else []
        if b.ci_ids and not hit:
            continue
        found.append(ChangeConflict(
            kind="blackout", blackout_id=b.id, ci_id=hit[0] if hit else "",
            message=f"the window overlaps blackout {b.name!r}" + (f" on {', '.join(hit)}" if hit else "")))
    return tuple(found)


def mirror_conflict(change: Change, conflict: ChangeConflict) -> ChangeConflict:
    """The same clash seen from the other change's side, so both changes carry the flag."""
    if conflict.kind == "same_ci":
        return ChangeConflict(kind="same_ci", ci_id=conflict.ci_id, change_id=change.id,
                              change_reference=change.reference,
                              message=f"{change.reference} changes {conflict.ci_id} in an overlapping window")
    return ChangeConflict(
        kind=conflict.kind, ci_id=conflict.related_ci_id, related_ci_id=conflict.ci_id, change_id=change.id,
        change_reference=change.reference, path=tuple(reversed(conflict.path)),
        message=f"{change.reference} changes {conflict.ci_id}, linked to {conflict.related_ci_id}, "
                f"in an overlapping window")


def mirrored_conflicts(change: Change, other: Change) -> tuple[ChangeConflict, ...] | None:
    """Other's conflicts after syncing what `change` says about it (None: nothing to change). A change that
    is no longer active (cancelled, rejected, in review, closed) clashes with nothing."""
    kept = tuple(c for c in other.conflicts if c.change_id != change.id)
    mine = ()
    if change.status in ACTIVE_CHANGE_STATUSES and other.status in ACTIVE_CHANGE_STATUSES:
        mine = tuple(mirror_conflict(change, c) for c in change.conflicts if c.change_id == other.id)
    new = kept + mine
    return None if new == other.conflicts else new


def _record(change: Change, target: str, at: datetime, skipped: tuple[str, ...] = ()) -> Change:
    updates: dict[str, Any] = {"status": target, "status_times": {**change.status_times, target: at}}
    if skipped:
        updates["skipped_stages"] = tuple(dict.fromkeys((*change.skipped_stages, *skipped)))
    if target == "authorize":
        updates["approval_status"] = "pending"
        updates["required_approvals"] = required_approvals(change.type, change.risk_level)
        updates["approvals"] = ()
    return replace(change, **updates)


def check_change_transition(change: Change, target: str) -> str:
    """Returns the stage skipped by an emergency shortcut ('' when none). Raises on an illegal move."""
    if target not in CHANGE_TRANSITIONS:
        raise ValidationFailed("invalid status", [FieldError("status", f"unknown status {target!r}")])
    if target in CHANGE_TRANSITIONS[change.status]:
        return ""
    if change.type == "emergency" and (change.status, target) in EMERGENCY_SHORTCUTS:
        return EMERGENCY_SHORTCUTS[(change.status, target)]
    allowed = set(CHANGE_TRANSITIONS[change.status])
    if change.type == "emergency":
        allowed |= {t for (s, t) in EMERGENCY_SHORTCUTS if s == change.status}
    hint = ", ".join(sorted(allowed)) or "none (final)"
    if change.status == "authorize" and target in ("scheduled", "implement", "rejected"):
        hint += "; approval decisions move it on (POST .../approvals)"
    raise InvalidTransition(f"cannot move {change.type} change {change.reference} from {change.status} to "
                            f"{target}; allowed: {hint}",
                            [FieldError("status", f"{change.status} -> {target} is not allowed")])


def apply_change_update(change: Change, changes: dict[str, Any], actor: str, at: datetime,
                        conflicts: tuple[ChangeConflict, ...] | None = None, check: tuple[str, str] | None = None,
                        ) -> Outcome:
    """Field edits (only in new/assess) and at most one transition."""
    changes = dict(changes)
    unknown = sorted(set(changes) - set(CHANGE_UPDATABLE))
    if unknown:
        raise ValidationFailed("unknown fields", [FieldError(f, "cannot be updated") for f in unknown])
    target = changes.pop("status", None)
    if target == change.status:
        target = None
    outcome_value = changes.pop("outcome", None)
    close_notes = changes.pop("close_notes", None)
    errors: list[FieldError] = []
    for name in ("title", "description", "implementation_plan", "rollback_plan"):
        if name in changes:
            _check_text(errors, name, changes[name], required=(name == "title"))
    if "risk_level" in changes:
        _check_choice(errors, "risk_level", changes["risk_level"], RISK_LEVELS)
    if "ci_ids" in changes:
        changes["ci_ids"] = tuple(dict.fromkeys(changes["ci_ids"]))
        _check_ci_ids(errors, changes["ci_ids"])
    for name in ("requested_start", "requested_end"):
        if name in changes:
            if changes[name] is None:
                errors.append(FieldError(name, "may not be empty"))
            else:
                changes[name] = utc(changes[name])
    start = changes.get("requested_start") or change.requested_start
    end = changes.get("requested_end") or change.requested_end
    if ("requested_start" in changes or "requested_end" in changes) and end <= start:
        errors.append(FieldError("requested_end", "must be after requested_start"))
    if outcome_value is not None and outcome_value not in OUTCOMES:
        errors.append(FieldError("outcome", f"must be one of {', '.join(OUTCOMES)}"))
    if close_notes is not None:
        _check_text(errors, "close_notes", close_notes)
    if errors:
        raise ValidationFailed("invalid update", errors)

    field_changes = {k: v for k, v in changes.items() if getattr(change, k) != v}
    if field_changes and change.status not in EDITABLE_STATUSES:
        raise InvalidTransition(
            f"change {change.reference} is {change.status}; its fields can only be edited in new or assess",
            [FieldError(name, f"cannot be edited in status {change.status}") for name in sorted(field_changes)])
    updated = replace(change, **field_changes) if field_changes else change
    if conflicts is not None and check is not None and field_changes:
        updated = replace(updated, conflicts=conflicts, conflict_check=check[0], conflict_check_note=check[1])
    events: list[Event] = []
    if field_changes:
        events.append(Event("change.updated", changed_fields=tuple(sorted(field_changes))))
    if target is not None:
        skipped = check_change_transition(updated, target)
        if target == "review" and not (outcome_value or updated.outcome):
            raise ValidationFailed("an outcome is required to enter review",
                                   [FieldError("outcome", f"is required: one of {', '.join(OUTCOMES)}")])
        extra: dict[str, Any] = {}
        if outcome_value is not None:
            extra["outcome"] = outcome_value
        if close_notes is not None:
            extra["close_notes"] = close_notes
        updated = _record(replace(updated, **extra), target, at, (skipped,) if skipped else ())
        events.append(Event("change.transitioned", from_status=change.status, to_status=target))
    elif outcome_value is not None or close_notes is not None:
        if change.status not in ("implement", "review"):
            raise InvalidTransition(f"outcome and close notes belong to implement/review, not {change.status}",
                                    [FieldError("outcome", f"cannot be set in status {change.status}")])
        extra = {}
        if outcome_value is not None and outcome_value != change.outcome:
            extra["outcome"] = outcome_value
        if close_notes is not None and close_notes != change.close_notes:
            extra["close_notes"] = close_notes
        if extra:
            updated = replace(updated, **extra)
            events.append(Event("change.updated", changed_fields=tuple(sorted(extra))))
    if updated.conflicts and conflicts is not None and field_changes:
        events.append(Event("change.conflict_detected"))
    if not events and updated == change:
        return Outcome(change, ())
    updated = replace(updated, version=change.version + 1, updated_at=at)
    return Outcome(updated, tuple(events))


def apply_change_decision(change: Change, ctx: CallContext, decision: str, comment: str, at: datetime) -> Outcome:
    """One approver's decision. A rejection ends the change; the last required approval moves it on."""
    if decision not in DECISIONS:
        raise ValidationFailed("invalid decision", [FieldError("decision", "must be approve or reject")])
    errors: list[FieldError] = []
    _check_text(errors, "comment", comment)
    if errors:
        raise ValidationFailed("invalid decision", errors)
    if ctx.role not in APPROVER_ROLES:
        raise Forbidden(f"approving changes needs the admin or responder role; you are {ctx.role or 'unknown'}")
    if change.status != "authorize":
        raise InvalidTransition(f"change {change.reference} is {change.status}; approvals are taken in authorize",
                                [FieldError("status", f"is {change.status}, not authorize")])
    if ctx.actor and ctx.actor.lower() in {change.requested_by.lower(), change.created_by.lower()}:
        raise Forbidden(f"{ctx.actor} requested {change.reference} and cannot approve it")
    if any(a.approver.lower() == ctx.actor.lower() for a in change.approvals):
        raise ConflictError(f"{ctx.actor} already decided on {change.reference}",
                            [FieldError("decision", "already recorded for this approver")])
    approval = Approval(approver=ctx.actor, role=ctx.role, decision=DECISIONS[decision], comment=comment, at=at)
    updated = replace(change, approvals=(*change.approvals, approval))
    events = [Event("change.approval_recorded", approval=approval)]
    if approval.decision == "rejected":
        updated = _record(replace(updated, approval_status="rejected"), "rejected", at)
        events.append(Event("change.rejected", from_status="authorize", to_status="rejected", approval=approval))
    elif sum(a.decision == "approved" for a in updated.approvals) >= change.required_approvals:
        target = "implement" if change.type == "emergency" else "scheduled"
        skipped = ("scheduled",) if target == "implement" else ()
        updated = _record(replace(updated, approval_status="approved"), target, at, skipped)
        events.append(Event("change.approved", from_status="authorize", to_status=target, approval=approval))
    updated = replace(updated, version=change.version + 1, updated_at=at)
    return Outcome(updated, tuple(events))


# ---------------------------------------------------------------------------------------------- requests


def apply_request_decision(request: ServiceRequest, ctx: CallContext, decision: str, comment: str,
                           at: datetime) -> Outcome:
    if decision not in DECISIONS:
        raise ValidationFailed("invalid decision", [FieldError("decision", "must be approve or reject")])
    errors: list[FieldError] = []
    _check_text(errors, "comment", comment)
    if errors:
        raise ValidationFailed("invalid decision", errors)
    if ctx.role not in APPROVER_ROLES:
        raise Forbidden(f"approving requests needs the admin or responder role; you are {ctx.role or 'unknown'}")
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
    _check_text(errors, "note", note)
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


# ---------------------------------------------------------------------------------------------- service


class ItsmService:
    def __init__(self, store: Store, impact: ImpactLookup) -> None:
        self.store = store
        self.impact = impact

    # -- changes

    async def _conflicts(self, ctx: CallContext, change: Change) -> tuple[tuple[ChangeConflict, ...], str, str]:
        # The CMDB walk and the local reads do not depend on each other: run them side by side.
        walk = asyncio.ensure_future(self.impact.related(change.ci_ids)) if change.ci_ids else None
        try:
            others, blackouts = await asyncio.gather(
                self.store.active_changes_between(ctx.tenant_id, change.requested_start, change.requested_end,
                                                  change.id),
                self.store.blackouts_between(ctx.tenant_id, change.requested_start, change.requested_end))
        except BaseException:
            if walk is not None:
                walk.cancel()
            raise
        related: dict[str, Related] = {}
        check, note = "complete", ""
        if walk is not None:
            try:
                found = await walk
            except Unavailable as exc:
                # The change is still accepted: conflict detection ran without the graph, and says so.
                check, note = "incomplete", f"CMDB unavailable, dependent CIs not checked: {exc.message}"
            else:
                if found.unknown:
                    unknown = set(found.unknown)
                    raise ValidationFailed("unknown configuration items", [
                        FieldError(f"ci_ids[{i}]", f"unknown configuration item {ci}")
                        for i, ci in enumerate(change.ci_ids) if ci in unknown])
                related = found.related
        return detect_conflicts(change, others, blackouts, related), check, note

    async def create_change(self, ctx: CallContext, new: NewChange) -> Change:
        validate_new_change(new)
        assert new.requested_start is not None and new.requested_end is not None
        at = now()
        change = Change(
            id=ctx.resource_id("change"), tenant_id=ctx.tenant_id, number=0, title=new.title.strip(),
            description=new.description,
            type=new.type, risk_level=new.risk_level, status="new", requested_start=utc(new.requested_start),
            requested_end=utc(new.requested_end), implementation_plan=new.implementation_plan,
            rollback_plan=new.rollback_plan, requested_by=new.requested_by or ctx.actor,
            ci_ids=tuple(dict.fromkeys(new.ci_ids)), created_by=ctx.actor, version=1, created_at=at,
            updated_at=at, status_times={"new": at},
        )
        if change.type == "standard":
            change = replace(change, status="scheduled", approval_status="pre_approved",
                             status_times={"new": at, "scheduled": at})
        conflicts, check, note = await self._conflicts(ctx, change)
        change = replace(change, conflicts=conflicts, conflict_check=check, conflict_check_note=note)
        events = [Event("change.created", to_status=change.status)]
        if conflicts:
            events.append(Event("change.conflict_detected"))
        return await self.store.insert_change(change, tuple(events))

    async def get_change(self, ctx: CallContext, key: str) -> Change:
        check_key(key, "change", CHANGE_REF, "CHG-00000001")
        change = await self.store.get_change(ctx.tenant_id, key)
        if change is None:
            raise NotFound(f"change {key} not found")
        return change

    async def list_changes(self, ctx: CallContext, query: ChangeQuery) -> tuple[list[Change], int]:
        query = replace(query, start=utc(query.start) if query.start else None,
                        end=utc(query.end) if query.end else None)
        validate_change_query(query)
        return await self.store.list_changes(ctx.tenant_id, query)

    async def update_change(self, ctx: CallContext, key: str, changes: dict[str, Any],
                            expected_version: int = 0) -> Change:
        self._require_writer(ctx)
        for _attempt in range(3):
            current = await self.get_change(ctx, key)
            if expected_version and current.version != expected_version:
                raise ConflictError(f"change {current.reference} is at version {current.version}, not "
                                    f"{expected_version}; re-read and retry")
            conflicts = check = None
            window_or_cis = {"requested_start", "requested_end", "ci_ids"} & set(changes)
            if window_or_cis and current.status in EDITABLE_STATUSES:
                probe = apply_change_update(current, {k: changes[k] for k in window_or_cis}, ctx.actor, now())
                conflicts, note_check, note = await self._conflicts(ctx, probe.entity)
                check = (note_check, note)

            def decide(change: Change, conflicts=conflicts, check=check) -> Outcome:
                return apply_change_update(change, changes, ctx.actor, now(), conflicts, check)

            try:
                return await self.store.mutate_change(ctx.tenant_id, current.id, decide, current.version)
            except ConflictError:
                if expected_version:
                    raise
        raise ConflictError(f"change {key} is being changed concurrently; retry")

    async def decide_change(self, ctx: CallContext, key: str, decision: str, comment: str) -> Change:
        check_key(key, "change", CHANGE_REF, "CHG-00000001")

        def decide(change: Change) -> Outcome:
            return apply_change_decision(change, ctx, decision, comment, now())

        return await self.store.mutate_change(ctx.tenant_id, key, decide)

    async def check_conflicts(self, ctx: CallContext, key: str) -> Change:
        self._require_writer(ctx)
        current = await self.get_change(ctx, key)
        conflicts, check, note = await self._conflicts(ctx, current)

        def decide(change: Change) -> Outcome:
            if (change.conflicts, change.conflict_check, change.conflict_check_note) == (conflicts, check, note):
                return Outcome(change, ())
            updated = replace(change, conflicts=conflicts, conflict_check=check, conflict_check_note=note,
                              version=change.version + 1, updated_at=now())
            events = [Event("change.updated", changed_fields=("conflicts",))]
            if conflicts:
                events.append(Event("change.conflict_detected"))
            return Outcome(updated, tuple(events))

        return await self.store.mutate_change(ctx.tenant_id, current.id, decide)

    # -- catalog

    async def create_catalog_item(self, ctx: CallContext, name: str, description: str, category: str,
                                  requires_approval: bool, fulfillment_group: str) -> CatalogItem:
        self._require_admin(ctx, "manage the service catalog")
        self._validate_catalog(name=name, description=description, category=category,
                               fulfillment_group=fulfillment_group)
        at = now()
        item = CatalogItem(id=new_id(), tenant_id=ctx.tenant_id, name=name.strip(), description=description,
                           category=category, requires_approval=requires_approval, active=True,
                           fulfillment_group=fulfillment_group, version=1, created_at=at, updated_at=at)
        return await self.store.insert_catalog_item(item)

    async def get_catalog_item(self, ctx: CallContext, item_id: str) -> CatalogItem:
        check_key(item_id, "catalog item")
        item = await self.store.get_catalog_item(ctx.tenant_id, item_id)
        if item is None:
            raise NotFound(f"catalog item {item_id} not found")
        return item

    async def list_catalog_items(self, ctx: CallContext, category: str, q: str, include_retired: bool,
                                 page: Page) -> tuple[list[CatalogItem], int]:
        errors: list[FieldError] = []
        _check_page(errors, page.limit, page.offset)
        _check_text(errors, "q", q)
        if errors:
            raise ValidationFailed("invalid query", errors)
        return await self.store.list_catalog_items(ctx.tenant_id, category, q, include_retired, page)

    async def update_catalog_item(self, ctx: CallContext, item_id: str, changes: dict[str, Any]) -> CatalogItem:
        self._require_admin(ctx, "manage the service catalog")
        check_key(item_id, "catalog item")
        allowed = {"name", "description", "category", "requires_approval", "fulfillment_group", "active"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ValidationFailed("unknown fields", [FieldError(f, "cannot be updated") for f in unknown])
        self._validate_catalog(**{k: v for k, v in changes.items() if k not in ("requires_approval", "active")})

        def decide(item: CatalogItem) -> CatalogItem:
            diff = {k: v for k, v in changes.items() if getattr(item, k) != v}
            if not diff:
                return item
            return replace(item, **diff, version=item.version + 1, updated_at=now())

        return await self.store.mutate_catalog_item(ctx.tenant_id, item_id, decide)

    @staticmethod
    def _validate_catalog(**fields: str) -> None:
        errors: list[FieldError] = []
        for name, value in fields.items():
            _check_text(errors, name, value, required=(name == "name"),
                        limit_key="description" if name == "description" else None)
        if errors:
            raise ValidationFailed("invalid catalog item", errors)

    # -- service requests

    async def submit_request(self, ctx: CallContext, catalog_item_id: str, requested_by: str,
                             details: dict[str, Any]) -> ServiceRequest:
        errors: list[FieldError] = []
        _check_text(errors, "requested_by", requested_by)
        if not catalog_item_id:
            errors.append(FieldError("catalog_item_id", "is required"))
        elif not _is_key(catalog_item_id, None):
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
            id=ctx.resource_id("request"), tenant_id=ctx.tenant_id, number=0, catalog_item_id=item.id,
            catalog_item_name=item.name,
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

    async def list_requests(self, ctx: CallContext, status: tuple[str, ...], catalog_item_id: str,
                            requested_by: str, page: Page) -> tuple[list[ServiceRequest], int]:
        errors: list[FieldError] = []
        for s in status:
            if s not in REQUEST_STATUSES:
                errors.append(FieldError("status", f"unknown status {s!r}; one of {', '.join(REQUEST_STATUSES)}"))
        _check_page(errors, page.limit, page.offset)
        if errors:
            raise ValidationFailed("invalid query", errors)
        return await self.store.list_requests(ctx.tenant_id, status, catalog_item_id, requested_by, page)

    async def decide_request(self, ctx: CallContext, key: str, decision: str, comment: str) -> ServiceRequest:
        check_key(key, "service request", REQUEST_REF, "REQ-00000001")

        def decide(request: ServiceRequest) -> Outcome:
            return apply_request_decision(request, ctx, decision, comment, now())

        return await self.store.mutate_request(ctx.tenant_id, key, decide)

    async def transition_request(self, ctx: CallContext, key: str, target: str, note: str,
                                 expected_version: int = 0) -> ServiceRequest:
        self._require_writer(ctx)
        check_key(key, "service request", REQUEST_REF, "REQ-00000001")

        def decide(request: ServiceRequest) -> Outcome:
            return apply_request_transition(request, ctx.actor, target, note, now())

        return await self.store.mutate_request(ctx.tenant_id, key, decide, expected_version)

    # -- blackouts

    @staticmethod
    def _validate_blackout(name: str | None, reason: str | None, start: datetime | None, end: datetime | None,
                           ci_ids: Sequence[str] | None, partial: bool) -> None:
        errors: list[FieldError] = []
        if name is not None or not partial:
            _check_text(errors, "name", name or "", required=True)
        if reason is not None:
            _check_text(errors, "reason", reason)
        if not partial:
            _check_window(errors, start, end, "start", "end")
        elif start is not None and end is not None and end <= start:
            errors.append(FieldError("end", "must be after start"))
        if ci_ids is not None:
            _check_ci_ids(errors, ci_ids)
        if errors:
            raise ValidationFailed("invalid blackout", errors)

    async def create_blackout(self, ctx: CallContext, name: str, reason: str, start: datetime | None,
                              end: datetime | None, ci_ids: Sequence[str]) -> Blackout:
        self._require_admin(ctx, "manage blackout windows")
        self._validate_blackout(name, reason, start, end, ci_ids, partial=False)
        assert start is not None and end is not None
        at = now()
        blackout = Blackout(id=new_id(), tenant_id=ctx.tenant_id, name=name.strip(), reason=reason,
                            start=utc(start), end=utc(end), ci_ids=tuple(dict.fromkeys(ci_ids)),
                            created_by=ctx.actor, version=1, created_at=at, updated_at=at)
        return await self.store.insert_blackout(blackout)

    async def get_blackout(self, ctx: CallContext, blackout_id: str) -> Blackout:
        check_key(blackout_id, "blackout")
        blackout = await self.store.get_blackout(ctx.tenant_id, blackout_id)
        if blackout is None:
            raise NotFound(f"blackout {blackout_id} not found")
        return blackout

    async def list_blackouts(self, ctx: CallContext, start: datetime | None, end: datetime | None,
                             page: Page) -> tuple[list[Blackout], int]:
        errors: list[FieldError] = []
        _check_page(errors, page.limit, page.offset)
        if start and end and end < start:
            errors.append(FieldError("to", "must not be before from"))
        if errors:
            raise ValidationFailed("invalid query", errors)
        return await self.store.list_blackouts(ctx.tenant_id, utc(start) if start else None,
                                               utc(end) if end else None, page)

    async def update_blackout(self, ctx: CallContext, blackout_id: str, changes: dict[str, Any]) -> Blackout:
        self._require_admin(ctx, "manage blackout windows")
        check_key(blackout_id, "blackout")
        unknown = sorted(set(changes) - {"name", "reason", "start", "end", "ci_ids"})
        if unknown:
            raise ValidationFailed("unknown fields", [FieldError(f, "cannot be updated") for f in unknown])
        self._validate_blackout(changes.get("name"), changes.get("reason"), changes.get("start"),
                                changes.get("end"), changes.get("ci_ids"), partial=True)
        changes = {k: (utc(v) if isinstance(v, datetime) else tuple(v) if k == "ci_ids" else v)
                   for k, v in changes.items()}

        def decide(b: Blackout) -> Blackout:
            diff = {k: v for k, v in changes.items() if getattr(b, k) != v}
            if not diff:
                return b
            updated = replace(b, **diff)
            if updated.end <= updated.start:
                raise ValidationFailed("invalid blackout", [FieldError("end", "must be after start")])
            return replace(updated, version=b.version + 1, updated_at=now())

        return await self.store.mutate_blackout(ctx.tenant_id, blackout_id, decide)

    async def delete_blackout(self, ctx: CallContext, blackout_id: str) -> None:
        self._require_admin(ctx, "manage blackout windows")
        check_key(blackout_id, "blackout")
        if not await self.store.delete_blackout(ctx.tenant_id, blackout_id):
            raise NotFound(f"blackout {blackout_id} not found")

    # -- roles (the gateway checks them per route too; the domain does not trust one door)

    @staticmethod
    def _require_writer(ctx: CallContext) -> None:
        if ctx.role == "viewer":
            raise Forbidden("viewers cannot change anything")

    @staticmethod
    def _require_admin(ctx: CallContext, what: str) -> None:
        if ctx.role != "admin":
            raise Forbidden(f"only admins may {what}; you are {ctx.role}")
