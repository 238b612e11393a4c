"""Integrations: the request and response models of `/api/integrations` (the proto is
vigil.incident.v1.Integration). The key itself appears once, in the answer to a create or a key rotation."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.schemas.base import Body, Paging, Resource, Time

IntegrationType = Literal["alertmanager", "grafana", "pagerduty", "generic"]
Severity = Literal["P1", "P2", "P3", "P4"]
LabelName = str


class IntegrationSettingsBody(Body):
    """How the integration's alerts become incidents; a setting not given keeps its default (or current value)."""

    default_severity: Severity | None = None
    severity_label: str | None = Field(None, min_length=1, max_length=100)
    severity_map: dict[str, Severity] | None = Field(None, max_length=50, description="source severity -> P1..P4")
    fingerprint_fields: list[LabelName] | None = Field(None, max_length=20)
    group_by: Literal["fingerprint", "group_key", "labels"] | None = None
    group_labels: list[LabelName] | None = Field(None, max_length=20)
    group_window_seconds: int | None = Field(None, ge=0, le=2_592_000)
    reopen_window_seconds: int | None = Field(None, ge=0, le=2_592_000)
    auto_resolve: Literal["all_resolved", "never"] | None = None
    ci_labels: list[LabelName] | None = Field(None, max_length=20)


class NewIntegration(Body):
    name: str = Field(min_length=1, max_length=200)
    type: IntegrationType
    settings: IntegrationSettingsBody = Field(default_factory=IntegrationSettingsBody)


class IntegrationPatch(Body):
    name: str | None = Field(None, min_length=1, max_length=200)
    settings: IntegrationSettingsBody | None = None


class IntegrationQuery(Paging):
    type: IntegrationType | None = None


class IntegrationSettings(Resource):
    default_severity: Severity
    severity_label: str
    severity_map: dict[str, str]
    fingerprint_fields: list[str]
    group_by: str
    group_labels: list[str]
    group_window_seconds: int
    reopen_window_seconds: int
    auto_resolve: str
    ci_labels: list[str]


class Integration(Resource):
    id: str
    name: str
    type: IntegrationType
    key_prefix: str = Field(description="the first characters of the key, to recognise it")
    settings: IntegrationSettings
    created_by: str
    created_at: Time
    updated_at: Time
    key_rotated_at: Time
    version: int


class IntegrationWithKey(Resource):
    """The answer to a create or a key rotation: the key is shown this once (only its hash is kept)."""

    integration: Integration
    key: str = Field(description="vgi_…: the alert source's credential")
