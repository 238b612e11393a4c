"""Root-cause analyses on the incident's timeline: consumes rca.completed from the AI service (topic
vigil.ai.events) and adds an `rca` entry with the analysis' id, outcome and top cause. The entry is written in
the consumer's transaction with the event id, so a re-delivered event adds nothing; an analysis of an incident
this tenant does not have (deleted, or a foreign id) is skipped."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from services.incident.service import TimelineEntry
from services.incident.store import IncidentStore
from vigil.ai.v1 import ai_pb2
from vigil.runtime.clock import as_utc, new_id
from vigil.runtime.cloudevents import CloudEvent

TYPES = ("rca.completed",)
MAX_MESSAGE = 1_000


def entry_for(result: ai_pb2.RcaResult, actor: str) -> TimelineEntry:
    top = result.causes[0] if result.causes else None
    if top is not None:
        message = (f"Root-cause analysis {result.id}: probable cause {top.ci_name} ({top.hypothesis}, confidence "
                   f"{top.confidence_label})")
    else:
        message = f"Root-cause analysis {result.id}: nothing anomalous found"
    changes = {"rca_id": result.id, "outcome": result.outcome, "mode": result.mode, "trigger": result.trigger}
    if top is not None:
        changes.update({"cause_ci_id": top.ci_id, "cause_ci_name": top.ci_name, "hypothesis": top.hypothesis,
                        "confidence": top.confidence, "evidence_ids": list(top.evidence_ids)[:10]})
    at = as_utc(result.completed_at.ToDatetime()) if result.HasField("completed_at") else as_utc(
        result.created_at.ToDatetime())
    return TimelineEntry(id=new_id(), incident_id=result.incident_id, kind="rca", actor=actor, at=at,
                         message=message[:MAX_MESSAGE], changes=changes)


class RcaTimeline:
    def __init__(self, store: IncidentStore) -> None:
        self.store = store

    async def __call__(self, conn: AsyncConnection, event: CloudEvent) -> None:
        payload = ai_pb2.RcaEvent.FromString(event.data)
        tenant = event.tenant_id or payload.envelope.tenant_id
        await self.store.append(tenant, entry_for(payload.result, payload.result.requested_by or "vigil-ai"), conn)
