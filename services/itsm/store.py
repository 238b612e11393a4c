"""ITSM persistence (SQLAlchemy Core, SQLite or PostgreSQL). Every query is scoped by tenant_id.

Each write is one transaction holding the row change and its outbox events. Change and request references
(CHG-00000001, REQ-00000001) come from a per-tenant counter row incremented in the insert's transaction, so
they are gap-free and never reused. A change's CIs are also kept in `change_cis` so "changes on these CIs"
is an indexed lookup. Times are stored in UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.itsm.events import ItsmEvents
from services.itsm.service import (
    ACTIVE_CHANGE_STATUSES,
    CHANGE_REF,
    REQUEST_REF,
    Approval,
    Blackout,
    CatalogItem,
    Change,
    ChangeConflict,
    ChangeQuery,
    Event,
    Outcome,
    Page,
    ServiceRequest,
    mirrored_conflicts,
)
from vigil.runtime import outbox
from vigil.runtime.clock import as_utc
from vigil.runtime.db import Database, dialect_insert
from vigil.runtime.errors import Conflict, FieldError, NotFound

metadata = sa.MetaData()
_TS = sa.DateTime(timezone=True)

changes = sa.Table(
    "changes",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("number", sa.BigInteger, nullable=False),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("risk_level", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("requested_start", _TS, nullable=False),
    sa.Column("requested_end", _TS, nullable=False),
    sa.Column("implementation_plan", sa.Text, nullable=False),
    sa.Column("rollback_plan", sa.Text, nullable=False),
    sa.Column("requested_by", sa.String(320), nullable=False),
    sa.Column("ci_ids", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(320), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    sa.Column("status_times", sa.JSON, nullable=False),
    sa.Column("approval_status", sa.String(20), nullable=False),
    sa.Column("required_approvals", sa.Integer, nullable=False),
    sa.Column("approvals", sa.JSON, nullable=False),
    sa.Column("conflicts", sa.JSON, nullable=False),
    sa.Column("has_conflicts", sa.Boolean, nullable=False),
    sa.Column("conflict_check", sa.String(20), nullable=False),
    sa.Column("conflict_check_note", sa.Text, nullable=False),
    sa.Column("skipped_stages", sa.JSON, nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("close_notes", sa.Text, nullable=False),
    sa.UniqueConstraint("tenant_id", "number", name="uq_changes_tenant_number"),
    sa.Index("ix_changes_tenant_created", "tenant_id", "created_at"),
    sa.Index("ix_changes_tenant_status", "tenant_id", "status"),
    sa.Index("ix_changes_tenant_window", "tenant_id", "requested_start", "requested_end"),
)

change_cis = sa.Table(
    "change_cis",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("ci_id", sa.String(128), primary_key=True),
    sa.Column("change_id", sa.String(36), primary_key=True),
)

catalog_items = sa.Table(
    "catalog_items",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("category", sa.String(100), nullable=False),
    sa.Column("requires_approval", sa.Boolean, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("fulfillment_group", sa.String(200), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    sa.UniqueConstraint("tenant_id", "name", name="uq_catalog_items_tenant_name"),
)

service_requests = sa.Table(
    "service_requests",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("number", sa.BigInteger, nullable=False),
    sa.Column("catalog_item_id", sa.String(36), nullable=False),
    sa.Column("catalog_item_name", sa.String(200), nullable=False),
    sa.Column("requested_by", sa.String(320), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Column("approvals", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(320), nullable=False),
    sa.Column("fulfilled_by", sa.String(320), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    sa.Column("status_times", sa.JSON, nullable=False),
    sa.UniqueConstraint("tenant_id", "number", name="uq_service_requests_tenant_number"),
    sa.Index("ix_service_requests_tenant_status", "tenant_id", "status"),
)

blackouts = sa.Table(
    "blackouts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("starts_at", _TS, nullable=False),
    sa.Column("ends_at", _TS, nullable=False),
    sa.Column("ci_ids", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(320), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    sa.Index("ix_blackouts_tenant_window", "tenant_id", "starts_at", "ends_at"),
)

sequences = sa.Table(
    "itsm_sequences",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(10), primary_key=True),
    sa.Column("last_number", sa.BigInteger, nullable=False),
)

outbox_table, processed_events = outbox.define_tables(metadata)

_RISK_ORDER = sa.case({"low": 1, "medium": 2, "high": 3, "critical": 4}, value=changes.c.risk_level)
_CHANGE_SORT: dict[str, Any] = {
    "created_at": changes.c.created_at,
    "updated_at": changes.c.updated_at,
    "requested_start": changes.c.requested_start,
    "risk_level": _RISK_ORDER,
    "status": changes.c.status,
    "reference": changes.c.number,
    "title": changes.c.title,
}
# A conflict search never needs more: the window and the tenant bound it; this guards a pathological tenant.
MAX_CONFLICT_CANDIDATES = 5000


def _times(raw: dict[str, str] | None) -> dict[str, datetime]:
    return {k: as_utc(datetime.fromisoformat(v)) for k, v in (raw or {}).items()}


def _times_json(times: dict[str, datetime]) -> dict[str, str]:
    return {k: as_utc(v).isoformat() for k, v in times.items()}


def _approvals(raw: list[dict] | None) -> tuple[Approval, ...]:
    return tuple(Approval(approver=a["approver"], role=a["role"], decision=a["decision"], comment=a["comment"],
                          at=as_utc(datetime.fromisoformat(a["at"]))) for a in raw or ())


def _approvals_json(approvals: tuple[Approval, ...]) -> list[dict[str, str]]:
    return [{"approver": a.approver, "role": a.role, "decision": a.decision, "comment": a.comment,
             "at": as_utc(a.at).isoformat()} for a in approvals]


def _conflicts(raw: list[dict] | None) -> tuple[ChangeConflict, ...]:
    return tuple(ChangeConflict(**{**c, "path": tuple(c.get("path", ()))}) for c in raw or ())


def _conflicts_json(conflicts: tuple[ChangeConflict, ...]) -> list[dict[str, Any]]:
    return [{"kind": c.kind, "message": c.message, "ci_id": c.ci_id, "change_id": c.change_id,
             "change_reference": c.change_reference, "blackout_id": c.blackout_id,
             "related_ci_id": c.related_ci_id, "path": list(c.path)} for c in conflicts]


def _row_to_change(row: Any) -> Change:
    return Change(
        id=row.id, tenant_id=row.tenant_id, number=row.number, title=row.title, description=row.description,
        type=row.type, risk_level=row.risk_level, status=row.status,
        requested_start=as_utc(row.requested_start), requested_end=as_utc(row.requested_end),
        implementation_plan=row.implementation_plan, rollback_plan=row.rollback_plan,
        requested_by=row.requested_by, ci_ids=tuple(row.ci_ids or ()), created_by=row.created_by,
        version=row.version, created_at=as_utc(row.created_at), updated_at=as_utc(row.updated_at),
        status_times=_times(row.status_times), approval_status=row.approval_status,
        required_approvals=row.required_approvals, approvals=_approvals(row.approvals),
        conflicts=_conflicts(row.conflicts), conflict_check=row.conflict_check,
        conflict_check_note=row.conflict_check_note, skipped_stages=tuple(row.skipped_stages or ()),
        outcome=row.outcome, close_notes=row.close_notes,
    )


def _change_values(c: Change) -> dict[str, Any]:
    return {
        "title": c.title, "description": c.description, "risk_level": c.risk_level, "status": c.status,
        "requested_start": as_utc(c.requested_start), "requested_end": as_utc(c.requested_end),
        "implementation_plan": c.implementation_plan, "rollback_plan": c.rollback_plan,
        "requested_by": c.requested_by, "ci_ids": list(c.ci_ids), "version": c.version,
        "updated_at": c.updated_at, "status_times": _times_json(c.status_times),
        "approval_status": c.approval_status, "required_approvals": c.required_approvals,
        "approvals": _approvals_json(c.approvals), "conflicts": _conflicts_json(c.conflicts),
        "has_conflicts": bool(c.conflicts), "conflict_check": c.conflict_check,
        "conflict_check_note": c.conflict_check_note, "skipped_stages": list(c.skipped_stages),
        "outcome": c.outcome, "close_notes": c.close_notes,
    }


def _row_to_item(row: Any) -> CatalogItem:
    return CatalogItem(id=row.id, tenant_id=row.tenant_id, name=row.name, description=row.description,
                       category=row.category, requires_approval=bool(row.requires_approval),
                       active=bool(row.active), fulfillment_group=row.fulfillment_group, version=row.version,
                       created_at=as_utc(row.created_at), updated_at=as_utc(row.updated_at))


def _item_values(i: CatalogItem) -> dict[str, Any]:
    return {"name": i.name, "description": i.description, "category": i.category,
            "requires_approval": i.requires_approval, "active": i.active, "fulfillment_group": i.fulfillment_group,
            "version": i.version, "updated_at": i.updated_at}


def _row_to_request(row: Any) -> ServiceRequest:
    return ServiceRequest(
        id=row.id, tenant_id=row.tenant_id, number=row.number, catalog_item_id=row.catalog_item_id,
        catalog_item_name=row.catalog_item_name, requested_by=row.requested_by, status=row.status,
        details=dict(row.details or {}), approvals=_approvals(row.approvals), created_by=row.created_by,
        fulfilled_by=row.fulfilled_by, note=row.note, version=row.version, created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at), status_times=_times(row.status_times),
    )


def _request_values(r: ServiceRequest) -> dict[str, Any]:
    return {"status": r.status, "details": r.details, "approvals": _approvals_json(r.approvals),
            "fulfilled_by": r.fulfilled_by, "note": r.note, "version": r.version, "updated_at": r.updated_at,
            "status_times": _times_json(r.status_times), "requested_by": r.requested_by}


def _row_to_blackout(row: Any) -> Blackout:
    return Blackout(id=row.id, tenant_id=row.tenant_id, name=row.name, reason=row.reason,
                    start=as_utc(row.starts_at), end=as_utc(row.ends_at), ci_ids=tuple(row.ci_ids or ()),
                    created_by=row.created_by, version=row.version, created_at=as_utc(row.created_at),
                    updated_at=as_utc(row.updated_at))


def _blackout_values(b: Blackout) -> dict[str, Any]:
    return {"name": b.name, "reason": b.reason, "starts_at": as_utc(b.start), "ends_at": as_utc(b.end),
            "ci_ids": list(b.ci_ids), "version": b.version, "updated_at": b.updated_at}


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def _stored(conn: AsyncConnection, table: sa.Table, row_id: str) -> bool:
    return (await conn.execute(sa.select(table.c.id).where(table.c.id == row_id))).first() is not None


def _key_clause(table: sa.Table, tenant_id: str, key: str, ref) -> Any:
    match = ref.match(key) if ref is not None else None
    if match:
        return sa.and_(table.c.tenant_id == tenant_id, table.c.number == int(match.group(1)))
    return sa.and_(table.c.tenant_id == tenant_id, table.c.id == key)


class ItsmStore:
    def __init__(self, db: Database, events: ItsmEvents) -> None:
        self.db = db
        self.events = events

    async def _next_number(self, conn: AsyncConnection, tenant_id: str, kind: str) -> int:
        insert = dialect_insert(conn)(sequences).values(tenant_id=tenant_id, kind=kind, last_number=1)
        stmt = insert.on_conflict_do_update(
            index_elements=[sequences.c.tenant_id, sequences.c.kind],
            set_={"last_number": sequences.c.last_number + 1},
        ).returning(sequences.c.last_number)
        return int((await conn.execute(stmt)).scalar_one())

    # -- changes

    async def insert_change(self, change: Change, events: tuple[Event, ...]) -> Change:
        """Insert a change. A change whose id is stored already (a retried create: its id derives from the same
        Idempotency-Key) is not written again; the stored one is returned."""
        async with self.db.write() as conn:
            retried = await _stored(conn, changes, change.id)
            if not retried:
                change = replace(change, number=await self._next_number(conn, change.tenant_id, "CHG"))
                await conn.execute(changes.insert().values(
                    id=change.id, tenant_id=change.tenant_id, number=change.number, type=change.type,
                    created_by=change.created_by, created_at=change.created_at, **_change_values(change)))
                await self._replace_cis(conn, change, insert_only=True)
                for event in events:
                    await self.events.stage_change(conn, event, change)
                if change.conflicts:
                    await self._sync_mirrors(conn, change, ())
        if retried:
            return await self.get_change(change.tenant_id, change.id)
        self.events.committed()
        return change

    async def _replace_cis(self, conn: AsyncConnection, change: Change, insert_only: bool = False) -> None:
        if not insert_only:
            await conn.execute(change_cis.delete().where(
                change_cis.c.tenant_id == change.tenant_id, change_cis.c.change_id == change.id))
        if change.ci_ids:
            await conn.execute(change_cis.insert(), [
                {"tenant_id": change.tenant_id, "ci_id": ci, "change_id": change.id} for ci in change.ci_ids])

    async def get_change(self, tenant_id: str, key: str) -> Change | None:
        async with self.db.read() as conn:
            row = (await conn.execute(sa.select(changes).where(
                _key_clause(changes, tenant_id, key, CHANGE_REF)))).first()
        return _row_to_change(row) if row else None

    async def list_changes(self, tenant_id: str, query: ChangeQuery) -> tuple[list[Change], int]:
        where = [changes.c.tenant_id == tenant_id]
        if query.status:
            where.append(changes.c.status.in_(query.status))
        if query.type:
            where.append(changes.c.type.in_(query.type))
        if query.ci_ids:
            where.append(changes.c.id.in_(sa.select(change_cis.c.change_id).where(
                change_cis.c.tenant_id == tenant_id, change_cis.c.ci_id.in_(query.ci_ids))))
        # Inclusive overlap: "what was planned to be in progress at any moment of [from, to]".
        if query.start is not None:
            where.append(changes.c.requested_end >= query.start)
        if query.end is not None:
            where.append(changes.c.requested_start <= query.end)
        if query.conflicting_only:
            where.append(changes.c.has_conflicts.is_(True))
        if query.q:
            text = [changes.c.title.ilike(_like(query.q), escape="\\"),
                    changes.c.description.ilike(_like(query.q), escape="\\")]
            ref = CHANGE_REF.match(query.q.upper())
            if ref:
                text.append(changes.c.number == int(ref.group(1)))
            where.append(sa.or_(*text))
        sort = _CHANGE_SORT[query.sort]
        desc = query.order == "desc"
        order = [sort.desc() if desc else sort.asc(), changes.c.number.desc() if desc else changes.c.number.asc()]
        async with self.db.read() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(changes).where(*where))).scalar_one()
            rows = (await conn.execute(
                sa.select(changes).where(*where).order_by(*order).limit(query.limit).offset(query.offset))).all()
        return [_row_to_change(r) for r in rows], int(total)

    async def active_changes_between(self, tenant_id: str, start: datetime, end: datetime,
                                     exclude_id: str) -> list[Change]:
        async with self.db.read() as conn:
            rows = (await conn.execute(sa.select(changes).where(
                changes.c.tenant_id == tenant_id, changes.c.id != exclude_id,
                changes.c.status.in_(ACTIVE_CHANGE_STATUSES),
                changes.c.requested_start < as_utc(end), changes.c.requested_end > as_utc(start),
            ).order_by(changes.c.number).limit(MAX_CONFLICT_CANDIDATES))).all()
        return [_row_to_change(r) for r in rows]

    async def mutate_change(self, tenant_id: str, key: str, decide: Callable[[Change], Outcome],
                            expected_version: int = 0) -> Change:
        """Read, decide, write under the row's version; a stale expected version is a 409, a concurrent
        writer without one re-runs the decision on the fresh row."""
        for _attempt in range(5):
            async with self.db.write() as conn:
                row = (await conn.execute(sa.select(changes).where(
                    _key_clause(changes, tenant_id, key, CHANGE_REF)))).first()
                if row is None:
                    raise NotFound(f"change {key} not found")
                current = _row_to_change(row)
                if expected_version and current.version != expected_version:
                    raise Conflict(f"change {current.reference} is at version {current.version}, not "
                                   f"{expected_version}; re-read and retry")
                outcome = decide(current)
                if not outcome.events:
                    return current
                updated: Change = outcome.entity
                result = await conn.execute(changes.update().where(
                    changes.c.tenant_id == tenant_id, changes.c.id == current.id,
                    changes.c.version == current.version).values(_change_values(updated)))
                if result.rowcount != 1:
                    if expected_version:
                        raise Conflict(f"change {current.reference} was changed concurrently; re-read and retry")
                    continue
                if updated.ci_ids != current.ci_ids:
                    await self._replace_cis(conn, updated)
                for event in outcome.events:
                    await self.events.stage_change(conn, event, updated)
                if updated.conflicts != current.conflicts or updated.status != current.status:
                    await self._sync_mirrors(conn, updated, current.conflicts)
            self.events.committed()
            return updated
        raise Conflict(f"change {key} is being changed concurrently; retry")

    async def _sync_mirrors(self, conn: AsyncConnection, change: Change,
                            before: tuple[ChangeConflict, ...]) -> None:
        """Keep the other side of every clash in step, in the same transaction: a change that conflicts
        with an earlier one flags the earlier one too, and moving, cancelling or finishing it clears that."""
        others = {c.change_id for c in (*before, *change.conflicts) if c.change_id}
        for other_id in sorted(others):
            row = (await conn.execute(sa.select(changes).where(
                changes.c.tenant_id == change.tenant_id, changes.c.id == other_id).with_for_update())).first()
            if row is None:
                continue
            other = _row_to_change(row)
            new = mirrored_conflicts(change, other)
            if new is None:
                continue
            gained = len(new) > len([c for c in other.conflicts if c.change_id != change.id])
            updated = replace(other, conflicts=new, version=other.version + 1, updated_at=change.updated_at)
            await conn.execute(changes.update().where(
                changes.c.tenant_id == change.tenant_id, changes.c.id == other.id).values(_change_values(updated)))
            event = Event("change.conflict_detected") if gained else Event("change.updated",
                                                                             changed_fields=("conflicts",))
            await self.events.stage_change(conn, event, updated)

    async def blackouts_between(self, tenant_id: str, start: datetime, end: datetime) -> list[Blackout]:
        async with self.db.read() as conn:
            rows = (await conn.execute(sa.select(blackouts).where(
                blackouts.c.tenant_id == tenant_id, blackouts.c.starts_at < as_utc(end),
                blackouts.c.ends_at > as_utc(start)).order_by(blackouts.c.starts_at))).all()
        return [_row_to_blackout(r) for r in rows]

    # -- catalog

    async def insert_catalog_item(self, item: CatalogItem) -> CatalogItem:
        try:
            async with self.db.write() as conn:
                await conn.execute(catalog_items.insert().values(
                    id=item.id, tenant_id=item.tenant_id, created_at=item.created_at, **_item_values(item)))
        except IntegrityError:
            raise Conflict(f"a catalog item named {item.name!r} already exists",
                           [FieldError("name", "already used by another catalog item")]) from None
        return item

    async def get_catalog_item(self, tenant_id: str, item_id: str) -> CatalogItem | None:
        async with self.db.read() as conn:
            row = (await conn.execute(sa.select(catalog_items).where(
                catalog_items.c.tenant_id == tenant_id, catalog_items.c.id == item_id))).first()
        return _row_to_item(row) if row else None

    async def list_catalog_items(self, tenant_id: str, category: str, q: str, include_retired: bool,
                                 page: Page) -> tuple[list[CatalogItem], int]:
        where = [catalog_items.c.tenant_id == tenant_id]
        if category:
            where.append(catalog_items.c.category == category)
        if not include_retired:
            where.append(catalog_items.c.active.is_(True))
        if q:
            where.append(sa.or_(catalog_items.c.name.ilike(_like(q), escape="\\"),
                                catalog_items.c.description.ilike(_like(q), escape="\\")))
        async with self.db.read() as conn:
            total = (await conn.execute(
                sa.select(sa.func.count()).select_from(catalog_items).where(*where))).scalar_one()
            rows = (await conn.execute(sa.select(catalog_items).where(*where).order_by(
                catalog_items.c.name, catalog_items.c.id).limit(page.limit).offset(page.offset))).all()
        return [_row_to_item(r) for r in rows], int(total)

    async def mutate_catalog_item(self, tenant_id: str, item_id: str,
                                  decide: Callable[[CatalogItem], CatalogItem]) -> CatalogItem:
        try:
            async with self.db.write() as conn:
                row = (await conn.execute(sa.select(catalog_items).where(
                    catalog_items.c.tenant_id == tenant_id, catalog_items.c.id == item_id))).first()
                if row is None:
                    raise NotFound(f"catalog item {item_id} not found")
                current = _row_to_item(row)
                updated = decide(current)
                if updated is not current:
                    await conn.execute(catalog_items.update().where(
                        catalog_items.c.tenant_id == tenant_id, catalog_items.c.id == item_id,
                    ).values(_item_values(updated)))
        except IntegrityError:
            raise Conflict("another catalog item has that name",
                           [FieldError("name", "already used by another catalog item")]) from None
        return updated

    # -- service requests

    async def insert_request(self, request: ServiceRequest, events: tuple[Event, ...]) -> ServiceRequest:
        """Insert a service request, or return the stored one (a retried submit, as insert_change)."""
        async with self.db.write() as conn:
            retried = await _stored(conn, service_requests, request.id)
            if not retried:
                request = replace(request, number=await self._next_number(conn, request.tenant_id, "REQ"))
                await conn.execute(service_requests.insert().values(
                    id=request.id, tenant_id=request.tenant_id, number=request.number,
                    catalog_item_id=request.catalog_item_id, catalog_item_name=request.catalog_item_name,
                    created_by=request.created_by, created_at=request.created_at, **_request_values(request)))
                for event in events:
                    await self.events.stage_request(conn, event, request)
        if retried:
            return await self.get_request(request.tenant_id, request.id)
        self.events.committed()
        return request

    async def get_request(self, tenant_id: str, key: str) -> ServiceRequest | None:
        async with self.db.read() as conn:
            row = (await conn.execute(sa.select(service_requests).where(
                _key_clause(service_requests, tenant_id, key, REQUEST_REF)))).first()
        return _row_to_request(row) if row else None

    async def list_requests(self, tenant_id: str, status: tuple[str, ...], catalog_item_id: str,
                            requested_by: str, page: Page) -> tuple[list[ServiceRequest], int]:
        t = service_requests
        where = [t.c.tenant_id == tenant_id]
        if status:
            where.append(t.c.status.in_(status))
        if catalog_item_id:
            where.append(t.c.catalog_item_id == catalog_item_id)
        if requested_by:
            where.append(t.c.requested_by == requested_by)
        async with self.db.read() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(t).where(*where))).scalar_one()
            rows = (await conn.execute(sa.select(t).where(*where).order_by(t.c.number.desc())
                                       .limit(page.limit).offset(page.offset))).all()
        return [_row_to_request(r) for r in rows], int(total)

    async def mutate_request(self, tenant_id: str, key: str, decide: Callable[[ServiceRequest], Outcome],
                             expected_version: int = 0) -> ServiceRequest:
        t = service_requests
        async with self.db.write() as conn:
            row = (await conn.execute(sa.select(t).where(_key_clause(t, tenant_id, key, REQUEST_REF)))).first()
            if row is None:
                raise NotFound(f"service request {key} not found")
            current = _row_to_request(row)
            if expected_version and current.version != expected_version:
                raise Conflict(f"request {current.reference} is at version {current.version}, not "
                               f"{expected_version}; re-read and retry")
            outcome = decide(current)
            if not outcome.events:
                return current
            updated: ServiceRequest = outcome.entity
            # The write transaction holds the writer (SQLite) / the version guard (PostgreSQL).
            result = await conn.execute(t.update().where(
                t.c.tenant_id == tenant_id, t.c.id == current.id, t.c.version == current.version,
            ).values(_request_values(updated)))
            if result.rowcount != 1:
                raise Conflict(f"request {current.reference} was changed concurrently; re-read and retry")
            for event in outcome.events:
                await self.events.stage_request(conn, event, updated)
        self.events.committed()
        return updated

    # -- blackouts

    async def insert_blackout(self, blackout: Blackout) -> Blackout:
        async with self.db.write() as conn:
            await conn.execute(blackouts.insert().values(
                id=blackout.id, tenant_id=blackout.tenant_id, created_by=blackout.created_by,
                created_at=blackout.created_at, **_blackout_values(blackout)))
        return blackout

    async def get_blackout(self, tenant_id: str, blackout_id: str) -> Blackout | None:
        async with self.db.read() as conn:
            row = (await conn.execute(sa.select(blackouts).where(
                blackouts.c.tenant_id == tenant_id, blackouts.c.id == blackout_id))).first()
        return _row_to_blackout(row) if row else None

    async def list_blackouts(self, tenant_id: str, start: datetime | None, end: datetime | None,
                             page: Page) -> tuple[list[Blackout], int]:
        where = [blackouts.c.tenant_id == tenant_id]
        if start is not None:
            where.append(blackouts.c.ends_at >= start)
        if end is not None:
            where.append(blackouts.c.starts_at <= end)
        async with self.db.read() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(blackouts).where(*where))).scalar_one()
            rows = (await conn.execute(sa.select(blackouts).where(*where).order_by(
                blackouts.c.starts_at, blackouts.c.id).limit(page.limit).offset(page.offset))).all()
        return [_row_to_blackout(r) for r in rows], int(total)

    async def mutate_blackout(self, tenant_id: str, blackout_id: str,
                              decide: Callable[[Blackout], Blackout]) -> Blackout:
        async with self.db.write() as conn:
            row = (await conn.execute(sa.select(blackouts).where(
                blackouts.c.tenant_id == tenant_id, blackouts.c.id == blackout_id))).first()
            if row is None:
                raise NotFound(f"blackout {blackout_id} not found")
            current = _row_to_blackout(row)
            updated = decide(current)
            if updated is not current:
                await conn.execute(blackouts.update().where(
                    blackouts.c.tenant_id == tenant_id, blackouts.c.id == blackout_id,
                ).values(_blackout_values(updated)))
        return updated

    async def delete_blackout(self, tenant_id: str, blackout_id: str) -> bool:
        async with self.db.write() as conn:
            result = await conn.execute(blackouts.delete().where(
                blackouts.c.tenant_id == tenant_id, blackouts.c.id == blackout_id))
        return result.rowcount == 1
