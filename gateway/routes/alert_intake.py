"""The alert doors: each source in its own format, authenticated by an integration key (never a user's JWT),
answered 202 once Kafka holds every alert of the request (see docs/alerts.md and gateway/ingest/alerts.py).

`POST /api/alerts/alertmanager|grafana|generic` take the key as `Authorization: Bearer <key>`, or as the last path
segment (`/api/alerts/alertmanager/<key>`) for sources that cannot set headers. `POST /v2/enqueue` is PagerDuty's
Events API v2 (`routing_key` in the body) and answers as PagerDuty does, so its clients work unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from gateway import auth, middleware
from gateway.ingest import alerts as intake
from gateway.routing import Routes
from gateway.schemas.alerts import (
    Accepted,
    AlertmanagerWebhook,
    GenericBatch,
    GrafanaWebhook,
    PagerDutyAnswer,
    PagerDutyEvent,
)
from gateway.schemas.base import Path
from gateway.state import alert_intake, upstreams
from gateway.validation import field_errors
from vigil.incident.v1 import alerts_pb2
from vigil.runtime.errors import Forbidden, RateLimited, Unauthenticated, VigilError

routes = Routes("tenant", tags=("alerts",), scopes="alerts", auth="integration")
DOOR = {"rate": "ingest", "response": Accepted, "status": 202}


class KeyPath(Path):
    key: str


async def accept(request: web.Request, key: str, door: str, body: Any,
                 normalise: Callable[..., list[alerts_pb2.AlertMessage]]) -> list[alerts_pb2.AlertMessage]:
    """Check the key, admit its integration as every tenant-plane caller is admitted (tenant active, the
    `ingest` rate limit), then put the normalised alerts on Kafka."""
    integration = await alert_intake(request).authenticate(upstreams(request), key, door)
    caller = auth.Principal(actor=f"integration:{integration.id}", role="responder",
                            tenant_id=integration.tenant_id, kind="integration")
    async with middleware.admitted(request, caller):
        messages = normalise(body, intake.Source.of(integration), datetime.now(UTC))
        await alert_intake(request).publish(messages)
    return messages


def accepted(messages: list[alerts_pb2.AlertMessage]) -> dict[str, Any]:
    return {"accepted": len(messages), "alert_ids": [m.id for m in messages]}


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization")
    if not header:
        raise Unauthenticated("missing Authorization: Bearer <integration key>")
    return auth.bearer(header)


def _doors(door: str, model: type[BaseModel], normalise: Callable[..., list[alerts_pb2.AlertMessage]],
           summary: str) -> None:
    """Declare a source's two doors: key in the Authorization header, or in the path."""

    async def by_header(request: web.Request, body: Any) -> dict[str, Any]:
        return accepted(await accept(request, _bearer(request), door, body, normalise))

    async def by_path(request: web.Request, path: KeyPath, body: Any) -> dict[str, Any]:
        return accepted(await accept(request, path.key, door, body, normalise))

    by_header.__name__ = f"post_{door}_alerts"
    by_path.__name__ = f"post_{door}_alerts_keyed"
    routes.post(f"/api/alerts/{door}", summary=summary, body=model, **DOOR)(by_header)
    routes.post(f"/api/alerts/{door}/{{key}}", summary=f"{summary} (integration key in the path)", path=KeyPath,
                body=model, **DOOR)(by_path)


_doors("alertmanager", AlertmanagerWebhook, intake.from_alertmanager,
       "Prometheus Alertmanager webhook (version 4)")
_doors("grafana", GrafanaWebhook, intake.from_grafana, "Grafana alerting webhook (version 1)")
_doors("generic", GenericBatch, intake.from_generic, "Alerts in Vigil's generic shape")

_PAGERDUTY_EVENT = TypeAdapter(PagerDutyEvent)


def _pagerduty(status: int, body: dict[str, Any], retry_after: float | None = None) -> web.Response:
    headers = {"Retry-After": str(int(retry_after or 1))} if status in (429, 503) else None
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json", headers=headers)


def _invalid(errors: list[str]) -> web.Response:
    return _pagerduty(400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors})


@routes.post("/v2/enqueue", summary="PagerDuty Events API v2 (answers in PagerDuty's shape)", rate="ingest",
             status=202, errors=(RateLimited,), consumes=("application/json",), produces=("application/json",),
             own_errors={s: PagerDutyAnswer for s in (400, 403, 429, 503)})
async def pagerduty_enqueue(request: web.Request) -> web.Response:
    """`routing_key` = the integration key; `event_action` trigger, acknowledge or resolve; `dedup_key`;
    `payload.summary/source/severity/timestamp/component/group/class/custom_details`. Answers
    `202 {"status": "success", "message": "Event processed", "dedup_key"}`, or `400 {"status": "invalid event",
    "errors": [...]}` (an unknown routing key included), 429 when limited, 503 when it cannot be taken now."""
    try:
        event = _PAGERDUTY_EVENT.validate_json(await request.read())
    except ValidationError as exc:
        return _invalid([f"{f.field}: {f.message}" for f in field_errors(exc)])
    problems = intake.pagerduty_problems(event)
    if problems:
        return _invalid([f"{f.field}: {f.message}" for f in problems])
    try:
        [message] = await accept(request, event.routing_key, "pagerduty", event,
                                 lambda e, source, at: [intake.from_pagerduty(e, source, at)])
    except Unauthenticated:
        return _invalid(["Invalid routing key"])
    except Forbidden as err:
        return _pagerduty(403, {"status": "forbidden", "message": err.message, "errors": [err.message]})
    except VigilError as err:
        if err.http_status == 429:
            return _pagerduty(429, {"status": "throttle exceeded", "message": err.message}, err.retry_after)
        if err.http_status >= 500:
            return _pagerduty(503, {"status": "unavailable", "message": err.message}, err.retry_after)
        raise
    return _pagerduty(202, {"status": "success", "message": "Event processed", "dedup_key": message.fingerprint})
