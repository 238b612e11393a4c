"""The runbook library and runs (SQLAlchemy Core on the ai service's metadata; every query scoped by tenant).

A runbook's current content is on its row; every version's content is kept in runbook_versions (a run pins the
version it ran, and carries its own copy of the steps). A run is one JSON document with its steps' states and
outputs beside the columns it is listed by, written step by step under its version: every move is one
read-decide-write transaction that fails (and is re-decided on fresh state, or refused) when someone else moved
the run first. Events are staged in the outbox in the same transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter

from services.ai.runbooks.model import IN_PROGRESS, Content, Run, Runbook
from services.ai.store import TS, metadata
from vigil.runtime.clock import as_utc
from vigil.runtime.db import Database
from vigil.runtime.errors import Conflict, NotFound

runbooks = sa.Table(
    "runbooks",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("content", sa.JSON, nullable=False),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("meta", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(320), nullable=False),
    sa.Column("updated_by", sa.String(320), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Index("ix_runbooks_tenant_status", "tenant_id", "status", "updated_at"),
)

runbook_versions = sa.Table(
    "runbook_versions",
    metadata,
    sa.Column("runbook_id", sa.String(36), primary_key=True),
    sa.Column("version", sa.BigInteger, primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("content", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(320), nullable=False),
    sa.Column("created_at", TS, nullable=False),
)

runs = sa.Table(
    "runbook_runs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("runbook_id", sa.String(36), nullable=False),
    sa.Column("incident_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Index("ix_runs_tenant_incident", "tenant_id", "incident_id", "created_at"),
    sa.Index("ix_runs_tenant_runbook", "tenant_id", "runbook_id", "created_at"),
    sa.Index("ix_runs_status", "status"),
)

CONTENT = TypeAdapter(Content)
RUN = TypeAdapter(Run)
META = ("generator", "incident_id", "rca_id", "hypothesis", "llm_error")


def _runbook(row: Any, content: dict | None = None, version: int | None = None, status: str | None = None) -> Runbook:
    meta = dict(row.meta or {})
    return Runbook(
        id=row.id, tenant_id=row.tenant_id, content=CONTENT.validate_python(content or row.content),
        status=status or row.status, version=version or int(row.version), created_by=row.created_by,
        updated_by=row.updated_by, created_at=as_utc(row.created_at), updated_at=as_utc(row.updated_at),
        source=row.source, **{k: meta.get(k, "") for k in META})


def _runbook_values(rb: Runbook) -> dict[str, Any]:
    return {"name": rb.content.name, "description": rb.content.description, "status": rb.status,
            "version": rb.version, "tags": list(rb.content.tags), "content": CONTENT.dump_python(rb.content, mode="json"),
            "source": rb.source, "meta": {k: getattr(rb, k) for k in META}, "updated_by": rb.updated_by,
            "updated_at": rb.updated_at}


def _version_row(rb: Runbook) -> dict[str, Any]:
    return {"runbook_id": rb.id, "version": rb.version, "tenant_id": rb.tenant_id, "status": rb.status,
            "content": CONTENT.dump_python(rb.content, mode="json"), "created_by": rb.updated_by,
            "created_at": rb.updated_at}


def run_from_row(row: Any) -> Run:
    return RUN.validate_python(row.document)


def _run_values(run: Run) -> dict[str, Any]:
    return {"runbook_id": run.runbook_id, "incident_id": run.incident_id, "status": run.status,
            "version": run.version, "document": RUN.dump_python(run, mode="json"), "updated_at": run.updated_at}


class RunbookStore:
    def __init__(self, db: Database, outbox) -> None:
        self.db = db
        self.outbox = outbox

    # -- library

    async def create(self, rb: Runbook) -> Runbook:
        async with self.db.write() as conn:
            await conn.execute(runbooks.insert().values(id=rb.id, tenant_id=rb.tenant_id, created_by=rb.created_by,
                                                        created_at=rb.created_at, **_runbook_values(rb)))
            await conn.execute(runbook_versions.insert().values(_version_row(rb)))
        return rb

    async def get(self, tenant_id: str, runbook_id: str, version: int = 0) -> Runbook:
        async with self.db.read() as conn:
            row = (await conn.execute(sa.select(runbooks).where(
                runbooks.c.tenant_id == tenant_id, runbooks.c.id == runbook_id))).first()
            if row is None:
                raise NotFound(f"runbook {runbook_id} not found")
            if not version or version == row.version:
                return _runbook(row)
            old = (await conn.execute(sa.select(runbook_versions).where(
                runbook_versions.c.tenant_id == tenant_id, runbook_versions.c.runbook_id == runbook_id,
                runbook_versions.c.version == version))).first()
        if old is None:
            raise NotFound(f"runbook {runbook_id} has no version {version}")
        return _runbook(row, old.content, int(old.version), old.status)

    async def list(self, tenant_id: str, statuses: Sequence[str], q: str, tag: str, limit: int,
                   offset: int) -> tuple[list[Runbook], int]:
        where = [runbooks.c.tenant_id == tenant_id]
        if statuses:
            where.append(runbooks.c.status.in_(list(statuses)))
        if q:
            pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append(sa.or_(sa.func.lower(runbooks.c.name).like(pattern, escape="\\"),
                                sa.func.lower(runbooks.c.description).like(pattern, escape="\\"),
                                sa.func.lower(sa.cast(runbooks.c.tags, sa.Text)).like(pattern, escape="\\")))
        async with self.db.read() as conn:
            rows = (await conn.execute(sa.select(runbooks).where(*where).order_by(
                runbooks.c.updated_at.desc(), runbooks.c.id))).all()
        items = [_runbook(r) for r in rows]
        if tag:  # tags are a JSON list: filtered here, the same on SQLite and PostgreSQL
            items = [r for r in items if tag in r.content.tags]
        return items[offset: offset + limit], len(items)

    async def update(self, tenant_id: str, runbook_id: str, decide: Callable[[Runbook], Runbook]) -> Runbook:
        async with self.db.write() as conn:
            row = (await conn.execute(sa.select(runbooks).where(
                runbooks.c.tenant_id == tenant_id, runbooks.c.id == runbook_id))).first()
            if row is None:
                raise NotFound(f"runbook {runbook_id} not found")
            current = _runbook(row)
            new = decide(current)
            done = await conn.execute(runbooks.update().where(
                runbooks.c.tenant_id == tenant_id, runbooks.c.id == runbook_id,
                runbooks.c.version == current.version).values(_runbook_values(new)))
            if done.rowcount != 1:
                raise Conflict(f"runbook {runbook_id} changed concurrently; re-read and retry")
            await conn.execute(runbook_versions.insert().values(_version_row(new)))
        return new

    async def delete(self, tenant_id: str, runbook_id: str) -> None:
        async with self.db.write() as conn:
            active = (await conn.execute(sa.select(sa.func.count()).select_from(runs).where(
                runs.c.tenant_id == tenant_id, runs.c.runbook_id == runbook_id,
                runs.c.status.in_(["IN_PROGRESS", "BLOCKED", "FLAGGED"])))).scalar_one()
            if active:
                raise Conflict(f"runbook {runbook_id} has {active} unfinished run(s); finish or cancel them first")
            done = await conn.execute(runbooks.delete().where(
                runbooks.c.tenant_id == tenant_id, runbooks.c.id == runbook_id))
            if done.rowcount != 1:
                raise NotFound(f"runbook {runbook_id} not found")
            await conn.execute(runbook_versions.delete().where(
                runbook_versions.c.tenant_id == tenant_id, runbook_versions.c.runbook_id == runbook_id))

    # -- runs

    async def insert_run(self, run: Run, events: Sequence[dict]) -> Run:
        async with self.db.write() as conn:
            await conn.execute(runs.insert().values(id=run.id, tenant_id=run.tenant_id, created_at=run.created_at,
                                                    **_run_values(run)))
            await self.outbox.add_rows(conn, list(events))
        self.outbox.committed()
        return run

    async def get_run(self, tenant_id: str, run_id: str) -> Run:
        async with self.db.read() as conn:
            row = (await conn.execute(sa.select(runs.c.document).where(
                runs.c.tenant_id == tenant_id, runs.c.id == run_id))).first()
        if row is None:
            raise NotFound(f"runbook run {run_id} not found")
        return run_from_row(row)

    async def move_run(self, tenant_id: str, run_id: str,
                       decide: Callable[[Run], tuple[Run, Sequence[dict]] | None]) -> Run:
        """Read the run, decide its next state (None: leave it), write it under its version with the events.
        A concurrent move makes the write miss: Conflict, and the caller re-decides on the fresh state."""
        async with self.db.write() as conn:
            row = (await conn.execute(sa.select(runs.c.document).where(
                runs.c.tenant_id == tenant_id, runs.c.id == run_id))).first()
            if row is None:
                raise NotFound(f"runbook run {run_id} not found")
            current = run_from_row(row)
            decided = decide(current)
            if decided is None:
                return current
            new, events = decided
            done = await conn.execute(runs.update().where(
                runs.c.tenant_id == tenant_id, runs.c.id == run_id, runs.c.version == current.version)
                .values(_run_values(new)))
            if done.rowcount != 1:
                raise Conflict(f"runbook run {run_id} moved concurrently")
            await self.outbox.add_rows(conn, list(events))
        if events:
            self.outbox.committed()
        return new

    async def list_runs(self, tenant_id: str, incident_id: str, runbook_id: str, statuses: Sequence[str],
                        limit: int, offset: int) -> tuple[list[Run], int]:
        where = [runs.c.tenant_id == tenant_id]
        if incident_id:
            where.append(runs.c.incident_id == incident_id)
        if runbook_id:
            where.append(runs.c.runbook_id == runbook_id)
        if statuses:
            where.append(runs.c.status.in_(list(statuses)))
        async with self.db.read() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(runs).where(*where))).scalar_one()
            rows = (await conn.execute(sa.select(runs.c.document).where(*where).order_by(
                runs.c.created_at.desc(), runs.c.id).limit(limit).offset(offset))).all()
        return [run_from_row(r) for r in rows], int(total)

    async def runs_in_progress(self) -> list[Run]:
        """Every tenant's runs an executor should be driving (for resuming after a restart)."""
        async with self.db.read() as conn:
            rows = (await conn.execute(sa.select(runs.c.document).where(runs.c.status == IN_PROGRESS))).all()
        return [run_from_row(r) for r in rows]
