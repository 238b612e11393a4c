"""The read–decide–write-with-version helper and the serialising write lock, on SQLite and PostgreSQL: many
concurrent writers of one row all land (none lost, none doubled), an expected version is honoured, a decision
that changes nothing writes nothing, and rules that read other rows before writing hold under concurrency."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

import pytest
import sqlalchemy as sa

from vigil.runtime.db import Database, schema_for
from vigil.runtime.errors import Conflict, NotFound
from vigil.runtime.versioned import VersionedTable

metadata = sa.MetaData()
counters = sa.Table(
    "counters", metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("value", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)
slots = sa.Table(
    "slots", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
)


@dataclass(frozen=True)
class Counter:
    tenant_id: str
    id: str
    value: int
    version: int


rows = VersionedTable(counters, "counter", lambda r: Counter(r.tenant_id, r.id, r.value, r.version),
                      lambda c: {"value": c.value, "version": c.version})


@pytest.fixture
async def db(database_url):
    database = Database(database_url, "test")
    async with database.writer.begin() as conn:
        if database.is_postgres:
            await conn.execute(sa.text(f'CREATE SCHEMA "{schema_for("test")}"'))
        await conn.run_sync(metadata.create_all)
        await conn.execute(counters.insert(), [{"tenant_id": "t1", "id": "c", "value": 0, "version": 1},
                                               {"tenant_id": "t2", "id": "c", "value": 0, "version": 1}])
    yield database
    await database.dispose()


def where(tenant_id: str = "t1") -> sa.ColumnElement[bool]:
    return sa.and_(counters.c.tenant_id == tenant_id, counters.c.id == "c")


def increment(c: Counter) -> Counter:
    return replace(c, value=c.value + 1, version=c.version + 1)


async def read(db: Database, tenant_id: str = "t1") -> Counter:
    async with db.read() as conn:
        found = await rows.read(conn, where(tenant_id))
    assert found is not None
    return found


async def test_concurrent_writers_of_one_row_all_land(db):
    done = await asyncio.gather(*(rows.mutate(db, where(), "c", increment) for _ in range(30)))
    assert sorted(m.after.value for m in done) == list(range(1, 31))  # each decided on the previous one's row
    assert (await read(db)).value == 30 and (await read(db)).version == 31
    assert (await read(db, "t2")).value == 0  # the other tenant's row with the same id is untouched


async def test_expected_version_is_honoured(db):
    await rows.mutate(db, where(), "c", increment, expected_version=1)
    with pytest.raises(Conflict) as stale:
        await rows.mutate(db, where(), "c", increment, expected_version=1)
    assert "version 2, not 1" in stale.value.message
    # concurrent conditional writers at the same version: exactly one wins
    results = await asyncio.gather(*(rows.mutate(db, where(), "c", increment, expected_version=2)
                                     for _ in range(8)), return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, Exception))
    assert (await read(db)).value == 2


async def test_no_change_writes_nothing_and_missing_is_not_found(db):
    written = []

    async def write(conn, current, decision):
        written.append(decision)

    same = await rows.mutate(db, where(), "c", lambda c: c, write=write)
    assert not same.changed and written == [] and (await read(db)).version == 1
    changed = await rows.mutate(db, where(), "c", increment, write=write)
    assert changed.changed and [w.value for w in written] == [1]
    with pytest.raises(NotFound):
        await rows.mutate(db, where("t3"), "c", increment)


async def test_async_decision_and_a_failing_decision_rolls_back(db):
    async def decide(c: Counter) -> Counter:
        await asyncio.sleep(0)
        return increment(c)

    assert (await rows.mutate(db, where(), "c", decide)).after.value == 1

    async def write(conn, current, decision):
        raise RuntimeError("side write failed")

    with pytest.raises(RuntimeError):
        await rows.mutate(db, where(), "c", increment, write=write)
    assert (await read(db)).value == 1  # the row change went with the failed side write


async def test_serialised_read_then_insert_keeps_positions_gap_free(db):
    """A rule that reads other rows before it writes ("next position = how many there are") holds when many
    writers run at once, as long as they name the same lock."""

    async def append(tenant_id: str) -> None:
        async with db.write(serialise=f"slots/{tenant_id}") as conn:
            count = (await conn.execute(sa.select(sa.func.count()).select_from(slots).where(
                slots.c.tenant_id == tenant_id))).scalar_one()
            await asyncio.sleep(0.001)  # widen the window between the read and the write
            await conn.execute(slots.insert().values(tenant_id=tenant_id, position=count + 1))

    await asyncio.gather(*(append(t) for t in ["t1", "t2"] * 15))
    async with db.read() as conn:
        for tenant_id in ("t1", "t2"):
            positions = (await conn.execute(sa.select(slots.c.position).where(
                slots.c.tenant_id == tenant_id).order_by(slots.c.position))).scalars().all()
            assert positions == list(range(1, 16))


async def test_a_change_without_a_new_version_is_refused(db):
    # The version names a row's content (ETags, the list pages' memo): a change must carry a new one.
    with pytest.raises(ValueError, match="changed without a new version"):
        await rows.mutate(db, where(), "c", lambda c: replace(c, value=c.value + 1))
    assert await read(db) == Counter("t1", "c", 0, 1)
