"""The CMDB rules that read other rows before writing, with two replicas (two stores, two engines) writing at
once on SQLite and PostgreSQL: a relation exists once, never points at a deleted CI, and an import that
repeats a relation created at the same moment is refused with a 4xx naming the row (never a 500). Item
versions hold under concurrent updates."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from services.cmdb.events import CmdbEvents
from services.cmdb.server import MIGRATIONS
from services.cmdb.service import CmdbService, NewItem, NewRelation, RelationQuery
from services.cmdb.store import CmdbStore, items, outbox_table, relations
from vigil.runtime.context import CallContext
from vigil.runtime.db import Database
from vigil.runtime.errors import Conflict, ValidationFailed
from vigil.runtime.outbox import Outbox

A = CallContext(tenant_id="tenant-a", actor="alice@a", role="responder")


@pytest.fixture
async def replicas(database_url):
    """Two CMDB processes' stores on one database; each has its own graph and its own in-process locks."""
    dbs = [Database(database_url, "cmdb") for _ in range(2)]
    await dbs[0].migrate(MIGRATIONS)
    yield [CmdbService(CmdbStore(db, CmdbEvents(Outbox(outbox_table, "vigil/cmdb")))) for db in dbs]
    for db in dbs:
        await db.dispose()


async def new_items(svc: CmdbService, n: int) -> list[str]:
    made = await svc.bulk_import(A, [NewItem(name=f"ci-{i}", cls="service") for i in range(n)], [])
    return [i.id for i in made.items]


async def test_one_relation_from_many_concurrent_creates(replicas):
    source, target = await new_items(replicas[0], 2)
    results = await asyncio.gather(*(replicas[i % 2].create_relation(A, NewRelation(source, target, "depends_on"))
                                     for i in range(12)), return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, Exception)), results
    assert (await replicas[0].list_relations(A, RelationQuery()))[1] == 1


async def test_no_relation_outlives_its_ci(replicas):
    ids = await new_items(replicas[0], 61)
    hub, doomed = ids[0], ids[1:31]
    # one replica deletes CIs while the other relates them (both directions) to CIs that stay
    results = await asyncio.gather(
        *(replicas[0].delete_item(A, i) for i in doomed),
        *(replicas[1].create_relation(A, NewRelation(i, hub, "depends_on")) for i in doomed),
        *(replicas[1].create_relation(A, NewRelation(keep, i, "runs_on")) for keep, i in zip(ids[31:], doomed,
                                                                                              strict=True)),
        return_exceptions=True)
    assert all(not isinstance(r, Exception) or isinstance(r, ValidationFailed) for r in results), results
    db = replicas[0].store.db
    async with db.read() as conn:
        dangling = (await conn.execute(sa.select(sa.func.count()).select_from(relations).where(
            sa.or_(relations.c.source_id.not_in(sa.select(items.c.id)),
                   relations.c.target_id.not_in(sa.select(items.c.id)))))).scalar_one()
    assert dangling == 0


async def test_imports_repeating_a_relation_created_at_once_are_refused_by_row(replicas):
    source, target = await new_items(replicas[0], 2)
    # big imports: the time between checking which relations exist and writing them is long
    results = await asyncio.gather(*(replicas[i % 2].bulk_import(
        A, [NewItem(name=f"new-{i}-{k}", cls="service") for k in range(300)],
        [NewRelation(source, target, "depends_on")]) for i in range(4)), return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    refused = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(r, ValidationFailed) and r.fields[0].field == "relations[0]" for r in refused), refused
    assert (await replicas[0].list_relations(A, RelationQuery()))[1] == 1
    # all or nothing: the refused imports left none of their items behind
    async with replicas[0].store.db.read() as conn:
        names = set((await conn.execute(sa.select(items.c.name).where(items.c.name.like("new-%")))).scalars())
    assert len(names) == 300


async def test_concurrent_updates_of_one_item_all_land(replicas):
    [ci] = await new_items(replicas[0], 1)
    await asyncio.gather(*(replicas[i % 2].update_item(A, ci, {"attributes": {"n": i}}) for i in range(10)))
    item = await replicas[0].get_item(A, ci)
    assert item.version == 11  # ten decisions, each on the previous one's row
