"""Conversions between the ai service's domain objects and its protos (and JSON-safe values for Structs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp

from services.ai.rca.model import RcaResult, Window
from services.ai.tenant_settings import TenantAiSettings
from vigil.ai.v1 import ai_pb2
from vigil.runtime.clock import as_utc


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    return value


def struct(value: dict[str, Any] | None) -> Struct:
    out = Struct()
    if value:
        out.update(jsonable(value))
    return out


def ts(value: datetime | str | None) -> Timestamp | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    out = Timestamp()
    out.FromDatetime(as_utc(value))
    return out


def from_ts(value: Timestamp, present: bool) -> datetime | None:
    return as_utc(value.ToDatetime()) if present else None


def window_to_proto(w: Window | None) -> ai_pb2.TimeWindow | None:
    return ai_pb2.TimeWindow(start=ts(w.start), end=ts(w.end)) if w else None


def window_from_proto(msg: ai_pb2.RunRcaRequest, name: str) -> Window | None:
    if not msg.HasField(name):
        return None
    w = getattr(msg, name)
    return Window(as_utc(w.start.ToDatetime()), as_utc(w.end.ToDatetime()))


def rca_to_proto(r: RcaResult) -> ai_pb2.RcaResult:
    msg = ai_pb2.RcaResult(
        id=r.id, incident_id=r.incident_id, incident_reference=r.incident_reference, status=r.status, mode=r.mode,
        outcome=r.outcome, summary=r.summary, narrative_status=r.narrative_status, llm_error=r.llm_error,
        candidates_considered=r.candidates_considered, gaps=list(r.gaps), trigger=r.trigger,
        requested_by=r.requested_by, duration_ms=r.duration_ms, error=r.error,
        feedback=ai_pb2.FeedbackSummary(correct=r.feedback_correct, incorrect=r.feedback_incorrect),
        created_at=ts(r.created_at), completed_at=ts(r.completed_at), symptom_onset=ts(r.symptom_onset),
        window=window_to_proto(r.window), baseline=window_to_proto(r.baseline),
        causes=[ai_pb2.RcaCause(
            rank=c.rank, ci_id=c.ci_id, ci_name=c.ci_name, service=c.service, score=c.score,
            confidence=c.confidence, confidence_label=c.confidence_label, hypothesis=c.hypothesis,
            explanation=c.explanation, evidence_ids=list(c.evidence_ids), onset=ts(c.onset), factors=c.factors)
            for c in r.causes],
        evidence=[ai_pb2.Evidence(
            id=e.id, kind=e.kind, ci_id=e.ci_id, ci_name=e.ci_name, service=e.service, title=e.title,
            detail=struct(e.detail), source_url=e.source_url, strength=e.strength, onset=ts(e.onset))
            for e in r.evidence],
        narrative=[ai_pb2.NarrativeSentence(text=s.text, evidence_ids=list(s.evidence_ids)) for s in r.narrative],
        dropped_claims=[ai_pb2.DroppedClaim(text=d.text, reason=d.reason, evidence_ids=list(d.evidence_ids))
                        for d in r.dropped_claims])
    return msg


def settings_to_proto(s: TenantAiSettings) -> ai_pb2.AiSettings:
    return ai_pb2.AiSettings(auto_rca_severities=list(s.auto_rca_severities), llm_enabled=s.llm_enabled,
                             runbook_blast_radius_approval=s.runbook_blast_radius_approval, version=s.version,
                             updated_by=s.updated_by, updated_at=ts(s.updated_at))


def citation_to_proto(c) -> ai_pb2.Citation:
    return ai_pb2.Citation(id=c.id, kind=c.kind, title=c.title[:300], url=c.url)


def tool_call_to_proto(t) -> ai_pb2.ToolCall:
    return ai_pb2.ToolCall(name=t.name, arguments=struct(t.arguments), ok=t.ok, summary=t.summary[:500])


def answer_to_proto(a) -> ai_pb2.CopilotQueryResponse:
    return ai_pb2.CopilotQueryResponse(
        answer=a.answer, mode=a.mode, persona=a.persona, citations=[citation_to_proto(c) for c in a.citations],
        tool_calls=[tool_call_to_proto(t) for t in a.tool_calls], understood=a.understood, llm_error=a.llm_error,
        dropped_citations=a.dropped_citations)
