"""AlertService servicer: proto <-> domain (alerts are read-only over gRPC; they arrive through Kafka)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from services.incident.alerts.service import AlertQuery, AlertService
from services.incident.service import format_reference
from vigil.common.v1 import common_pb2
from vigil.incident.v1 import alerts_pb2, alerts_pb2_grpc
from vigil.runtime import context
from vigil.runtime.clock import as_utc

FULL_NAME = alerts_pb2.DESCRIPTOR.services_by_name["AlertService"].full_name
_TEXT = ("id", "tenant_id", "integration_id", "source", "fingerprint", "status", "title", "description",
         "source_severity", "severity", "url", "group_key", "decision", "reason", "rule", "ci_lookup",
         "change_lookup")
_IDS = ("incident_id", "previous_incident_id", "maintenance_window_id")


def alert_to_proto(row: dict[str, Any], reference: str = "") -> alerts_pb2.Alert:
    """A stored alert row (with `incident_number` when read through the store) as the Alert message."""
    msg = alerts_pb2.Alert(**{k: row[k] for k in _TEXT}, **{k: row[k] or "" for k in _IDS},
                           ci_ids=row["ci_ids"], change_ids=row["change_ids"], labels=row["labels"],
                           annotations=row["annotations"])
    number = row.get("incident_number")
    msg.incident_reference = format_reference(number) if number else reference
    if row["details"]:
        msg.details.update(row["details"])
    for name in ("starts_at", "ends_at", "received_at", "processed_at"):
        if row[name] is not None:
            getattr(msg, name).FromDatetime(as_utc(row[name]))
    return msg


def _dt(ts: Timestamp) -> datetime | None:
    return ts.ToDatetime(tzinfo=UTC) if ts.seconds or ts.nanos else None


class AlertHandlers(alerts_pb2_grpc.AlertServiceServicer):
    def __init__(self, service: AlertService) -> None:
        self.service = service

    async def ListAlerts(self, request, _ctx):
        page = request.page
        query = AlertQuery(status=tuple(request.status), decision=tuple(request.decision),
                           integration_id=request.integration_id, fingerprint=request.fingerprint,
                           incident_id=request.incident_id, start=_dt(getattr(request, "from")), end=_dt(request.to),
                           order=page.order or "desc", limit=page.limit or 50, offset=page.offset)
        rows, total = await self.service.list(context.current(), query)
        return alerts_pb2.ListAlertsResponse(items=[alert_to_proto(r) for r in rows], page=common_pb2.PageInfo(
            total=total, limit=query.limit, offset=query.offset))

    async def GetAlert(self, request, _ctx):
        row = await self.service.get(context.current(), request.id)
        return alerts_pb2.GetAlertResponse(alert=alert_to_proto(row))
