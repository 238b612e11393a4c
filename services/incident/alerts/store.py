"""Alerts, their groups and fingerprint states, on the incident service's database.

`apply(batch)` is one transaction per batch of accepted alerts: it skips alerts already stored (processing is
idempotent by alert id), reads the state the decisions need, runs them (decisions.Decider, pure), and writes
everything they decided — new incidents through the incident store (gap-free references, incident.created),
incident changes under their version, group and fingerprint states, the alerts with their decisions, and one
alert.<decision> event per alert — before the consumer commits its Kafka offsets.

Concurrency (several consumers, PostgreSQL): a group's state is read and written inside the transaction. The
transaction claims every group it reads (`version = version + 1 WHERE (id, version) IN …`, which also locks
the rows until commit), new groups and fingerprints are inserted under their unique keys, and incidents are
written or re-checked under their version. Whatever another transaction changed first makes the claim, the
insert or the version check fail; the whole batch then rolls back and is decided again on the fresh state.
So one group never gets two incidents, and a firing count is never decided on a stale read.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.incident.alerts.decisions import (
    FIRING,
    MAX_IMPACTED,
    AlertRecord,
    Decider,
    FingerprintState,
    GroupState,
    Incoming,
    group_key_for,
    with_references,
)
from services.incident.integrations.service import IntegrationSettings
from services.incident.integrations.store import IntegrationStore
from services.incident.maintenance.store import MaintenanceStore
from services.incident.service import Change, Incident, format_reference
from services.incident.store import IncidentStore, _row_to_incident, incidents, metadata
from vigil.runtime.clock import as_utc, now
from vigil.runtime.db import Database

if TYPE_CHECKING:
    from services.incident.alerts.events import AlertEvents

log = logging.getLogger("vigil.incident.alerts")
_TS = sa.DateTime(timezone=True)
_CHUNK = 500
MAX_ATTEMPTS = 50

groups = sa.Table(
    "alert_groups",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("integration_id", sa.String(36), nullable=False),
    sa.Column("group_key", sa.String(300), nullable=False),
    sa.Column("incident_id", sa.String(36), nullable=False),
    sa.Column("opened_at", _TS, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("tenant_id", "integration_id", "group_key", name="uq_alert_groups_key"),
)

fingerprints = sa.Table(
    "alert_fingerprints",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("integration_id", sa.String(36), primary_key=True),
    sa.Column("fingerprint", sa.String(255), primary_key=True),
    sa.Column("group_id", sa.String(36), nullable=True),
    sa.Column("incident_id", sa.String(36), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("starts_at", _TS, nullable=False),
    sa.Column("ends_at", _TS, nullable=True),
    sa.Column("updated_at", _TS, nullable=False),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("integration_id", sa.String(36), nullable=False),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("fingerprint", sa.String(255), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("source_severity", sa.String(64), nullable=False),
    sa.Column("severity", sa.String(2), nullable=False),
    sa.Column("labels", sa.JSON, nullable=False),
    sa.Column("annotations", sa.JSON, nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Column("starts_at", _TS, nullable=True),
    sa.Column("ends_at", _TS, nullable=True),
    sa.Column("received_at", _TS, nullable=False),
    sa.Column("processed_at", _TS, nullable=False),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("group_key", sa.String(300), nullable=False),
    sa.Column("decision", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("rule", sa.String(200), nullable=False),
    sa.Column("incident_id", sa.String(36), nullable=True),
    sa.Column("previous_incident_id", sa.String(36), nullable=True),
    sa.Column("maintenance_window_id", sa.String(36), nullable=True),
    sa.Column("ci_ids", sa.JSON, nullable=False),
    sa.Column("ci_lookup", sa.String(20), nullable=False),
    sa.Column("change_ids", sa.JSON, nullable=False),
    sa.Column("change_lookup", sa.String(20), nullable=False),
)


# What decisions read of an incident, and which of those they may change (see decisions.Decider).
_DECIDED_FROM = ("id", "tenant_id", "number", "title", "severity", "status", "source", "ci_ids", "version",
                 "status_times", "change_ids", "resolved_by", "created_at", "updated_at")
_CONVERTED = ("ci_ids", "change_ids", "status_times", "created_at", "updated_at")
_DECIDED = ("severity", "status", "status_times", "resolved_by", "ci_ids", "change_ids", "version", "updated_at")
_EMPTY = {"description": "", "labels": {}, "assignee": "", "resolution_notes": "", "created_by": "", "dedup_key": ""}


class StaleState(Exception):
    """Another transaction changed what this batch decided on; the batch is decided again."""


def _raced(exc: DBAPIError) -> bool:
    """A unique key taken first, or PostgreSQL breaking a deadlock / a serialization failure between batches."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return isinstance(exc, IntegrityError) or code in ("40P01", "40001")


def _chunks(values: list, size: int = _CHUNK):
    for i in range(0, len(values), size):
        yield values[i:i + size]


def _fp_values(fp: FingerprintState) -> dict[str, Any]:
    return {"group_id": fp.group_id, "incident_id": fp.incident_id, "status": fp.status,
            "starts_at": fp.starts_at, "ends_at": fp.ends_at, "updated_at": fp.updated_at}


def _alert_values(r: AlertRecord, at: datetime, references: dict[str, str]) -> dict[str, Any]:
    a = r.alert
    return {
        "id": a.id, "tenant_id": a.tenant_id, "integration_id": a.integration_id, "source": a.source,
        "fingerprint": a.fingerprint, "status": a.status, "title": a.title[:500], "description": a.description,
        "source_severity": a.source_severity[:64], "severity": r.severity, "labels": a.labels,
        "annotations": a.annotations, "details": a.details, "starts_at": a.starts_at, "ends_at": a.ends_at,
        "received_at": a.received_at, "processed_at": at, "url": a.url[:2000], "group_key": r.group_key,
        "decision": r.decision, "reason": with_references(r.reason, references), "rule": r.rule[:200],
        "incident_id": r.incident_id, "previous_incident_id": r.previous_incident_id,
        "maintenance_window_id": r.maintenance_window_id, "ci_ids": list(a.ci_ids), "ci_lookup": a.ci_lookup,
        "change_ids": list(a.change_ids), "change_lookup": a.change_lookup,
    }


class AlertStore:
    def __init__(self, db: Database, incident_store: IncidentStore, integrations: IntegrationStore,
                 events: AlertEvents) -> None:
        self.db = db
        self.incident_store = incident_store
        self.integrations = integrations
        self.events = events
        self.retries = 0

    # -- processing

    async def apply(self, batch: list[Incoming]) -> list[dict[str, Any]]:
        """Decide and store a batch in one transaction; returns the stored alert rows (none for alerts that
        had been stored before). Retried from scratch when a concurrent batch changed the same state."""
        for attempt in range(MAX_ATTEMPTS):
            try:
                async with self.db.write() as conn:
                    rows = await self._apply(conn, batch)
            except (StaleState, DBAPIError) as exc:
                if isinstance(exc, DBAPIError) and not _raced(exc):
                    raise
                self.retries += 1
                log.debug("alert batch raced another (%s); deciding again", type(exc).__name__)
                await asyncio.sleep(min(0.5, 0.005 * 2 ** min(attempt, 7)) * random.random())
                continue
            self.events.committed()
            return rows
        raise StaleState(f"alert batch still racing after {MAX_ATTEMPTS} attempts")

    async def _apply(self, conn: AsyncConnection, batch: list[Incoming]) -> list[dict[str, Any]]:
        fresh = await self._unseen(conn, batch)
        if not fresh:
            return []
        at = now()
        integration_keys = {(a.tenant_id, a.integration_id) for a in fresh}
        found = await self.integrations.settings_of(conn, integration_keys)
        settings = {k: found[k].settings if k in found else IntegrationSettings() for k in integration_keys}
        fps = await self._fingerprints(conn, fresh)
        group_states = await self._groups(conn, fresh, settings, fps)
        await self._claim(conn, groups, [(g.id, g.version) for g in group_states.values()])
        incident_ids = {fp.incident_id for fp in fps.values() if fp.incident_id} | {
            g.incident_id for g in group_states.values()}
        loaded = await self._incidents(conn, incident_ids)
        firing = await self._firing_counts(conn, loaded)
        tenants = {a.tenant_id for a in fresh}
        windows = await MaintenanceStore.active_in(conn, tenants, min(a.received_at for a in fresh),
                                                   max(a.received_at for a in fresh))
        decider = Decider(settings=settings, fingerprints=fps, groups=group_states, incidents=dict(loaded),
                          firing=firing, windows=windows, at=at)
        for alert in fresh:
            decider.decide(alert)

        created = await self.incident_store.insert_in(conn, decider.created)
        numbers = {i.id: i.number for i in created}
        references = {i: format_reference(n) for i, n in numbers.items()}
        changes = decider.changes()
        fresh = [(replace(o, number=numbers[o.id]), replace(c, incident=replace(c.incident, number=numbers[o.id])))
                 for o, c in changes if o.id in numbers]
        stored = await self._merged(conn, [(o, c) for o, c in changes if o.id not in numbers])
        for original, change in fresh + stored:
            if not await self.incident_store.apply_in(conn, original, change):
                raise StaleState(f"incident {original.id} changed concurrently")
        await self._claim(conn, incidents, [(i.id, i.version) for i in decider.read_only_incidents()], bump=False)
        await self._write_groups(conn, decider.touched_groups.values())
        await self._write_fingerprints(conn, decider.touched_fingerprints.values())
        references.update({i.id: i.reference for i in loaded.values()})
        rows = [_alert_values(r, at, references) for r in decider.records]
        for chunk in _chunks(rows):
            await conn.execute(alerts.insert(), chunk)
        await self.events.stage(conn, rows, [r.alert.traceparent for r in decider.records], references)
        return rows

    async def _unseen(self, conn: AsyncConnection, batch: list[Incoming]) -> list[Incoming]:
        unique = list({a.id: a for a in batch}.values())
        seen: set[str] = set()
        for chunk in _chunks([a.id for a in unique]):
            seen.update((await conn.execute(sa.select(alerts.c.id).where(alerts.c.id.in_(chunk)))).scalars())
        return [a for a in unique if a.id not in seen]

    async def _fingerprints(self, conn: AsyncConnection, batch: list[Incoming]
                            ) -> dict[tuple[str, str, str], FingerprintState]:
        by_integration: dict[tuple[str, str], set[str]] = {}
        for a in batch:
            by_integration.setdefault((a.tenant_id, a.integration_id), set()).add(a.fingerprint)
        found: dict[tuple[str, str, str], FingerprintState] = {}
        for (tenant, integration), values in by_integration.items():
            for chunk in _chunks(sorted(values)):
                rows = (await conn.execute(sa.select(fingerprints).where(
                    fingerprints.c.tenant_id == tenant, fingerprints.c.integration_id == integration,
                    fingerprints.c.fingerprint.in_(chunk)))).all()
                for r in rows:
                    found[(tenant, integration, r.fingerprint)] = FingerprintState(
                        r.tenant_id, r.integration_id, r.fingerprint, r.group_id, r.incident_id, r.status,
                        as_utc(r.starts_at), as_utc(r.ends_at) if r.ends_at else None, as_utc(r.updated_at))
        return found

    async def _groups(self, conn: AsyncConnection, batch: list[Incoming],
                      settings: dict[tuple[str, str], IntegrationSettings],
                      fps: dict[tuple[str, str, str], FingerprintState]) -> dict[tuple[str, str, str], GroupState]:
        """The groups the batch's alerts fall in, and the groups their fingerprints were attached to."""
        wanted: dict[tuple[str, str], set[str]] = {}
        for a in batch:
            wanted.setdefault((a.tenant_id, a.integration_id), set()).add(
                group_key_for(settings[(a.tenant_id, a.integration_id)], a))
        found: dict[tuple[str, str, str], GroupState] = {}

        def keep(rows) -> None:
            for r in rows:
                found[(r.tenant_id, r.integration_id, r.group_key)] = GroupState(
                    r.id, r.tenant_id, r.integration_id, r.group_key, r.incident_id, as_utc(r.opened_at), r.version)

        for (tenant, integration), keys in wanted.items():
            for chunk in _chunks(sorted(keys)):
                keep((await conn.execute(sa.select(groups).where(
                    groups.c.tenant_id == tenant, groups.c.integration_id == integration,
                    groups.c.group_key.in_(chunk)))).all())
        known = {g.id for g in found.values()}
        extra = sorted({fp.group_id for fp in fps.values() if fp.group_id and fp.group_id not in known})
        for chunk in _chunks(extra):
            keep((await conn.execute(sa.select(groups).where(groups.c.id.in_(chunk)))).all())
        return found

    @staticmethod
    async def _incidents(conn: AsyncConnection, ids: set[str], light: bool = True) -> dict[str, Incident]:
        """The incidents by id. Light: only what decisions read (most alerts of a storm only need the status),
        the other columns left empty; `_merged` loads the full rows of those a decision changes."""
        columns = [incidents.c[name] for name in _DECIDED_FROM] if light else [incidents]
        found = {}
        for chunk in _chunks(sorted(ids)):
            for r in (await conn.execute(sa.select(*columns).where(incidents.c.id.in_(chunk)))).all():
                found[r.id] = _row_to_incident(r) if not light else Incident(
                    **{**_EMPTY, **{k: getattr(r, k) for k in _DECIDED_FROM if k not in _CONVERTED}},
                    ci_ids=tuple(r.ci_ids or ()), change_ids=tuple(r.change_ids or ()),
                    status_times={k: datetime.fromisoformat(v) for k, v in (r.status_times or {}).items()},
                    created_at=as_utc(r.created_at), updated_at=as_utc(r.updated_at))
        return found

    async def _merged(self, conn: AsyncConnection, decided: list[tuple[Incident, Change]]
                      ) -> list[tuple[Incident, Change]]:
        """The decided changes on the full rows: the fields a decision may change come from the decision (the
        blast radius is the union of the stored one and what the alerts added), everything else as stored."""
        full = await self._incidents(conn, {original.id for original, _ in decided}, light=False)
        out = []
        for original, change in decided:
            stored = full[original.id]
            if stored.version != original.version:
                raise StaleState(f"incident {original.id} changed concurrently")
            final = change.incident
            impacted = tuple(c for c in dict.fromkeys(stored.impacted_ci_ids + final.impacted_ci_ids)
                             if c not in final.ci_ids)[:MAX_IMPACTED]
            merged = replace(stored, **{k: getattr(final, k) for k in _DECIDED}, impacted_ci_ids=impacted)
            out.append((stored, replace(change, incident=merged)))
        return out

    async def _firing_counts(self, conn: AsyncConnection, loaded: dict[str, Incident]) -> dict[str, int]:
        """How many fingerprints are firing on each incident (by tenant: the index leads with it)."""
        by_tenant: dict[str, list[str]] = {}
        for incident in loaded.values():
            by_tenant.setdefault(incident.tenant_id, []).append(incident.id)
        counts: dict[str, int] = {}
        for tenant, ids in by_tenant.items():
            for chunk in _chunks(sorted(ids)):
                rows = (await conn.execute(sa.select(fingerprints.c.incident_id, sa.func.count()).where(
                    fingerprints.c.tenant_id == tenant, fingerprints.c.incident_id.in_(chunk),
                    fingerprints.c.status.in_(FIRING)).group_by(fingerprints.c.incident_id))).all()
                counts.update({r[0]: int(r[1]) for r in rows})
        return counts

    async def _claim(self, conn: AsyncConnection, table: sa.Table, versions: list[tuple[str, int]],
                     bump: bool = True) -> None:
        """Check (and lock until commit) rows at the versions they were read at. Not needed on SQLite, where
        every write transaction of the service runs alone (BEGIN IMMEDIATE on one connection), so nothing it
        read can change before it commits."""
        if not self.db.is_postgres:
            return
        for chunk in _chunks(sorted(versions)):
            result = await conn.execute(table.update().where(
                sa.tuple_(table.c.id, table.c.version).in_(chunk)).values(
                version=table.c.version + 1 if bump else table.c.version))
            if result.rowcount != len(chunk):
                raise StaleState(f"{table.name}: {len(chunk) - result.rowcount} row(s) changed concurrently")

    @staticmethod
    async def _write_groups(conn: AsyncConnection, touched) -> None:
        new = [{"id": g.id, "tenant_id": g.tenant_id, "integration_id": g.integration_id, "group_key": g.group_key,
                "incident_id": g.incident_id, "opened_at": g.opened_at, "version": 1} for g in touched if not g.stored]
        old = [{"gid": g.id, "incident_id": g.incident_id, "opened_at": g.opened_at} for g in touched if g.stored]
        if new:
            await conn.execute(groups.insert(), new)
        if old:
            await conn.execute(groups.update().where(groups.c.id == sa.bindparam("gid")).values(
                incident_id=sa.bindparam("incident_id"), opened_at=sa.bindparam("opened_at")), old)

    @staticmethod
    async def _write_fingerprints(conn: AsyncConnection, touched) -> None:
        new = [{"tenant_id": f.tenant_id, "integration_id": f.integration_id, "fingerprint": f.fingerprint,
                **_fp_values(f)} for f in touched if not f.stored]
        old = [{"t": f.tenant_id, "i": f.integration_id, "f": f.fingerprint, **_fp_values(f)}
               for f in touched if f.stored]
        if new:
            await conn.execute(fingerprints.insert(), new)
        if old:
            await conn.execute(fingerprints.update().where(
                fingerprints.c.tenant_id == sa.bindparam("t"), fingerprints.c.integration_id == sa.bindparam("i"),
                fingerprints.c.fingerprint == sa.bindparam("f")).values(
                {k: sa.bindparam(k) for k in ("group_id", "incident_id", "status", "starts_at", "ends_at",
                                              "updated_at")}), old)

    # -- reading

    async def list(self, tenant_id: str, query) -> tuple[list[dict[str, Any]], int]:
        where = [alerts.c.tenant_id == tenant_id]
        if query.status:
            where.append(alerts.c.status.in_(query.status))
        if query.decision:
            where.append(alerts.c.decision.in_(query.decision))
        for name in ("integration_id", "fingerprint", "incident_id"):
            if getattr(query, name):
                where.append(alerts.c[name] == getattr(query, name))
        if query.start is not None:
            where.append(alerts.c.received_at >= query.start)
        if query.end is not None:
            where.append(alerts.c.received_at <= query.end)
        order = alerts.c.received_at.desc() if query.order == "desc" else alerts.c.received_at.asc()
        async with self.db.read() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(alerts).where(*where))).scalar_one()
            rows = (await conn.execute(self._with_reference().where(*where).order_by(order, alerts.c.id)
                                       .limit(query.limit).offset(query.offset))).all()
        return [dict(r._mapping) for r in rows], int(total)

    async def get(self, tenant_id: str, alert_id: str) -> dict[str, Any] | None:
        async with self.db.read() as conn:
            row = (await conn.execute(self._with_reference().where(
                alerts.c.tenant_id == tenant_id, alerts.c.id == alert_id))).first()
        return dict(row._mapping) if row else None

    @staticmethod
    def _with_reference() -> sa.Select:
        return sa.select(alerts, incidents.c.number.label("incident_number")).select_from(
            alerts.outerjoin(incidents, sa.and_(incidents.c.id == alerts.c.incident_id,
                                                incidents.c.tenant_id == alerts.c.tenant_id)))
