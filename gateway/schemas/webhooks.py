"""Webhooks: the request and response models of `/api/webhooks` (subscriptions, deliveries, attempts). The
payload every delivery carries is gateway/schemas/events.py's `Event`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.schemas.base import Body, JsonObject, Paging, Path, Resource, Time
from gateway.schemas.events import EventResource
from gateway.schemas.incidents import Severity

DeliveryStatus = Literal["pending", "succeeded", "failed"]


class WebhookFilter(Body):
    """Narrows the events of the chosen types: an event that carries the attribute must match one of the values
    (events that do not carry it, e.g. a change for a severity filter, pass)."""

    severity: list[Severity] = Field(default_factory=list, max_length=4)
    ci_id: list[str] = Field(default_factory=list, max_length=100, description="events concerning any of these CIs")
    integration_id: list[str] = Field(default_factory=list, max_length=100,
                                      description="alerts from any of these integrations")


class NewWebhook(Body):
    url: str = Field(min_length=1, max_length=2000, description="http(s) URL the deliveries are POSTed to")
    event_types: list[str] = Field(min_length=1, max_length=50,
                                   description="types or families: incident.*, change.approved, or *")
    description: str = Field(default="", max_length=500)
    filter: WebhookFilter = Field(default_factory=WebhookFilter)
    enabled: bool = True


class WebhookPatch(Body):
    """Fields to change. `enabled: true` on a disabled subscription clears its disablement."""

    url: str | None = Field(default=None, min_length=1, max_length=2000)
    event_types: list[str] | None = Field(default=None, min_length=1, max_length=50)
    description: str | None = Field(default=None, max_length=500)
    filter: WebhookFilter | None = None
    enabled: bool | None = None


class RotateSecret(Body):
    overlap_seconds: int = Field(default=86_400, ge=0, le=7 * 86_400,
                                 description="how long the old secret keeps signing too (0: it stops at once)")


class Filter(Resource):
    severity: list[str]
    ci_id: list[str]
    integration_id: list[str]


class Webhook(Resource):
    id: str
    url: str
    event_types: list[str]
    description: str
    filter: Filter
    enabled: bool
    disabled_reason: str | None = Field(description="why Vigil disabled it (deliveries kept failing)")
    disabled_at: Time | None
    secret_hint: str = Field(description="the secret's last characters")
    previous_secret_expires_at: Time | None = Field(description="until when the rotated-out secret also signs")
    consecutive_failures: int = Field(description="deliveries in a row that failed for good")
    created_by: str
    created_at: Time
    updated_at: Time
    version: int


class WebhookWithSecret(Webhook):
    secret: str = Field(description="the signing secret: shown only in this answer")


class WebhookPath(Path):
    id: str = Field(description="the webhook id")


class DeliveryPath(Path):
    id: str = Field(description="the webhook id")
    delivery_id: str


class DeliveryQuery(Paging):
    status: list[DeliveryStatus] = Field(default_factory=list, description="any of these statuses")


class Delivery(Resource):
    id: str = Field(description="stable across retries (the Vigil-Delivery header)")
    subscription_id: str
    event_id: str
    event_type: str
    resource: EventResource
    status: DeliveryStatus
    attempts: int
    next_attempt_at: Time | None = Field(description="when the next attempt is due (pending deliveries)")
    last_attempt_at: Time | None
    last_status_code: int | None
    last_duration_ms: float | None
    last_error: str | None
    replay_of: str | None
    created_at: Time
    completed_at: Time | None


class Attempt(Resource):
    number: int
    at: Time
    duration_ms: float
    status_code: int | None
    error: str | None
    outcome: Literal["succeeded", "retry", "failed"]
    response_body: str | None = Field(description="the first KiB of the endpoint's answer")


class DeliveryDetail(Delivery):
    payload: JsonObject = Field(description="the body as sent (an Event)")
    history: list[Attempt]
