"""The audit log: every mutation on either plane by an authenticated caller, refused or not.

An entry says who (a user's email, `api_key:<id>`, the operator, `integration:<id>`), in which tenant, what
(method, route template, path, the resource's id), how it ended (HTTP status and error code), and the trace id,
source address and user agent. Never a body, a header value or a query string: secrets (passwords, keys, tokens,
integration keys) never reach it.

Entries are group-committed (vigil/runtime/batching.py): the middleware waits for its entry's transaction before
the answer leaves, so an answered mutation is in the log, and concurrent mutations share transactions. Entries are
read newest first with an opaque cursor over (time, id).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import orjson
import sqlalchemy as sa

from vigil.runtime.batching import GroupCommit
from vigil.runtime.clock import as_utc, now
from vigil.runtime.db import Database
from vigil.runtime.errors import FieldError, ValidationFailed

metadata = sa.MetaData()
audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("plane", sa.String(10), nullable=False),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("actor", sa.String(320), nullable=False),
    sa.Column("actor_kind", sa.String(20), nullable=False),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("route", sa.String(200), nullable=False),
    sa.Column("path", sa.String(500), nullable=False),
    sa.Column("resource_id", sa.String(200), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("code", sa.String(40), nullable=False),
    sa.Column("trace_id", sa.String(32), nullable=False),
    sa.Column("source_ip", sa.String(45), nullable=False),
    sa.Column("user_agent", sa.String(300), nullable=False),
)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: str
    at: datetime
    plane: str
    tenant_id: str  # "" for control-plane actions on no tenant (e.g. listing is not audited; creating one is)
    actor: str
    actor_kind: str
    method: str
    route: str
    path: str
    resource_id: str
    status: int
    code: str  # the error code, "" on success
    trace_id: str
    source_ip: str
    user_agent: str


@dataclass(frozen=True, slots=True)
class AuditFilter:
    tenant_id: str | None = None
    actor: str = ""
    method: str = ""
    route: str = ""  # a prefix of the route template: "/api/incidents" matches "/api/incidents/{id}" too
    resource_id: str = ""
    status: str = ""  # "403", or a class: "4xx"
    since: datetime | None = None
    until: datetime | None = None


def encode_cursor(entry: AuditEntry) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([entry.at.isoformat(), entry.id])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, entry_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return as_utc(datetime.fromisoformat(at)), str(entry_id)
    except (ValueError, TypeError, OverflowError, binascii.Error, orjson.JSONDecodeError):
        raise ValidationFailed("invalid cursor", [FieldError("cursor", "pass next_cursor as it was")]) from None


class AuditLog:
    def __init__(self, db: Database, retention_days: int = 365) -> None:
        self.db = db
        self.retention = timedelta(days=retention_days)
        self._group = GroupCommit(self._write, name="audit-log")

    async def record(self, entry: AuditEntry) -> None:
        """Returns once the entry is committed."""
        await self._group.submit(entry)

    async def _write(self, entries: list[AuditEntry]) -> None:
        async with self.db.write() as conn:
            await conn.execute(audit_log.insert(), [asdict(e) for e in entries])

    async def close(self) -> None:
        await self._group.close()

    async def search(self, where: AuditFilter, limit: int, cursor: str = "") -> tuple[list[AuditEntry], str | None]:
        c = audit_log.c
        clauses = []
        if where.tenant_id is not None:
            clauses.append(c.tenant_id == where.tenant_id)
        for column, value in ((c.actor, where.actor), (c.method, where.method.upper()),
                              (c.resource_id, where.resource_id)):
            if value:
                clauses.append(column == value)
        if where.route:
            escaped = where.route.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append(c.route.like(escaped + "%", escape="\\"))
        if where.status:
            hundreds = int(where.status[0]) * 100
            clauses.append(c.status.between(hundreds, hundreds + 99) if where.status.endswith("xx")
                           else c.status == int(where.status))
        if where.since is not None:
            clauses.append(c.at >= as_utc(where.since))
        if where.until is not None:
            clauses.append(c.at < as_utc(where.until))
        if cursor:
            at, entry_id = decode_cursor(cursor)
            clauses.append(sa.or_(c.at < at, sa.and_(c.at == at, c.id < entry_id)))
        query = sa.select(audit_log).where(*clauses).order_by(c.at.desc(), c.id.desc()).limit(limit + 1)
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        entries = [AuditEntry(**{**row._asdict(), "at": as_utc(row.at)}) for row in rows[:limit]]
        return entries, (encode_cursor(entries[-1]) if len(rows) > limit else None)

    async def prune(self) -> None:
        async with self.db.write() as conn:
            await conn.execute(audit_log.delete().where(audit_log.c.at < now() - self.retention))
