"""Maintenance windows: label matchers (=, !=, =~, !~ with anchored RE2 regular expressions, as Alertmanager's
silences), CIs and integrations, over a time window. A firing alert received inside a window that matches it is
stored as `suppressed` and opens no incident. No gRPC or SQL here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

import re2

from vigil.runtime.clock import new_id, now
from vigil.runtime.context import CallContext
from vigil.runtime.errors import FieldError, NotFound, ValidationFailed

OPERATORS = ("=", "!=", "=~", "!~")
UPDATABLE = ("name", "comment", "matchers", "ci_ids", "integration_ids", "starts_at", "ends_at")
MAX_MATCHERS = 20
MAX_IDS = 100
MAX_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    operator: str
    value: str

    def matches(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.name, "")  # a missing label matches like an empty one, as in Alertmanager
        if self.operator == "=":
            return actual == self.value
        if self.operator == "!=":
            return actual != self.value
        try:
            hit = _regex(self.value).fullmatch(actual) is not None
        except re2.error:  # stored before matchers were RE2 (a lookaround): it covers nothing rather than all
            return False
        return hit if self.operator == "=~" else not hit


_RE2 = re2.Options()
_RE2.log_errors = False  # a bad pattern is the caller's 422, not a line on the service's stderr


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> Any:
    """RE2, as Alertmanager's matchers (Go's regexp): the syntax its users write, and matching in time linear in
    the label's length. Python's re backtracks: a tenant's `(a|a)*b` against a long label would hold the alert
    consumer every tenant shares for hours."""
    return re2.compile(pattern, options=_RE2)


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    id: str
    tenant_id: str
    name: str
    comment: str
    matchers: tuple[Matcher, ...]
    ci_ids: tuple[str, ...]
    integration_ids: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int

    def covers(self, integration_id: str, labels: dict[str, str], ci_ids: tuple[str, ...], at: datetime) -> bool:
        if not self.starts_at <= at < self.ends_at:
            return False
        if self.integration_ids and integration_id not in self.integration_ids:
            return False
        if self.ci_ids and not set(self.ci_ids) & set(ci_ids):
            return False
        return all(m.matches(labels) for m in self.matchers)

    def describe(self) -> str:
        parts = [f"{m.name}{m.operator}{m.value!r}" for m in self.matchers]
        if self.ci_ids:
            parts.append(f"CIs {', '.join(self.ci_ids)}")
        return f"maintenance window {self.name!r} ({self.id}, {self.starts_at.isoformat()} to " \
               f"{self.ends_at.isoformat()}; {'; '.join(parts)})"


def covering(windows: list[MaintenanceWindow], integration_id: str, labels: dict[str, str],
             ci_ids: tuple[str, ...], at: datetime) -> MaintenanceWindow | None:
    return next((w for w in windows if w.covers(integration_id, labels, ci_ids, at)), None)


class Store(Protocol):
    async def insert(self, window: MaintenanceWindow) -> MaintenanceWindow: ...
    async def get(self, tenant_id: str, window_id: str) -> MaintenanceWindow | None: ...
    async def list(self, tenant_id: str, active_at: datetime | None, limit: int, offset: int
                   ) -> tuple[list[MaintenanceWindow], int]: ...
    async def update(self, tenant_id: str, window_id: str, decide, expected_version: int) -> MaintenanceWindow: ...
    async def delete(self, tenant_id: str, window_id: str) -> MaintenanceWindow: ...


def validate(w: MaintenanceWindow) -> None:
    errors: list[FieldError] = []
    if not w.name.strip() or len(w.name) > 200:
        errors.append(FieldError("name", "must be 1 to 200 characters"))
    if len(w.comment) > 5000:
        errors.append(FieldError("comment", "must be at most 5000 characters"))
    if len(w.matchers) > MAX_MATCHERS:
        errors.append(FieldError("matchers", f"at most {MAX_MATCHERS}"))
    for i, m in enumerate(w.matchers):
        if not m.name or len(m.name) > 100:
            errors.append(FieldError(f"matchers[{i}].name", "must be 1 to 100 characters"))
        if m.operator not in OPERATORS:
            errors.append(FieldError(f"matchers[{i}].operator", f"must be one of {' '.join(OPERATORS)}"))
        elif m.operator in ("=~", "!~"):
            try:
                _regex(m.value)
            except re2.error as exc:
                reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
                errors.append(FieldError(f"matchers[{i}].value", f"invalid regular expression (RE2): {reason}"))
        if len(m.value) > 1000:
            errors.append(FieldError(f"matchers[{i}].value", "must be at most 1000 characters"))
    for name in ("ci_ids", "integration_ids"):
        values = getattr(w, name)
        if len(values) > MAX_IDS:
            errors.append(FieldError(name, f"at most {MAX_IDS}"))
        errors.extend(FieldError(f"{name}[{i}]", "must be 1 to 128 characters")
                      for i, v in enumerate(values) if not v or len(v) > 128)
    # Like an Alertmanager silence, a window must say what it silences: never everything by accident.
    if not w.matchers and not w.ci_ids:
        errors.append(FieldError("matchers", "at least one matcher or CI is required"))
    if w.ends_at <= w.starts_at:
        errors.append(FieldError("ends_at", "must be after starts_at"))
    if errors:
        raise ValidationFailed("invalid maintenance window", errors)


def _check_id(window_id: str) -> None:
    try:
        uuid.UUID(window_id)
    except ValueError:
        raise ValidationFailed("malformed maintenance window id", [FieldError("id", "must be a UUID")]) from None


class MaintenanceService:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def create(self, ctx: CallContext, name: str, comment: str, matchers: tuple[Matcher, ...],
                     ci_ids: tuple[str, ...], integration_ids: tuple[str, ...], starts_at: datetime | None,
                     ends_at: datetime | None) -> MaintenanceWindow:
        at = now()
        if ends_at is None:
            raise ValidationFailed("invalid maintenance window", [FieldError("ends_at", "is required")])
        window = MaintenanceWindow(id=new_id(), tenant_id=ctx.tenant_id, name=name.strip(), comment=comment,
                                   matchers=matchers, ci_ids=tuple(dict.fromkeys(ci_ids)),
                                   integration_ids=tuple(dict.fromkeys(integration_ids)),
                                   starts_at=starts_at or at, ends_at=ends_at, created_by=ctx.actor,
                                   created_at=at, updated_at=at, version=1)
        validate(window)
        return await self.store.insert(window)

    async def get(self, ctx: CallContext, window_id: str) -> MaintenanceWindow:
        _check_id(window_id)
        found = await self.store.get(ctx.tenant_id, window_id)
        if found is None:
            raise NotFound(f"maintenance window {window_id} not found")
        return found

    async def list(self, ctx: CallContext, active_at: datetime | None, limit: int, offset: int
                   ) -> tuple[list[MaintenanceWindow], int]:
        if not 1 <= limit <= MAX_LIMIT or offset < 0:
            raise ValidationFailed("invalid query", [FieldError("limit", f"must be between 1 and {MAX_LIMIT}")])
        return await self.store.list(ctx.tenant_id, active_at, limit, offset)

    async def update(self, ctx: CallContext, window_id: str, changes: dict[str, Any],
                     expected_version: int = 0) -> MaintenanceWindow:
        _check_id(window_id)
        unknown = sorted(set(changes) - set(UPDATABLE))
        if unknown:
            raise ValidationFailed("unknown fields", [FieldError(f, "cannot be updated") for f in unknown])
        missing = [f for f in ("starts_at", "ends_at") if f in changes and changes[f] is None]
        if missing:
            raise ValidationFailed("invalid maintenance window", [FieldError(f, "is required") for f in missing])

        def decide(current: MaintenanceWindow) -> MaintenanceWindow:
            updated = replace(current, **changes)
            if updated == current:
                return current
            validate(updated)
            return replace(updated, version=current.version + 1, updated_at=now())

        return await self.store.update(ctx.tenant_id, window_id, decide, expected_version)

    async def delete(self, ctx: CallContext, window_id: str) -> MaintenanceWindow:
        _check_id(window_id)
        return await self.store.delete(ctx.tenant_id, window_id)
