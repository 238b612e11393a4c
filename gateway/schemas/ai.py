"""AI: root-cause analyses with their evidence, causes and narrative, feedback, the tenant's AI settings, and the
copilot (the protos are vigil.ai.v1.RcaResult, AiSettings, RcaFeedback, CopilotQueryResponse). See docs/ai.md."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from gateway.schemas.base import AwareTime, Body, Derived, JsonObject, Paging, Query, Resource, Time

Severity = Literal["P1", "P2", "P3", "P4"]
Persona = Literal["sre", "manager", "executive"]


def _present(name: str):
    """A nested message that may be unset: null then, not an empty object."""
    return Derived(lambda m: getattr(m, name) if m.HasField(name) else None)


# -- requests ---------------------------------------------------------------------------------------------------


class TimeRange(Body):
    start: AwareTime
    end: AwareTime


class RcaRequest(Body):
    incident_id: str = Field(min_length=1, max_length=64, description="an incident id or INC-00000001")
    at: AwareTime | None = Field(None, description="when the symptoms began (default: the incident's "
                                                       "creation)")
    window: TimeRange | None = Field(None, description="the analysis window (default: 60 minutes before `at` "
                                                       "to 15 after, not past now)")
    baseline: TimeRange | None = Field(None, description="normal operation to compare with (default: the 24 hours "
                                                         "before the window); must not overlap the window")


class FeedbackBody(Body):
    verdict: Literal["correct", "incorrect"]
    actual_cause_ci_id: str = Field(default="", max_length=128, description="for an incorrect analysis")
    actual_cause: str = Field(default="", max_length=2000, description="for an incorrect analysis, in words")
    comment: str = Field(default="", max_length=2000)


class SettingsUpdate(Body):
    """The settings named here change; the others keep their values."""

    auto_rca_severities: list[Severity] | None = Field(None, description="new incidents of these severities are "
                                                                          "analysed by themselves")
    llm_enabled: bool | None = Field(None, description="false: this tenant's data never reaches the LLM")
    runbook_blast_radius_approval: int | None = Field(None, ge=0, le=1_000_000, description=(
        "a run whose CIs reach more CIs downstream than this needs an approval"))


class GenerateBody(Body):
    incident_id: str = Field(default="", max_length=64, description="use this incident and its latest analysis")
    description: str = Field(default="", max_length=5000)
    rca_summary: str = Field(default="", max_length=5000)


class CopilotBody(Body):
    query: str = Field(min_length=1, max_length=2000)
    persona: Persona = "sre"


class CopilotQuery(Query):
    query: str = Field(min_length=1, max_length=2000)
    persona: Persona = "sre"


class RcaPage(Paging):
    pass


# -- answers ------------------------------------------------------------------------------------------------------


class Window(Resource):
    start: Time
    end: Time


class Evidence(Resource):
    id: str = Field(description="stable: ev:metric:<hash>, ev:log:<hash>, ev:span:<hash>, ev:change:CHG-..., "
                                "ev:ci:<id>")
    kind: str = Field(description="metric, log, span, change or topology")
    ci_id: str
    ci_name: str
    service: str
    title: str
    detail: JsonObject
    source_url: str = Field(description="the gateway query that reproduces the observation")
    strength: float
    onset: Time | None


class Cause(Resource):
    rank: int
    ci_id: str
    ci_name: str
    service: str
    score: float
    confidence: float
    confidence_label: str = Field(description="high, medium or low")
    hypothesis: str = Field(description="bad_change, resource_exhaustion, error_spike, latency_degradation, "
                                        "dependency_outage, traffic_surge or unknown")
    explanation: str
    evidence_ids: list[str]
    onset: Time | None
    factors: dict[str, float] = Field(description="the score's factors")


class Sentence(Resource):
    text: str
    evidence_ids: list[str]


class DroppedClaim(Resource):
    text: str
    reason: str
    evidence_ids: list[str]


class FeedbackCounts(Resource):
    correct: int
    incorrect: int


class RcaResult(Resource):
    id: str
    incident_id: str
    incident_reference: str
    status: str = Field(description="completed, pending (an automatic analysis not yet run) or failed")
    mode: str = Field(description="deterministic or llm")
    outcome: str = Field(description="cause_identified or nothing_anomalous")
    summary: str
    causes: list[Cause]
    evidence: list[Evidence]
    narrative: list[Sentence]
    narrative_status: str = Field(description="none, pending, done or failed")
    llm_error: str
    dropped_claims: list[DroppedClaim]
    window: Annotated[Window | None, _present("window")]
    baseline: Annotated[Window | None, _present("baseline")]
    symptom_onset: Time | None
    candidates_considered: int
    gaps: list[str]
    trigger: str
    requested_by: str
    feedback: FeedbackCounts
    created_at: Time
    completed_at: Time | None
    duration_ms: int
    error: str


class Feedback(Resource):
    id: str
    rca_id: str
    verdict: str
    actual_cause_ci_id: str
    actual_cause: str
    comment: str
    actor: str
    created_at: Time


class FeedbackAnswer(Resource):
    feedback: Feedback
    summary: FeedbackCounts


class FeedbackSummary(Resource):
    analyses: int
    with_feedback: int
    correct: int
    incorrect: int
    accuracy: float
    by_hypothesis: dict[str, FeedbackCounts]


class AiSettings(Resource):
    auto_rca_severities: list[str]
    llm_enabled: bool
    runbook_blast_radius_approval: int
    version: int
    updated_by: str
    updated_at: Time | None


class Citation(Resource):
    id: str
    kind: str
    title: str
    url: str


class ToolCall(Resource):
    name: str
    arguments: JsonObject
    ok: bool
    summary: str


class CopilotAnswer(Resource):
    answer: str
    mode: str = Field(description="llm or deterministic")
    persona: str
    citations: list[Citation]
    tool_calls: list[ToolCall]
    understood: bool
    llm_error: str
    dropped_citations: list[str]
