"""Blackout windows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.itsm.events import ItsmEvents
from services.itsm.service import Blackout, Page
from services.itsm.store.common import TS, conflict_lock, metadata
from vigil.runtime.clock import as_utc, now
from vigil.runtime.db import Database, ReadByKey
from vigil.runtime.versioned import VersionedTable

blackouts = sa.Table(
    "blackouts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("starts_at", TS, nullable=False),
    sa.Column("ends_at", TS, nullable=False),
    sa.Column("ci_ids", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(320), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Index("ix_blackouts_tenant_window", "tenant_id", "starts_at", "ends_at"),
)


def row_to_blackout(row: Any) -> Blackout:
    return Blackout(id=row.id, tenant_id=row.tenant_id, name=row.name, reason=row.reason,
                    start=as_utc(row.starts_at), end=as_utc(row.ends_at), ci_ids=tuple(row.ci_ids or ()),
                    created_by=row.created_by, version=row.version, created_at=as_utc(row.created_at),
                    updated_at=as_utc(row.updated_at))


def _blackout_values(b: Blackout) -> dict[str, Any]:
    return {"name": b.name, "reason": b.reason, "starts_at": as_utc(b.start), "ends_at": as_utc(b.end),
            "ci_ids": list(b.ci_ids), "version": b.version, "updated_at": b.updated_at}


versioned_blackouts = VersionedTable(blackouts, "blackout", row_to_blackout, _blackout_values)


_BY_KEY = ReadByKey(blackouts)


class BlackoutsStore:
    """A blackout write flags (or clears) the active changes its window overlaps in the same transaction, under
    the tenant's conflict lock, so a change created at the same moment and the blackout see each other."""

    db: Database
    events: ItsmEvents
    flag_changes_for_blackout: Callable[[AsyncConnection, str, str, Blackout | None, Blackout | None, datetime],
                                        Awaitable[None]]  # ChangesStore's

    async def insert_blackout(self, blackout: Blackout) -> Blackout:
        """Insert a blackout; one whose id is stored already (a retried create, the id derived from the same
        Idempotency-Key) is returned as it is, and nothing is written."""
        async with self.db.write(serialise=conflict_lock(blackout.tenant_id)) as conn:
            first = (await conn.execute(sa.select(blackouts).where(blackouts.c.tenant_id == blackout.tenant_id,
                                                                   blackouts.c.id == blackout.id))).first()
            if first is not None:
                return row_to_blackout(first)
            await conn.execute(blackouts.insert().values(
                id=blackout.id, tenant_id=blackout.tenant_id, created_by=blackout.created_by,
                created_at=blackout.created_at, **_blackout_values(blackout)))
            await self.flag_changes_for_blackout(conn, blackout.tenant_id, blackout.id, None, blackout,
                                                 blackout.updated_at)
        self.events.committed()
        return blackout

    async def get_blackout(self, tenant_id: str, blackout_id: str) -> Blackout | None:
        row = await _BY_KEY.one(self.db, tenant_id, blackout_id)
        return row_to_blackout(row) if row else None

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
        return [row_to_blackout(r) for r in rows], int(total)

    async def mutate_blackout(self, tenant_id: str, blackout_id: str,
                              decide: Callable[[Blackout], Blackout]) -> Blackout:
        async def write(conn: AsyncConnection, current: Blackout, updated: Blackout) -> None:
            await self.flag_changes_for_blackout(conn, tenant_id, blackout_id, current, updated, updated.updated_at)

        where = sa.and_(blackouts.c.tenant_id == tenant_id, blackouts.c.id == blackout_id)
        done = await versioned_blackouts.mutate(self.db, where, blackout_id, decide, write=write,
                                                serialise=conflict_lock(tenant_id))
        if done.changed:
            self.events.committed()
        return done.after

    async def delete_blackout(self, tenant_id: str, blackout_id: str) -> bool:
        async with self.db.write(serialise=conflict_lock(tenant_id)) as conn:
            row = (await conn.execute(blackouts.delete().where(
                blackouts.c.tenant_id == tenant_id, blackouts.c.id == blackout_id).returning(*blackouts.c))).first()
            if row is not None:
                await self.flag_changes_for_blackout(conn, tenant_id, blackout_id, row_to_blackout(row), None, now())
        self.events.committed()
        return row is not None
