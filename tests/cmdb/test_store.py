"""The CMDB service and store on real SQLite and real PostgreSQL: items, relations, bulk import, impact,
tenancy, events staged in the outbox, and a graph reloaded from the store equal to the one kept in step."""

import random
from dataclasses import replace

import pytest
import sqlalchemy as sa

from services.cmdb.server import MIGRATIONS
from services.cmdb.service import CmdbService, ImpactQuery, ItemQuery, NewItem, NewRelation, RelationQuery
from services.cmdb.store import outbox_table
from tests.support.paging import walk
from tests.support.text_cases import assert_text_search
from vigil.cmdb.v1 import cmdb_pb2
from vigil.runtime.context import CallContext
from vigil.runtime.errors import Conflict, NotFound, ValidationFailed
from vigil.runtime.search import Filter

A = CallContext(tenant_id="tenant-a", actor="alice@a", role="responder")
B = CallContext(tenant_id="tenant-b", actor="bob@b", role="responder")


async def item(svc, ctx=A, **kw):
    return await svc.create_item(ctx, NewItem(**({"name": "db-1", "cls": "database"} | kw)))


def fields(exc) -> dict[str, str]:
    return {f.field: f.message for f in exc.value.fields}


async def test_item_crud_defaults_filters_and_tenancy(cmdb):
    db = await item(cmdb, attributes={"ip": "10.0.0.1"}, criticality="critical")
    assert (db.environment, db.criticality, db.version) == ("production", "critical", 1)
    await item(cmdb, name="web-1", cls="server", environment="staging")
    await item(cmdb, B, name="db-b")
    assert (await cmdb.get_item(A, db.id)).attributes == {"ip": "10.0.0.1"}
    with pytest.raises(NotFound):
        await cmdb.get_item(B, db.id)
    with pytest.raises(NotFound):
        await cmdb.get_item(A, "not-a-uuid")
    found, total, _ = await cmdb.list_items(A, ItemQuery(cls="server"))
    assert total == 1 and found[0].name == "web-1"
    found, total, _ = await cmdb.list_items(A, ItemQuery(q="DB-"))
    assert [i.name for i in found] == ["db-1"]
    found, total, _ = await cmdb.list_items(A, ItemQuery(environment="staging"))
    assert total == 1
    updated = await cmdb.update_item(A, db.id, {"owner": "team-data", "class": "postgres"}, expected_version=1)
    assert (updated.owner, updated.cls, updated.version) == ("team-data", "postgres", 2)
    with pytest.raises(Conflict):
        await cmdb.update_item(A, db.id, {"owner": "x"}, expected_version=1)
    with pytest.raises(NotFound):
        await cmdb.update_item(B, db.id, {"owner": "x"})
    with pytest.raises(ValidationFailed) as exc:
        await cmdb.update_item(A, db.id, {"criticality": "extreme", "version": 3})
    assert set(fields(exc)) == {"version"}
    with pytest.raises(ValidationFailed) as exc:
        await cmdb.update_item(A, db.id, {"criticality": "extreme"})
    assert set(fields(exc)) == {"criticality"}
    with pytest.raises(NotFound):
        await cmdb.delete_item(B, db.id)
    await cmdb.delete_item(A, db.id)
    with pytest.raises(NotFound):
        await cmdb.get_item(A, db.id)


async def test_item_validation_names_fields(cmdb):
    with pytest.raises(ValidationFailed) as exc:
        await cmdb.create_item(A, NewItem(name=" ", cls="Bad Class", environment="Prod!", criticality="huge"))
    assert set(fields(exc)) == {"name", "class", "environment", "criticality"}


async def test_relations_self_unknown_duplicate_and_tenancy(cmdb):
    api, db = await item(cmdb, name="api", cls="service"), await item(cmdb)
    other = await item(cmdb, B, name="db-b")
    rel = await cmdb.create_relation(A, NewRelation(api.id, db.id, "depends_on"))
    with pytest.raises(Conflict):
        await cmdb.create_relation(A, NewRelation(api.id, db.id, "depends_on"))
    with pytest.raises(ValidationFailed) as exc:
        await cmdb.create_relation(A, NewRelation(api.id, api.id, "depends_on"))
    assert "target_id" in fields(exc)
    with pytest.raises(ValidationFailed) as exc:
        await cmdb.create_relation(A, NewRelation(api.id, other.id, "depends_on"))  # B's CI is unknown to A
    assert set(fields(exc)) == {"target_id"}
    with pytest.raises(ValidationFailed) as exc:
        await cmdb.create_relation(A, NewRelation(api.id, db.id, "likes"))
    assert set(fields(exc)) == {"type"}
    found, total = await cmdb.list_relations(A, RelationQuery(ci_id=db.id))
    assert total == 1 and found[0].id == rel.id
    assert (await cmdb.list_relations(B, RelationQuery()))[1] == 0
    with pytest.raises(NotFound):
        await cmdb.delete_relation(B, rel.id)
    impact = await cmdb.impact(A, ImpactQuery(ci_ids=(db.id,)))
    assert [(x.item.name, x.depth, x.path) for x in impact.items] == [("api", 1, [db.id, api.id])]
    await cmdb.delete_relation(A, rel.id)
    assert (await cmdb.impact(A, ImpactQuery(ci_ids=(db.id,)))).items == []
    with pytest.raises(NotFound):
        await cmdb.impact(B, ImpactQuery(ci_ids=(db.id,)))


async def test_delete_item_removes_its_relations_from_store_and_graph(cmdb):
    api, db, web = [await item(cmdb, name=n, cls="service") for n in ("api", "db", "web")]
    await cmdb.create_relation(A, NewRelation(api.id, db.id, "depends_on"))
    await cmdb.create_relation(A, NewRelation(web.id, api.id, "depends_on"))
    assert len((await cmdb.impact(A, ImpactQuery(ci_ids=(db.id,)))).items) == 2
    _, gone = await cmdb.delete_item(A, api.id)
    assert len(gone) == 2
    assert (await cmdb.list_relations(A, RelationQuery()))[1] == 0
    assert (await cmdb.impact(A, ImpactQuery(ci_ids=(db.id,)))).items == []


async def test_bulk_import_all_or_nothing_with_rows_named(cmdb, store):
    existing = await item(cmdb, name="shared-db")
    good = [NewItem(name=f"svc-{i}", cls="service", ref=f"s{i}") for i in range(50)]
    rels = [NewRelation(f"s{i}", existing.id, "depends_on") for i in range(50)]
    bad_items = [*good[:3], NewItem(name="", cls="service"), NewItem(name="x", cls="Nope")]
    bad_rels = [*rels[:3], NewRelation("s1", "ghost", "depends_on"), NewRelation("s0", "s0", "depends_on"),
                rels[0]]
    with pytest.raises(ValidationFailed) as exc:
        await cmdb.bulk_import(A, bad_items, bad_rels)
    assert set(fields(exc)) == {"items[3].name", "items[4].class", "relations[3].target_id",
                                "relations[4].target_id", "relations[5]"}
    assert (await cmdb.list_items(A, ItemQuery()))[1] == 1  # nothing written
    done = await cmdb.bulk_import(A, good, rels)
    assert len(done.items) == 50 and len(done.refs) == 50
    assert (await cmdb.list_items(A, ItemQuery()))[1] == 51
    impact = await cmdb.impact(A, ImpactQuery(ci_ids=(existing.id,), limit=10))
    assert impact.summary.total == 50 and len(impact.items) == 10
    # relations that already exist (checked in the store) are named too, and still nothing is written
    unknown_uuid = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(ValidationFailed) as exc:
        await cmdb.bulk_import(A, [NewItem(name="n", cls="service", ref="n")],
                               [NewRelation(done.refs["s0"], existing.id, "depends_on"),
                                NewRelation("n", unknown_uuid, "uses")])
    assert set(fields(exc)) == {"relations[0]", "relations[1].target_id"}
    assert (await cmdb.list_items(A, ItemQuery()))[1] == 51
    # the graph reloaded from the store answers like the one kept in step
    fresh = CmdbService(store)
    for svc in (cmdb, fresh):
        again = await svc.impact(A, ImpactQuery(ci_ids=(existing.id,)))
        assert sorted(x.item.id for x in again.items) == sorted(done.refs.values())
    # one ci.imported event per chunk, with the full rows
    async with store.db.read() as conn:
        rows = (await conn.execute(sa.select(outbox_table).where(outbox_table.c.event_type == "ci.imported"))).all()
    assert rows
    payloads = [cmdb_pb2.CiEvent.FromString(r.payload) for r in rows]
    assert sum(len(p.items) for p in payloads) == 50 and sum(len(p.relations) for p in payloads) == 50


async def test_impact_validation_and_unknown_sources(cmdb):
    db = await item(cmdb)
    with pytest.raises(ValidationFailed) as exc:
        await cmdb.impact(A, ImpactQuery(ci_ids=(db.id,), depth=-1, types=("likes",), direction="sideways"))
    assert set(fields(exc)) == {"depth", "relation_type", "direction"}
    with pytest.raises(NotFound):
        await cmdb.impact(A, ImpactQuery(ci_ids=("00000000-0000-4000-8000-000000000000",)))
    impact = await cmdb.impact(A, ImpactQuery(ci_ids=(db.id, "ghost")))
    assert impact.unknown_ci_ids == ["ghost"] and impact.items == []


async def test_events_are_staged_with_each_write(cmdb, store):
    a, b = await item(cmdb, name="a"), await item(cmdb, name="b")
    rel = await cmdb.create_relation(A, NewRelation(a.id, b.id, "uses"))
    await cmdb.update_item(A, a.id, {"owner": "me"})
    await cmdb.delete_relation(A, rel.id)
    await cmdb.delete_item(A, b.id)
    async with store.db.read() as conn:
        types = (await conn.execute(sa.select(outbox_table.c.event_type).order_by(outbox_table.c.id))).scalars().all()
    assert types == ["ci.created", "ci.created", "ci.related", "ci.updated", "ci.unrelated", "ci.deleted"]


async def test_a_retried_create_with_the_same_idempotency_key_returns_the_first_item(cmdb, database):
    keyed = CallContext(tenant_id="tenant-a", actor="alice@a", role="responder", idempotency_key="k1")
    first = await item(cmdb, keyed, name="api")
    again = await item(cmdb, keyed, name="api")
    other = await item(cmdb, A, name="api")
    assert again == first and other.id != first.id
    assert (await cmdb.list_items(A, ItemQuery())).total == 2
    async with database.read() as conn:
        created = (await conn.execute(sa.select(outbox_table.c.key).where(
            outbox_table.c.event_type == "ci.created"))).scalars().all()
    assert sorted(created) == sorted([first.id, other.id])


async def test_a_retried_relation_create_with_the_same_idempotency_key_returns_the_first(cmdb, store, database):
    """A relation created again after its answer was lost is the first one: not a 409 for a write that succeeded,
    and not a second count of the edge in the graph (deleting it once must remove it)."""
    keyed = CallContext(tenant_id="tenant-a", actor="alice@a", role="responder", idempotency_key="r1")
    db, api = await item(cmdb, name="db"), await item(cmdb, name="api", cls="service")
    first = await cmdb.create_relation(keyed, NewRelation(api.id, db.id, "depends_on"))
    again = await cmdb.create_relation(keyed, NewRelation(api.id, db.id, "depends_on"))
    assert again == first
    with pytest.raises(Conflict):  # without the key the same relation is still a duplicate
        await cmdb.create_relation(A, NewRelation(api.id, db.id, "depends_on"))
    assert (await cmdb.list_relations(A, RelationQuery()))[1] == 1
    async with database.read() as conn:
        related = (await conn.execute(sa.select(sa.func.count()).select_from(outbox_table).where(
            outbox_table.c.event_type == "ci.related"))).scalar_one()
    assert related == 1
    await cmdb.delete_relation(A, first.id)
    assert (await cmdb.impact(A, ImpactQuery(ci_ids=(db.id,)))).summary.total == 0


async def test_a_retried_import_with_the_same_idempotency_key_imports_once(cmdb, store, database):
    """The promise of docs/operations.md (a retry with the same Idempotency-Key is safe) holds for a bulk import:
    one whose answer was lost (deadline, gateway died after the commit) and is sent again writes nothing twice."""
    keyed = CallContext(tenant_id="tenant-a", actor="alice@a", role="admin", idempotency_key="import-1")
    db = await item(cmdb, name="db")
    rows = [NewItem(name=f"svc-{i}", cls="service", ref=f"s{i}") for i in range(3)]
    rels = [NewRelation(f"s{i}", db.id, "depends_on") for i in range(3)]
    first = await cmdb.bulk_import(keyed, rows, rels)
    again = await cmdb.bulk_import(keyed, rows, rels)
    assert [i.id for i in again.items] == [i.id for i in first.items] and again.refs == first.refs
    assert (await cmdb.list_items(A, ItemQuery())).total == 4
    assert (await cmdb.list_relations(A, RelationQuery()))[1] == 3
    for svc in (cmdb, CmdbService(store)):  # the graph kept in step and one reloaded from the store
        assert (await svc.impact(A, ImpactQuery(ci_ids=(db.id,)))).summary.total == 3
    relations_only = [NewRelation(first.refs["s0"], first.refs["s1"], "uses")]
    keyed2 = CallContext(tenant_id="tenant-a", actor="alice@a", role="admin", idempotency_key="import-2")
    await cmdb.bulk_import(keyed2, [], relations_only)
    await cmdb.bulk_import(keyed2, [], relations_only)  # not a duplicate-relation error: the same import
    assert (await cmdb.list_relations(A, RelationQuery()))[1] == 4
    # another tenant with the same key imports its own rows; without a key each import is a new one
    other = await cmdb.bulk_import(replace(keyed, tenant_id="tenant-b"), rows, [])
    assert {i.id for i in other.items}.isdisjoint(i.id for i in first.items)
    await cmdb.bulk_import(A, rows, [])
    assert (await cmdb.list_items(A, ItemQuery())).total == 7
    async with database.read() as conn:
        imported = (await conn.execute(sa.select(sa.func.count()).select_from(outbox_table).where(
            outbox_table.c.event_type == "ci.imported", outbox_table.c.tenant_id == "tenant-a"))).scalar_one()
    assert imported == 3  # one event (one chunk) per import written, none for the retries


async def test_text_search_folds_every_alphabet(cmdb):
    async def create_item(name: str, owner: str) -> None:
        await cmdb.create_item(A, NewItem(name=name, cls="service", owner=owner))

    async def search(q: str) -> set[str]:
        return {i.name for i in (await cmdb.list_items(A, ItemQuery(q=q, limit=200)))[0]}

    await assert_text_search(create_item, search)
    some = (await cmdb.list_items(A, ItemQuery(q="api")))[0][0]
    assert await search(some.id) == {some.name}  # an id still finds its item
    assert (await cmdb.list_items(B, ItemQuery(q="überlauf")))[1] == 0


async def test_the_migration_fills_in_folded_text_for_existing_rows(cmdb, database):
    await cmdb.create_item(A, NewItem(name="Überlauf-Puffer", cls="service", owner="Ωmega team"))
    await database.migrate(MIGRATIONS, "0002")  # as before the column existed
    await database.migrate(MIGRATIONS)
    for q in ("ÜBERLAUF", "ωMEGA"):
        assert [i.name for i in (await cmdb.list_items(A, ItemQuery(q=q)))[0]] == ["Überlauf-Puffer"]


async def test_structured_filters(cmdb):
    db = await item(cmdb, name="Überlauf-DB", cls="database", criticality="critical", owner="dba@a")
    web = await item(cmdb, name="web-1", cls="server", criticality="low", environment="staging")
    api = await item(cmdb, name="api", cls="service", criticality="high", owner="Ωmega team")
    await item(cmdb, B, name="db-b", cls="database")

    async def names(*filters: Filter) -> list[str]:
        return sorted(i.name for i in (await cmdb.list_items(A, ItemQuery(filters=filters))).items)

    assert await names(Filter("criticality", "GTE", ("high",))) == ["api", "Überlauf-DB"]
    assert await names(Filter("class", "IS_ANY_OF", ("database", "server"))) == ["web-1", "Überlauf-DB"]
    assert await names(Filter("name", "CONTAINS", ("überlauf",))) == ["Überlauf-DB"]
    assert await names(Filter("owner", "CONTAINS", ("ωMEGA",))) == ["api"]
    assert await names(Filter("owner", "IS_EMPTY", ())) == ["web-1"]
    assert await names(Filter("environment", "IS_NOT", ("production",))) == ["web-1"]
    assert await names(Filter("id", "IS_ANY_OF", (db.id, api.id)), Filter("version", "IS", (1,))) == [
        "api", "Überlauf-DB"]
    assert await names(Filter("created_at", "GT", (web.created_at.isoformat(),))) == ["api"]
    with pytest.raises(ValidationFailed) as err:
        await names(Filter("criticality", "GT", ("severe",)))
    assert err.value.fields[0].field == "filters[0].values[0]"


async def test_cursor_paging_every_item_once(cmdb):
    rng = random.Random(5)
    await cmdb.bulk_import(A, [NewItem(name=f"ci-{i}", cls=rng.choice(("server", "database")),
                                       criticality=rng.choice(("low", "high"))) for i in range(60)], [])
    for sort in ("class", "criticality", "name"):
        for order in ("asc", "desc"):
            async def fetch(limit: int, cursor: str, sort=sort, order=order):
                return await cmdb.list_items(A, ItemQuery(sort=sort, order=order, limit=limit, cursor=cursor))

            seen = await walk(fetch, rng)
            assert sorted(i.name for i in seen) == sorted(f"ci-{i}" for i in range(60))
            assert [i.id for i in seen] == [i.id for i in (await fetch(200, "")).items]
