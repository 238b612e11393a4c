"""The gRPC servicer of the ai service: proto <-> domain. Domain errors propagate to the server interceptor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf import json_format
from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp

from services.ai.rca.model import RcaResult, Window
from services.ai.rca.service import RcaService
from services.ai.store import SettingsStore
from services.ai.tenant_settings import TenantAiSettings, apply
from vigil.ai.v1 import ai_pb2, ai_pb2_grpc
from vigil.common.v1 import common_pb2
from vigil.runtime import context
from vigil.runtime.clock import as_utc, now

FULL_NAME = ai_pb2.DESCRIPTOR.services_by_name["AiService"].full_name


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


def from_struct(value: Struct) -> dict[str, Any]:
    return json_format.MessageToDict(value)


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


def run_to_proto(run) -> ai_pb2.RunbookRun:
    from services.ai.runbooks.convert import run_to_proto as convert

    return convert(run)


class AiHandlers(ai_pb2_grpc.AiServiceServicer):
    def __init__(self, rca: RcaService, settings: SettingsStore, runbooks=None, copilot=None) -> None:
        self.rca = rca
        self.settings = settings
        self.runbooks = runbooks
        self.copilot = copilot

    # -- RCA

    async def RunRca(self, request, _ctx):
        result = await self.rca.run(
            context.current(), request.incident_id, at=from_ts(request.at, request.HasField("at")),
            window=window_from_proto(request, "window"), baseline=window_from_proto(request, "baseline"))
        return ai_pb2.RunRcaResponse(result=rca_to_proto(result))

    async def GetRca(self, request, _ctx):
        return ai_pb2.GetRcaResponse(result=rca_to_proto(await self.rca.get(context.current(), request.id)))

    async def ListRcas(self, request, _ctx):
        limit, offset = request.page.limit or 50, request.page.offset
        items, total = await self.rca.list_for_incident(context.current(), request.incident_id, limit, offset)
        return ai_pb2.ListRcasResponse(items=[rca_to_proto(r) for r in items],
                                       page=common_pb2.PageInfo(total=total, limit=limit, offset=offset))

    async def RecordRcaFeedback(self, request, _ctx):
        row, (correct, incorrect) = await self.rca.feedback(
            context.current(), request.rca_id, request.verdict, request.actual_cause_ci_id, request.actual_cause,
            request.comment)
        return ai_pb2.RecordRcaFeedbackResponse(
            feedback=ai_pb2.RcaFeedback(
                id=row["id"], rca_id=row["rca_id"], verdict=row["verdict"],
                actual_cause_ci_id=row["actual_cause_ci_id"], actual_cause=row["actual_cause"],
                comment=row["comment"], actor=row["actor"], created_at=ts(row["created_at"])),
            summary=ai_pb2.FeedbackSummary(correct=correct, incorrect=incorrect))

    async def GetRcaFeedbackSummary(self, request, _ctx):
        s = await self.rca.store.feedback_summary(context.current().tenant_id)
        return ai_pb2.GetRcaFeedbackSummaryResponse(
            analyses=s["analyses"], with_feedback=s["with_feedback"], correct=s["correct"],
            incorrect=s["incorrect"], accuracy=s["accuracy"],
            by_hypothesis={k: ai_pb2.FeedbackSummary(correct=c, incorrect=i)
                           for k, (c, i) in s["by_hypothesis"].items()})

    async def GetSettings(self, request, _ctx):
        return ai_pb2.GetSettingsResponse(settings=settings_to_proto(
            await self.settings.get(context.current().tenant_id)))

    async def UpdateSettings(self, request, _ctx):
        ctx = context.current()
        changes = {name: list(getattr(request.settings, name)) if name == "auto_rca_severities"
                   else getattr(request.settings, name, None) for name in request.update_mask}
        updated = await self.settings.put(
            ctx.tenant_id, lambda current: apply(current, changes, request.expected_version, ctx.actor, ctx.role,
                                  now()))
        return ai_pb2.UpdateSettingsResponse(settings=settings_to_proto(updated))
