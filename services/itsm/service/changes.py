"""Change requests: the state machine, approvals and the conflict rules, and the service operations on them.

The state machine (modelled on ITIL / ServiceNow change management):

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

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from services.itsm.service.blackouts import Blackout
from services.itsm.service.common import (
    DECISIONS,
    Approval,
    Event,
    Outcome,
    check_choice,
    check_ci_ids,
    check_decision,
    check_key,
    check_page,
    check_text,
    check_window,
    refuse_unknown_cis,
    require_writer,
)
from vigil.runtime.clock import as_utc as utc
from vigil.runtime.clock import now
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
from vigil.runtime.search import Filter, Listing

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
# `approved` in a status filter is not a state: it selects the changes whose approval has been granted (by
# their approvers, or in advance for standard changes) and that are not finished yet, i.e. `scheduled` or
# `implement` with approval_status `approved` or `pre_approved`.
APPROVED = "approved"
APPROVED_STATUSES = ("scheduled", "implement")
GRANTED_APPROVALS = ("approved", "pre_approved")
STATUS_FILTERS = (*CHANGE_STATUSES, APPROVED)
APPROVAL_STATUSES = ("not_requested", "pending", "approved", "rejected", "pre_approved")
ACTIVE_CHANGE_STATUSES = ("new", "assess", "authorize", "scheduled", "implement")
EDITABLE_STATUSES = ("new", "assess")
OUTCOMES = ("successful", "failed", "rolled_back")
CHANGE_SORT_FIELDS = ("created_at", "updated_at", "requested_start", "risk_level", "status", "reference", "title")
CHANGE_UPDATABLE = ("title", "description", "risk_level", "requested_start", "requested_end",
                    "implementation_plan", "rollback_plan", "ci_ids", "status", "outcome", "close_notes")
CHANGE_REF = re.compile(r"^CHG-(\d{8})$")


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Half-open windows: a change ending at 12:00 does not clash with one starting at 12:00."""
    return a_start < b_end and b_start < a_end


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
    filters: tuple[Filter, ...] = ()  # structured filters, all of which must hold (vigil.runtime.search)
    cursor: str = ""  # from the previous page's next_cursor; replaces offset


@dataclass(frozen=True, slots=True)
class Related:
    """A CI linked in the CMDB graph to one of a change's CIs."""

    ci_id: str
    origin: str  # the change's CI it was reached from
    path: tuple[str, ...]


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


@dataclass(frozen=True, slots=True)
class Surroundings:
    """What a change's window overlaps, read inside the transaction that writes the change: the other active
    changes and the blackouts."""

    changes: tuple[Change, ...] = ()
    blackouts: tuple[Blackout, ...] = ()


# Reads the surroundings of a (proposed) change inside the store's write transaction.
Around = Callable[[Change], Awaitable[Surroundings]]
# A decision on an existing change; it may look around (conflict rules) before deciding.
ChangeDecision = Callable[[Change, Around], Outcome | Awaitable[Outcome]]


class ChangeStore(Protocol):
    async def insert_change(self, change: Change, decide: Callable[[Surroundings], Outcome]) -> Change: ...
    async def get_change(self, tenant_id: str, key: str) -> Change | None: ...
    async def list_changes(self, tenant_id: str, query: ChangeQuery) -> Listing[Change]: ...
    async def mutate_change(self, tenant_id: str, key: str, decide: ChangeDecision,
                            expected_version: int = 0) -> Change: ...


def validate_new_change(new: NewChange) -> None:
    errors: list[FieldError] = []
    check_text(errors, "title", new.title, required=True)
    check_choice(errors, "type", new.type, CHANGE_TYPES)
    check_choice(errors, "risk_level", new.risk_level, RISK_LEVELS)
    for name in ("description", "implementation_plan", "rollback_plan", "requested_by"):
        check_text(errors, name, getattr(new, name))
    check_window(errors, new.requested_start, new.requested_end, "requested_start", "requested_end")
    check_ci_ids(errors, new.ci_ids)
    if errors:
        raise ValidationFailed("invalid change request", errors)


def validate_change_query(query: ChangeQuery) -> None:
    errors: list[FieldError] = []
    for s in query.status:
        if s not in STATUS_FILTERS:
            errors.append(FieldError("status", f"unknown status {s!r}; one of {', '.join(STATUS_FILTERS)}"))
    for t in query.type:
        if t not in CHANGE_TYPES:
            errors.append(FieldError("type", f"unknown type {t!r}; one of {', '.join(CHANGE_TYPES)}"))
    if query.start and query.end and query.end < query.start:
        errors.append(FieldError("to", "must not be before from"))
    check_ci_ids(errors, query.ci_ids)
    check_choice(errors, "sort", query.sort, CHANGE_SORT_FIELDS)
    check_choice(errors, "order", query.order, ("asc", "desc"))
    check_page(errors, query.limit, query.offset, query.cursor)
    check_text(errors, "q", query.q)
    if errors:
        raise ValidationFailed("invalid query", errors)


def required_approvals(change_type: str, risk_level: str) -> int:
    if change_type == "standard":
        return 0
    if change_type == "normal" and risk_level in ("high", "critical"):
        return 2
    return 1


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


def blackout_conflicts(change: Change, blackout_id: str, blackout: Blackout | None
                       ) -> tuple[ChangeConflict, ...] | None:
    """The change's conflicts after one blackout was created, moved or (None) deleted; None: nothing to change.
    Only active changes are flagged; a change that left the active states keeps its own record."""
    if change.status not in ACTIVE_CHANGE_STATUSES:
        return None
    kept = tuple(c for c in change.conflicts if c.blackout_id != blackout_id)
    found = detect_conflicts(change, (), (blackout,), {}) if blackout is not None else ()
    new = kept + found
    return None if new == change.conflicts else new


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
            check_text(errors, name, changes[name], required=(name == "title"))
    if "risk_level" in changes:
        check_choice(errors, "risk_level", changes["risk_level"], RISK_LEVELS)
    if "ci_ids" in changes:
        changes["ci_ids"] = tuple(dict.fromkeys(changes["ci_ids"]))
        check_ci_ids(errors, changes["ci_ids"])
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
        check_text(errors, "close_notes", close_notes)
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
    check_decision(ctx, decision, comment, "changes")
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


class _StaleWalk(Exception):
    """The change's CIs changed between the CMDB walk and the write transaction."""


class ChangesService:
    store: ChangeStore
    impact: ImpactLookup

    async def _neighbourhood(self, ctx: CallContext, change: Change) -> tuple[dict[str, Related], str, str]:
        """The CIs linked to the change's CIs in the CMDB graph, and whether the walk was complete. This is the
        one slow part of conflict detection (a gRPC call), so it runs before the write transaction; the other
        changes and blackouts are read inside it (see `Surroundings`)."""
        if not change.ci_ids:
            return {}, "complete", ""
        try:
            found = await self.impact.related(change.ci_ids)
        except Unavailable as exc:
            # The change is still accepted: conflict detection ran without the graph, and says so.
            return {}, "incomplete", f"CMDB unavailable, dependent CIs not checked: {exc.message}"
        refuse_unknown_cis(change.ci_ids, found.unknown)
        return found.related, "complete", ""

    async def create_change(self, ctx: CallContext, new: NewChange) -> Change:
        validate_new_change(new)
        assert new.requested_start is not None and new.requested_end is not None
        at = now()
        change = Change(
            id=ctx.resource_id("change"), tenant_id=ctx.tenant_id, number=0, title=new.title.strip(),
            description=new.description, type=new.type, risk_level=new.risk_level, status="new", requested_start=utc(new.requested_start),
            requested_end=utc(new.requested_end), implementation_plan=new.implementation_plan,
            rollback_plan=new.rollback_plan, requested_by=new.requested_by or ctx.actor,
            ci_ids=tuple(dict.fromkeys(new.ci_ids)), created_by=ctx.actor, version=1, created_at=at,
            updated_at=at, status_times={"new": at},
        )
        if change.type == "standard":
            change = replace(change, status="scheduled", approval_status="pre_approved",
                             status_times={"new": at, "scheduled": at})
        related, check, note = await self._neighbourhood(ctx, change)

        def decide(around: Surroundings) -> Outcome:
            conflicts = detect_conflicts(change, around.changes, around.blackouts, related)
            created = replace(change, conflicts=conflicts, conflict_check=check, conflict_check_note=note)
            events = [Event("change.created", to_status=created.status)]
            if conflicts:
                events.append(Event("change.conflict_detected"))
            return Outcome(created, tuple(events))

        return await self.store.insert_change(change, decide)

    async def get_change(self, ctx: CallContext, key: str) -> Change:
        check_key(key, "change", CHANGE_REF, "CHG-00000001")
        change = await self.store.get_change(ctx.tenant_id, key)
        if change is None:
            raise NotFound(f"change {key} not found")
        return change

    async def list_changes(self, ctx: CallContext, query: ChangeQuery) -> Listing[Change]:
        query = replace(query, start=utc(query.start) if query.start else None,
                        end=utc(query.end) if query.end else None)
        validate_change_query(query)
        return await self.store.list_changes(ctx.tenant_id, query)

    async def update_change(self, ctx: CallContext, key: str, changes: dict[str, Any],
                            expected_version: int = 0) -> Change:
        require_writer(ctx)
        window_fields = {k: changes[k] for k in ("requested_start", "requested_end", "ci_ids") if k in changes}
        for _attempt in range(3):
            current = await self.get_change(ctx, key)
            if expected_version and current.version != expected_version:
                raise ConflictError(f"change {current.reference} is at version {current.version}, not "
                                    f"{expected_version}; re-read and retry")
            # (the CIs walked, what the CMDB linked to them, whether the walk was complete, why not)
            walk: tuple[tuple[str, ...], dict[str, Related], str, str] | None = None
            if window_fields and current.status in EDITABLE_STATUSES:
                probe = apply_change_update(current, window_fields, ctx.actor, now()).entity
                walk = (probe.ci_ids, *await self._neighbourhood(ctx, probe))

            async def decide(change: Change, around: Around, walk=walk) -> Outcome:
                if not window_fields or change.status not in EDITABLE_STATUSES:
                    return apply_change_update(change, changes, ctx.actor, now())
                moved = apply_change_update(change, window_fields, ctx.actor, now()).entity
                if walk is None or moved.ci_ids != walk[0]:  # the CMDB was asked about other CIs: walk again
                    raise _StaleWalk
                _walked, related, check, note = walk
                found = await around(moved)
                conflicts = detect_conflicts(moved, found.changes, found.blackouts, related)
                return apply_change_update(change, changes, ctx.actor, now(), conflicts, (check, note))

            try:
                return await self.store.mutate_change(ctx.tenant_id, current.id, decide, expected_version)
            except _StaleWalk:
                continue
        raise ConflictError(f"change {key} is being changed concurrently; retry")

    async def decide_change(self, ctx: CallContext, key: str, decision: str, comment: str) -> Change:
        check_key(key, "change", CHANGE_REF, "CHG-00000001")

        def decide(change: Change, _around: Around) -> Outcome:
            return apply_change_decision(change, ctx, decision, comment, now())

        return await self.store.mutate_change(ctx.tenant_id, key, decide)

    async def check_conflicts(self, ctx: CallContext, key: str) -> Change:
        require_writer(ctx)
        current = await self.get_change(ctx, key)
        related, check, note = await self._neighbourhood(ctx, current)

        async def decide(change: Change, around: Around) -> Outcome:
            if change.ci_ids != current.ci_ids:  # the CMDB walk above was for other CIs
                raise ConflictError(f"change {change.reference} was changed concurrently; retry")
            found = await around(change)
            conflicts = detect_conflicts(change, found.changes, found.blackouts, related)
            if (change.conflicts, change.conflict_check, change.conflict_check_note) == (conflicts, check, note):
                return Outcome(change, ())
            updated = replace(change, conflicts=conflicts, conflict_check=check, conflict_check_note=note,
                              version=change.version + 1, updated_at=now())
            events = [Event("change.updated", changed_fields=("conflicts",))]
            if conflicts:
                events.append(Event("change.conflict_detected"))
            return Outcome(updated, tuple(events))

        return await self.store.mutate_change(ctx.tenant_id, current.id, decide)
