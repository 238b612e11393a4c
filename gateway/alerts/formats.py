"""The alert doors' formats, parsed into one normalised message (vigil.incident.v1.AlertMessage). Pure: bytes in,
messages or a ValidationFailed naming every failing field out; no I/O, so each format is unit-tested alone.

- Prometheus Alertmanager webhook, version 4 (`alerts[]` with status, labels, annotations, startsAt, endsAt,
  generatorURL, fingerprint; `groupKey`).
- Grafana alerting webhook, version 1 (the same alerts plus `values`, `dashboardURL`, `panelURL`, `silenceURL`,
  and the envelope's `orgId`, `state`, `title`, `message`).
- PagerDuty Events API v2: one event per request (`routing_key`, `event_action` trigger | acknowledge | resolve,
  `dedup_key`, `payload.summary/source/severity/timestamp/component/group/class/custom_details`, `links`).
- Vigil's generic shape: `{"alerts": [{"title", "status", "severity", "fingerprint", "labels", "annotations",
  "description", "starts_at", "ends_at", "url", "details"}]}`.

Fingerprint: the fields the integration names (a hash of those labels' values) if it names any; else the
source's own (Alertmanager/Grafana `fingerprint`, PagerDuty `dedup_key`, generic `fingerprint`); else a stable
hash of the sorted labels. A PagerDuty trigger without a dedup_key gets a new one (as PagerDuty does), returned
in the answer.

A batch is validated whole before anything is produced: one bad alert rejects the request and nothing of it is
written.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from google.protobuf.struct_pb2 import Struct
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from gateway.validation import field_errors
from vigil.incident.v1 import alerts_pb2
from vigil.runtime.errors import FieldError, ValidationFailed

MAX_ALERTS = 1000
MAX_FINGERPRINT = 255
_EPOCH_FLOOR = datetime(1971, 1, 1, tzinfo=UTC)  # Alertmanager writes 0001-01-01 for "no end"

Text = Annotated[str, StringConstraints(max_length=1000)]
LongText = Annotated[str, StringConstraints(max_length=20_000)]
Labels = Annotated[dict[Annotated[str, StringConstraints(min_length=1, max_length=200)], Text],
                   Field(max_length=100)]
Annotations = Annotated[dict[Annotated[str, StringConstraints(min_length=1, max_length=200)], LongText],
                        Field(max_length=100)]


@dataclass(frozen=True, slots=True)
class Source:
    """Who is sending (from the integration the key authenticated)."""

    tenant_id: str
    integration_id: str
    integration_name: str
    type: str
    fingerprint_fields: tuple[str, ...] = ()
    severity_label: str = "severity"


class _Lenient(BaseModel):
    # Sources add fields over versions; unknown ones are ignored, known ones are type-checked.
    model_config = ConfigDict(extra="ignore")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class PromAlert(_Lenient):
    status: Literal["firing", "resolved"]
    labels: Labels
    annotations: Annotations = {}
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    generatorURL: Annotated[str, StringConstraints(max_length=2000)] = ""
    fingerprint: Annotated[str, StringConstraints(max_length=MAX_FINGERPRINT)] = ""


class AlertmanagerWebhook(_Lenient):
    version: Literal["4"]
    groupKey: Annotated[str, StringConstraints(max_length=5000)] = ""
    status: Literal["firing", "resolved"] = "firing"
    receiver: Text = ""
    externalURL: Text = ""
    alerts: Annotated[list[PromAlert], Field(min_length=1)]


class GrafanaAlert(PromAlert):
    values: dict[str, float | int | None] | None = None
    valueString: LongText = ""
    dashboardURL: Text = ""
    panelURL: Text = ""
    silenceURL: Text = ""


class GrafanaWebhook(_Lenient):
    version: Literal["1"]
    orgId: int | None = None
    state: Text = ""
    title: Text = ""
    message: LongText = ""
    groupKey: Annotated[str, StringConstraints(max_length=5000)] = ""
    externalURL: Text = ""
    alerts: Annotated[list[GrafanaAlert], Field(min_length=1)]


class PagerDutyPayload(_Lenient):
    summary: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    source: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    severity: Literal["critical", "error", "warning", "info"]
    timestamp: AwareDatetime | None = None
    component: Text = ""
    group: Text = ""
    # PagerDuty's field is named "class".
    class_: Text = Field(default="", alias="class")
    custom_details: dict[str, Any] | str | None = None


class PagerDutyLink(_Lenient):
    href: Annotated[str, StringConstraints(max_length=2000)]
    text: Text = ""


class PagerDutyEvent(_Lenient):
    routing_key: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: Annotated[str, StringConstraints(min_length=1, max_length=MAX_FINGERPRINT)] | None = None
    payload: PagerDutyPayload | None = None
    client: Text = ""
    client_url: Text = ""
    links: list[PagerDutyLink] = []


class GenericAlert(_Strict):
    title: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    status: Literal["firing", "resolved", "acknowledged"] = "firing"
    severity: Annotated[str, StringConstraints(max_length=64)] = ""
    fingerprint: Annotated[str, StringConstraints(min_length=1, max_length=MAX_FINGERPRINT)] | None = None
    description: LongText = ""
    labels: Labels = {}
    annotations: Annotations = {}
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    url: Annotated[str, StringConstraints(max_length=2000)] = ""
    details: dict[str, Any] = {}


class GenericBatch(_Strict):
    alerts: Annotated[list[GenericAlert], Field(min_length=1)]


def _parse(model: type[BaseModel], raw: bytes) -> Any:
    if not raw.strip():
        raise ValidationFailed("a JSON body is required", [FieldError("body", "is required")])
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = field_errors(exc)
        shown = errors[:50]
        more = f" ({len(errors)} errors, first {len(shown)} listed)" if len(errors) > len(shown) else ""
        raise ValidationFailed("alert payload failed validation" + more, shown) from None


def _check_count(n: int) -> None:
    if n > MAX_ALERTS:
        raise ValidationFailed(f"{n} alerts in one request; at most {MAX_ALERTS}",
                               [FieldError("alerts", f"at most {MAX_ALERTS} alerts per request (set max_alerts in "
                                                     "Alertmanager's webhook_configs)")])


def labels_hash(labels: dict[str, str]) -> str:
    """Stable over label order: sha256 of the sorted name=value pairs."""
    text = "\n".join(f"{k}={labels[k]}" for k in sorted(labels))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def fingerprint_of(source: Source, labels: dict[str, str], own: str | None) -> str:
    if source.fingerprint_fields:
        return labels_hash({name: labels.get(name, "") for name in source.fingerprint_fields})
    if own:
        return own
    return labels_hash(labels)


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


def parse_alertmanager(raw: bytes, source: Source, received_at: datetime) -> list[alerts_pb2.AlertMessage]:
    hook: AlertmanagerWebhook = _parse(AlertmanagerWebhook, raw)
    _check_count(len(hook.alerts))
    return [_message(
        source, received_at, fingerprint=fingerprint_of(source, a.labels, a.fingerprint), status=a.status,
        title=_title(a.annotations, a.labels, "Alertmanager alert"), description=a.annotations.get("description", ""),
        source_severity=a.labels.get(source.severity_label, ""), labels=a.labels, annotations=a.annotations,
        starts_at=a.startsAt, ends_at=a.endsAt, group_key=hook.groupKey, url=a.generatorURL)
        for a in hook.alerts]


def parse_grafana(raw: bytes, source: Source, received_at: datetime) -> list[alerts_pb2.AlertMessage]:
    hook: GrafanaWebhook = _parse(GrafanaWebhook, raw)
    _check_count(len(hook.alerts))
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


class PagerDutyInvalid(ValidationFailed):
    """An invalid Events v2 event: answered in PagerDuty's own shape (400 with errors[])."""


_PD_STATUS = {"trigger": "firing", "acknowledge": "acknowledged", "resolve": "resolved"}


def parse_pagerduty_event(raw: bytes) -> PagerDutyEvent:
    """The event itself (its routing_key authenticates it before it is turned into an alert)."""
    try:
        event: PagerDutyEvent = _parse(PagerDutyEvent, raw)
    except ValidationFailed as err:
        raise PagerDutyInvalid(err.message, err.fields) from None
    errors = []
    if event.event_action == "trigger" and event.payload is None:
        errors.append(FieldError("payload", "is required for event_action trigger"))
    if event.event_action != "trigger" and not event.dedup_key:
        errors.append(FieldError("dedup_key", f"is required for event_action {event.event_action}"))
    if errors:
        raise PagerDutyInvalid("Event object is invalid", errors)
    return event


def pagerduty_message(event: PagerDutyEvent, source: Source, received_at: datetime) -> alerts_pb2.AlertMessage:
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


def parse_generic(raw: bytes, source: Source, received_at: datetime) -> list[alerts_pb2.AlertMessage]:
    batch: GenericBatch = _parse(GenericBatch, raw)
    _check_count(len(batch.alerts))
    errors = [FieldError(f"alerts[{i}].ends_at", "must be after starts_at") for i, a in enumerate(batch.alerts)
              if a.starts_at and a.ends_at and a.ends_at < a.starts_at]
    if errors:
        raise ValidationFailed("alert payload failed validation", errors)
    return [_message(
        source, received_at, fingerprint=fingerprint_of(source, a.labels, a.fingerprint), status=a.status,
        title=a.title, description=a.description,
        source_severity=a.severity or a.labels.get(source.severity_label, ""), labels=a.labels,
        annotations=a.annotations, details=a.details, starts_at=a.starts_at, ends_at=a.ends_at, url=a.url)
        for a in batch.alerts]


PARSERS = {"alertmanager": parse_alertmanager, "grafana": parse_grafana, "generic": parse_generic}
