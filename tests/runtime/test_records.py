"""`records()`: rows as tuples whose columns are also attributes, which the list loaders read instead of
SQLAlchemy Rows; a loader must make the same object from either (SQLite and PostgreSQL). `Database.fetch()`, the
reads by key of the request path, which on SQLite skip the engine: they must read what an execution reads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from services.cmdb.server import MIGRATIONS as CMDB_MIGRATIONS
from services.cmdb.store import _row_to_item, items
from services.incident.server import MIGRATIONS as INCIDENT_MIGRATIONS
from services.incident.store import _row_to_incident, incidents
from vigil.runtime.clock import as_utc
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


async def stored_incident(db: Database) -> None:
    """The incident service's tables with one incident (id i1 of tenant t) in them."""
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


async def test_an_incident_from_a_record_is_the_incident_from_its_row(db):
    await stored_incident(db)
    rows, made = await both(db, sa.select(incidents))
    assert _row_to_incident(made[0]) == _row_to_incident(rows[0])
    assert _row_to_incident(made[0]).status_times["acknowledged"] == AT
    assert await both(db, sa.select(incidents).where(incidents.c.id == "none")) == ([], [])


# Built once, as fetch() expects: a datetime parameter (a bind processor on SQLite), JSON and datetime columns
# (result processors), a column named "class" and a label.
ITEMS_SINCE = sa.select(items, items.c.name.label("_sort_key")).where(
    items.c.tenant_id == sa.bindparam("tenant"), items.c.updated_at >= sa.bindparam("since")).order_by(items.c.id)
INCIDENT_BY_ID = sa.select(incidents).where(incidents.c.tenant_id == sa.bindparam("tenant"),
                                            incidents.c.id == sa.bindparam("id"))


async def test_a_fetch_reads_what_an_execution_reads(db):
    await db.migrate(CMDB_MIGRATIONS)
    later = AT.replace(hour=13)
    async with db.write() as conn:
        await conn.execute(items.insert(), [
            {"tenant_id": tenant, "id": f"ci-{n}", "name": f"db-{n}", "class": "database", "environment": "prod",
             "owner": "team", "criticality": "high", "attributes": {"ip": f"10.0.0.{n}", "tags": ["a", n]},
             "version": n, "created_by": "a", "created_at": AT, "updated_at": at}
            for tenant in ("t", "u") for n, at in ((1, AT), (2, later), (3, later))])
    for since, expected in ((AT, ["ci-1", "ci-2", "ci-3"]), (later, ["ci-2", "ci-3"]),
                            (later.replace(minute=1), [])):
        params = {"tenant": "t", "since": since}
        async with db.read() as conn:
            rows = records(await conn.execute(ITEMS_SINCE, params))
        fetched = await db.fetch(ITEMS_SINCE, params)
        assert [r.id for r in fetched] == expected
        assert fetched == rows
        for row, record in zip(rows, fetched, strict=True):
            assert getattr(record, "class") == "database" and record._sort_key == row._sort_key
            assert record.updated_at == row.updated_at and as_utc(record.updated_at) >= since
            assert record.attributes == row.attributes and isinstance(record.attributes, dict)
            assert _row_to_item(record) == _row_to_item(row)


async def test_an_incident_fetched_by_key_is_the_incident_read_by_the_engine(db):
    await stored_incident(db)
    [fetched] = await db.fetch(INCIDENT_BY_ID, {"tenant": "t", "id": "i1"})
    async with db.read() as conn:
        [row] = (await conn.execute(INCIDENT_BY_ID, {"tenant": "t", "id": "i1"})).all()
    assert _row_to_incident(fetched) == _row_to_incident(row)
    assert _row_to_incident(fetched).created_at == AT and fetched.labels == {"team": "payments", "page": True}
    assert await db.fetch(INCIDENT_BY_ID, {"tenant": "other", "id": "i1"}) == []


async def test_a_fetch_refuses_what_it_cannot_run_on_the_driver(db):
    await db.migrate(INCIDENT_MIGRATIONS)
    by_ids = sa.select(incidents).where(incidents.c.id.in_(sa.bindparam("ids", expanding=True)))
    if db.inline is not None:  # SQLite; on PostgreSQL every fetch is an execution
        with pytest.raises(ValueError, match="expanding"):
            await db.fetch(by_ids, {"ids": ["i1"]})
    else:
        assert await db.fetch(by_ids, {"ids": ["i1"]}) == []
