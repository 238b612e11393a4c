"""Alerts: the doors' payloads (each source's own format), the answers of the doors, and the stored alert with
its decision (`/api/alerts`; the proto is vigil.incident.v1.Alert).

The source formats are read leniently where the source may add fields over versions (Alertmanager, Grafana,
PagerDuty: unknown fields ignored, known ones type-checked) and strictly for Vigil's own generic shape."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from gateway.schemas.base import AwareTime, Body, JsonObject, Paging, Resource, Time, in_utc, invalid
from gateway.schemas.itsm import QueryTime

MAX_ALERTS = 1000  # per request; Alertmanager's webhook_configs.max_alerts keeps it there
MAX_FINGERPRINT = 255
# A source's free-form JSON travels as a protobuf Struct (Kafka, gRPC, the alert events), and protobuf parses
# messages nested at most 100 deep, about 33 levels of JSON objects: deeper would be accepted here and then
# fail to parse in the incident service, so the door refuses it.
MAX_DETAILS_DEPTH = 32

Text = Annotated[str, StringConstraints(max_length=1000)]
LongText = Annotated[str, StringConstraints(max_length=20_000)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Labels = Annotated[dict[Name, Text], Field(max_length=100)]
Annotations = Annotated[dict[Name, LongText], Field(max_length=100)]
Url = Annotated[str, StringConstraints(max_length=2000)]
Fingerprint = Annotated[str, StringConstraints(max_length=MAX_FINGERPRINT)]


def _utc(value: datetime) -> datetime:
    """A source's time in UTC (without a zone it is UTC, as Alertmanager's are), within the years 1 to 9999."""
    return in_utc(value if value.tzinfo else value.replace(tzinfo=UTC))


def _struct_safe(value: Any) -> Any:
    """Free-form JSON that a protobuf Struct carries there and back: nested at most MAX_DETAILS_DEPTH levels,
    numbers that a double holds (not NaN, infinite, or an integer beyond a double's range)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DETAILS_DEPTH:
                raise invalid(f"must be nested at most {MAX_DETAILS_DEPTH} levels deep")
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
        elif isinstance(item, int | float) and not isinstance(item, bool):
            try:
                finite = math.isfinite(float(item))
            except OverflowError:
                finite = False
            if not finite:
                raise invalid("numbers must be finite and within a double's range")
    return value


SourceTime = Annotated[datetime, AfterValidator(_utc)]
Details = Annotated[dict[str, Any], AfterValidator(_struct_safe)]


class SourceModel(BaseModel):
    """A source's own format: unknown fields ignored (sources add fields), known ones type-checked."""

    model_config = ConfigDict(extra="ignore")


class PromAlert(SourceModel):
    status: Literal["firing", "resolved"]
    labels: Labels
    annotations: Annotations = {}
    startsAt: SourceTime | None = None
    endsAt: SourceTime | None = Field(None, description="0001-01-01T00:00:00Z means no end")
    generatorURL: Url = ""
    fingerprint: Fingerprint = ""


class AlertmanagerWebhook(SourceModel):
    """Alertmanager's webhook payload, version 4."""

    version: Literal["4"]
    groupKey: Annotated[str, StringConstraints(max_length=5000)] = ""
    status: Literal["firing", "resolved"] = "firing"
    receiver: Text = ""
    externalURL: Text = ""
    alerts: Annotated[list[PromAlert], Field(min_length=1, max_length=MAX_ALERTS)]


class GrafanaAlert(PromAlert):
    values: Annotated[dict[str, float | int | None] | None, AfterValidator(_struct_safe)] = None
    valueString: LongText = ""
    dashboardURL: Text = ""
    panelURL: Text = ""
    silenceURL: Text = ""


class GrafanaWebhook(SourceModel):
    """Grafana alerting's webhook payload, version 1."""

    version: Literal["1"]
    orgId: Annotated[int | None, AfterValidator(_struct_safe)] = None
    state: Text = ""
    title: Text = ""
    message: LongText = ""
    groupKey: Annotated[str, StringConstraints(max_length=5000)] = ""
    externalURL: Text = ""
    alerts: Annotated[list[GrafanaAlert], Field(min_length=1, max_length=MAX_ALERTS)]


class PagerDutyPayload(SourceModel):
    summary: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    source: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    severity: Literal["critical", "error", "warning", "info"]
    timestamp: AwareTime | None = None
    component: Text = ""
    group: Text = ""
    class_: Text = Field("", alias="class")
    custom_details: Annotated[dict[str, Any] | str | None, AfterValidator(_struct_safe)] = None


class PagerDutyLink(SourceModel):
    href: Url
    text: Text = ""


class PagerDutyAnswer(BaseModel):
    """What the PagerDuty Events API v2 answers, errors included."""

    status: str
    message: str
    dedup_key: str | None = None
    errors: list[str] | None = None


class PagerDutyEvent(SourceModel):
    """A PagerDuty Events API v2 event."""

    routing_key: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: Annotated[str, StringConstraints(min_length=1, max_length=MAX_FINGERPRINT)] | None = None
    payload: PagerDutyPayload | None = None
    client: Text = ""
    client_url: Text = ""
    links: list[PagerDutyLink] = []


class GenericAlert(Body):
    title: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    status: Literal["firing", "resolved", "acknowledged"] = "firing"
    severity: Annotated[str, StringConstraints(max_length=64)] = ""
    fingerprint: Annotated[str, StringConstraints(min_length=1, max_length=MAX_FINGERPRINT)] | None = None
    description: LongText = ""
    labels: Labels = {}
    annotations: Annotations = {}
    starts_at: AwareTime | None = None
    ends_at: AwareTime | None = None
    url: Url = ""
    details: Details = {}


class GenericBatch(Body):
    """Vigil's generic alert shape."""

    alerts: Annotated[list[GenericAlert], Field(min_length=1, max_length=MAX_ALERTS)]


class Accepted(Resource):
    accepted: int = Field(description="alerts taken (on Kafka); the decisions follow asynchronously")
    alert_ids: list[str] = Field(description="GET /api/alerts/{id} shows each one's decision once taken")


class AlertQuery(Paging):
    status: list[Literal["firing", "resolved", "acknowledged"]] = Field(default_factory=list)
    decision: list[Literal["created", "joined", "reopened", "resolved", "acknowledged", "suppressed",
                           "duplicate"]] = Field(default_factory=list)
    integration_id: str = ""
    fingerprint: str = Field("", max_length=MAX_FINGERPRINT)
    from_: QueryTime | None = Field(None, alias="from", description="received at or after")
    to: QueryTime | None = Field(None, description="received at or before")
    order: Literal["asc", "desc"] = Field("desc", description="by the time received")


class Alert(Resource):
    id: str
    integration_id: str
    source: str
    fingerprint: str
    status: str
    title: str
    description: str
    severity: str
    source_severity: str
    labels: dict[str, str]
    annotations: dict[str, str]
    details: JsonObject
    starts_at: Time | None
    ends_at: Time | None
    received_at: Time
    processed_at: Time
    url: str
    group_key: str
    decision: str = Field(description="created, joined, reopened, resolved, acknowledged, suppressed or duplicate")
    reason: str = Field(description="why, naming the fingerprint, the rule or window that applied and the incident")
    rule: str
    incident_id: str | None
    incident_reference: str | None
    previous_incident_id: str | None
    maintenance_window_id: str | None
    ci_ids: list[str]
    ci_lookup: str = Field(description="ok, or unavailable when the CMDB could not be asked")
    change_ids: list[str] = Field(description="ITSM changes whose implementation window covered the alert")
    change_lookup: str = Field(description="ok, unavailable or skipped (no CIs)")
