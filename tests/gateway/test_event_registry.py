"""Unit tests of the event registry: each published family renders into the envelope with the REST response model's
JSON (checked strictly against the model), unpublished types and undecodable payloads are left out, and the
patterns and filters subscriptions use."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from pydantic import TypeAdapter

from gateway.events.registry import FAMILIES, family_of, matches, render, unknown_patterns
from gateway.schemas.ai import RcaResult
from gateway.schemas.alerts import Alert
from gateway.schemas.cmdb import ConfigurationItem, Relation
from gateway.schemas.events import Event
from gateway.schemas.incidents import Incident
from gateway.schemas.itsm import Change, ServiceRequest
from gateway.schemas.runbooks import RunbookRun
from gateway.webhooks.store import Subscription
from vigil.ai.v1 import ai_pb2
from vigil.cmdb.v1 import cmdb_pb2
from vigil.common.v1 import common_pb2
from vigil.incident.v1 import alerts_pb2, incident_pb2
from vigil.itsm.v1 import itsm_pb2
from vigil.runtime.cloudevents import CloudEvent

T = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def envelope() -> common_pb2.EventEnvelope:
    env = common_pb2.EventEnvelope(tenant_id="acme")
    env.actor.email = "sre@acme.io"
    env.occurred_at.FromDatetime(T)
    return env


def stamp(message):
    for name in ("created_at", "updated_at", "requested_start", "requested_end", "submitted_at", "received_at",
                 "processed_at"):
        if name in message.DESCRIPTOR.fields_by_name:
            getattr(message, name).FromDatetime(T)
    return message


def incident() -> incident_pb2.IncidentEvent:
    return incident_pb2.IncidentEvent(envelope=envelope(), from_status="triggered", to_status="open",
                                      changed_fields=["status"], incident=stamp(incident_pb2.Incident(
                                          id="i-1", reference="INC-00000001", title="DB down", severity="P1",
                                          status="open", ci_ids=["ci-1"], version=2)))


CASES = [
    ("incident.transitioned", incident(), Incident, "incident", "i-1"),
    ("change.approved", itsm_pb2.ChangeEvent(envelope=envelope(), change=stamp(itsm_pb2.Change(
        id="c-1", reference="CHG-00000001", title="Upgrade", type="normal", risk_level="low", status="scheduled",
        ci_ids=["ci-1"]))), Change, "change", "c-1"),
    ("request.fulfilled", itsm_pb2.RequestEvent(envelope=envelope(), request=stamp(itsm_pb2.ServiceRequest(
        id="r-1", reference="REQ-00000001", status="fulfilled"))), ServiceRequest, "request", "r-1"),
    ("ci.updated", cmdb_pb2.CiEvent(envelope=envelope(), changed_fields=["owner"], items=[stamp(
        cmdb_pb2.ConfigurationItem(id="ci-1", name="orders-db", version=3))]), ConfigurationItem, "ci", "ci-1"),
    ("ci.related", cmdb_pb2.CiEvent(envelope=envelope(), relations=[stamp(cmdb_pb2.Relation(
        id="rel-1", source_id="ci-2", target_id="ci-1", type="depends_on"))]), Relation, "relation", "rel-1"),
    ("alert.created", alerts_pb2.AlertEvent(envelope=envelope(), alert=stamp(alerts_pb2.Alert(
        id="a-1", integration_id="int-1", source="generic", fingerprint="fp", status="firing", severity="P1",
        labels={"service": "orders"}, decision="created", incident_id="i-1", incident_reference="INC-00000001",
        ci_ids=["ci-1"], ci_lookup="ok", change_lookup="ok"))), Alert, "alert", "a-1"),
    ("rca.completed", ai_pb2.RcaEvent(envelope=envelope(), result=stamp(ai_pb2.RcaResult(
        id="rca-1", incident_id="i-1", status="completed", mode="deterministic", outcome="cause_identified",
        causes=[ai_pb2.RcaCause(rank=1, ci_id="ci-1", score=0.9, evidence_ids=["ev:ci:ci-1"])]))),
     RcaResult, "rca", "rca-1"),
    ("runbook_run.step_completed", ai_pb2.RunbookRunEvent(envelope=envelope(), step_index=0, run=stamp(
        ai_pb2.RunbookRun(id="run-1", runbook_id="rb-1", incident_id="i-1", status="IN_PROGRESS", total_steps=2,
                          steps=[ai_pb2.RunStep(index=0, step_id="s1", kind="manual", status="completed")],
                          preflight=ai_pb2.Preflight(decision="allowed", target_ci_ids=["ci-1"]), version=3))),
     RunbookRun, "runbook_run", "run-1"),
]


@pytest.mark.parametrize(("event_type", "payload", "model", "resource_type", "resource_id"), CASES)
def test_each_family_renders_with_the_rest_model(event_type, payload, model, resource_type, resource_id) -> None:
    event = CloudEvent(type=event_type, source="test", tenant_id="acme", data=payload.SerializeToString())
    published = render(event, resource_id)
    assert published is not None
    body = orjson.loads(published.body)
    assert body == published.envelope
    assert (body["id"], body["type"], body["tenant_id"], body["actor"]) == (event.id, event_type, "acme",
                                                                            "sre@acme.io")
    assert body["resource"] == {"type": resource_type, "id": resource_id}
    assert body["occurred_at"] == "2026-01-02T03:04:05.000000Z"
    TypeAdapter(Event[model]).validate_json(published.body, strict=True)
    assert published.frame == b"id: " + event.id.encode() + b"\ndata: " + published.body + b"\n\n"


def test_details_say_what_the_event_says_beyond_the_resource() -> None:
    published = render(CloudEvent(type="incident.transitioned", source="t", tenant_id="acme",
                                  data=incident().SerializeToString()))
    assert published.envelope["details"] == {"from_status": "triggered", "to_status": "open",
                                             "changed_fields": ["status"]}


def test_every_family_names_fields_its_payload_has() -> None:
    for family in FAMILIES:
        fields = family.payload.DESCRIPTOR.fields_by_name
        assert {family.field, "envelope", *family.details} <= set(fields), family
        assert all(family.claims(t) and family_of(t) is family for t in family.known), family


def test_what_is_not_published() -> None:
    imported = cmdb_pb2.CiEvent(envelope=envelope(), items=[cmdb_pb2.ConfigurationItem(id="ci-1")])
    assert render(CloudEvent(type="ci.imported", source="t", tenant_id="acme",
                             data=imported.SerializeToString())) is None
    assert render(CloudEvent(type="telemetry.batch", source="t", tenant_id="acme", data=b"")) is None
    assert render(CloudEvent(type="incident.created", source="t", tenant_id="acme", data=b"\xff\xff")) is None
    assert render(CloudEvent(type="ci.updated", source="t", tenant_id="acme",
                             data=cmdb_pb2.CiEvent().SerializeToString())) is None  # no item in it


def test_patterns() -> None:
    assert matches(["incident.*"], "incident.created") and matches(["*"], "ci.related")
    assert matches(["change.approved"], "change.approved") and not matches(["change.approved"], "change.rejected")
    assert not matches(["incident.*"], "change.created")
    assert unknown_patterns(["incident.*", "change.approved", "*", "ci.related"]) == []
    assert unknown_patterns(["incidnet.*", "incident", "incident.[a]", "", "INCIDENT.*"]) == [
        "incidnet.*", "incident", "incident.[a]", "", "INCIDENT.*"]


def subscription(**filters: list[str]) -> Subscription:
    return Subscription(id="s", tenant_id="acme", url="https://x", description="", event_types=["*"],
                        filter=filters, enabled=True, disabled_reason=None, disabled_at=None, secret="whsec_x",
                        previous_secret=None, previous_secret_expires_at=None, consecutive_failures=0,
                        created_by="a", created_at=T, updated_at=T, version=1, events_from=T)


def test_filters_narrow_only_events_that_carry_the_attribute() -> None:
    events = {t: render(CloudEvent(type=t, source="t", tenant_id="acme", data=p.SerializeToString()), i)
              for t, p, _, _, i in CASES}
    p1 = subscription(severity=["P1"])
    assert p1.wants(events["incident.transitioned"]) and p1.wants(events["change.approved"])
    assert not subscription(severity=["P3", "P4"]).wants(events["incident.transitioned"])
    on_ci = subscription(ci_id=["ci-1"])
    assert all(on_ci.wants(e) for t, e in events.items() if t != "request.fulfilled")
    other_ci = subscription(ci_id=["ci-9"])
    assert [t for t, e in events.items() if other_ci.wants(e)] == ["request.fulfilled"]


def test_integration_filter_narrows_alerts_only() -> None:
    events = {t: render(CloudEvent(type=t, source="t", tenant_id="acme", data=p.SerializeToString()), i)
              for t, p, _, _, i in CASES}
    assert [t for t, e in events.items() if not subscription(integration_id=["int-9"]).wants(e)] == ["alert.created"]
    assert all(subscription(integration_id=["int-1"]).wants(e) for e in events.values())
    assert not subscription(severity=["P2"]).wants(events["alert.created"])


def test_alert_rca_and_run_details() -> None:
    events = {t: render(CloudEvent(type=t, source="t", tenant_id="acme", data=p.SerializeToString()), i)
              for t, p, _, _, i in CASES}
    assert events["runbook_run.step_completed"].envelope["details"] == {"step_index": 0}
    assert events["alert.created"].envelope["details"] == {} and events["rca.completed"].envelope["details"] == {}
    assert events["alert.created"].envelope["data"]["incident_id"] == "i-1"
    # A run's whole-run events say so; an analysis naming no cause concerns no CI.
    whole = ai_pb2.RunbookRunEvent(envelope=envelope(), step_index=-1, run=stamp(ai_pb2.RunbookRun(id="run-1")))
    assert render(CloudEvent(type="runbook_run.started", source="t", tenant_id="acme",
                             data=whole.SerializeToString())).envelope["details"] == {"step_index": -1}
    nothing = ai_pb2.RcaEvent(envelope=envelope(), result=stamp(ai_pb2.RcaResult(id="rca-2", outcome="nothing_anomalous")))
    rendered = render(CloudEvent(type="rca.completed", source="t", tenant_id="acme", data=nothing.SerializeToString()))
    assert rendered.attribute("ci_id") == [] and not subscription(ci_id=["ci-1"]).wants(rendered)


def test_the_stream_renders_an_event_only_when_a_client_of_its_tenant_wants_it(monkeypatch) -> None:
    from types import SimpleNamespace

    from gateway.events import registry
    from gateway.events.stream import EventHub
    from gateway.scopes import Scope

    rendered = []
    monkeypatch.setattr(registry, "render", lambda event, key="": rendered.append(event.id) or render(event, key))

    def record(event_type: str, data: bytes, tenant_id: str = "acme") -> SimpleNamespace:
        event = CloudEvent(type=event_type, source="t", tenant_id=tenant_id, data=data)
        return SimpleNamespace(headers=event.headers(), value=event.data, key=b"i-1")

    good = incident().SerializeToString()
    records = [record("incident.created", good), record("telemetry.batch", b""), record("incident.updated", b"\xff"),
               record("incident.transitioned", good), record("incident.transitioned", good, tenant_id="other")]
    events = registry.received(records)
    assert [e.event.type for e in events] == ["incident.created", "incident.updated", "incident.transitioned",
                                              "incident.transitioned"]  # types published outside only
    hub = EventHub("unused:9092", history=10, client_queue=10, heartbeat_seconds=1)
    for e in events:
        hub.publish(e)
    assert rendered == []  # nobody connected: kept, not rendered

    # A client resuming after the first event gets what followed in its tenant, rendered now; the event whose
    # payload does not decode is left out.
    client, backlog = hub.connect({"tenant_id": "acme", "scopes": frozenset({Scope.INCIDENTS_READ}), "types": (),
                                   "resource_type": "", "resource_id": ""}, events[0].id, lambda: None)
    assert [p.id for p in backlog] == [events[2].id]
    assert backlog[0].envelope["data"]["id"] == "i-1" and backlog[0].type == "incident.transitioned"
    assert sorted(rendered) == sorted([events[1].id, events[2].id])
    # With a client connected, its tenant's new events are rendered once and handed over; another tenant's are not.
    hub.publish(registry.received([record("incident.updated", good)])[0])
    hub.publish(registry.received([record("incident.updated", good, tenant_id="other")])[0])
    assert client.queue.qsize() == 1 and client.queue.get_nowait().type == "incident.updated"
    assert len(rendered) == 3
