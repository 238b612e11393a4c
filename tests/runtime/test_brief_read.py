"""`Database.brief_read`: a read runs on the event loop's thread while it stays short and is moved to the reader
pool, with the same answer, once it outgrows its budget (SQLite); on PostgreSQL it always runs on the pool."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from vigil.runtime.db import Database

# About 100,000 rows' worth of virtual-machine steps: far beyond the budget.
LONG = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000) "
        "SELECT count(*) FROM c")


@pytest.fixture
async def db(database_url):
    database = Database(database_url, "brief")
    yield database
    await database.dispose()


async def read_recording(db: Database, sql: str) -> tuple[int, list[str]]:
    kinds: list[str] = []

    async def read(conn) -> int:
        kinds.append(type(conn).__name__)
        return (await conn.execute(sa.text(sql))).scalar_one()

    return await db.brief_read(read), kinds


async def test_short_reads_stay_on_the_loop_and_long_ones_move_to_the_pool(db):
    short, short_kinds = await read_recording(db, "SELECT 7")
    long, long_kinds = await read_recording(db, LONG)
    assert (short, long) == (7, 100_000)
    if db.is_postgres:
        assert short_kinds == long_kinds == ["AsyncConnection"]
    else:
        assert short_kinds == ["InlineConnection"]
        assert long_kinds == ["InlineConnection", "AsyncConnection"]  # interrupted, then read again on the pool
        # The budget is removed from the connection afterwards: a long read by key on it is not interrupted.
        async with db.lookup() as conn:
            assert (await conn.execute(sa.text(LONG))).scalar_one() == 100_000


async def test_a_larger_budget_keeps_a_longer_read_on_the_loop(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'brief.db'}", "brief")  # only SQLite reads on the loop
    try:
        db.brief_read_steps = 10_000_000
        assert await read_recording(db, LONG) == (100_000, ["InlineConnection"])
    finally:
        await db.dispose()


async def test_a_failing_read_fails_once_and_is_not_retried(db):
    kinds: list[str] = []

    async def read(conn):
        kinds.append(type(conn).__name__)
        return (await conn.execute(sa.text("SELECT * FROM no_such_table"))).all()

    with pytest.raises(sa.exc.DBAPIError):
        await db.brief_read(read)
    assert len(kinds) == 1
