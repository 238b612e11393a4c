"""The alert batch store on SQLite and PostgreSQL: decisions stored with incidents created through the incident
store's path, idempotent re-delivery, and the group invariant under concurrent consumers."""

import asyncio
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import sqlalchemy as sa

from services.incident.alerts.decisions import Incoming
from services.incident.alerts.events import AlertEvents
from services.incident.alerts.lookups import Lookups
from services.incident.alerts.service import AlertProcessor, AlertQuery
from services.incident.alerts.store import AlertStore, alerts, groups
from services.incident.events import IncidentEvents
from services.incident.integrations.service import IntegrationService
from services.incident.integrations.store import IntegrationStore
from services.incident.store import IncidentStore, incidents, outbox_table
from vigil.runtime.clock import new_id, now
from vigil.runtime.context import CallContext
from vigil.runtime.kafka_local import free_port

CTX = CallContext(tenant_id="t1", actor="admin@t1", role="admin")


async def make(database, outbox, **settings):
    integrations = IntegrationStore(database)
    integration, _key = await IntegrationService(integrations).create(CTX, "am", "alertmanager", settings)
    store = AlertStore(database, IncidentStore(database, IncidentEvents(outbox)), integrations, AlertEvents(outbox))
    return store, integration


def alert(integration, fp, status="firing", at=None, labels=None):
    at = at or now()
    return Incoming(id=new_id(), tenant_id="t1", integration_id=integration.id, integration_name="am",
                    source="alertmanager", fingerprint=fp, status=status, title=f"down {fp}", received_at=at,
                    starts_at=at if status == "firing" else None, ends_at=at if status == "resolved" else None,
                    labels=labels or {"alertname": "Down", "job": "api"}, source_severity="critical")


async def count(database, table, *where):
    async with database.read() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(table).where(*where))).scalar_one()


async def test_batch_creates_incidents_with_references_and_events_and_is_idempotent(database, outbox):
    store, integration = await make(database, outbox)
    batch = [alert(integration, "a"), alert(integration, "a"), alert(integration, "b")]
    rows = await store.apply(batch)
    assert [r["decision"] for r in rows] == ["created", "duplicate", "created"]
    async with database.read() as conn:
        numbers = sorted((await conn.execute(sa.select(incidents.c.number))).scalars())
        types = Counter((await conn.execute(sa.select(outbox_table.c.event_type))).scalars())
    assert numbers == [1, 2]
    assert types == {"incident.created": 2, "alert.created": 2}  # a duplicate changes nothing: no event
    assert "INC-0000000" in rows[1]["reason"]  # the reference of an incident created in the same batch
    assert await store.apply(batch) == []  # re-delivered: nothing stored twice
    assert await count(database, alerts) == 3
    listed, total = await store.list("t1", AlertQuery(fingerprint="a"))
    assert total == 2 and {r["incident_number"] for r in listed} == {1}


async def test_resolve_then_refire_reopens_across_batches(database, outbox):
    store, integration = await make(database, outbox)
    t = now()
    [created] = await store.apply([alert(integration, "a", at=t)])
    [resolved] = await store.apply([alert(integration, "a", "resolved", at=t + timedelta(seconds=5))])
    async with database.read() as conn:
        status = (await conn.execute(sa.select(incidents.c.status))).scalar_one()
    assert (resolved["decision"], status) == ("resolved", "resolved")
    [again] = await store.apply([alert(integration, "a", at=t + timedelta(seconds=10))])
    async with database.read() as conn:
        status = (await conn.execute(sa.select(incidents.c.status))).scalar_one()
    assert (again["decision"], again["incident_id"], status) == ("reopened", created["incident_id"], "reopened")


async def test_concurrent_batches_never_give_a_group_two_incidents(database, outbox):
    """Several consumers, each with alerts of the same label groups (different fingerprints): one incident
    per group, every alert stored once, every group's firing count right."""
    store, integration = await make(database, outbox, group_by="labels", group_labels=["alertname"])
    t = now()
    names = [f"Rule{i}" for i in range(5)]
    batches = [[alert(integration, f"fp-{c}-{n}-{k}", at=t, labels={"alertname": n})
                for n in names for k in range(3)] for c in range(6)]
    results = await asyncio.gather(*(store.apply(b) for b in batches))
    assert sum(len(r) for r in results) == 6 * 5 * 3
    assert await count(database, incidents) == len(names)
    assert await count(database, groups) == len(names)
    decisions = Counter(r["decision"] for rows in results for r in rows)
    assert decisions == {"created": 5, "joined": 85}
    # Resolving every fingerprint concurrently resolves every incident exactly once.
    resolves = [[alert(integration, a.fingerprint, "resolved", at=t + timedelta(seconds=1), labels=a.labels)
                 for a in b] for b in batches]
    await asyncio.gather(*(store.apply(b) for b in resolves))
    async with database.read() as conn:
        statuses = Counter((await conn.execute(sa.select(incidents.c.status))).scalars())
        transitions = (await conn.execute(sa.select(sa.func.count()).select_from(outbox_table).where(
            outbox_table.c.event_type == "incident.transitioned"))).scalar_one()
    assert statuses == {"resolved": 5} and transitions == 5


async def test_other_tenants_alerts_are_invisible(database, outbox):
    store, integration = await make(database, outbox)
    [row] = await store.apply([alert(integration, "a")])
    assert await store.get("t2", row["id"]) is None
    assert (await store.get("t1", row["id"]))["decision"] == "created"


async def test_a_cmdb_and_itsm_that_are_down_never_block_processing(database, outbox):
    store, integration = await make(database, outbox)
    dead = f"127.0.0.1:{free_port()}"
    processor = AlertProcessor(store, IntegrationStore(database), Lookups(dead, dead, timeout=1.0))
    [row] = await processor.process([alert(integration, "a", labels={"service": "checkout"})])
    assert (row["decision"], row["ci_lookup"], row["ci_ids"]) == ("created", "unavailable", [])
    [again] = await processor.process([alert(integration, "b", labels={"service": "checkout"})])
    assert again["ci_lookup"] == "unavailable"  # not asked again during the cool-down


async def test_a_later_alert_changes_only_what_it_decides_on_the_stored_incident(database, outbox):
    """Decisions read a light view of incidents; the write keeps every other stored field."""
    store, integration = await make(database, outbox)
    first = replace(alert(integration, "a"), source_severity="warning", description="pool exhausted",
                    impacted_ci_ids=("ci-downstream",), ci_ids=("ci-db",))
    [created] = await store.apply([first])
    again = replace(alert(integration, "a"), source_severity="critical", ci_ids=("ci-api",),
                    impacted_ci_ids=("ci-web",), change_ids=("chg-1",))
    [dup] = await store.apply([again])
    assert dup["decision"] == "duplicate"
    incident = await store.incident_store.get("t1", created["incident_id"])
    assert (incident.severity, incident.description, incident.labels) == ("P1", "pool exhausted", first.labels)
    assert incident.ci_ids == ("ci-db", "ci-api") and incident.change_ids == ("chg-1",)
    assert set(incident.impacted_ci_ids) == {"ci-downstream", "ci-web"} and incident.version == 2
