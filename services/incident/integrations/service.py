"""Integrations: one per alert source, binding it to its tenant by a key, and saying how its alerts become
incidents (severity mapping, fingerprint, grouping, reopen window, auto-resolve, CI labels).

The key is shown once (`vgi_…`) and stored only as its SHA-256 hash; authenticating looks the hash up, so a
rotated or deleted key stops working at once. No gRPC or SQL here.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, Protocol

from vigil.runtime.clock import new_id, now
from vigil.runtime.context import CallContext
from vigil.runtime.errors import FieldError, NotFound, Unauthenticated, ValidationFailed

TYPES = ("alertmanager", "grafana", "pagerduty", "generic")
GROUP_BY = ("fingerprint", "group_key", "labels")
AUTO_RESOLVE = ("all_resolved", "never")
SEVERITIES = ("P1", "P2", "P3", "P4")
KEY_PREFIX = "vgi_"
SHOWN_PREFIX = 12  # "vgi_" and 8 characters: enough to recognise a key, far too few to use it
MAX_NAME = 200
MAX_LIMIT = 200


def default_severity_map() -> dict[str, str]:
    # Alertmanager/Grafana severity labels and PagerDuty's four payload severities.
    return {"critical": "P1", "high": "P2", "error": "P2", "warning": "P3", "warn": "P3", "info": "P4",
            "low": "P4"}


@dataclass(frozen=True, slots=True)
class IntegrationSettings:
    default_severity: str = "P3"
    severity_label: str = "severity"
    severity_map: dict[str, str] = field(default_factory=default_severity_map)
    fingerprint_fields: tuple[str, ...] = ()
    group_by: str = "fingerprint"
    group_labels: tuple[str, ...] = ()
    group_window_seconds: int = 0
    reopen_window_seconds: int = 3600
    auto_resolve: str = "all_resolved"
    ci_labels: tuple[str, ...] = ("ci", "service", "instance", "job")

    def as_json(self) -> dict[str, Any]:
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in fields(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IntegrationSettings:
        known = {f.name for f in fields(cls)}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}
        return cls(**values)

    def severity_for(self, source_severity: str) -> str:
        return self.severity_map.get(source_severity.strip().lower(), self.default_severity)


SETTING_NAMES = tuple(f.name for f in fields(IntegrationSettings))


@dataclass(frozen=True, slots=True)
class Integration:
    id: str
    tenant_id: str
    name: str
    type: str
    settings: IntegrationSettings
    key_prefix: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    key_rotated_at: datetime
    version: int


class Store(Protocol):
    async def insert(self, integration: Integration, key_hash: str) -> Integration: ...
    async def get(self, tenant_id: str, integration_id: str) -> Integration | None: ...
    async def list(self, tenant_id: str, type_: str, limit: int, offset: int) -> tuple[list[Integration], int]: ...
    async def update(self, tenant_id: str, integration_id: str, decide, expected_version: int,
                     key_hash: str | None = None) -> Integration: ...
    async def delete(self, tenant_id: str, integration_id: str) -> Integration: ...
    async def by_key_hash(self, key_hash: str) -> Integration | None: ...


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def validate_settings(s: IntegrationSettings, prefix: str = "settings") -> None:
    errors: list[FieldError] = []

    def names(field_name: str, values: tuple[str, ...], limit: int = 20) -> None:
        if len(values) > limit:
            errors.append(FieldError(f"{prefix}.{field_name}", f"at most {limit} label names"))
        for i, v in enumerate(values):
            if not v or len(v) > 100:
                errors.append(FieldError(f"{prefix}.{field_name}[{i}]", "must be 1 to 100 characters"))

    if s.default_severity not in SEVERITIES:
        errors.append(FieldError(f"{prefix}.default_severity", f"must be one of {', '.join(SEVERITIES)}"))
    if not s.severity_label or len(s.severity_label) > 100:
        errors.append(FieldError(f"{prefix}.severity_label", "must be 1 to 100 characters"))
    if len(s.severity_map) > 50:
        errors.append(FieldError(f"{prefix}.severity_map", "at most 50 entries"))
    for word, sev in s.severity_map.items():
        if sev not in SEVERITIES or not word or len(word) > 64:
            errors.append(FieldError(f"{prefix}.severity_map.{word}", f"must map a word to one of {', '.join(SEVERITIES)}"))
    names("fingerprint_fields", s.fingerprint_fields)
    names("group_labels", s.group_labels)
    names("ci_labels", s.ci_labels)
    if s.group_by not in GROUP_BY:
        errors.append(FieldError(f"{prefix}.group_by", f"must be one of {', '.join(GROUP_BY)}"))
    elif s.group_by == "labels" and not s.group_labels:
        errors.append(FieldError(f"{prefix}.group_labels", "is required when group_by is labels"))
    for name in ("group_window_seconds", "reopen_window_seconds"):
        if not 0 <= getattr(s, name) <= 30 * 24 * 3600:
            errors.append(FieldError(f"{prefix}.{name}", "must be between 0 and 2592000 (30 days)"))
    if s.auto_resolve not in AUTO_RESOLVE:
        errors.append(FieldError(f"{prefix}.auto_resolve", f"must be one of {', '.join(AUTO_RESOLVE)}"))
    if errors:
        raise ValidationFailed("invalid integration settings", errors)


def _check_name(errors: list[FieldError], name: str) -> None:
    if not name.strip() or len(name) > MAX_NAME:
        errors.append(FieldError("name", f"must be 1 to {MAX_NAME} characters"))


def _check_id(integration_id: str) -> None:
    try:
        uuid.UUID(integration_id)
    except ValueError:
        raise ValidationFailed("malformed integration id", [FieldError("id", "must be a UUID")]) from None


def settings_with(base: IntegrationSettings, given: dict[str, Any]) -> IntegrationSettings:
    unknown = sorted(set(given) - set(SETTING_NAMES))
    if unknown:
        raise ValidationFailed("unknown settings", [FieldError(f"settings.{u}", "unknown setting") for u in unknown])
    return replace(base, **{k: tuple(v) if isinstance(v, list | tuple) else v for k, v in given.items()})


class IntegrationService:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def create(self, ctx: CallContext, name: str, type_: str, settings: dict[str, Any]
                     ) -> tuple[Integration, str]:
        errors: list[FieldError] = []
        _check_name(errors, name)
        if type_ not in TYPES:
            errors.append(FieldError("type", f"must be one of {', '.join(TYPES)}"))
        if errors:
            raise ValidationFailed("invalid integration", errors)
        merged = settings_with(IntegrationSettings(), settings)
        validate_settings(merged)
        key = new_key()
        at = now()
        integration = Integration(id=new_id(), tenant_id=ctx.tenant_id, name=name.strip(), type=type_,
                                  settings=merged, key_prefix=key[:SHOWN_PREFIX], created_by=ctx.actor,
                                  created_at=at, updated_at=at, key_rotated_at=at, version=1)
        return await self.store.insert(integration, hash_key(key)), key

    async def get(self, ctx: CallContext, integration_id: str) -> Integration:
        _check_id(integration_id)
        found = await self.store.get(ctx.tenant_id, integration_id)
        if found is None:
            raise NotFound(f"integration {integration_id} not found")
        return found

    async def list(self, ctx: CallContext, type_: str, limit: int, offset: int) -> tuple[list[Integration], int]:
        errors: list[FieldError] = []
        if type_ and type_ not in TYPES:
            errors.append(FieldError("type", f"must be one of {', '.join(TYPES)}"))
        if not 1 <= limit <= MAX_LIMIT:
            errors.append(FieldError("limit", f"must be between 1 and {MAX_LIMIT}"))
        if offset < 0:
            errors.append(FieldError("offset", "must be 0 or more"))
        if errors:
            raise ValidationFailed("invalid query", errors)
        return await self.store.list(ctx.tenant_id, type_, limit, offset)

    async def update(self, ctx: CallContext, integration_id: str, name: str | None, settings: dict[str, Any],
                     expected_version: int = 0) -> Integration:
        _check_id(integration_id)
        if name is not None:
            errors: list[FieldError] = []
            _check_name(errors, name)
            if errors:
                raise ValidationFailed("invalid integration", errors)

        def decide(current: Integration) -> Integration:
            merged = settings_with(current.settings, settings)
            validate_settings(merged)
            changed = replace(current, name=current.name if name is None else name.strip(), settings=merged)
            if changed == current:
                return current
            return replace(changed, version=current.version + 1, updated_at=now())

        return await self.store.update(ctx.tenant_id, integration_id, decide, expected_version)

    async def rotate_key(self, ctx: CallContext, integration_id: str) -> tuple[Integration, str]:
        _check_id(integration_id)
        key = new_key()

        def decide(current: Integration) -> Integration:
            at = now()
            return replace(current, key_prefix=key[:SHOWN_PREFIX], key_rotated_at=at, updated_at=at,
                           version=current.version + 1)

        return await self.store.update(ctx.tenant_id, integration_id, decide, 0, key_hash=hash_key(key)), key

    async def delete(self, ctx: CallContext, integration_id: str) -> Integration:
        _check_id(integration_id)
        return await self.store.delete(ctx.tenant_id, integration_id)

    async def authenticate(self, key: str) -> Integration:
        """The integration a key belongs to. Every failure is the same UNAUTHENTICATED (no hint which part)."""
        if not key.startswith(KEY_PREFIX) or len(key) > 200:
            raise Unauthenticated("invalid integration key")
        found = await self.store.by_key_hash(hash_key(key))
        if found is None:
            raise Unauthenticated("invalid integration key")
        return found

