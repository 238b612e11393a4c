"""Alert intake: the doors' payloads (gateway/schemas/alerts.py) normalised into one message
(vigil.incident.v1.AlertMessage), the integration key checked with the incident service, and the messages
produced to Kafka.

Normalising is pure (models in, messages out). The fingerprint is the label values the integration names in
`fingerprint_fields` if it names any; else the source's own (Alertmanager/Grafana `fingerprint`, PagerDuty
`dedup_key`, generic `fingerprint`); else a stable hash of the sorted labels. A PagerDuty trigger without a
dedup_key gets a new one, as PagerDuty does.

The key is checked on every request (no cache: a rotated or deleted key stops working at once). Messages are
keyed tenant/integration/fingerprint, so one fingerprint's alerts are processed in order, and a request is
answered 202 only after the broker acknowledged every one of them (acks=all). The request was validated whole
before, so a rejected request writes nothing; if the broker fails part-way, the answer is 503 and the source
re-sends: alerts that got through the first time are then seen twice, which the decisions absorb (a repeated
firing is a `duplicate`, a repeated resolve changes nothing).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf.struct_pb2 import Struct

from gateway.clients import Upstreams, call
from gateway.ingest.producer import PUBLISH_TIMEOUT_SECONDS, Producer
from gateway.schemas.alerts import AlertmanagerWebhook, GenericBatch, GrafanaWebhook, PagerDutyEvent
from vigil.incident.v1 import alerts_pb2
from vigil.runtime import topics
from vigil.runtime.cloudevents import CloudEvent
from vigil.runtime.errors import FieldError, Unauthenticated, ValidationFailed
from vigil.runtime.outbox import current_traceparent

DATASCHEMA = "type.googleapis.com/vigil.incident.v1.AlertMessage"
_EPOCH_FLOOR = datetime(1971, 1, 1, tzinfo=UTC)  # Alertmanager writes 0001-01-01 for "no end"
_PD_STATUS = {"trigger": "firing", "acknowledge": "acknowledged", "resolve": "resolved"}


@dataclass(frozen=True, slots=True)
class Source:
    """Who is sending (from the integration the key authenticated)."""

    tenant_id: str
    integration_id: str
    integration_name: str
    type: str
    fingerprint_fields: tuple[str, ...] = ()
    severity_label: str = "severity"

    @classmethod
    def of(cls, integration: alerts_pb2.Integration) -> Source:
        return cls(tenant_id=integration.tenant_id, integration_id=integration.id, integration_name=integration.name,
                   type=integration.type, fingerprint_fields=tuple(integration.settings.fingerprint_fields),
                   severity_label=integration.settings.severity_label or "severity")


# -- normalising (pure) ---------------------------------------------------------------------------------------


def labels_hash(labels: dict[str, str]) -> str:
    """Stable over label order: sha256 of the sorted name=value pairs."""
    text = "\n".join(f"{k}={labels[k]}" for k in sorted(labels))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def fingerprint_of(source: Source, labels: dict[str, str], own: str | None) -> str:
    if source.fingerprint_fields:
        return labels_hash({name: labels.get(name, "") for name in source.fingerprint_fields})
    return own or labels_hash(labels)


def _ts(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value if value >= _EPOCH_FLOOR else None


def _message(source: Source, received_at: datetime, *, fingerprint: str, status: str, title: str,
             description: str = "", source_severity: str = "", labels: dict[str, str] | None = None,
             annotations: dict[str, str] | None = None, details: dict[str, Any] | None = None,
             starts_at: datetime | None = None, ends_at: datetime | None = None, group_key: str = "",
             url: str = "") -> alerts_pb2.AlertMessage:
    msg = alerts_pb2.AlertMessage(
        id=str(uuid.uuid4()), tenant_id=source.tenant_id, integration_id=source.integration_id,
        integration_name=source.integration_name, source=source.type, fingerprint=fingerprint, status=status,
        title=title[:500], description=description, source_severity=source_severity[:64], labels=labels or {},
        annotations=annotations or {}, source_group_key=group_key, url=url)
    if details:
        struct = Struct()
        struct.update(details)
        msg.details.CopyFrom(struct)
    msg.received_at.FromDatetime(received_at)
    for name, value in (("starts_at", _ts(starts_at)), ("ends_at", _ts(ends_at))):
        if value is not None:
            getattr(msg, name).FromDatetime(value)
    return msg


def _title(annotations: dict[str, str], labels: dict[str, str], fallback: str) -> str:
    return annotations.get("summary") or annotations.get("title") or labels.get("alertname") or fallback


def from_alertmanager(hook: AlertmanagerWebhook, source: Source, received_at: datetime
                      ) -> list[alerts_pb2.AlertMessage]:
    return [_message(
        source, received_at, fingerprint=fingerprint_of(source, a.labels, a.fingerprint), status=a.status,
        title=_title(a.annotations, a.labels, "Alertmanager alert"), description=a.annotations.get("description", ""),
        source_severity=a.labels.get(source.severity_label, ""), labels=a.labels, annotations=a.annotations,
        starts_at=a.startsAt, ends_at=a.endsAt, group_key=hook.groupKey, url=a.generatorURL)
        for a in hook.alerts]


def from_grafana(hook: GrafanaWebhook, source: Source, received_at: datetime) -> list[alerts_pb2.AlertMessage]:
    out = []
    for a in hook.alerts:
        details: dict[str, Any] = {k: v for k, v in (
            ("values", a.values), ("valueString", a.valueString), ("dashboardURL", a.dashboardURL),
            ("panelURL", a.panelURL), ("silenceURL", a.silenceURL), ("orgId", hook.orgId)) if v}
        out.append(_message(
            source, received_at, fingerprint=fingerprint_of(source, a.labels, a.fingerprint), status=a.status,
            title=_title(a.annotations, a.labels, hook.title or "Grafana alert"),
            description=a.annotations.get("description", "") or hook.message,
            source_severity=a.labels.get(source.severity_label, ""), labels=a.labels, annotations=a.annotations,
            details=details, starts_at=a.startsAt, ends_at=a.endsAt, group_key=hook.groupKey, url=a.generatorURL))
    return out


def from_generic(batch: GenericBatch, source: Source, received_at: datetime) -> list[alerts_pb2.AlertMessage]:
    errors = [FieldError(f"alerts[{i}].ends_at", "must be after starts_at") for i, a in enumerate(batch.alerts)
              if a.starts_at and a.ends_at and a.ends_at < a.starts_at]
    if errors:
        raise ValidationFailed("request body failed validation", errors)
    return [_message(
        source, received_at, fingerprint=fingerprint_of(source, a.labels, a.fingerprint), status=a.status,
        title=a.title, description=a.description, source_severity=a.severity or a.labels.get(source.severity_label, ""),
        labels=a.labels, annotations=a.annotations, details=a.details, starts_at=a.starts_at, ends_at=a.ends_at,
        url=a.url) for a in batch.alerts]


def pagerduty_problems(event: PagerDutyEvent) -> list[FieldError]:
    """What PagerDuty refuses beyond the shape: a trigger needs a payload, the other actions a dedup_key."""
    if event.event_action == "trigger" and event.payload is None:
        return [FieldError("payload", "is required for event_action trigger")]
    if event.event_action != "trigger" and not event.dedup_key:
        return [FieldError("dedup_key", f"is required for event_action {event.event_action}")]
    return []


def from_pagerduty(event: PagerDutyEvent, source: Source, received_at: datetime) -> alerts_pb2.AlertMessage:
    p = event.payload
    labels = {k: v for k, v in (("source", p.source), ("component", p.component), ("group", p.group),
                                ("class", p.class_), ("severity", p.severity)) if v} if p else {}
    dedup_key = event.dedup_key or (fingerprint_of(source, labels, None) if source.fingerprint_fields else "")
    details: dict[str, Any] = {}
    if p is not None and p.custom_details is not None:
        details["custom_details"] = p.custom_details
    if event.links:
        details["links"] = [link.model_dump() for link in event.links]
    if event.client:
        details["client"] = event.client
    return _message(
        source, received_at, fingerprint=dedup_key or uuid.uuid4().hex, status=_PD_STATUS[event.event_action],
        title=p.summary if p else "", source_severity=p.severity if p else "", labels=labels, details=details,
        starts_at=p.timestamp if p and event.event_action == "trigger" else None,
        url=event.client_url or (event.links[0].href if event.links else ""))


# -- the key and the producer ---------------------------------------------------------------------------------


class AlertIntake:
    def __init__(self, bootstrap: str, topic: str = topics.ALERT_INTAKE,
                 publish_timeout: float = PUBLISH_TIMEOUT_SECONDS) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.producer = Producer("the alert pipeline", publish_timeout, bootstrap_servers=bootstrap,
                                 client_id="vigil-gateway-alerts", linger_ms=2, request_timeout_ms=10_000,
                                 max_batch_size=512 * 1024)

    async def authenticate(self, upstreams: Upstreams, key: str, door: str) -> alerts_pb2.Integration:
        """The integration of a key. A key of another type than the door is refused like an unknown key."""
        if not key:
            raise Unauthenticated("missing integration key")
        integration = (await call(upstreams.integrations.AuthenticateIntegration(
            alerts_pb2.AuthenticateIntegrationRequest(key=key)))).integration
        if integration.type != door:
            raise Unauthenticated(f"this key belongs to a {integration.type} integration; post to its door")
        return integration

    async def publish(self, messages: list[alerts_pb2.AlertMessage]) -> None:
        traceparent = current_traceparent()
        async with self.producer.sending() as producer:
            futures = []
            for msg in messages:
                value = msg.SerializeToString()
                event = CloudEvent(type="alert.accepted", source="vigil/gateway", tenant_id=msg.tenant_id, data=value,
                                   dataschema=DATASCHEMA, id=msg.id, subject=msg.fingerprint[:200],
                                   traceparent=traceparent)
                key = f"{msg.tenant_id}/{msg.integration_id}/{msg.fingerprint}".encode()
                futures.append(await producer.send(self.topic, value=value, key=key, headers=event.headers()))
            await asyncio.gather(*futures)

    async def close(self) -> None:
        await self.producer.close()
