"""The event types Vigil publishes outside (webhooks, the live stream, MCP) and how each is rendered.

A CloudEvent on a domain topic carries a proto payload (`IncidentEvent`, `ChangeEvent`, …) whose resource is
one field of it. `render` turns it into the envelope of gateway/schemas/events.py with that resource rendered by
the REST API's response model (`to_json`), so every outbound channel speaks the API's vocabulary. Adding an
event family is one `Family(...)` line below; a type no family claims is not published outside.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import orjson
from google.protobuf.message import DecodeError, Message
from pydantic import BaseModel

from gateway.schemas.ai import RcaResult
from gateway.schemas.alerts import Alert
from gateway.schemas.cmdb import ConfigurationItem, Relation
from gateway.schemas.convert import iso, iso_value, to_json
from gateway.schemas.incidents import Incident
from gateway.schemas.itsm import Change, ServiceRequest
from gateway.schemas.runbooks import RunbookRun
from gateway.scopes import Scope
from vigil.ai.v1 import ai_pb2
from vigil.cmdb.v1 import cmdb_pb2
from vigil.incident.v1 import alerts_pb2, incident_pb2
from vigil.itsm.v1 import itsm_pb2
from vigil.runtime import topics
from vigil.runtime.cloudevents import CloudEvent


@dataclass(frozen=True)
class Family:
    """Event types `<prefix>.*` (or exactly `types`): payload message, the field holding the resource (the first
    element when repeated), the resource's type name and response model, and the scope that may read it."""

    prefix: str
    topic: str
    payload: type[Message]
    field: str
    resource_type: str
    model: type[BaseModel]
    scope: Scope
    known: tuple[str, ...]  # the types its service publishes today (documented in the OpenAPI `webhooks`)
    exact: bool = False  # claims only `known` (the other types of the prefix have another resource)
    # Payload fields beyond the resource that the envelope's `details` carries (empty texts and lists left out).
    details: tuple[str, ...] = ("from_status", "to_status", "changed_fields")

    def claims(self, event_type: str) -> bool:
        return event_type in self.known if self.exact else event_type.startswith(self.prefix + ".")


FAMILIES: tuple[Family, ...] = (
    Family("incident", topics.INCIDENT_EVENTS, incident_pb2.IncidentEvent, "incident", "incident", Incident,
           Scope.INCIDENTS_READ, ("incident.created", "incident.updated", "incident.transitioned")),
    Family("change", topics.ITSM_EVENTS, itsm_pb2.ChangeEvent, "change", "change", Change, Scope.ITSM_READ,
           ("change.created", "change.updated", "change.transitioned", "change.approval_recorded",
            "change.approved", "change.rejected", "change.conflict_detected")),
    Family("request", topics.ITSM_EVENTS, itsm_pb2.RequestEvent, "request", "request", ServiceRequest,
           Scope.ITSM_READ, ("request.submitted", "request.approved", "request.rejected", "request.fulfilled",
                             "request.cancelled", "request.approval_recorded"), details=("from_status", "to_status")),
    Family("ci", topics.CMDB_EVENTS, cmdb_pb2.CiEvent, "items", "ci", ConfigurationItem, Scope.CMDB_READ,
           ("ci.created", "ci.updated", "ci.deleted"), exact=True, details=("changed_fields",)),
    Family("ci", topics.CMDB_EVENTS, cmdb_pb2.CiEvent, "relations", "relation", Relation, Scope.CMDB_READ,
           ("ci.related", "ci.unrelated"), exact=True, details=()),
    # ci.imported (chunks of a bulk import) is not published outside: an import of 100k CIs is one answer to
    # its caller, not 100k deliveries.
    # One event per stored alert, named by its decision (a duplicate changes nothing and publishes nothing); key =
    # integration/fingerprint, so one alert series stays in order. Alerts are read with the incidents' scope.
    Family("alert", topics.ALERT_EVENTS, alerts_pb2.AlertEvent, "alert", "alert", Alert, Scope.INCIDENTS_READ,
           ("alert.created", "alert.joined", "alert.reopened", "alert.resolved", "alert.acknowledged",
            "alert.suppressed"), details=()),
    Family("rca", topics.AI_EVENTS, ai_pb2.RcaEvent, "result", "rca", RcaResult, Scope.AI_READ,
           ("rca.completed", "rca.narrative_added", "rca.narrative_failed", "rca.failed"), details=()),
    # step_index: the step the event is about, -1 for the run as a whole.
    Family("runbook_run", topics.AI_EVENTS, ai_pb2.RunbookRunEvent, "run", "runbook_run", RunbookRun,
           Scope.RUNBOOKS_READ, ("runbook_run.started", "runbook_run.step_completed", "runbook_run.awaiting_approval",
                                 "runbook_run.completed", "runbook_run.flagged", "runbook_run.retried",
                                 "runbook_run.rejected", "runbook_run.cancelled"), details=("step_index",)),
)
TOPICS = tuple(sorted({f.topic for f in FAMILIES}))
PREFIXES = tuple(sorted({f.prefix for f in FAMILIES}))
PATTERN = re.compile(r"^(\*|[a-z][a-z_]*\.(\*|[a-z][a-z_]*))$")


def family_of(event_type: str) -> Family | None:
    return next((f for f in FAMILIES if f.claims(event_type)), None)


@dataclass(frozen=True)
class Published:
    """One event as published outside: the envelope, its JSON, and what filters and ordering look at."""

    envelope: dict[str, Any]
    body: bytes = field(repr=False)
    key: str  # ordering key: the resource (events of one key are delivered in order)
    scope: Scope | None  # who may read it (None: whoever may read the subscription, e.g. a ping)

    @property
    def id(self) -> str:
        return self.envelope["id"]

    @property
    def type(self) -> str:
        return self.envelope["type"]

    @property
    def tenant_id(self) -> str:
        return self.envelope["tenant_id"]

    @property
    def resource_type(self) -> str:
        return self.envelope["resource"]["type"]

    @property
    def resource_id(self) -> str:
        return self.envelope["resource"]["id"]

    def rendered(self) -> Published:
        """Itself (a history entry is a Published or a Received)."""
        return self

    @cached_property
    def frame(self) -> bytes:
        """The event as one Server-Sent Events message (made once, written to every client)."""
        return b"id: " + self.id.encode() + b"\ndata: " + self.body + b"\n\n"

    def attribute(self, name: str) -> list[str] | None:
        """What subscription filters match: `severity`, `ci_id` (the CIs it concerns), `integration_id`.
        None when the event does not carry the attribute."""
        data = self.envelope["data"]
        if name == "ci_id":
            if self.resource_type == "ci":
                return [data["id"]]
            if self.resource_type == "relation":
                return [data["source_id"], data["target_id"]]
            if self.resource_type == "rca":  # the CIs it names as causes
                return [c["ci_id"] for c in data["causes"] if c["ci_id"]]
            if self.resource_type == "runbook_run":  # the CIs the run acts on
                return list(data["preflight"]["target_ci_ids"])
            ids = data.get("ci_ids")
            return list(ids) if ids is not None else None
        value = data.get(name)
        return None if value is None or value == "" else [str(value)]


def render(event: CloudEvent, key: str = "") -> Published | None:
    """The event as published outside, or None for types no family claims (and payloads that do not decode)."""
    family = family_of(event.type)
    if family is None:
        return None
    payload = family.payload()
    try:
        payload.ParseFromString(event.data)
    except DecodeError:
        return None
    source = getattr(payload, family.field)
    if isinstance(source, Iterable) and not isinstance(source, Message):
        source = next(iter(source), None)
        if source is None:
            return None
    data = to_json(family.model, source)
    envelope_pb = getattr(payload, "envelope", None)
    occurred = iso(envelope_pb.occurred_at) if envelope_pb is not None else None
    details: dict[str, Any] = {}
    for name in family.details:
        value = getattr(payload, name)
        if isinstance(value, int | float):
            details[name] = value  # a number always says something (a step index 0 is the first step)
        elif value:
            details[name] = value if isinstance(value, str) else list(value)
    actor = envelope_pb.actor.email if envelope_pb is not None and envelope_pb.HasField("actor") else ""
    envelope = {
        "id": event.id,
        "type": event.type,
        "occurred_at": occurred or iso_value(event.time.astimezone(UTC)),
        "tenant_id": event.tenant_id,
        "actor": actor or None,
        "resource": {"type": family.resource_type, "id": data["id"]},
        "data": data,
        "details": details,
    }
    return Published(envelope, orjson.dumps(envelope), key or data["id"], family.scope)


class Received:
    """An event read from Kafka whose type is published outside, rendered only when something wants it: most
    events of most tenants go to no stream client and no webhook, and rendering (proto → API JSON) is the
    costly part of reading them."""

    __slots__ = ("event", "key", "_rendered")

    def __init__(self, event: CloudEvent, key: str) -> None:
        self.event = event
        self.key = key
        self._rendered: Published | None | bool = False

    @property
    def id(self) -> str:
        return self.event.id

    @property
    def tenant_id(self) -> str:
        return self.event.tenant_id

    @property
    def time(self) -> datetime:
        """When it occurred, by the clock of the service that published it."""
        return self.event.time

    def rendered(self) -> Published | None:
        """The event as published (made once), or None when its payload does not decode."""
        if self._rendered is False:
            self._rendered = render(self.event, self.key)
        return self._rendered


def received(records: Iterable[Any]) -> list[Received]:
    """The Kafka records (aiokafka ConsumerRecords) that carry events of a published type, not yet rendered."""
    found = []
    for record in records:
        try:
            event = CloudEvent.from_kafka(record.headers, record.value)
        except ValueError:
            continue
        if family_of(event.type) is not None:
            found.append(Received(event, record.key.decode() if record.key else ""))
    return found


def matches(patterns: Iterable[str], event_type: str) -> bool:
    """`*`, a family `incident.*`, or an exact type."""
    return any(fnmatch.fnmatchcase(event_type, p) for p in patterns)


def unknown_patterns(patterns: Iterable[str]) -> list[str]:
    """Patterns that are malformed or name no published family (a typo would otherwise never match)."""
    bad = []
    for p in patterns:
        if not PATTERN.match(p) or (p != "*" and p.split(".", 1)[0] not in PREFIXES):
            bad.append(p)
    return bad
