"""Incident events: staged in the outbox inside the store's transactions, relayed to Kafka as CloudEvents
(topic vigil.incident.events, key = incident id so one incident's events stay in order)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from services.incident.service import Incident
from vigil.common.v1 import common_pb2
from vigil.incident.v1 import incident_pb2
from vigil.runtime import topics
from vigil.runtime.outbox import Outbox

TYPES = ("incident.created", "incident.updated", "incident.transitioned")
DATASCHEMA = "type.googleapis.com/vigil.incident.v1.IncidentEvent"


class IncidentEvents:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def row(self, event_type: str, incident: Incident, *, changed_fields: tuple[str, ...] = (),
            from_status: str = "", to_status: str = "", traceparent: str | None = None) -> dict:
        """The outbox row of one incident event (see Outbox.event_row)."""
        from services.incident.handlers import incident_to_proto

        envelope = common_pb2.EventEnvelope(tenant_id=incident.tenant_id)
        envelope.occurred_at.FromDatetime(incident.updated_at)
        payload = incident_pb2.IncidentEvent(
            envelope=envelope, incident=incident_to_proto(incident), from_status=from_status,
            to_status=to_status, changed_fields=list(changed_fields),
        )
        return self.outbox.event_row(
            topic=topics.INCIDENT_EVENTS, key=incident.id, event_type=event_type, tenant_id=incident.tenant_id,
            payload=payload.SerializeToString(), dataschema=DATASCHEMA, subject=incident.reference,
            traceparent=traceparent,
        )

    async def stage(self, conn: AsyncConnection, rows: list[dict]) -> None:
        await self.outbox.add_rows(conn, rows)

    def committed(self) -> None:
        self.outbox.committed()
