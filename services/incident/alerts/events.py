"""alert.* events: one per stored alert that changed something, its type named by the decision (alert.created,
alert.joined, alert.reopened, alert.resolved, alert.acknowledged, alert.suppressed), staged in the outbox in the
batch's transaction. Topic vigil.alert.events, key = integration/fingerprint, so one alert series stays in order
for consumers.

A `duplicate` publishes nothing: it changes no state, and a storm of repeats must not become a storm of events
(and of webhooks downstream). Duplicates are stored and counted all the same (GET /api/alerts?decision=duplicate).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.incident.alerts.handlers import alert_to_proto
from vigil.common.v1 import common_pb2
from vigil.incident.v1 import alerts_pb2
from vigil.runtime import topics
from vigil.runtime.outbox import Outbox

DATASCHEMA = "type.googleapis.com/vigil.incident.v1.AlertEvent"


class AlertEvents:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    async def stage(self, conn: AsyncConnection, rows: list[dict[str, Any]], traceparents: list[str],
                    references: dict[str, str]) -> None:
        events = []
        for row, traceparent in zip(rows, traceparents, strict=True):
            if row["decision"] == "duplicate":
                continue
            envelope = common_pb2.EventEnvelope(tenant_id=row["tenant_id"])
            envelope.occurred_at.FromDatetime(row["processed_at"])
            alert = alert_to_proto(row, references.get(row["incident_id"] or "", ""))
            payload = alerts_pb2.AlertEvent(envelope=envelope, alert=alert)
            events.append(self.outbox.event_row(
                topic=topics.ALERT_EVENTS, key=f"{row['integration_id']}/{row['fingerprint']}"[:200],
                event_type=f"alert.{row['decision']}", tenant_id=row["tenant_id"],
                payload=payload.SerializeToString(), dataschema=DATASCHEMA, subject=row["id"],
                traceparent=traceparent))
        await self.outbox.add_rows(conn, events)

    def committed(self) -> None:
        self.outbox.committed()
