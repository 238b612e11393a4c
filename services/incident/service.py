"""Incident domain logic: validation, the state machine, and what each change records. No gRPC, SQL or Kafka
here; the store runs these decisions inside its transactions."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from vigil.runtime.clock import new_id, now
from vigil.runtime.context import CallContext
from vigil.runtime.errors import FieldError, InvalidTransition, NotFound, ValidationFailed
from vigil.runtime.search import Filter, Listing

SEVERITIES = ("P1", "P2", "P3", "P4")
INITIAL_STATUS = "triggered"
# The seed's state machine; any other move is INVALID_TRANSITION.
TRANSITIONS: dict[str, frozenset[str]] = {
    "triggered": frozenset({"open"}),
    "open": frozenset({"acknowledged"}),
    "acknowledged": frozenset({"investigating"}),
    "investigating": frozenset({"resolved"}),
    "resolved": frozenset({"closed", "reopened"}),
    "reopened": frozenset({"investigating"}),
    "closed": frozenset(),
}
STATUSES = tuple(TRANSITIONS)
SORT_FIELDS = ("created_at", "updated_at", "severity", "status", "reference", "title")
UPDATABLE = ("title", "description", "severity", "source", "ci_ids", "assignee", "labels", "resolution_notes",
             "status", "resolved_by")
REFERENCE = re.compile(r"^INC-(\d{8})$")
MAX_LIMIT = 200
LIMITS = {"title": 500, "description": 20_000, "source": 100, "assignee": 320, "resolution_notes": 20_000,
          "resolved_by": 320, "dedup_key": 255, "ci_id": 128}
MAX_CI_IDS = 100


def format_reference(number: int) -> str:
    return f"INC-{number:08d}"


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    tenant_id: str
    number: int
    title: str
    description: str
    severity: str
    status: str
    source: str
    ci_ids: tuple[str, ...]
    assignee: str
    labels: dict[str, Any]
    resolution_notes: str
    created_by: str
    resolved_by: str
    dedup_key: str
    version: int
    created_at: datetime
    updated_at: datetime
    status_times: dict[str, datetime]
    # The blast radius of ci_ids at creation, from the CMDB (empty when it was unreachable).
    impacted_ci_ids: tuple[str, ...] = ()

    @property
    def reference(self) -> str:
        return format_reference(self.number)


@dataclass(frozen=True, slots=True)
class NewIncident:
    title: str
    severity: str
    description: str = ""
    source: str = ""
    ci_ids: tuple[str, ...] = ()
    assignee: str = ""
    labels: dict[str, Any] = field(default_factory=dict)
    dedup_key: str = ""


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    id: str
    incident_id: str
    kind: str
    actor: str
    at: datetime
    from_status: str = ""
    to_status: str = ""
    message: str = ""
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Change:
    """What one mutation decided: the new incident, its timeline entries, and the events to publish."""

    incident: Incident
    timeline: tuple[TimelineEntry, ...]
    # (event type, changed fields, from status, to status)
    events: tuple[tuple[str, tuple[str, ...], str, str], ...]


@dataclass(frozen=True, slots=True)
class ListQuery:
    status: tuple[str, ...] = ()
    severity: tuple[str, ...] = ()
    q: str = ""
    source: str = ""
    ci_id: str = ""
    sort: str = "created_at"
    order: str = "desc"
    limit: int = 50
    offset: int = 0
    filters: tuple[Filter, ...] = ()  # structured filters, all of which must hold (vigil.runtime.search)
    cursor: str = ""  # from the previous page's next_cursor; replaces offset


class Store(Protocol):
    async def insert(self, incident: Incident, entry: TimelineEntry) -> Incident: ...
    async def get(self, tenant_id: str, key: str) -> Incident | None: ...
    async def list(self, tenant_id: str, query: ListQuery) -> Listing[Incident]: ...
    async def mutate(self, tenant_id: str, key: str, decide, expected_version: int) -> Incident: ...
    async def timeline(self, tenant_id: str, incident_id: str) -> list[TimelineEntry]: ...
    async def count_created(self, tenant_id: str, since: datetime) -> int: ...


def is_incident_key(key: str) -> bool:
    """An incident is addressed by its UUID or its reference; anything else is malformed."""
    if REFERENCE.match(key):
        return True
    try:
        uuid.UUID(key)
    except ValueError:
        return False
    return True


def _check_text(errors: list[FieldError], name: str, value: str, required: bool = False) -> None:
    if required and not value.strip():
        errors.append(FieldError(name, "is required"))
    elif len(value) > LIMITS[name]:
        errors.append(FieldError(name, f"must be at most {LIMITS[name]} characters"))


def _check_severity(errors: list[FieldError], value: str) -> None:
    if value not in SEVERITIES:
        errors.append(FieldError("severity", f"must be one of {', '.join(SEVERITIES)}"))


def _check_ci_ids(errors: list[FieldError], ci_ids: tuple[str, ...]) -> None:
    if len(ci_ids) > MAX_CI_IDS:
        errors.append(FieldError("ci_ids", f"at most {MAX_CI_IDS} items"))
    for i, ci in enumerate(ci_ids):
        if not ci or len(ci) > LIMITS["ci_id"]:
            errors.append(FieldError(f"ci_ids[{i}]", f"must be 1 to {LIMITS['ci_id']} characters"))


def validate_new(new: NewIncident) -> None:
    errors: list[FieldError] = []
    _check_text(errors, "title", new.title, required=True)
    _check_severity(errors, new.severity)
    for name in ("description", "source", "assignee", "dedup_key"):
        _check_text(errors, name, getattr(new, name))
    _check_ci_ids(errors, new.ci_ids)
    if errors:
        raise ValidationFailed("invalid incident", errors)


def validate_query(query: ListQuery) -> None:
    errors: list[FieldError] = []
    for s in query.status:
        if s not in STATUSES:
            errors.append(FieldError("status", f"unknown status {s!r}; one of {', '.join(STATUSES)}"))
    for s in query.severity:
        if s not in SEVERITIES:
            errors.append(FieldError("severity", f"unknown severity {s!r}; one of {', '.join(SEVERITIES)}"))
    if query.sort not in SORT_FIELDS:
        errors.append(FieldError("sort", f"must be one of {', '.join(SORT_FIELDS)}"))
    if query.order not in ("asc", "desc"):
        errors.append(FieldError("order", "must be asc or desc"))
    if not 1 <= query.limit <= MAX_LIMIT:
        errors.append(FieldError("limit", f"must be between 1 and {MAX_LIMIT}"))
    if query.offset < 0:
        errors.append(FieldError("offset", "must be 0 or more"))
    if query.cursor and query.offset:
        errors.append(FieldError("offset", "cannot be combined with cursor"))
    if len(query.q) > 200:
        errors.append(FieldError("q", "must be at most 200 characters"))
    if errors:
        raise ValidationFailed("invalid query", errors)


def check_transition(current: str, target: str) -> None:
    if target not in TRANSITIONS:
        raise ValidationFailed("invalid status", [FieldError("status", f"unknown status {target!r}")])
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (final)"
        raise InvalidTransition(f"cannot move an incident from {current} to {target}; allowed: {allowed}",
                                [FieldError("status", f"{current} -> {target} is not allowed")])


def apply_update(incident: Incident, changes: dict[str, Any], actor: str, at: datetime, note: str = "") -> Change:
    """Apply field changes and at most one status transition. Raises on invalid input or transition."""
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise ValidationFailed("unknown fields", [FieldError(f, "cannot be updated") for f in unknown])
    errors: list[FieldError] = []
    for name in ("title", "description", "source", "assignee", "resolution_notes", "resolved_by"):
        if name in changes:
            _check_text(errors, name, changes[name], required=(name == "title"))
    if "severity" in changes:
        _check_severity(errors, changes["severity"])
    if "ci_ids" in changes:
        changes["ci_ids"] = tuple(changes["ci_ids"])
        _check_ci_ids(errors, changes["ci_ids"])
    if errors:
        raise ValidationFailed("invalid update", errors)

    target = changes.pop("status", None)
    if target is not None and target == incident.status:
        target = None  # setting the current status again is not a move
    if target is not None:
        check_transition(incident.status, target)

    field_changes = {k: v for k, v in changes.items() if getattr(incident, k) != v}
    updated = replace(incident, **field_changes) if field_changes else incident
    timeline: list[TimelineEntry] = []
    events: list[tuple[str, tuple[str, ...], str, str]] = []
    if field_changes:
        timeline.append(TimelineEntry(
            id=new_id(), incident_id=incident.id, kind="updated", actor=actor, at=at,
            changes={k: _jsonable(v) for k, v in field_changes.items()},
        ))
        events.append(("incident.updated", tuple(sorted(field_changes)), "", ""))
    if target is not None:
        status_times = {**updated.status_times, target: at}
        extra: dict[str, Any] = {}
        if target == "resolved" and not updated.resolved_by:
            extra["resolved_by"] = actor
        updated = replace(updated, status=target, status_times=status_times, **extra)
        timeline.append(TimelineEntry(
            id=new_id(), incident_id=incident.id, kind="transitioned", actor=actor, at=at,
            from_status=incident.status, to_status=target, message=note,
        ))
        events.append(("incident.transitioned", ("status",), incident.status, target))
    if not timeline:
        return Change(incident, (), ())
    updated = replace(updated, version=incident.version + 1, updated_at=at)
    return Change(updated, tuple(timeline), tuple(events))


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


# Asks the CMDB for the CIs downstream of the given ones; never raises (returns what is known).
ImpactLookup = Callable[[CallContext, tuple[str, ...]], Awaitable[tuple[str, ...]]]


class IncidentService:
    def __init__(self, store: Store, impact: ImpactLookup | None = None) -> None:
        self.store = store
        self.impact = impact

    async def create(self, ctx: CallContext, new: NewIncident) -> Incident:
        validate_new(new)
        at = now()
        incident = Incident(
            id=new_id(), tenant_id=ctx.tenant_id, number=0, title=new.title.strip(),
            description=new.description, severity=new.severity, status=INITIAL_STATUS, source=new.source,
            ci_ids=tuple(dict.fromkeys(new.ci_ids)), assignee=new.assignee, labels=dict(new.labels),
            resolution_notes="", created_by=ctx.actor, resolved_by="", dedup_key=new.dedup_key, version=1,
            created_at=at, updated_at=at, status_times={INITIAL_STATUS: at},
        )
        if self.impact is not None and incident.ci_ids:
            incident = replace(incident, impacted_ci_ids=await self.impact(ctx, incident.ci_ids))
        entry = TimelineEntry(id=new_id(), incident_id=incident.id, kind="created", actor=ctx.actor, at=at,
                              to_status=INITIAL_STATUS)
        return await self.store.insert(incident, entry)

    async def get(self, ctx: CallContext, key: str) -> Incident:
        self._check_key(key)
        incident = await self.store.get(ctx.tenant_id, key)
        if incident is None:
            raise NotFound(f"incident {key} not found")
        return incident

    async def list(self, ctx: CallContext, query: ListQuery) -> Listing[Incident]:
        validate_query(query)
        return await self.store.list(ctx.tenant_id, query)

    async def update(self, ctx: CallContext, key: str, changes: dict[str, Any], expected_version: int = 0) -> Incident:
        self._check_key(key)
        changes = dict(changes)

        def decide(incident: Incident) -> Change:
            return apply_update(incident, dict(changes), ctx.actor, now())

        return await self.store.mutate(ctx.tenant_id, key, decide, expected_version)

    async def transition(self, ctx: CallContext, key: str, to_status: str, note: str = "",
                         expected_version: int = 0) -> Incident:
        self._check_key(key)

        def decide(incident: Incident) -> Change:
            return apply_update(incident, {"status": to_status}, ctx.actor, now(), note)

        return await self.store.mutate(ctx.tenant_id, key, decide, expected_version)

    async def timeline(self, ctx: CallContext, key: str) -> list[TimelineEntry]:
        incident = await self.get(ctx, key)
        return await self.store.timeline(ctx.tenant_id, incident.id)

    async def count_created(self, ctx: CallContext, since: datetime) -> int:
        return await self.store.count_created(ctx.tenant_id, since)

    @staticmethod
    def _check_key(key: str) -> None:
        if not is_incident_key(key):
            raise ValidationFailed("malformed incident id",
                                   [FieldError("id", "must be an incident UUID or a reference like INC-00000001")])
