"""Alerts: reading them (with the decision taken on each), and processing accepted alerts (enrich with what
the CMDB and ITSM say, then decide and store the batch in one transaction; see decisions.py and store.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.incident.alerts.decisions import DECISIONS, Incoming
from services.incident.alerts.lookups import Lookups
from services.incident.alerts.store import AlertStore
from services.incident.integrations.service import IntegrationSettings
from services.incident.integrations.store import IntegrationStore
from vigil.runtime.context import CallContext
from vigil.runtime.errors import FieldError, NotFound, ValidationFailed

STATUSES = ("firing", "resolved", "acknowledged")
MAX_LIMIT = 200


@dataclass(frozen=True, slots=True)
class AlertQuery:
    status: tuple[str, ...] = ()
    decision: tuple[str, ...] = ()
    integration_id: str = ""
    fingerprint: str = ""
    incident_id: str = ""
    start: datetime | None = None
    end: datetime | None = None
    order: str = "desc"
    limit: int = 50
    offset: int = 0


def validate_query(q: AlertQuery) -> None:
    errors: list[FieldError] = []
    errors += [FieldError("status", f"unknown status {s!r}; one of {', '.join(STATUSES)}")
               for s in q.status if s not in STATUSES]
    errors += [FieldError("decision", f"unknown decision {d!r}; one of {', '.join(DECISIONS)}")
               for d in q.decision if d not in DECISIONS]
    if q.order not in ("asc", "desc"):
        errors.append(FieldError("order", "must be asc or desc"))
    if not 1 <= q.limit <= MAX_LIMIT:
        errors.append(FieldError("limit", f"must be between 1 and {MAX_LIMIT}"))
    if q.offset < 0:
        errors.append(FieldError("offset", "must be 0 or more"))
    if len(q.fingerprint) > 255:
        errors.append(FieldError("fingerprint", "must be at most 255 characters"))
    if errors:
        raise ValidationFailed("invalid query", errors)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class AlertService:
    def __init__(self, store: AlertStore) -> None:
        self.store = store

    async def list(self, ctx: CallContext, query: AlertQuery) -> tuple[list[dict[str, Any]], int]:
        validate_query(query)
        return await self.store.list(ctx.tenant_id, query)

    async def get(self, ctx: CallContext, alert_id: str) -> dict[str, Any]:
        if not _is_uuid(alert_id):
            raise ValidationFailed("malformed alert id", [FieldError("id", "must be a UUID")])
        row = await self.store.get(ctx.tenant_id, alert_id)
        if row is None:
            raise NotFound(f"alert {alert_id} not found")
        return row


class AlertProcessor:
    """Turns a batch of accepted alerts into decisions. Called by the intake consumer (events.py)."""

    def __init__(self, store: AlertStore, integrations: IntegrationStore, lookups: Lookups | None) -> None:
        self.store = store
        self.integrations = integrations
        self.lookups = lookups

    async def process(self, batch: list[Incoming]) -> list[dict[str, Any]]:
        if self.lookups is not None and batch:
            keys = {(a.tenant_id, a.integration_id) for a in batch}
            async with self.store.db.read() as conn:
                found = await self.integrations.settings_of(conn, keys)
            settings: dict[tuple[str, str], IntegrationSettings] = {k: v.settings for k, v in found.items()}
            batch = await self.lookups.enrich(batch, settings)
        return await self.store.apply(batch)
