"""Incident persistence (SQLAlchemy Core, SQLite or PostgreSQL). Every query is scoped by tenant_id.

Each write is one transaction holding the row change, its timeline entries and its outbox events.
References come from a per-tenant counter row incremented in the same transaction as the insert, so they are
gap-free (a rolled-back insert rolls back its number too) and never reused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.incident.events import IncidentEvents
from services.incident.service import (
    REFERENCE,
    SEVERITIES,
    STATUSES,
    Change,
    Incident,
    ListQuery,
    TimelineEntry,
)
from vigil.runtime import outbox
from vigil.runtime.clock import as_utc
from vigil.runtime.db import Database, ReadByKey, dialect_insert
from vigil.runtime.memo import LISTED_MEMO, Memo
from vigil.runtime.outbox import current_traceparent
from vigil.runtime.search import (
    Catalogue,
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

metadata = sa.MetaData()
_TS = sa.DateTime(timezone=True)

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("number", sa.BigInteger, nullable=False),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("severity", sa.String(2), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("ci_ids", sa.JSON, nullable=False),
    sa.Column("assignee", sa.String(320), nullable=False),
    sa.Column("labels", sa.JSON, nullable=False),
    sa.Column("resolution_notes", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(320), nullable=False),
    sa.Column("resolved_by", sa.String(320), nullable=False),
    sa.Column("dedup_key", sa.String(255), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    sa.Column("status_times", sa.JSON, nullable=False),
    sa.Column("impacted_ci_ids", sa.JSON, nullable=False),
    sa.Column("change_ids", sa.JSON, nullable=False),
    # Title and description folded for search (vigil.runtime.text).
    sa.Column("title_folded", sa.Text, nullable=False),
    sa.Column("description_folded", sa.Text, nullable=False),
    sa.UniqueConstraint("tenant_id", "number", name="uq_incidents_tenant_number"),
    sa.Index("ix_incidents_tenant_created", "tenant_id", "created_at"),
    sa.Index("ix_incidents_tenant_status_severity", "tenant_id", "status", "severity"),
    sa.Index("ix_incidents_tenant_dedup", "tenant_id", "dedup_key"),
)

incident_cis = sa.Table(
    "incident_cis",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("ci_id", sa.String(128), primary_key=True),
    sa.Column("incident_id", sa.String(36), primary_key=True),
)

timeline = sa.Table(
    "incident_timeline",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("incident_id", sa.String(36), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("from_status", sa.String(20), nullable=False),
    sa.Column("to_status", sa.String(20), nullable=False),
    sa.Column("actor", sa.String(320), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("changes", sa.JSON, nullable=False),
    sa.Column("at", _TS, nullable=False),
    # Order within the incident: version * 100 + position in the change (several entries share a timestamp).
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Index("ix_timeline_incident", "tenant_id", "incident_id", "seq"),
)

sequences = sa.Table(
    "incident_sequences",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("last_number", sa.BigInteger, nullable=False),
)

outbox_table, processed_events = outbox.define_tables(metadata)

_SEVERITY_ORDER = sa.case({"P1": 1, "P2": 2, "P3": 3, "P4": 4}, value=incidents.c.severity)
# The list's total order: the sort key, then the reference number (unique per tenant).
KEYSET = Keyset({
    "created_at": SortKey(incidents.c.created_at, "time"),
    "updated_at": SortKey(incidents.c.updated_at, "time"),
    "severity": SortKey(_SEVERITY_ORDER, "int"),
    "status": SortKey(incidents.c.status, "str"),
    "reference": SortKey(incidents.c.number, "int"),
    "title": SortKey(incidents.c.title, "str"),
}, incidents.c.number, "int")
# What structured filters (POST /api/incidents/search) can name.
FILTERS = Catalogue(
    Keyword("id", incidents.c.id),
    Reference("reference", incidents.c.number, REFERENCE),
    Text("title", incidents.c.title, incidents.c.title_folded),
    Text("description", incidents.c.description, incidents.c.description_folded, empty=True),
    Keyword("status", incidents.c.status, choices=STATUSES),
    Ranked("severity", incidents.c.severity, order=tuple(reversed(SEVERITIES))),  # P4 < P3 < P2 < P1
    Keyword("source", incidents.c.source, empty=True),
    Keyword("assignee", incidents.c.assignee, empty=True),
    Keyword("created_by", incidents.c.created_by),
    Keyword("resolved_by", incidents.c.resolved_by, empty=True),
    Keyword("dedup_key", incidents.c.dedup_key, empty=True),
    Members("ci_id", incidents, incident_cis, "incident_id", "ci_id"),
    Time("created_at", incidents.c.created_at),
    Time("updated_at", incidents.c.updated_at),
    Number("version", incidents.c.version),
)


def _row_to_incident(row: Any) -> Incident:
    return Incident(
        id=row.id, tenant_id=row.tenant_id, number=row.number, title=row.title, description=row.description,
        severity=row.severity, status=row.status, source=row.source, ci_ids=tuple(row.ci_ids or ()),
        assignee=row.assignee, labels=dict(row.labels or {}), resolution_notes=row.resolution_notes,
        created_by=row.created_by, resolved_by=row.resolved_by, dedup_key=row.dedup_key, version=row.version,
        created_at=as_utc(row.created_at), updated_at=as_utc(row.updated_at),
        status_times={k: datetime.fromisoformat(v) for k, v in (row.status_times or {}).items()},
        impacted_ci_ids=tuple(row.impacted_ci_ids or ()), change_ids=tuple(row.change_ids or ()),
    )


def _incident_values(incident: Incident) -> dict[str, Any]:
    return {
        "title": incident.title, "description": incident.description, "severity": incident.severity,
        "status": incident.status, "source": incident.source, "ci_ids": list(incident.ci_ids),
        "assignee": incident.assignee, "labels": incident.labels, "resolution_notes": incident.resolution_notes,
        "resolved_by": incident.resolved_by, "dedup_key": incident.dedup_key, "version": incident.version,
        "updated_at": incident.updated_at,
        "status_times": {k: v.isoformat() for k, v in incident.status_times.items()},
        "impacted_ci_ids": list(incident.impacted_ci_ids), "change_ids": list(incident.change_ids),
        **folded(title=incident.title, description=incident.description),
    }


_BY_KEY = ReadByKey(incidents, REFERENCE)

_versioned = VersionedTable(incidents, "incident", _row_to_incident, _incident_values,
                            label=lambda incident: incident.reference)


def _timeline_values(tenant_id: str, entry: TimelineEntry, seq: int) -> dict[str, Any]:
    return {"seq": seq,
        "id": entry.id, "tenant_id": tenant_id, "incident_id": entry.incident_id, "kind": entry.kind,
        "from_status": entry.from_status, "to_status": entry.to_status, "actor": entry.actor,
        "message": entry.message, "changes": entry.changes, "at": entry.at,
    }


MAX_BATCH = 256


def _settle(future: asyncio.Future, result) -> None:
    if future.done():  # the caller went away (cancelled); the incident exists all the same
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


class IncidentStore:
    def __init__(self, db: Database, events: IncidentEvents) -> None:
        self.db = db
        self.events = events
        self._pending: list[tuple[Incident, TimelineEntry, str, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None
        # List pages' rows as incidents, by tenant, id and version (incidents change only through `_versioned`).
        self._listed: Memo[tuple[str, str, int], Incident] = Memo(LISTED_MEMO)

    async def _reserve_numbers(self, conn: AsyncConnection, tenant_id: str, count: int) -> int:
        """Reserve `count` consecutive references for a tenant; returns the first."""
        insert = dialect_insert(conn)(sequences).values(tenant_id=tenant_id, last_number=count)
        stmt = insert.on_conflict_do_update(
            index_elements=[sequences.c.tenant_id], set_={"last_number": sequences.c.last_number + count}
        ).returning(sequences.c.last_number)
        return int((await conn.execute(stmt)).scalar_one()) - count + 1

    async def insert(self, incident: Incident, entry: TimelineEntry) -> Incident:
        """Create an incident. Concurrent creates are group-committed: whatever arrives while a transaction
        runs goes into the next one, so a burst costs a few transactions instead of one each. An incident
        whose id is already stored (a retried create, its id derived from the same Idempotency-Key) is not
        created again: the stored one is returned, with no new reference and no new event."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((incident, entry, current_traceparent(), future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name="incident-create-batches")
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                results = await self._insert_batch(batch)
            except Exception:  # noqa: BLE001 - isolate the failing create: the others still succeed
                for item in batch:
                    try:
                        [result] = await self._insert_batch([item])
                    except Exception as exc:  # noqa: BLE001
                        # Another replica may have inserted the same retried create meanwhile.
                        stored = await self._stored(item[0])
                        _settle(item[3], exc if stored is None else stored)
                    else:
                        _settle(item[3], result)
            else:
                for item, result in zip(batch, results, strict=True):
                    _settle(item[3], result)
            self.events.committed()

    async def _stored(self, incident: Incident) -> Incident | None:
        try:
            return await self.get(incident.tenant_id, incident.id)
        except Exception:  # noqa: BLE001 - the database is what failed; report the original error
            return None

    async def _insert_batch(self, batch: list[tuple[Incident, TimelineEntry, str, asyncio.Future]]) -> list[Incident]:
        async with self.db.write() as conn:
            return await self.insert_in(conn, [(incident, entry, traceparent) for incident, entry, traceparent, _ in batch])

    async def insert_in(self, conn: AsyncConnection, batch: list[tuple[Incident, TimelineEntry, str]]) -> list[Incident]:
        """Insert incidents in the caller's transaction: gap-free references reserved per tenant, CI links, the
        created timeline entry and the incident.created event of each (the alert processor creates incidents
        in its own batch transaction through this). An id that is already stored (a retried create whose id
        came from its idempotency key) is answered with the stored incident, not inserted again."""
        ids = list({incident.id for incident, *_ in batch})
        done: dict[str, Incident] = {}  # id -> the stored or just created incident
        for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
            found = await conn.execute(sa.select(incidents).where(incidents.c.id.in_(chunk)))
            done.update((row.id, _row_to_incident(row)) for row in found)
        new, seen = [], set(done)
        for item in batch:  # in arrival order: references follow it
            if item[0].id not in seen:
                seen.add(item[0].id)
                new.append(item)
        counts: dict[str, int] = {}
        for incident, *_ in new:
            counts[incident.tenant_id] = counts.get(incident.tenant_id, 0) + 1
        next_number = {t: await self._reserve_numbers(conn, t, n) for t, n in counts.items()}
        rows, cis, entries, events = [], [], [], []
        for incident, entry, traceparent in new:
            number = next_number[incident.tenant_id]
            next_number[incident.tenant_id] += 1
            incident = replace(incident, number=number)
            done[incident.id] = incident
            rows.append({"id": incident.id, "tenant_id": incident.tenant_id, "number": number,
                         "created_by": incident.created_by, "created_at": incident.created_at,
                         **_incident_values(incident)})
            cis.extend({"tenant_id": incident.tenant_id, "ci_id": ci, "incident_id": incident.id}
                       for ci in incident.ci_ids)
            entries.append(_timeline_values(incident.tenant_id, entry, 100))
            events.append(self.events.row("incident.created", incident, traceparent=traceparent))
        if rows:
            await conn.execute(incidents.insert(), rows)
            if cis:
                await conn.execute(incident_cis.insert(), cis)
            await conn.execute(timeline.insert(), entries)
            await self.events.stage(conn, events)
        return [done[incident.id] for incident, *_ in batch]

    async def _replace_cis(self, conn: AsyncConnection, incident: Incident) -> None:
        await conn.execute(incident_cis.delete().where(
            incident_cis.c.tenant_id == incident.tenant_id, incident_cis.c.incident_id == incident.id))
        if incident.ci_ids:
            await conn.execute(incident_cis.insert(), [
                {"tenant_id": incident.tenant_id, "ci_id": ci, "incident_id": incident.id} for ci in incident.ci_ids])

    async def get(self, tenant_id: str, key: str) -> Incident | None:
        row = await _BY_KEY.one(self.db, tenant_id, key)
        return _row_to_incident(row) if row else None

    async def list(self, tenant_id: str, query: ListQuery) -> Listing[Incident]:
        where = [incidents.c.tenant_id == tenant_id, *FILTERS.where(query.filters)]
        if query.status:
            where.append(incidents.c.status.in_(query.status))
        if query.severity:
            where.append(incidents.c.severity.in_(query.severity))
        if query.source:
            where.append(incidents.c.source == query.source)
        if query.ci_id:
            where.append(incidents.c.id.in_(sa.select(incident_cis.c.incident_id).where(
                incident_cis.c.tenant_id == tenant_id, incident_cis.c.ci_id == query.ci_id)))
        if query.q:
            text_match = [contains_any((incidents.c.title_folded, incidents.c.description_folded), query.q)]
            ref = REFERENCE.match(query.q.upper())
            if ref:
                text_match.append(incidents.c.number == int(ref.group(1)))
            where.append(sa.or_(*text_match))
        return await list_page(self.db, incidents, where, KEYSET, _row_to_incident, sort=query.sort,
                               order=query.order, limit=query.limit, offset=query.offset, cursor=query.cursor,
                               query=replace(query, limit=0, offset=0, cursor=""), memo=self._listed)

    async def count_created(self, tenant_id: str, since: datetime) -> tuple[int, int]:
        """(incidents created since, the tenant's highest number), from one statement so both describe the same
        committed state."""
        stmt = sa.select(sa.func.count().filter(incidents.c.created_at >= since),
                         sa.func.coalesce(sa.func.max(incidents.c.number), 0)).where(incidents.c.tenant_id == tenant_id)
        async with self.db.read() as conn:
            count, last = (await conn.execute(stmt)).one()
        return int(count), int(last)

    async def mutate(self, tenant_id: str, key: str, decide: Callable[[Incident], Change],
                     expected_version: int = 0) -> Incident:
        """Read, decide, write under the row's version (see vigil.runtime.versioned), with the change's
        timeline entries and events in the same transaction."""

        done = await _versioned.mutate(self.db, _BY_KEY.where(tenant_id, key), key, decide,
                                       entity=lambda change: change.incident, expected_version=expected_version,
                                       write=self._stage_change)
        if done.changed:
            self.events.committed()
        return done.after

    async def apply_in(self, conn: AsyncConnection, current: Incident, change: Change,
                       traceparent: str | None = None) -> bool:
        """Write one decided change in the caller's transaction, guarded by the version it was decided on (the
        alert processor's batches). False (nothing written) when another writer got there first."""
        if not await _versioned.write(conn, current, change.incident):
            return False
        await self._stage_change(conn, current, change, traceparent)
        return True

    async def _stage_change(self, conn: AsyncConnection, current: Incident, change: Change,
                            traceparent: str | None = None) -> None:
        """What a written change brings along in its transaction: CI links, timeline entries, events."""
        updated = change.incident
        if updated.ci_ids != current.ci_ids:
            await self._replace_cis(conn, updated)
        await conn.execute(timeline.insert(), [_timeline_values(current.tenant_id, e, updated.version * 100 + i)
                                               for i, e in enumerate(change.timeline)])
        await self.events.stage(conn, [
            self.events.row(event_type, updated, changed_fields=changed, from_status=from_status,
                            to_status=to_status, traceparent=traceparent)
            for event_type, changed, from_status, to_status in change.events])

    async def append(self, tenant_id: str, entry: TimelineEntry, conn: AsyncConnection | None = None) -> bool:
        """A timeline entry that changes nothing on the incident (a note, an analysis): no version bump, ordered
        after every entry so far (entries appended at the same moment share a position and are ordered by time).
        False when the incident is not this tenant's."""
        if conn is None:
            async with self.db.write() as own:
                return await self.append(tenant_id, entry, own)
        found = (await conn.execute(sa.select(incidents.c.id).where(
            incidents.c.tenant_id == tenant_id, incidents.c.id == entry.incident_id))).first()
        if found is None:
            return False
        last = (await conn.execute(sa.select(sa.func.max(timeline.c.seq)).where(
            timeline.c.tenant_id == tenant_id, timeline.c.incident_id == entry.incident_id))).scalar()
        await conn.execute(timeline.insert(), [_timeline_values(tenant_id, entry, (last or 0) + 1)])
        return True

    async def timeline(self, tenant_id: str, incident_id: str) -> list[TimelineEntry]:
        async with self.db.read() as conn:
            rows = (await conn.execute(sa.select(timeline).where(
                timeline.c.tenant_id == tenant_id, timeline.c.incident_id == incident_id,
            ).order_by(timeline.c.seq, timeline.c.at, timeline.c.id))).all()
        return [TimelineEntry(id=r.id, incident_id=r.incident_id, kind=r.kind, actor=r.actor, at=as_utc(r.at),
                              from_status=r.from_status, to_status=r.to_status, message=r.message,
                              changes=dict(r.changes or {})) for r in rows]
