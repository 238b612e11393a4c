"""ITSM events: staged in the outbox inside the store's transactions, relayed to Kafka as CloudEvents on topic
vigil.itsm.events. Key = the change or request id, so one aggregate's events stay in order."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from services.itsm.service import Change, Event, ServiceRequest
from vigil.common.v1 import common_pb2
from vigil.itsm.v1 import itsm_pb2
from vigil.runtime import context, topics
from vigil.runtime.outbox import Outbox

CHANGE_TYPES = ("change.created", "change.updated", "change.transitioned", "change.approval_recorded",
                "change.approved", "change.rejected", "change.conflict_detected")
REQUEST_TYPES = ("request.submitted", "request.approved", "request.rejected", "request.fulfilled",
                 "request.cancelled")
CHANGE_SCHEMA = "type.googleapis.com/vigil.itsm.v1.ChangeEvent"
REQUEST_SCHEMA = "type.googleapis.com/vigil.itsm.v1.RequestEvent"


def _envelope(tenant_id: str, occurred_at) -> common_pb2.EventEnvelope:
    ctx = context._current.get()
    envelope = common_pb2.EventEnvelope(tenant_id=tenant_id)
    if ctx is not None:
        envelope.actor.email, envelope.actor.role = ctx.actor, ctx.role
    envelope.occurred_at.FromDatetime(occurred_at)
    return envelope


class ItsmEvents:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    async def stage_change(self, conn: AsyncConnection, event: Event, change: Change) -> str:
        from services.itsm.handlers import approval_to_proto, change_to_proto

        payload = itsm_pb2.ChangeEvent(
            envelope=_envelope(change.tenant_id, change.updated_at), change=change_to_proto(change),
            from_status=event.from_status, to_status=event.to_status, changed_fields=list(event.changed_fields))
        if event.approval is not None:
            payload.approval.CopyFrom(approval_to_proto(event.approval))
        return await self.outbox.add(
            conn, topic=topics.ITSM_EVENTS, key=change.id, event_type=event.type, tenant_id=change.tenant_id,
            payload=payload.SerializeToString(), dataschema=CHANGE_SCHEMA, subject=change.reference)

    async def stage_request(self, conn: AsyncConnection, event: Event, request: ServiceRequest) -> str:
        from services.itsm.handlers import approval_to_proto, request_to_proto

        payload = itsm_pb2.RequestEvent(
            envelope=_envelope(request.tenant_id, request.updated_at), request=request_to_proto(request),
            from_status=event.from_status, to_status=event.to_status)
        if event.approval is not None:
            payload.approval.CopyFrom(approval_to_proto(event.approval))
        return await self.outbox.add(
            conn, topic=topics.ITSM_EVENTS, key=request.id, event_type=event.type, tenant_id=request.tenant_id,
            payload=payload.SerializeToString(), dataschema=REQUEST_SCHEMA, subject=request.reference)

    def committed(self) -> None:
        self.outbox.committed()
