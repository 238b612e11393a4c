"""Persistence of the ai service (SQLAlchemy Core, SQLite or PostgreSQL; every query scoped by tenant): the
shared metadata with the outbox and consumer dedup tables, and the tenants' AI settings. The analyses live in
rca/store.py, the runbooks and runs in runbooks/store.py, on the same metadata."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from services.ai.tenant_settings import TenantAiSettings
from vigil.runtime import outbox
from vigil.runtime.clock import as_utc
from vigil.runtime.db import Database
from vigil.runtime.errors import Conflict

metadata = sa.MetaData()
outbox_table, processed_events = outbox.define_tables(metadata)
TS = sa.DateTime(timezone=True)

settings_table = sa.Table(
    "ai_settings",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("auto_rca_severities", sa.JSON, nullable=False),
    sa.Column("llm_enabled", sa.Boolean, nullable=False),
    sa.Column("runbook_blast_radius_approval", sa.Integer, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("updated_by", sa.String(320), nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)


def settings_from_row(tenant_id: str, row) -> TenantAiSettings:
    if row is None:
        return TenantAiSettings(tenant_id)
    return TenantAiSettings(tenant_id, tuple(row.auto_rca_severities), bool(row.llm_enabled),
                            int(row.runbook_blast_radius_approval), int(row.version), row.updated_by,
                            as_utc(row.updated_at))


_SETTINGS = sa.select(settings_table).where(settings_table.c.tenant_id == sa.bindparam("tenant_id"))


class SettingsStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, tenant_id: str, conn=None) -> TenantAiSettings:
        if conn is not None:
            return settings_from_row(tenant_id, (await conn.execute(_SETTINGS, {"tenant_id": tenant_id})).first())
        found = await self.db.fetch(_SETTINGS, {"tenant_id": tenant_id})  # for every incident.created
        return settings_from_row(tenant_id, found[0] if found else None)

    async def put(self, tenant_id: str, decide: Callable[[TenantAiSettings], TenantAiSettings]) -> TenantAiSettings:
        """Read, decide (a pure function of the current settings), write under the version: a concurrent
        update makes the write miss and the caller sees a conflict instead of a lost update."""
        try:
            return await self._put(tenant_id, decide)
        except sa.exc.IntegrityError:  # two first writes at once (PostgreSQL): one wins
            raise Conflict("the settings changed concurrently; re-read and retry") from None

    async def _put(self, tenant_id: str, decide: Callable[[TenantAiSettings], TenantAiSettings]) -> TenantAiSettings:
        async with self.db.write() as conn:
            current = await self.get(tenant_id, conn)
            new = decide(current)
            values = {"auto_rca_severities": list(new.auto_rca_severities), "llm_enabled": new.llm_enabled,
                      "runbook_blast_radius_approval": new.runbook_blast_radius_approval, "version": new.version,
                      "updated_by": new.updated_by, "updated_at": new.updated_at}
            if current.version == 0:
                await conn.execute(settings_table.insert().values(tenant_id=tenant_id, **values))
            else:
                done = await conn.execute(settings_table.update().where(
                    settings_table.c.tenant_id == tenant_id, settings_table.c.version == current.version)
                    .values(**values))
                if done.rowcount != 1:
                    raise Conflict("the settings changed concurrently; re-read and retry")
        return new
