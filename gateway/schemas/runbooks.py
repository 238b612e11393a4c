"""Runbooks and their runs (the protos are vigil.ai.v1.Runbook and RunbookRun). See docs/ai.md for the step
kinds, their configuration and the run states."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from google.protobuf import json_format
from pydantic import Field

from gateway.schemas.base import Body, Derived, JsonObject, Paging, Query, Resource, Time
from gateway.schemas.convert import struct_dict

ParamType = Literal["string", "integer", "number", "boolean"]
StepKind = Literal["manual", "approval", "http", "vigil"]
Scalar = str | int | float | bool | None


def _whole(value: Any) -> Any:
    """A Struct's numbers are doubles; whole ones read back as integers (timeouts, status codes, counts)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole(v) for v in value]
    return value


def _struct(name: str) -> Derived:
    return Derived(lambda m: _whole(struct_dict(getattr(m, name))))


def _default(p: Any) -> Any:
    if not p.HasField("default") or p.default.WhichOneof("kind") in (None, "null_value"):
        return None
    value = json_format.MessageToDict(p.default)
    return int(value) if p.type == "integer" and isinstance(value, float) and value.is_integer() else value


# -- requests ---------------------------------------------------------------------------------------------------


class ParameterIn(Body):
    name: str = Field(min_length=1, max_length=64, description="lower_snake_case")
    type: ParamType = "string"
    default: Scalar = None
    required: bool = False
    description: str = Field(default="", max_length=1000)


class StepIn(Body):
    id: str = Field(default="", max_length=64, description="empty: step-1, step-2, ...")
    name: str = Field(min_length=1, max_length=200)
    kind: StepKind
    description: str = Field(default="", max_length=5000)
    config: JsonObject = Field(default_factory=dict, description=(
        "approval {role}; http {method, url, headers, body, timeout_seconds, expected_status}; vigil {action: "
        "incident.note {message} | incident.transition {to_status, note} | change.create {title, type, "
        "risk_level, ci_ids, duration_minutes}}; {{ placeholders }} for parameters, the incident, the run and "
        "earlier steps' outputs"))


class NewRunbook(Body):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    tags: list[str] = Field(default_factory=list, max_length=20)
    parameters: list[ParameterIn] = Field(default_factory=list, max_length=30)
    steps: list[StepIn] = Field(min_length=1, max_length=50)
    status: Literal["draft", "published"] = Field("draft", description="publishing needs the admin role")


class RunbookPatch(Body):
    """Content changes make a new version; `status` moves draft -> published -> archived (and back to draft)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    tags: list[str] | None = Field(default=None, max_length=20)
    parameters: list[ParameterIn] | None = Field(default=None, max_length=30)
    steps: list[StepIn] | None = Field(default=None, min_length=1, max_length=50)
    status: Literal["draft", "published", "archived"] | None = None


class RunbookQuery(Paging):
    status: list[str] = Field(default_factory=list, description="draft, published or archived")
    q: str = Field("", max_length=200, description="text in the name, description or tags")
    tag: str = Field("", max_length=50)


class VersionQuery(Query):
    version: int = Field(0, ge=0, le=2**31, description="0: the current version")


class ExecuteBody(Body):
    incident_id: str = Field(default="", max_length=64, description="the incident the run acts for")
    dry_run: bool = Field(False, description="return the plan and pre-flight checks; perform nothing")
    parameters: JsonObject = Field(default_factory=dict)


class DecideBody(Body):
    comment: str = Field(default="", max_length=2000)
    step_id: str = Field(default="", max_length=64, description="optional guard: the step meant")


class RunQuery(Paging):
    incident_id: str = Field("", max_length=64)
    runbook_id: str = Field("", max_length=64)
    status: list[str] = Field(default_factory=list)


class IncidentRunQuery(Paging):
    status: list[str] = Field(default_factory=list)


# -- answers ------------------------------------------------------------------------------------------------------


class Parameter(Resource):
    name: str
    type: str
    default: Annotated[Any, Derived(_default)]
    required: bool
    description: str


class Step(Resource):
    id: str
    name: str
    kind: str
    description: str
    config: Annotated[JsonObject, _struct("config")]


class Runbook(Resource):
    id: str
    name: str
    description: str
    status: str = Field(description="draft, published or archived")
    version: int
    tags: list[str]
    parameters: list[Parameter]
    steps: list[Step]
    source: str = Field(description="manual or generated")
    generator: str = Field(description="template or llm, for generated runbooks")
    incident_id: str
    rca_id: str
    hypothesis: str
    created_by: str
    updated_by: str
    created_at: Time
    updated_at: Time
    llm_error: str


class RunStep(Resource):
    index: int
    step_id: str
    name: str
    kind: str
    status: str = Field(description="pending, waiting, running, completed, failed, rejected, skipped, interrupted "
                                    "or planned")
    output: Annotated[JsonObject, _struct("output")]
    error: str
    decided_by: str
    decision_comment: str
    started_at: Time | None
    completed_at: Time | None
    attempts: int
    rendered: Annotated[JsonObject, _struct("rendered")]


class BlackoutHit(Resource):
    id: str
    name: str
    start: Time
    end: Time


class ActiveChange(Resource):
    id: str
    reference: str
    status: str
    ci_ids: list[str]


class Preflight(Resource):
    decision: str = Field(description="allowed, approval_required or refused")
    reasons: list[str]
    target_ci_ids: list[str]
    blackouts: list[BlackoutHit]
    active_changes: list[ActiveChange]
    blast_radius: int
    highest_criticality: str
    gaps: list[str]


class RunbookRun(Resource):
    id: str
    runbook_id: str
    runbook_name: str
    runbook_version: int
    incident_id: str
    status: str = Field(description="IN_PROGRESS, BLOCKED, COMPLETED, FLAGGED, REJECTED, CANCELLED; DRY_RUN for a "
                                    "plan")
    dry_run: bool
    parameters: Annotated[JsonObject, _struct("parameters")]
    started_by: str
    current_step_index: int
    total_steps: int
    steps: list[RunStep]
    preflight: Preflight
    outputs: Annotated[JsonObject, _struct("outputs")]
    created_at: Time
    updated_at: Time
    completed_at: Time | None
    version: int
