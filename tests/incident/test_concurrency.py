"""Incident rules that read before they write, under many concurrent calls on SQLite and PostgreSQL: references
gap-free and unique across two replicas creating at once, and concurrent changes of one incident each applied
once, in order, with one timeline entry and one event each."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from services.incident.events import IncidentEvents
from services.incident.server import MIGRATIONS
from services.incident.service import IncidentService, NewIncident
from services.incident.store import IncidentStore, outbox_table
from vigil.runtime.context import CallContext
from vigil.runtime.db import Database
from vigil.runtime.outbox import Outbox

A = CallContext(tenant_id="tenant-a", actor="alice@a", role="responder")
B = CallContext(tenant_id="tenant-b", actor="bob@b", role="responder")


async def test_references_are_gap_free_across_two_replicas(database_url):
    """Each replica group-commits its own burst; the per-tenant counter keeps the two bursts apart."""
    dbs = [Database(database_url, "incident") for _ in range(2)]
    await dbs[0].migrate(MIGRATIONS)
    replicas = [IncidentService(IncidentStore(db, IncidentEvents(Outbox(outbox_table, "vigil/incident"))))
                for db in dbs]
    try:
        made = await asyncio.gather(*(replicas[i % 2].create(A if i % 3 else B, NewIncident(title=f"i{i}",
                                                                                          severity="P2"))
                                      for i in range(60)))
        for ctx in (A, B):
            numbers = sorted(i.number for i in made if i.tenant_id == ctx.tenant_id)
            assert numbers == list(range(1, len(numbers) + 1))
    finally:
        for db in dbs:
            await db.dispose()


async def test_concurrent_changes_of_one_incident_apply_once_each(incidents, database):
    inc = await incidents.create(A, NewIncident(title="db pool exhausted", severity="P1"))
    await asyncio.gather(
        *(incidents.update(A, inc.id, {"labels": {"n": str(i)}}) for i in range(15)),
        *(incidents.transition(A, inc.id, "open", note=f"paged {i}") for i in range(5)))
    final = await incidents.get(A, inc.id)
    entries = await incidents.timeline(A, inc.id)
    # one move to open (the others find it open already: not a move), fifteen label changes
    assert [e.kind for e in entries].count("transitioned") == 1
    assert [e.kind for e in entries].count("updated") == 15
    assert final.status == "open" and final.version == 1 + 15 + 1
    async with database.read() as conn:
        types = list((await conn.execute(sa.select(outbox_table.c.event_type).where(
            outbox_table.c.key == inc.id).order_by(outbox_table.c.id))).scalars())
    assert types.count("incident.transitioned") == 1 and types.count("incident.updated") == 15
