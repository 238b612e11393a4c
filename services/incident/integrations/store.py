"""Integrations on the incident service's database. Deleting keeps the row (without its key hash), so alerts
accepted before the delete are still processed with the settings they were sent under."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from services.incident.integrations.service import Integration, IntegrationSettings
from services.incident.store import metadata
from vigil.runtime.clock import as_utc, now
from vigil.runtime.db import Database
from vigil.runtime.errors import Conflict, NotFound

_TS = sa.DateTime(timezone=True)

integrations = sa.Table(
    "integrations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("settings", sa.JSON, nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=True, unique=True),
    sa.Column("key_prefix", sa.String(16), nullable=False),
    sa.Column("created_by", sa.String(320), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    sa.Column("key_rotated_at", _TS, nullable=False),
    sa.Column("deleted_at", _TS, nullable=True),
    sa.Column("version", sa.BigInteger, nullable=False),
)


def row_to_integration(row: Any) -> Integration:
    return Integration(id=row.id, tenant_id=row.tenant_id, name=row.name, type=row.type,
                       settings=IntegrationSettings.from_json(dict(row.settings or {})), key_prefix=row.key_prefix,
                       created_by=row.created_by, created_at=as_utc(row.created_at),
                       updated_at=as_utc(row.updated_at), key_rotated_at=as_utc(row.key_rotated_at),
                       version=row.version)


def _values(i: Integration) -> dict[str, Any]:
    return {"name": i.name, "type": i.type, "settings": i.settings.as_json(), "key_prefix": i.key_prefix,
            "updated_at": i.updated_at, "key_rotated_at": i.key_rotated_at, "version": i.version}


_LIVE = integrations.c.deleted_at.is_(None)


class IntegrationStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def insert(self, integration: Integration, key_hash: str) -> Integration:
        async with self.db.write() as conn:
            await conn.execute(integrations.insert().values(
                id=integration.id, tenant_id=integration.tenant_id, key_hash=key_hash,
                created_by=integration.created_by, created_at=integration.created_at, **_values(integration)))
        return integration

    async def get(self, tenant_id: str, integration_id: str) -> Integration | None:
        async with self.db.read() as conn:
            row = (await conn.execute(sa.select(integrations).where(
                integrations.c.tenant_id == tenant_id, integrations.c.id == integration_id, _LIVE))).first()
        return row_to_integration(row) if row else None

    async def list(self, tenant_id: str, type_: str, limit: int, offset: int) -> tuple[list[Integration], int]:
        where = [integrations.c.tenant_id == tenant_id, _LIVE]
        if type_:
            where.append(integrations.c.type == type_)
        async with self.db.read() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(integrations).where(*where))).scalar_one()
            rows = (await conn.execute(sa.select(integrations).where(*where).order_by(
                integrations.c.created_at, integrations.c.id).limit(limit).offset(offset))).all()
        return [row_to_integration(r) for r in rows], int(total)

    async def update(self, tenant_id: str, integration_id: str, decide: Callable[[Integration], Integration],
                     expected_version: int = 0, key_hash: str | None = None) -> Integration:
        async with self.db.write() as conn:
            row = (await conn.execute(sa.select(integrations).where(
                integrations.c.tenant_id == tenant_id, integrations.c.id == integration_id, _LIVE))).first()
            if row is None:
                raise NotFound(f"integration {integration_id} not found")
            current = row_to_integration(row)
            if expected_version and current.version != expected_version:
                raise Conflict(f"integration {integration_id} is at version {current.version}, "
                               f"not {expected_version}; re-read and retry")
            updated = decide(current)
            if updated == current and key_hash is None:
                return current
            values = _values(updated)
            if key_hash is not None:
                values["key_hash"] = key_hash
            # One write transaction per service database on SQLite; the version guard covers PostgreSQL.
            result = await conn.execute(integrations.update().where(
                integrations.c.id == integration_id, integrations.c.version == current.version).values(values))
            if result.rowcount != 1:
                raise Conflict(f"integration {integration_id} was changed concurrently; re-read and retry")
        return updated

    async def delete(self, tenant_id: str, integration_id: str) -> Integration:
        async with self.db.write() as conn:
            row = (await conn.execute(sa.select(integrations).where(
                integrations.c.tenant_id == tenant_id, integrations.c.id == integration_id, _LIVE))).first()
            if row is None:
                raise NotFound(f"integration {integration_id} not found")
            await conn.execute(integrations.update().where(integrations.c.id == integration_id).values(
                deleted_at=now(), key_hash=None, version=row.version + 1))
        return row_to_integration(row)

    async def by_key_hash(self, key_hash: str) -> Integration | None:
        async with self.db.read() as conn:
            row = (await conn.execute(sa.select(integrations).where(
                integrations.c.key_hash == key_hash, _LIVE))).first()
        return row_to_integration(row) if row else None

    async def settings_of(self, conn, keys: set[tuple[str, str]]) -> dict[tuple[str, str], Integration]:
        """(tenant, integration id) -> integration, deleted ones included (for alerts accepted before)."""
        found: dict[tuple[str, str], Integration] = {}
        ids = sorted({i for _, i in keys})
        for start in range(0, len(ids), 500):
            rows = (await conn.execute(sa.select(integrations).where(
                integrations.c.id.in_(ids[start:start + 500])))).all()
            found.update(((r.tenant_id, r.id), row_to_integration(r)) for r in rows)
        return {k: v for k, v in found.items() if k in keys}
