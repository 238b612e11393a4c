"""The incident store on real SQLite and real PostgreSQL: references, filters, versions, tenancy, outbox."""

import asyncio
import random

import pytest
import sqlalchemy as sa

from services.incident.server import MIGRATIONS
from services.incident.service import ListQuery, NewIncident
from services.incident.store import outbox_table
from tests.support.paging import walk
from tests.support.text_cases import TEXTS, assert_text_search
from vigil.incident.v1 import incident_pb2
from vigil.runtime.context import CallContext
from vigil.runtime.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from vigil.runtime.search import Filter

A = CallContext(tenant_id="tenant-a", actor="alice@a", role="responder")
B = CallContext(tenant_id="tenant-b", actor="bob@b", role="responder")


async def create(svc, ctx=A, **kw):
    values = {"title": "db pool exhausted", "severity": "P1"} | kw
    return await svc.create(ctx, NewIncident(**values))


async def test_references_are_per_tenant_and_gap_free_under_concurrency(incidents):
    made = await asyncio.gather(*[create(incidents, A if i % 3 else B, title=f"i{i}") for i in range(30)])
    for ctx in (A, B):
        numbers = sorted(i.number for i in made if i.tenant_id == ctx.tenant_id)
        assert numbers == list(range(1, len(numbers) + 1))
    assert {i.reference for i in made if i.tenant_id == A.tenant_id} >= {"INC-00000001", "INC-00000020"}


async def test_get_by_id_and_reference_and_tenancy(incidents):
    mine = await create(incidents)
    assert (await incidents.get(A, mine.id)).id == mine.id
    assert (await incidents.get(A, mine.reference)).id == mine.id
    with pytest.raises(NotFound):
        await incidents.get(B, mine.id)
    with pytest.raises(NotFound):
        await incidents.get(B, mine.reference)
    with pytest.raises(NotFound):
        await incidents.update(B, mine.id, {"title": "stolen"})


async def test_list_filters_sort_search_and_paging(incidents):
    await create(incidents, title="API latency", severity="P2", source="grafana", ci_ids=("ci-api",))
    await create(incidents, title="Disk full on db-1", severity="P1", description="100% on /var",
                 ci_ids=("ci-db",))
    third = await create(incidents, title="Cert expiry", severity="P3")
    await incidents.update(A, third.id, {"status": "open"})
    await create(incidents, B, title="Disk full elsewhere", severity="P1")

    items, total, _ = await incidents.list(A, ListQuery())
    assert total == 3 and [i.title for i in items] == ["Cert expiry", "Disk full on db-1", "API latency"]
    items, total, _ = await incidents.list(A, ListQuery(severity=("P1",)))
    assert (total, items[0].title) == (1, "Disk full on db-1")
    items, total, _ = await incidents.list(A, ListQuery(status=("open",)))
    assert (total, items[0].id) == (1, third.id)
    items, _, _ = await incidents.list(A, ListQuery(q="disk"))
    assert [i.title for i in items] == ["Disk full on db-1"]
    items, _, _ = await incidents.list(A, ListQuery(q="/var"))
    assert [i.title for i in items] == ["Disk full on db-1"]
    items, _, _ = await incidents.list(A, ListQuery(q="100%"))
    assert [i.title for i in items] == ["Disk full on db-1"]
    items, _, _ = await incidents.list(A, ListQuery(q="_"))
    assert items == []
    items, _, _ = await incidents.list(A, ListQuery(q="inc-00000003"))
    assert [i.id for i in items] == [third.id]
    items, _, _ = await incidents.list(A, ListQuery(ci_id="ci-api"))
    assert [i.title for i in items] == ["API latency"]
    items, _, _ = await incidents.list(A, ListQuery(source="grafana"))
    assert [i.title for i in items] == ["API latency"]
    items, _, _ = await incidents.list(A, ListQuery(sort="severity", order="asc"))
    assert [i.severity for i in items] == ["P1", "P2", "P3"]
    items, total, _ = await incidents.list(A, ListQuery(sort="reference", order="asc", limit=2, offset=1))
    assert total == 3 and [i.number for i in items] == [2, 3]


async def test_version_conflict_and_retry(incidents):
    inc = await create(incidents)
    updated = await incidents.update(A, inc.id, {"title": "new"}, expected_version=1)
    assert updated.version == 2
    with pytest.raises(Conflict):
        await incidents.update(A, inc.id, {"title": "stale"}, expected_version=1)
    assert (await incidents.get(A, inc.id)).title == "new"
    # Without an expected version, concurrent writers all succeed, one after the other.
    await asyncio.gather(*[incidents.update(A, inc.id, {"description": f"d{i}"}) for i in range(5)])
    assert (await incidents.get(A, inc.id)).version == 7


async def test_transitions_timeline_and_illegal_move(incidents):
    inc = await create(incidents)
    for target in ("open", "acknowledged", "investigating", "resolved", "reopened", "investigating", "resolved",
                   "closed"):
        inc = await incidents.transition(A, inc.reference, target, note=f"to {target}")
    with pytest.raises(InvalidTransition):
        await incidents.transition(A, inc.id, "open")
    entries = await incidents.timeline(A, inc.id)
    assert [e.kind for e in entries] == ["created"] + ["transitioned"] * 8
    assert [e.to_status for e in entries[1:]][-2:] == ["resolved", "closed"]
    assert all(e.actor == "alice@a" for e in entries)
    assert set(inc.status_times) == {"triggered", "open", "acknowledged", "investigating", "resolved", "reopened",
                                     "closed"}


async def test_events_are_staged_in_the_same_transaction(incidents, database):
    inc = await create(incidents)
    await incidents.transition(A, inc.id, "open")
    await incidents.update(A, inc.id, {"severity": "P2"})
    async with database.read() as conn:
        rows = (await conn.execute(sa.select(outbox_table).order_by(outbox_table.c.id))).all()
    assert [r.event_type for r in rows] == ["incident.created", "incident.transitioned", "incident.updated"]
    assert {r.key for r in rows} == {inc.id} and {r.tenant_id for r in rows} == {A.tenant_id}
    event = incident_pb2.IncidentEvent.FromString(rows[1].payload)
    assert (event.from_status, event.to_status, event.incident.reference) == ("triggered", "open", "INC-00000001")
    assert list(incident_pb2.IncidentEvent.FromString(rows[2].payload).changed_fields) == ["severity"]


async def test_failed_change_stages_no_event(incidents, database):
    inc = await create(incidents)
    with pytest.raises(InvalidTransition):
        await incidents.transition(A, inc.id, "closed")
    async with database.read() as conn:
        count = (await conn.execute(sa.select(sa.func.count()).select_from(outbox_table))).scalar_one()
    assert count == 1


async def test_text_search_folds_every_alphabet(incidents):
    async def create_incident(title: str, description: str) -> None:
        await create(incidents, title=title, description=description)

    async def search(q: str) -> set[str]:
        return {i.title for i in (await incidents.list(A, ListQuery(q=q, limit=200)))[0]}

    await assert_text_search(create_incident, search)
    assert await search("INC-00000001") == {TEXTS[0]}  # a reference still finds its incident
    assert (await incidents.list(B, ListQuery(q="überlauf")))[1] == 0


async def test_the_migration_fills_in_folded_text_for_existing_rows(incidents, database):
    await create(incidents, title="Überlauf im Puffer", description="ΟΔΟΣ")
    await database.migrate(MIGRATIONS, "0002")  # as before the column existed
    await database.migrate(MIGRATIONS)
    for q in ("ÜBERLAUF", "οδος"):
        assert [i.title for i in (await incidents.list(A, ListQuery(q=q)))[0]] == ["Überlauf im Puffer"]


async def test_structured_filters(incidents):
    made = [await create(incidents, title=title, severity=sev, ci_ids=cis, source=src) for title, sev, cis, src in (
        ("Überlauf im Puffer", "P1", ("ci-db",), "prometheus"),
        ("Disk full", "P2", ("ci-db", "ci-api"), ""),
        ("Latency", "P3", (), "grafana"),
        ("Ошибка", "P4", ("ci-api",), ""))]
    await incidents.transition(A, made[1].id, "open")

    async def refs(*filters: Filter) -> list[str]:
        page = await incidents.list(A, ListQuery(filters=filters, sort="reference", order="asc"))
        return [i.reference[-1] for i in page.items]

    assert await refs(Filter("severity", "GTE", ("P2",))) == ["1", "2"]  # P2 or worse
    assert await refs(Filter("severity", "IS_BETWEEN", ("P3", "P2"))) == ["2", "3"]
    assert await refs(Filter("title", "CONTAINS", ("überlauf",))) == ["1"]
    assert await refs(Filter("title", "NOT_CONTAINS", ("ОШИБКА",))) == ["1", "2", "3"]
    assert await refs(Filter("ci_id", "IS", ("ci-api",)), Filter("status", "IS", ("triggered",))) == ["4"]
    assert await refs(Filter("ci_id", "IS_EMPTY", ())) == ["3"]
    assert await refs(Filter("source", "IS_EMPTY", ())) == ["2", "4"]
    assert await refs(Filter("reference", "IS_ANY_OF", ("INC-00000001", "INC-00000004"))) == ["1", "4"]
    assert await refs(Filter("created_at", "GTE", (made[2].created_at.isoformat(),))) == ["3", "4"]
    assert (await incidents.list(B, ListQuery(filters=(Filter("severity", "IS", ("P1",)),)))).total == 0
    with pytest.raises(ValidationFailed) as err:
        await refs(Filter("severity", "CONTAINS", ("P",)), Filter("labels", "IS", ("x",)))
    assert [f.field for f in err.value.fields] == ["filters[0].operator", "filters[1].attribute"]


@pytest.mark.parametrize("sort", ["severity", "status", "created_at"])
async def test_cursor_paging_every_incident_once(incidents, sort):
    rng = random.Random(sort)
    for i in range(40):
        inc = await create(incidents, title=f"i{i}", severity=rng.choice(("P1", "P2", "P3")))
        if rng.random() < 0.3:
            await incidents.transition(A, inc.id, "open")
    await create(incidents, B, title="theirs")

    async def fetch(limit: int, cursor: str, order: str = "desc"):
        return await incidents.list(A, ListQuery(sort=sort, order=order, limit=limit, cursor=cursor))

    for order in ("asc", "desc"):
        seen = await walk(lambda limit, cursor, order=order: fetch(limit, cursor, order), rng)
        assert sorted(i.number for i in seen) == list(range(1, 41))
        assert [i.id for i in seen] == [i.id for i in (await fetch(200, "", order)).items]
    # newest first while incidents keep arriving: nothing twice, nothing that was there missed
    before = {i.id for i in (await fetch(200, "")).items}

    async def more() -> None:
        await asyncio.gather(*(create(incidents, title="late") for _ in range(2)))

    seen = await walk(fetch, rng, between=more)
    assert len(seen) == len({i.id for i in seen}) and before <= {i.id for i in seen}
    with pytest.raises(ValidationFailed) as err:
        await incidents.list(A, ListQuery(cursor=(await fetch(5, "")).next_cursor, offset=5))
    assert err.value.fields[0].field == "offset"
