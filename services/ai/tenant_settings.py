"""A tenant's AI settings: which incidents are analysed by themselves, whether its data may reach the LLM, and
when a runbook run needs an approval for its blast radius. Pure: defaults, validation, updates."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from vigil.runtime.errors import Conflict, FieldError, Forbidden, ValidationFailed

SEVERITIES = ("P1", "P2", "P3", "P4")
UPDATABLE = ("auto_rca_severities", "llm_enabled", "runbook_blast_radius_approval")


@dataclass(frozen=True, slots=True)
class TenantAiSettings:
    tenant_id: str
    # Opt-in: an analysis reads the tenant's telemetry and may send it to the LLM.
    auto_rca_severities: tuple[str, ...] = ()
    llm_enabled: bool = True
    runbook_blast_radius_approval: int = 25
    version: int = 0
    updated_by: str = ""
    updated_at: datetime | None = None


def apply(current: TenantAiSettings, changes: dict[str, Any], expected_version: int, actor: str, role: str,
          at: datetime) -> TenantAiSettings:
    if role != "admin":
        raise Forbidden("changing the AI settings needs the admin role")
    if expected_version and expected_version != current.version:
        raise Conflict(f"the settings are at version {current.version}, not {expected_version}; re-read and retry")
    errors: list[FieldError] = []
    for name in changes:
        if name not in UPDATABLE:
            errors.append(FieldError(name, f"unknown setting; one of {', '.join(UPDATABLE)}"))
    severities = changes.get("auto_rca_severities", current.auto_rca_severities)
    if any(s not in SEVERITIES for s in severities):
        errors.append(FieldError("auto_rca_severities", f"each one of {', '.join(SEVERITIES)}"))
    threshold = changes.get("runbook_blast_radius_approval", current.runbook_blast_radius_approval)
    if not 0 <= threshold <= 1_000_000:
        errors.append(FieldError("runbook_blast_radius_approval", "must be between 0 and 1000000"))
    if errors:
        raise ValidationFailed("invalid settings", errors)
    return replace(current, auto_rca_severities=tuple(sorted(set(severities))),
                   llm_enabled=bool(changes.get("llm_enabled", current.llm_enabled)),
                   runbook_blast_radius_approval=int(threshold), version=current.version + 1, updated_by=actor,
                   updated_at=at)
