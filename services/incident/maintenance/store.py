"""Maintenance windows on the incident service's database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.incident.maintenance.service import MaintenanceWindow, Matcher
from services.incident.store import metadata
from vigil.runtime.clock import as_utc
from vigil.runtime.db import Database
from vigil.runtime.errors import Conflict, NotFound

_TS = sa.DateTime(timezone=True)

windows = sa.Table(
    "maintenance_windows",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("matchers", sa.JSON, nullable=False),
    sa.Column("ci_ids", sa.JSON, nullable=False),
    sa.Column("integration_ids", sa.JSON, nullable=False),
    sa.Column("starts_at", _TS, nullable=False),
    sa.Column("ends_at", _TS, nullable=False),
    sa.Column("created_by", sa.String(320), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
)


def _row(row: Any) -> MaintenanceWindow:
    return MaintenanceWindow(
        id=row.id, tenant_id=row.tenant_id, name=row.name, comment=row.comment,
        matchers=tuple(Matcher(m["name"], m["operator"], m["value"]) for m in row.matchers or ()),
        ci_ids=tuple(row.ci_ids or ()), integration_ids=tuple(row.integration_ids or ()),
        starts_at=as_utc(row.starts_at), ends_at=as_utc(row.ends_at), created_by=row.created_by,
        created_at=as_utc(row.created_at), updated_at=as_utc(row.updated_at), version=row.version)


def _values(w: MaintenanceWindow) -> dict[str, Any]:
    return {"name": w.name, "comment": w.comment,
            "matchers": [{"name": m.name, "operator": m.operator, "value": m.value} for m in w.matchers],
            "ci_ids": list(w.ci_ids), "integration_ids": list(w.integration_ids), "starts_at": w.starts_at,
            "ends_at": w.ends_at, "updated_at": w.updated_at, "version": w.version}


class MaintenanceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def insert(self, window: MaintenanceWindow) -> MaintenanceWindow:
        async with self.db.write() as conn:
            await conn.execute(windows.insert().values(id=window.id, tenant_id=window.tenant_id,
                                                       created_by=window.created_by, created_at=window.created_at,
                                                       **_values(window)))
        return window

    async def get(self, tenant_id: str, window_id: str) -> MaintenanceWindow | None:
        async with self.db.read() as conn:
            row = (await conn.execute(sa.select(windows).where(windows.c.tenant_id == tenant_id,
                                                               windows.c.id == window_id))).first()
        return _row(row) if row else None

    async def list(self, tenant_id: str, active_at: datetime | None, limit: int, offset: int
                   ) -> tuple[list[MaintenanceWindow], int]:
        where = [windows.c.tenant_id == tenant_id]
        if active_at is not None:
            where += [windows.c.starts_at <= active_at, windows.c.ends_at > active_at]
        async with self.db.read() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(windows).where(*where))).scalar_one()
            rows = (await conn.execute(sa.select(windows).where(*where).order_by(
                windows.c.starts_at.desc(), windows.c.id).limit(limit).offset(offset))).all()
        return [_row(r) for r in rows], int(total)

    async def update(self, tenant_id: str, window_id: str, decide: Callable[[MaintenanceWindow], MaintenanceWindow],
                     expected_version: int = 0) -> MaintenanceWindow:
        async with self.db.write() as conn:
            row = (await conn.execute(sa.select(windows).where(windows.c.tenant_id == tenant_id,
                                                               windows.c.id == window_id))).first()
            if row is None:
                raise NotFound(f"maintenance window {window_id} not found")
            current = _row(row)
            if expected_version and current.version != expected_version:
                raise Conflict(f"maintenance window {window_id} is at version {current.version}, "
                               f"not {expected_version}; re-read and retry")
            updated = decide(current)
            if updated == current:
                return current
            result = await conn.execute(windows.update().where(
                windows.c.id == window_id, windows.c.version == current.version).values(_values(updated)))
            if result.rowcount != 1:
                raise Conflict(f"maintenance window {window_id} was changed concurrently; re-read and retry")
        return updated

    async def delete(self, tenant_id: str, window_id: str) -> MaintenanceWindow:
        async with self.db.write() as conn:
            row = (await conn.execute(sa.select(windows).where(windows.c.tenant_id == tenant_id,
                                                               windows.c.id == window_id))).first()
            if row is None:
                raise NotFound(f"maintenance window {window_id} not found")
            await conn.execute(windows.delete().where(windows.c.id == window_id))
        return _row(row)

    @staticmethod
    async def active_in(conn: AsyncConnection, tenants: set[str], start: datetime, end: datetime
                        ) -> dict[str, list[MaintenanceWindow]]:
        """Windows of these tenants overlapping [start, end], by tenant (read in the alert batch's transaction)."""
        rows = (await conn.execute(sa.select(windows).where(
            windows.c.tenant_id.in_(sorted(tenants)), windows.c.starts_at <= end, windows.c.ends_at > start)
            .order_by(windows.c.starts_at, windows.c.id))).all()
        found: dict[str, list[MaintenanceWindow]] = {}
        for r in rows:
            found.setdefault(r.tenant_id, []).append(_row(r))
        return found
