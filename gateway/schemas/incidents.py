"""Incidents: the request and response models of `/api/incidents` (the proto is vigil.incident.v1.Incident)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.schemas.base import Body, Cursor, JsonObject, Paging, Resource, Sorting, Time

Severity = Literal["P1", "P2", "P3", "P4"]
Status = Literal["triggered", "open", "acknowledged", "investigating", "resolved", "reopened", "closed"]
Labels = dict[str, str | int | float | bool | None]


class NewIncident(Body):
    title: str = Field(min_length=1, max_length=500)
    severity: Severity
    description: str = Field(default="", max_length=20_000)
    source: str = Field(default="", max_length=100)
    ci_ids: list[str] = Field(default_factory=list, max_length=100)
    assignee: str = Field(default="", max_length=320)
    labels: Labels = Field(default_factory=dict)


class IncidentPatch(Body):
    """Fields to change and/or a `status` to move to (the state machine decides which moves are allowed)."""

    title: str | None = Field(default=None, min_length=1, max_length=500)
    severity: Severity | None = None
    description: str | None = Field(default=None, max_length=20_000)
    source: str | None = Field(default=None, max_length=100)
    ci_ids: list[str] | None = Field(default=None, max_length=100)
    assignee: str | None = Field(default=None, max_length=320)
    labels: Labels | None = None
    status: str | None = Field(default=None, description="triggered, open, acknowledged, investigating, resolved, "
                                                         "reopened or closed")
    resolution_notes: str | None = Field(default=None, max_length=20_000)
    resolved_by: str | None = Field(default=None, max_length=320)
    note: str | None = Field(default=None, max_length=5_000, description="for the timeline entry of a status change")


class IncidentQuery(Paging, Sorting, Cursor):
    status: list[str] = Field(default_factory=list, description="any of these statuses")
    severity: list[str] = Field(default_factory=list, description="any of these severities")
    q: str = Field("", description="text in the title or description")
    source: str = ""
    ci_id: str = Field("", description="incidents on this CI")


class Incident(Resource):
    id: str
    reference: str = Field(description="per tenant, gap-free: INC-00000001")
    title: str
    description: str
    severity: Severity
    status: Status
    source: str
    ci_ids: list[str]
    impacted_ci_ids: list[str] = Field(description="the CIs in the blast radius of ci_ids when it was created")
    assignee: str
    labels: JsonObject
    resolution_notes: str
    created_by: str
    resolved_by: str
    dedup_key: str
    version: int
    created_at: Time
    updated_at: Time
    status_times: dict[str, Time] = Field(description="when the incident entered each status")


class TimelineEntry(Resource):
    id: str
    kind: str
    from_status: str | None
    to_status: str | None
    actor: str
    message: str
    at: Time
    changes: JsonObject
