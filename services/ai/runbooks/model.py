"""Runbooks and their runs: plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

STATUSES = ("draft", "published", "archived")
STEP_KINDS = ("manual", "approval", "http", "vigil")
ACTING_KINDS = ("http", "vigil")
PARAM_TYPES = ("string", "integer", "number", "boolean")
VIGIL_ACTIONS = ("incident.note", "incident.transition", "change.create")

# Run states (the workflow-run vocabulary): IN_PROGRESS, BLOCKED waiting for a person, COMPLETED, FLAGGED when a
# step failed or was interrupted, REJECTED when a person refused, CANCELLED; DRY_RUN marks a plan.
IN_PROGRESS, BLOCKED, COMPLETED, FLAGGED, REJECTED, CANCELLED, DRY_RUN = (
    "IN_PROGRESS", "BLOCKED", "COMPLETED", "FLAGGED", "REJECTED", "CANCELLED", "DRY_RUN")
RUN_STATUSES = (IN_PROGRESS, BLOCKED, COMPLETED, FLAGGED, REJECTED, CANCELLED)
TERMINAL = (COMPLETED, REJECTED, CANCELLED)
STEP_STATUSES = ("pending", "waiting", "running", "completed", "failed", "rejected", "skipped", "interrupted",
                 "planned")


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    type: str = "string"
    default: Any = None
    required: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    name: str
    kind: str
    description: str = ""
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Content:
    name: str
    description: str = ""
    tags: tuple[str, ...] = ()
    parameters: tuple[Parameter, ...] = ()
    steps: tuple[Step, ...] = ()


@dataclass(frozen=True, slots=True)
class Runbook:
    id: str
    tenant_id: str
    content: Content
    status: str
    version: int
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime
    source: str = "manual"
    generator: str = ""
    incident_id: str = ""
    rca_id: str = ""
    hypothesis: str = ""
    llm_error: str = ""


@dataclass(frozen=True, slots=True)
class RunStep:
    index: int
    step_id: str
    name: str
    kind: str
    status: str = "pending"
    config: dict[str, Any] = field(default_factory=dict)
    output: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    decided_by: str = ""
    decision_comment: str = ""
    started_at: datetime | None = None
    completed_at: datetime | None = None
    attempts: int = 0
    rendered: dict[str, Any] = field(default_factory=dict)
    # Which executor runs it, and until when (a step still running past its lease was interrupted).
    executor: str = ""
    lease_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Preflight:
    decision: str = "allowed"
    reasons: tuple[str, ...] = ()
    target_ci_ids: tuple[str, ...] = ()
    blackouts: tuple[dict[str, Any], ...] = ()
    active_changes: tuple[dict[str, Any], ...] = ()
    blast_radius: int = 0
    highest_criticality: str = ""
    gaps: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IncidentRef:
    id: str
    reference: str
    title: str
    severity: str
    status: str
    ci_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Run:
    id: str
    tenant_id: str
    runbook_id: str
    runbook_name: str
    runbook_version: int
    incident: IncidentRef | None
    status: str
    dry_run: bool
    parameters: dict[str, Any]
    started_by: str
    started_by_role: str
    current_step_index: int
    steps: tuple[RunStep, ...]
    preflight: Preflight
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None
    version: int = 1

    @property
    def incident_id(self) -> str:
        return self.incident.id if self.incident else ""

    @property
    def current(self) -> RunStep | None:
        return self.steps[self.current_step_index] if self.current_step_index < len(self.steps) else None

    def outputs(self) -> dict[str, Any]:
        return {s.step_id: s.output for s in self.steps if s.status == "completed"}
