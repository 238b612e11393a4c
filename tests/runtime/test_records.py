"""`records()`: rows as tuples whose columns are also attributes, which the list loaders read instead of
SQLAlchemy Rows; a loader must make the same object from either (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from services.cmdb.server import MIGRATIONS as CMDB_MIGRATIONS
from services.cmdb.store import _row_to_item, items
from services.incident.server import MIGRATIONS as INCIDENT_MIGRATIONS
from services.incident.store import _row_to_incident, incidents
from vigil.runtime.db import Database, records

AT = datetime(2026, 11, 24, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
async def db(database_url):
    database = Database(database_url, "records")
    yield database
    await database.dispose()


async def both(db: Database, statement: sa.Select) -> tuple[list, list]:
    async with db.read() as conn:
        rows = (await conn.execute(statement)).all()
        made = records(await conn.execute(statement))
    return rows, made


async def test_columns_by_name_and_position_as_a_row_has_them(db):
    await db.migrate(CMDB_MIGRATIONS)
    async with db.write() as conn:
        await conn.execute(items.insert(), [
            {"tenant_id": "t", "id": f"ci-{n}", "name": f"db-{n}", "class": "database", "environment": "prod",
             "owner": "team", "criticality": "high", "attributes": {"ip": f"10.0.0.{n}"}, "version": n,
             "created_by": "a", "created_at": AT, "updated_at": AT} for n in (1, 2)])
    statement = sa.select(items, items.c.name.label("_sort_key")).order_by(items.c.id)
    rows, made = await both(db, statement)
    assert len(made) == len(rows) == 2
    for row, record in zip(rows, made, strict=True):
        assert tuple(record) == tuple(row)
        for key in row._mapping:  # "class" and "_sort_key" too
            assert getattr(record, key) == row._mapping[key]
        assert _row_to_item(record) == _row_to_item(row)
    assert made[1].attributes == {"ip": "10.0.0.2"} and made[1][0] == rows[1][0]


async def test_an_incident_from_a_record_is_the_incident_from_its_row(db):
    await db.migrate(INCIDENT_MIGRATIONS)
    async with db.write() as conn:
        await conn.execute(incidents.insert(), {
            "id": "i1", "tenant_id": "t", "number": 7, "title": "Checkout down", "description": "5xx",
            "severity": "P1", "status": "acknowledged", "source": "alertmanager", "ci_ids": ["ci-1"],
            "assignee": "ana", "labels": {"team": "payments", "page": True}, "resolution_notes": "",
            "created_by": "a", "resolved_by": "", "dedup_key": "fp", "version": 2, "created_at": AT,
            "updated_at": AT, "status_times": {"triggered": AT.isoformat(), "acknowledged": AT.isoformat()},
            "impacted_ci_ids": ["ci-2"], "change_ids": ["ch-1"], "title_folded": "checkout down",
            "description_folded": "5xx"})
    rows, made = await both(db, sa.select(incidents))
    assert _row_to_incident(made[0]) == _row_to_incident(rows[0])
    assert _row_to_incident(made[0]).status_times["acknowledged"] == AT
    assert await both(db, sa.select(incidents).where(incidents.c.id == "none")) == ([], [])
