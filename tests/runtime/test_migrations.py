"""Migrations: numbered files, gaps and duplicates refused, applied state recorded, idempotent, reversible."""

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.incident.server import MIGRATIONS
from vigil.runtime.db import Database, check_numbering


def test_gap_and_duplicate_refused(tmp_path: Path):
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "0001_a.py").write_text("")
    (versions / "0003_c.py").write_text("")
    with pytest.raises(RuntimeError, match="gap"):
        check_numbering(versions)
    (versions / "0003_c.py").rename(versions / "0001_b.py")
    with pytest.raises(RuntimeError, match="duplicate"):
        check_numbering(versions)
    (versions / "0001_b.py").rename(versions / "bad-name.py")
    with pytest.raises(RuntimeError, match="not named"):
        check_numbering(versions)


async def _tables(db: Database) -> set[str]:
    async with db.read() as conn:
        return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))


async def test_migrate_is_idempotent_and_reversible(database_url):
    db = Database(database_url, "incident")
    try:
        await db.migrate(MIGRATIONS)
        await db.migrate(MIGRATIONS)  # recorded: nothing re-runs
        assert {"incidents", "incident_timeline", "outbox", "processed_events", "alembic_version"} <= await _tables(db)
        head = sorted(p.name[:4] for p in (MIGRATIONS / "versions").glob("0*.py"))[-1]
        async with db.read() as conn:
            assert (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalar_one() == head
        await db.migrate(MIGRATIONS, "base")
        assert await _tables(db) <= {"alembic_version"}
        await db.migrate(MIGRATIONS)
        assert "incidents" in await _tables(db)
    finally:
        await db.dispose()


async def test_a_gap_stops_migration_before_anything_runs(tmp_path, database_url):
    broken = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, broken)
    last = sorted(p.name[:4] for p in (broken / "versions").glob("0*.py"))[-1]
    gap = f"{int(last) + 2:04d}"
    (broken / "versions" / f"{gap}_later.py").write_text(f'revision = "{gap}"\ndown_revision = "{last}"\n')
    db = Database(database_url, "incident")
    try:
        with pytest.raises(RuntimeError, match="gap"):
            await db.migrate(broken)
        assert "incidents" not in await _tables(db)
    finally:
        await db.dispose()


async def test_existing_webhook_subscriptions_take_their_events_from_their_creation(database_url):
    """Gateway 0005: a subscription made before it gets `events_from` = its `created_at` (none is dropped)."""
    from datetime import UTC, datetime

    from gateway.app import MIGRATIONS as GATEWAY_MIGRATIONS
    from gateway.webhooks.store import subscriptions

    made = datetime(2026, 3, 1, 8, 30, 15, 250000, tzinfo=UTC)
    db = Database(database_url, "gateway")
    try:
        await db.migrate(GATEWAY_MIGRATIONS, "0004")
        columns = [c for c in subscriptions.c if c.name != "events_from"]
        async with db.write() as conn:
            await conn.execute(sa.insert(sa.table("webhook_subscriptions", *[sa.column(c.name, c.type)
                                                                             for c in columns])).values(
                id="s1", tenant_id="acme", url="https://example.com/h", description="", event_types=["*"],
                filter={}, enabled=True, secret="whsec_x", consecutive_failures=0, created_by="a",
                created_at=made, updated_at=made, version=1))
        await db.migrate(GATEWAY_MIGRATIONS)
        async with db.read() as conn:
            row = (await conn.execute(sa.select(subscriptions.c.events_from))).one()
        assert row.events_from.replace(tzinfo=row.events_from.tzinfo or UTC) == made
        await db.migrate(GATEWAY_MIGRATIONS, "0004")  # and back
        async with db.read() as conn:
            names = await conn.run_sync(lambda c: [x["name"] for x in sa.inspect(c).get_columns("webhook_subscriptions")])
        assert "events_from" not in names and "created_at" in names
    finally:
        await db.dispose()
