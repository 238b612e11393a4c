"""Maintenance windows: the request and response models of `/api/maintenance-windows` (the proto is
vigil.incident.v1.MaintenanceWindow)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from gateway.schemas.base import AwareTime, Body, Paging, Resource, Time, in_utc

Operator = Literal["=", "!=", "=~", "!~"]


class MatcherBody(Body):
    name: str = Field(min_length=1, max_length=100)
    operator: Operator = Field(description="=, !=, =~ or !~ (regular expressions anchored, as in Alertmanager)")
    value: str = Field(max_length=1000)


class NewMaintenanceWindow(Body):
    name: str = Field(min_length=1, max_length=200)
    comment: str = Field("", max_length=5000)
    matchers: list[MatcherBody] = Field(default_factory=list, max_length=20)
    ci_ids: list[str] = Field(default_factory=list, max_length=100)
    integration_ids: list[str] = Field(default_factory=list, max_length=100)
    starts_at: AwareTime | None = Field(None, description="default: now")
    ends_at: AwareTime


class MaintenanceWindowPatch(Body):
    name: str | None = Field(None, min_length=1, max_length=200)
    comment: str | None = Field(None, max_length=5000)
    matchers: list[MatcherBody] | None = Field(None, max_length=20)
    ci_ids: list[str] | None = Field(None, max_length=100)
    integration_ids: list[str] | None = Field(None, max_length=100)
    starts_at: AwareTime | None = None
    ends_at: AwareTime | None = None


class MaintenanceWindowQuery(Paging):
    active_at: Annotated[datetime, AfterValidator(in_utc)] | None = Field(None, description="windows covering this moment")


class LabelMatcher(Resource):
    name: str
    operator: Operator
    value: str


class MaintenanceWindow(Resource):
    id: str
    name: str
    comment: str
    matchers: list[LabelMatcher]
    ci_ids: list[str]
    integration_ids: list[str]
    starts_at: Time
    ends_at: Time
    created_by: str
    created_at: Time
    updated_at: Time
    version: int
