"""Analyses and notes on the incident timeline, on real SQLite and PostgreSQL: the rca.completed consumer (through
the idempotent EventConsumer: a re-delivered event adds nothing; another tenant's incident is never touched) and
AddNote (no version bump, ordered after every entry, concurrent notes all kept)."""

import asyncio

import pytest

from services.incident.rca_timeline import TYPES, RcaTimeline
from services.incident.service import NewIncident
from services.incident.store import IncidentStore, processed_events
from vigil.ai.v1 import ai_pb2
from vigil.common.v1 import common_pb2
from vigil.runtime.bus import EventConsumer
from vigil.runtime.cloudevents import CloudEvent
from vigil.runtime.context import CallContext
from vigil.runtime.errors import NotFound, ValidationFailed

A = CallContext(tenant_id="tenant-a", actor="alice@a", role="responder")
B = CallContext(tenant_id="tenant-b", actor="bob@b", role="responder")


def rca_event(tenant: str, incident_id: str, *, caused: bool = True) -> CloudEvent:
    result = ai_pb2.RcaResult(id="rca-1", incident_id=incident_id, outcome="cause_identified" if caused else
                              "nothing_anomalous", mode="deterministic", trigger="auto", requested_by="vigil-ai")
    result.completed_at.GetCurrentTime()
    if caused:
        result.causes.add(rank=1, ci_id="ci-db", ci_name="orders-db", hypothesis="bad_change", confidence=0.8,
                          confidence_label="high", evidence_ids=["ev:change:CHG-00000001", "ev:ci:ci-db"])
    payload = ai_pb2.RcaEvent(envelope=common_pb2.EventEnvelope(tenant_id=tenant), result=result)
    return CloudEvent(type="rca.completed", source="vigil/ai", tenant_id=tenant, data=payload.SerializeToString())


@pytest.fixture
def consumer(database, outbox) -> EventConsumer:
    from services.incident.events import IncidentEvents

    return EventConsumer(database, processed_events, bootstrap="unused", topics=[], group_id="test-rca",
                         handler=RcaTimeline(IncidentStore(database, IncidentEvents(outbox))), types=TYPES)


async def test_a_completed_analysis_lands_once_on_the_timeline(incidents, consumer):
    inc = await incidents.create(A, NewIncident(title="orders slow", severity="P1"))
    event = rca_event(A.tenant_id, inc.id)
    assert await consumer.handle(event) is True
    assert await consumer.handle(event) is False  # re-delivered: acted on once
    entries = await incidents.timeline(A, inc.id)
    assert [e.kind for e in entries] == ["created", "rca"]
    rca = entries[-1]
    assert "orders-db" in rca.message and "bad_change" in rca.message
    assert rca.changes["rca_id"] == "rca-1" and rca.changes["evidence_ids"][0] == "ev:change:CHG-00000001"
    assert (await incidents.get(A, inc.id)).version == 1  # the incident itself did not change
    await consumer.handle(rca_event(A.tenant_id, inc.id, caused=False))
    assert "nothing anomalous" in (await incidents.timeline(A, inc.id))[-1].message


async def test_an_analysis_never_reaches_another_tenants_incident(incidents, consumer):
    theirs = await incidents.create(B, NewIncident(title="b's incident", severity="P1"))
    await consumer.handle(rca_event(A.tenant_id, theirs.id))  # tenant A's event naming B's incident id
    assert [e.kind for e in await incidents.timeline(B, theirs.id)] == ["created"]


async def test_notes_keep_order_and_version_and_refuse_bad_input(incidents):
    inc = await incidents.create(A, NewIncident(title="x", severity="P3"))
    await asyncio.gather(*[incidents.add_note(A, inc.id, f"note {i}") for i in range(10)])
    await incidents.update(A, inc.id, {"status": "open"})
    await incidents.add_note(A, inc.reference, "after the move")
    entries = await incidents.timeline(A, inc.id)
    assert [e.kind for e in entries] == ["created"] + ["note"] * 10 + ["transitioned", "note"]
    assert {e.message for e in entries if e.kind == "note"} == {f"note {i}" for i in range(10)} | {"after the move"}
    assert (await incidents.get(A, inc.id)).version == 2
    with pytest.raises(ValidationFailed):
        await incidents.add_note(A, inc.id, "   ")
    with pytest.raises(NotFound):
        await incidents.add_note(B, inc.id, "not yours")
