"""List pages through the incident store's memo, on real SQLite and real PostgreSQL: a polled page turns into
incidents only the rows that changed since (the rows themselves are still read whole), yet always answers every
change (the memo is keyed by tenant, id and version), for each tenant only its own incidents, and never an
incident's version with another version's content, also while writers change the rows."""

from __future__ import annotations

import asyncio

import pytest

from services.incident import store as incident_store
from services.incident.handlers import IncidentHandlers, incident_to_proto
from services.incident.service import ListQuery, NewIncident
from vigil.common.v1 import common_pb2
from vigil.incident.v1 import incident_pb2
from vigil.runtime import context
from vigil.runtime.context import CallContext

A = CallContext(tenant_id="tenant-a", actor="alice@a", role="responder")
B = CallContext(tenant_id="tenant-b", actor="bob@b", role="responder")
EVERY = ListQuery(sort="created_at", order="asc", limit=50)


@pytest.fixture
def loads(monkeypatch) -> list[str]:
    """The ids of the rows the store turns into incidents."""
    loaded: list[str] = []
    load = incident_store._row_to_incident

    def counting(row):
        loaded.append(row.id)
        return load(row)

    monkeypatch.setattr(incident_store, "_row_to_incident", counting)
    return loaded


async def test_a_polled_page_loads_only_what_changed_and_shows_every_change(incidents, loads):
    made = [await incidents.create(A, NewIncident(title=f"disk full {n}", severity="P2")) for n in range(6)]
    await incidents.create(B, NewIncident(title="theirs", severity="P2"))

    first = await incidents.list(A, EVERY)
    assert [i.id for i in first.items] == [i.id for i in made] and first.total == 6
    assert len(loads) == 6
    loads.clear()
    assert await incidents.list(A, EVERY) == first
    assert loads == []  # nothing changed: no row turned into an incident

    await incidents.update(A, made[1].id, {"title": "disk full, cleaned"})
    await incidents.transition(A, made[4].id, "open", "on it")
    loads.clear()
    page = await incidents.list(A, EVERY)
    assert sorted(loads) == sorted([made[1].id, made[4].id])
    assert page.items == [await incidents.get(A, i.id) for i in made]  # every item as a read by key has it
    assert page.items[1].title == "disk full, cleaned" and page.items[4].status == "open"

    filtered = await incidents.list(A, ListQuery(status=("open",), limit=50))
    assert [i.id for i in filtered.items] == [made[4].id] and filtered.total == 1
    theirs = await incidents.list(B, EVERY)
    assert [i.title for i in theirs.items] == ["theirs"]


async def test_pages_read_while_writers_change_the_rows_pair_each_version_with_its_content(incidents):
    # Each write sets the title to the version it makes: a page item whose title is not its version would be
    # one version's content under another's key.
    made = [await incidents.create(A, NewIncident(title="v1", severity="P3")) for _ in range(8)]

    async def write(incident_id: str) -> None:
        for _ in range(10):
            current = await incidents.get(A, incident_id)
            await incidents.update(A, incident_id, {"title": f"v{current.version + 1}"},
                                   expected_version=current.version)

    async def read() -> list[list]:
        pages = []
        for _ in range(25):
            pages.append((await incidents.list(A, EVERY)).items)
            await asyncio.sleep(0)
        return pages

    results = await asyncio.gather(*(write(i.id) for i in made), read(), read())
    pages = [page for reader in results[len(made):] for page in reader]
    assert all(len(page) == 8 for page in pages)
    assert all(item.title == f"v{item.version}" for page in pages for item in page)
    final = await incidents.list(A, EVERY)
    assert [(i.title, i.version) for i in final.items] == [("v11", 11)] * 8


async def test_list_answers_carry_every_change_through_the_handlers_memo(incidents):
    handlers = IncidentHandlers(incidents)
    made = [await incidents.create(A, NewIncident(title=f"queue lag {n}", severity="P2")) for n in range(3)]
    request = incident_pb2.ListIncidentsRequest(page=common_pb2.PageRequest(sort="created_at", order="asc"))
    token = context.bind(A)
    try:
        first = await handlers.ListIncidents(request, None)
        await incidents.update(A, made[2].id, {"title": "queue lag, drained", "assignee": "alice"})
        again = await handlers.ListIncidents(request, None)
    finally:
        context.reset(token)
    assert [m.title for m in first.items] == ["queue lag 0", "queue lag 1", "queue lag 2"]
    assert [(m.title, m.assignee, m.version) for m in again.items] == [
        ("queue lag 0", "", 1), ("queue lag 1", "", 1), ("queue lag, drained", "alice", 2)]
    assert list(again.items) == [incident_to_proto(await incidents.get(A, i.id)) for i in made]
