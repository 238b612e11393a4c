"""Change requests: the rows, their CIs (kept in `change_cis` so "changes on these CIs" is an indexed lookup),
and the mirrored conflict entries kept in step on the other side of every clash."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.itsm.events import ItsmEvents
from services.itsm.service import (
    ACTIVE_CHANGE_STATUSES,
    APPROVAL_STATUSES,
    APPROVED,
    APPROVED_STATUSES,
    CHANGE_REF,
    CHANGE_STATUSES,
    CHANGE_TYPES,
    GRANTED_APPROVALS,
    OUTCOMES,
    RISK_LEVELS,
    Blackout,
    Change,
    ChangeConflict,
    ChangeDecision,
    ChangeQuery,
    Event,
    Outcome,
    Surroundings,
    blackout_conflicts,
    mirrored_conflicts,
)
from services.itsm.store.blackouts import blackouts, row_to_blackout
from services.itsm.store.common import (
    TS,
    approvals,
    approvals_json,
    conflict_lock,
    metadata,
    next_number,
    stored,
    times,
    times_json,
)
from vigil.runtime.clock import as_utc
from vigil.runtime.db import Database, ReadByKey
from vigil.runtime.errors import Conflict
from vigil.runtime.search import (
    Catalogue,
    Flag,
    Keyset,
    Keyword,
    Listing,
    Members,
    Number,
    Ranked,
    Reference,
    SortKey,
    Text,
    Time,
    list_page,
)
from vigil.runtime.text import contains_any, folded
from vigil.runtime.versioned import VersionedTable

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
    sa.Column("requested_start", TS, nullable=False),
    sa.Column("requested_end", TS, nullable=False),
    sa.Column("implementation_plan", sa.Text, nullable=False),
    sa.Column("rollback_plan", sa.Text, nullable=False),
    sa.Column("requested_by", sa.String(320), nullable=False),
    sa.Column("ci_ids", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(320), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
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
    # Title and description folded for search (vigil.runtime.text).
    sa.Column("title_folded", sa.Text, nullable=False),
    sa.Column("description_folded", sa.Text, nullable=False),
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


_RISK_ORDER = sa.case({"low": 1, "medium": 2, "high": 3, "critical": 4}, value=changes.c.risk_level)
# The list's total order: the sort key, then the reference number (unique per tenant).
KEYSET = Keyset({
    "created_at": SortKey(changes.c.created_at, "time"),
    "updated_at": SortKey(changes.c.updated_at, "time"),
    "requested_start": SortKey(changes.c.requested_start, "time"),
    "risk_level": SortKey(_RISK_ORDER, "int"),
    "status": SortKey(changes.c.status, "str"),
    "reference": SortKey(changes.c.number, "int"),
    "title": SortKey(changes.c.title, "str"),
}, changes.c.number, "int")
# `approved` is a status filter, not a state (see services.itsm.service.changes).
STATUS = Keyword("status", changes.c.status, choices=CHANGE_STATUSES, aliases={
    APPROVED: sa.and_(changes.c.status.in_(APPROVED_STATUSES), changes.c.approval_status.in_(GRANTED_APPROVALS))})
# What structured filters (POST /api/itsm/changes/search) can name.
FILTERS = Catalogue(
    Keyword("id", changes.c.id),
    Reference("reference", changes.c.number, CHANGE_REF),
    Text("title", changes.c.title, changes.c.title_folded),
    Text("description", changes.c.description, changes.c.description_folded, empty=True),
    STATUS,
    Keyword("type", changes.c.type, choices=CHANGE_TYPES),
    Ranked("risk_level", changes.c.risk_level, order=RISK_LEVELS),
    Keyword("approval_status", changes.c.approval_status, choices=APPROVAL_STATUSES),
    Keyword("requested_by", changes.c.requested_by),
    Keyword("created_by", changes.c.created_by),
    Members("ci_id", changes, change_cis, "change_id", "ci_id"),
    Flag("has_conflicts", changes.c.has_conflicts),
    Keyword("conflict_check", changes.c.conflict_check, choices=("complete", "incomplete")),
    Keyword("outcome", changes.c.outcome, choices=OUTCOMES, empty=True),
    Time("requested_start", changes.c.requested_start),
    Time("requested_end", changes.c.requested_end),
    Time("created_at", changes.c.created_at),
    Time("updated_at", changes.c.updated_at),
    Number("version", changes.c.version),
)
# A conflict search never needs more: the window and the tenant bound it; this guards a pathological tenant.
MAX_CONFLICT_CANDIDATES = 5000


def _conflicts(raw: list[dict] | None) -> tuple[ChangeConflict, ...]:
    return tuple(ChangeConflict(**{**c, "path": tuple(c.get("path", ()))}) for c in raw or ())


def _conflicts_json(conflicts: tuple[ChangeConflict, ...]) -> list[dict[str, Any]]:
    return [{"kind": c.kind, "message": c.message, "ci_id": c.ci_id, "change_id": c.change_id,
             "change_reference": c.change_reference, "blackout_id": c.blackout_id,
             "related_ci_id": c.related_ci_id, "path": list(c.path)} for c in conflicts]


def row_to_change(row: Any) -> Change:
    return Change(
        id=row.id, tenant_id=row.tenant_id, number=row.number, title=row.title, description=row.description,
        type=row.type, risk_level=row.risk_level, status=row.status,
        requested_start=as_utc(row.requested_start), requested_end=as_utc(row.requested_end),
        implementation_plan=row.implementation_plan, rollback_plan=row.rollback_plan,
        requested_by=row.requested_by, ci_ids=tuple(row.ci_ids or ()), created_by=row.created_by,
        version=row.version, created_at=as_utc(row.created_at), updated_at=as_utc(row.updated_at),
        status_times=times(row.status_times), approval_status=row.approval_status,
        required_approvals=row.required_approvals, approvals=approvals(row.approvals),
        conflicts=_conflicts(row.conflicts), conflict_check=row.conflict_check,
        conflict_check_note=row.conflict_check_note, skipped_stages=tuple(row.skipped_stages or ()),
        outcome=row.outcome, close_notes=row.close_notes,
    )


def change_values(c: Change) -> dict[str, Any]:
    return {
        "title": c.title, "description": c.description, "risk_level": c.risk_level, "status": c.status,
        "requested_start": as_utc(c.requested_start), "requested_end": as_utc(c.requested_end),
        "implementation_plan": c.implementation_plan, "rollback_plan": c.rollback_plan,
        "requested_by": c.requested_by, "ci_ids": list(c.ci_ids), "version": c.version,
        "updated_at": c.updated_at, "status_times": times_json(c.status_times),
        "approval_status": c.approval_status, "required_approvals": c.required_approvals,
        "approvals": approvals_json(c.approvals), "conflicts": _conflicts_json(c.conflicts),
        "has_conflicts": bool(c.conflicts), "conflict_check": c.conflict_check,
        "conflict_check_note": c.conflict_check_note, "skipped_stages": list(c.skipped_stages),
        "outcome": c.outcome, "close_notes": c.close_notes, **folded(title=c.title, description=c.description),
    }


versioned_changes = VersionedTable(changes, "change", row_to_change, change_values,
                                   label=lambda change: change.reference)


_BY_KEY = ReadByKey(changes, CHANGE_REF)


class ChangesStore:
    """Every write that can change which changes clash (creating or moving a change, moving it in or out of the
    active states, re-checking it, and every blackout write) runs under the tenant's conflict lock
    (`conflict_lock`) and reads the other changes and blackouts inside its own transaction. So two changes
    created at the same moment see each other, whatever the database: the second one to take the lock finds
    the first one committed. Change writes are human-paced, so one writer per tenant at a time costs nothing."""

    db: Database
    events: ItsmEvents

    async def insert_change(self, change: Change, decide: Callable[[Surroundings], Outcome]) -> Change:
        """Insert a change; one whose id is stored already (a retried create) is returned as it is."""
        async with self.db.write(serialise=conflict_lock(change.tenant_id)) as conn:
            retried = await stored(conn, changes, change.id)
            if not retried:
                outcome = decide(await self._surroundings(conn, change))
                change = replace(outcome.entity, number=await next_number(conn, change.tenant_id, "CHG"))
                await conn.execute(changes.insert().values(
                    id=change.id, tenant_id=change.tenant_id, number=change.number, type=change.type,
                    created_by=change.created_by, created_at=change.created_at, **change_values(change)))
                await self._replace_cis(conn, change, insert_only=True)
                for event in outcome.events:
                    await self.events.stage_change(conn, event, change)
                if change.conflicts:
                    await self._sync_mirrors(conn, change, ())
        if retried:
            return await self.get_change(change.tenant_id, change.id)
        self.events.committed()
        return change

    async def _surroundings(self, conn: AsyncConnection, change: Change) -> Surroundings:
        """The active changes and the blackouts overlapping the change's window, as committed now."""
        start, end = as_utc(change.requested_start), as_utc(change.requested_end)
        others = (await conn.execute(sa.select(changes).where(
            changes.c.tenant_id == change.tenant_id, changes.c.id != change.id,
            changes.c.status.in_(ACTIVE_CHANGE_STATUSES),
            changes.c.requested_start < end, changes.c.requested_end > start,
        ).order_by(changes.c.number).limit(MAX_CONFLICT_CANDIDATES))).all()
        windows = (await conn.execute(sa.select(blackouts).where(
            blackouts.c.tenant_id == change.tenant_id, blackouts.c.starts_at < end, blackouts.c.ends_at > start,
        ).order_by(blackouts.c.starts_at, blackouts.c.id))).all()
        return Surroundings(tuple(row_to_change(r) for r in others), tuple(row_to_blackout(r) for r in windows))

    async def _replace_cis(self, conn: AsyncConnection, change: Change, insert_only: bool = False) -> None:
        if not insert_only:
            await conn.execute(change_cis.delete().where(
                change_cis.c.tenant_id == change.tenant_id, change_cis.c.change_id == change.id))
        if change.ci_ids:
            await conn.execute(change_cis.insert(), [
                {"tenant_id": change.tenant_id, "ci_id": ci, "change_id": change.id} for ci in change.ci_ids])

    async def get_change(self, tenant_id: str, key: str) -> Change | None:
        row = await _BY_KEY.one(self.db, tenant_id, key)
        return row_to_change(row) if row else None

    async def list_changes(self, tenant_id: str, query: ChangeQuery) -> Listing[Change]:
        where = [changes.c.tenant_id == tenant_id, *FILTERS.where(query.filters)]
        if query.status:
            where.append(STATUS.clause("IS_ANY_OF", list(query.status)))
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
            text = [contains_any((changes.c.title_folded, changes.c.description_folded), query.q)]
            ref = CHANGE_REF.match(query.q.upper())
            if ref:
                text.append(changes.c.number == int(ref.group(1)))
            where.append(sa.or_(*text))
        return await list_page(self.db, changes, where, KEYSET, row_to_change, sort=query.sort, order=query.order,
                               limit=query.limit, offset=query.offset, cursor=query.cursor,
                               query=replace(query, limit=0, offset=0, cursor=""))

    async def mutate_change(self, tenant_id: str, key: str, decide: ChangeDecision,
                            expected_version: int = 0) -> Change:
        """Read, decide, write under the row's version (see vigil.runtime.versioned) and the tenant's conflict
        lock; the decision may read the change's surroundings in the same transaction. The CI index, the
        events and the other side of every clash change in that transaction too."""

        async def write(conn: AsyncConnection, current: Change, outcome: Outcome) -> None:
            updated: Change = outcome.entity
            if updated.ci_ids != current.ci_ids:
                await self._replace_cis(conn, updated)
            for event in outcome.events:
                await self.events.stage_change(conn, event, updated)
            if updated.conflicts != current.conflicts or updated.status != current.status:
                await self._sync_mirrors(conn, updated, current.conflicts)

        async with self.db.write(serialise=conflict_lock(tenant_id)) as conn:
            around = partial(self._surroundings, conn)
            done = await versioned_changes.mutate_in(
                conn, _BY_KEY.where(tenant_id, key), key, lambda change: decide(change, around),
                entity=lambda outcome: outcome.entity, expected_version=expected_version, write=write)
        if done.changed:
            self.events.committed()
        return done.after

    async def _sync_mirrors(self, conn: AsyncConnection, change: Change,
                            before: tuple[ChangeConflict, ...]) -> None:
        """Keep the other side of every clash in step, in the same transaction: a change that conflicts
        with an earlier one flags the earlier one too, and moving, cancelling or finishing it clears that."""
        others = {c.change_id for c in (*before, *change.conflicts) if c.change_id}
        for other_id in sorted(others):
            other = await versioned_changes.read(
                conn, sa.and_(changes.c.tenant_id == change.tenant_id, changes.c.id == other_id), for_update=True)
            if other is not None:
                await self._write_conflicts(conn, other, mirrored_conflicts(change, other), change.updated_at)

    async def flag_changes_for_blackout(self, conn: AsyncConnection, tenant_id: str, blackout_id: str,
                                        before: Blackout | None, after: Blackout | None, at: datetime) -> None:
        """A blackout was created, moved or (after=None) deleted: the active changes its old or new window
        overlaps gain, keep or lose its conflict entry, in the blackout's transaction (under the conflict lock)."""
        windows = [sa.and_(changes.c.requested_start < b.end, changes.c.requested_end > b.start)
                   for b in (before, after) if b is not None]
        rows = (await conn.execute(sa.select(changes).where(
            changes.c.tenant_id == tenant_id, changes.c.status.in_(ACTIVE_CHANGE_STATUSES), sa.or_(*windows),
        ).order_by(changes.c.number).with_for_update())).all()
        for row in rows:
            change = row_to_change(row)
            await self._write_conflicts(conn, change, blackout_conflicts(change, blackout_id, after), at)

    async def _write_conflicts(self, conn: AsyncConnection, change: Change,
                               conflicts: tuple[ChangeConflict, ...] | None, at: datetime) -> None:
        """Record a change's new conflict list (None: unchanged) with its event; the row is locked already."""
        if conflicts is None:
            return
        gained = bool(set(conflicts) - set(change.conflicts))
        updated = replace(change, conflicts=conflicts, version=change.version + 1, updated_at=at)
        if not await versioned_changes.write(conn, change, updated):  # cannot happen under the row lock
            raise Conflict(f"change {change.reference} was changed concurrently; retry")
        event = Event("change.conflict_detected") if gained else Event("change.updated",
                                                                         changed_fields=("conflicts",))
        await self.events.stage_change(conn, event, updated)
