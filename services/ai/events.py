"""Events of the ai service: staged in the outbox inside the stores' transactions, relayed to Kafka as CloudEvents
on topic vigil.ai.events (key: the incident id for rca.*, so one incident's analyses stay in order; the run id
for runbook_run.*)."""

from __future__ import annotations

from services.ai.protos import rca_to_proto
from services.ai.rca.model import RcaResult
from services.ai.runbooks.convert import run_to_proto
from vigil.ai.v1 import ai_pb2
from vigil.common.v1 import common_pb2
from vigil.runtime import topics
from vigil.runtime.clock import now
from vigil.runtime.outbox import Outbox

RCA_SCHEMA = "type.googleapis.com/vigil.ai.v1.RcaEvent"
RUN_SCHEMA = "type.googleapis.com/vigil.ai.v1.RunbookRunEvent"


def _envelope(tenant_id: str, actor: str = "") -> common_pb2.EventEnvelope:
    envelope = common_pb2.EventEnvelope(tenant_id=tenant_id, actor=common_pb2.Actor(email=actor))
    envelope.occurred_at.FromDatetime(now())
    return envelope


class AiEvents:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def rca(self, event_type: str, result: RcaResult) -> dict:
        payload = ai_pb2.RcaEvent(envelope=_envelope(result.tenant_id, result.requested_by),
                                  result=rca_to_proto(result))
        return self.outbox.event_row(
            topic=topics.AI_EVENTS, key=result.incident_id, event_type=event_type, tenant_id=result.tenant_id,
            payload=payload.SerializeToString(), dataschema=RCA_SCHEMA, subject=result.id)

    def run(self, event_type: str, run, step_index: int = -1, actor: str = "") -> dict:
        payload = ai_pb2.RunbookRunEvent(envelope=_envelope(run.tenant_id, actor), run=run_to_proto(run),
                                         step_index=step_index)
        return self.outbox.event_row(
            topic=topics.AI_EVENTS, key=run.id, event_type=event_type, tenant_id=run.tenant_id,
            payload=payload.SerializeToString(), dataschema=RUN_SCHEMA, subject=run.id)

    async def stage(self, conn, rows: list[dict]) -> None:
        await self.outbox.add_rows(conn, rows)

    def committed(self) -> None:
        self.outbox.committed()


class IncidentCreated:
    """Consumes incident.created: an automatic analysis when the tenant asked for the incident's severity (the
    pending row is written in the consumer's transaction, so a re-delivered event adds nothing)."""

    TYPES = ("incident.created",)

    def __init__(self, rca) -> None:
        self.rca = rca

    async def wanted(self, event) -> bool:
        """Most tenants ask for no automatic analysis: their incidents cost a read, not a write transaction."""
        from vigil.incident.v1 import incident_pb2

        incident = incident_pb2.IncidentEvent.FromString(event.data).incident
        settings = await self.rca.settings.get(event.tenant_id or incident.tenant_id)
        return incident.severity in settings.auto_rca_severities

    async def __call__(self, conn, event) -> None:
        from vigil.incident.v1 import incident_pb2

        payload = incident_pb2.IncidentEvent.FromString(event.data)
        await self.rca.enqueue_auto(conn, event.tenant_id or payload.incident.tenant_id, payload.incident)
