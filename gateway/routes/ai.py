"""AI: root-cause analysis (run, read, per incident, feedback), the tenant's AI settings, runbook generation and
the copilot (one JSON answer, or Server-Sent Events when the client accepts `text/event-stream`). Everything is
decided by the ai service (docs/ai.md); analyses, generation and the copilot are rate class `ai`."""

from __future__ import annotations

from typing import Any

import grpc
import orjson
from aiohttp import web

from gateway.clients import call
from gateway.routing import Routes
from gateway.schemas.ai import (
    AiSettings,
    CopilotAnswer,
    CopilotBody,
    CopilotQuery,
    FeedbackAnswer,
    FeedbackBody,
    FeedbackSummary,
    GenerateBody,
    RcaPage,
    RcaRequest,
    RcaResult,
    SettingsUpdate,
    ToolCall,
)
from gateway.schemas.base import ById
from gateway.schemas.common import Page, page
from gateway.schemas.convert import to_json, to_proto
from gateway.schemas.runbooks import Runbook
from gateway.state import upstreams
from gateway.versioning import sent_fields
from vigil.ai.v1 import ai_pb2 as pb
from vigil.runtime import telemetry
from vigil.runtime.errors import NotFound, VigilError, from_rpc_error

routes = Routes("tenant", tags=("ai",), scopes="ai")


@routes.post("/api/rca", summary="Analyse an incident's probable root causes", tool="run_rca",
             body=RcaRequest, response=RcaResult,
             rate="ai", errors=(NotFound,))
async def run_rca(request: web.Request, body: RcaRequest) -> pb.RcaResult:
    """Gathers the evidence (the incident's CMDB neighbourhood, ITSM changes, the window's telemetry against its
    baseline), ranks the causes deterministically, and with an LLM adds a narrative whose citations are checked.
    Waits for the narrative at most VIGIL_RCA_LLM_WAIT_SECONDS: past that the deterministic result comes back with
    `narrative_status: pending`, and GET /api/rca/{id} shows the narrative once written."""
    return (await call(upstreams(request).ai.RunRca(to_proto(pb.RunRcaRequest, body), timeout=60))).result


@routes.get("/api/rca/{id}", summary="An analysis", tool="get_rca", path=ById, response=RcaResult)
async def get_rca(request: web.Request, path: ById) -> pb.RcaResult:
    return (await call(upstreams(request).ai.GetRca(pb.GetRcaRequest(id=path.id)))).result


@routes.get("/api/incidents/{id}/rca", summary="An incident's analyses, newest first", tags=("ai", "incidents"),
            tool="list_incident_rca", path=ById, query=RcaPage, response=Page[RcaResult])
async def incident_rca(request: web.Request, path: ById, query: RcaPage) -> dict[str, Any]:
    resp = await call(upstreams(request).ai.ListRcas(to_proto(pb.ListRcasRequest, query, incident_id=path.id)))
    return page(resp.items, resp.page.total, query)


@routes.post("/api/rca/{id}/feedback", summary="Mark an analysis right or wrong", path=ById, body=FeedbackBody,
             response=FeedbackAnswer)
async def rca_feedback(request: web.Request, path: ById, body: FeedbackBody) -> pb.RecordRcaFeedbackResponse:
    """One verdict per person and analysis (a second one replaces the first); an incorrect verdict may name the
    real cause. The answer carries the analysis' verdicts counted."""
    return await call(upstreams(request).ai.RecordRcaFeedback(to_proto(pb.RecordRcaFeedbackRequest, body,
                                                                        rca_id=path.id)))


@routes.get("/api/ai/feedback/summary", summary="Verdicts on the tenant's analyses, counted",
            response=FeedbackSummary)
async def feedback_summary(request: web.Request) -> pb.GetRcaFeedbackSummaryResponse:
    return await call(upstreams(request).ai.GetRcaFeedbackSummary(pb.GetRcaFeedbackSummaryRequest()))


@routes.get("/api/ai/settings", summary="The tenant's AI settings", response=AiSettings)
async def get_settings(request: web.Request) -> pb.AiSettings:
    return (await call(upstreams(request).ai.GetSettings(pb.GetSettingsRequest()))).settings


@routes.put("/api/ai/settings", summary="Change the tenant's AI settings", role="admin", body=SettingsUpdate,
            response=AiSettings, if_match=True)
async def put_settings(request: web.Request, body: SettingsUpdate, expected_version: int) -> pb.AiSettings:
    """The settings named in the body change, the others keep their values. `If-Match` makes it conditional."""
    sent = sorted(sent_fields(body))
    msg = pb.UpdateSettingsRequest(update_mask=sent, expected_version=expected_version,
                                   settings=to_proto(pb.AiSettings, body, only=sent))
    return (await call(upstreams(request).ai.UpdateSettings(msg))).settings


@routes.post("/api/ai/control/generate-runbook", summary="Draft a runbook from an incident or a description",
             tags=("ai", "runbooks"), body=GenerateBody, response=Runbook, status=201, rate="ai", errors=(NotFound,))
async def generate_runbook(request: web.Request, body: GenerateBody) -> pb.Runbook:
    """From `incident_id` (and its latest analysis), or from `description` and `rca_summary`. With an LLM the model
    proposes the steps, validated like any runbook; otherwise (or when its proposal fails) a template per fault
    hypothesis. Always a draft: a person publishes it."""
    return (await call(upstreams(request).ai.GenerateRunbook(to_proto(pb.GenerateRunbookRequest, body),
                                                             timeout=60))).runbook


# -- copilot


def _wants_events(request: web.Request) -> bool:
    return "text/event-stream" in request.headers.get("Accept", "")


def _event(kind: str, data: Any) -> bytes:
    return f"event: {kind}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


async def _stream(request: web.Request, query: str, persona: str) -> web.StreamResponse:
    """Server-Sent Events: `tool_call` as each tool runs, then `answer`; an error after the stream began is an
    `error` event in the envelope's shape. Errors before the first event are ordinary error answers."""
    events = aiter(upstreams(request).ai.CopilotQueryStream(
        pb.CopilotQueryStreamRequest(query=query, persona=persona), timeout=90))
    try:
        first = await anext(events)
    except grpc.aio.AioRpcError as exc:
        raise from_rpc_error(exc) from None
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    message: pb.CopilotQueryStreamResponse | None = first
    try:
        while message is not None:
            kind = message.WhichOneof("event")
            if kind == "tool_call":
                await response.write(_event("tool_call", to_json(ToolCall, message.tool_call)))
            else:
                await response.write(_event("answer", to_json(CopilotAnswer, message.answer)))
            message = await anext(events, None)
    except grpc.aio.AioRpcError as exc:
        err: VigilError = from_rpc_error(exc)
        await response.write(_event("error", {"error": err.message, "code": err.code,
                                              "trace_id": telemetry.current_trace_id()}))
    await response.write_eof()
    return response


async def _ask(request: web.Request, query: str, persona: str) -> web.StreamResponse | pb.CopilotQueryResponse:
    if _wants_events(request):
        return await _stream(request, query, persona)
    return await call(upstreams(request).ai.CopilotQuery(pb.CopilotQueryRequest(query=query, persona=persona),
                                                         timeout=90))


@routes.post("/api/copilot/query", summary="Ask the copilot about the tenant's data", body=CopilotBody,
             response=CopilotAnswer, rate="ai")
async def copilot_query(request: web.Request, body: CopilotBody) -> web.StreamResponse | pb.CopilotQueryResponse:
    """Read-only tools act with the caller's tenant and role; every answer cites the ids it used. With
    `Accept: text/event-stream` the answer streams as Server-Sent Events (`tool_call`, then `answer`)."""
    return await _ask(request, body.query, body.persona)


@routes.get("/api/copilot/query", summary="Ask the copilot (for EventSource clients and viewers)",
            query=CopilotQuery, response=CopilotAnswer, rate="ai")
async def copilot_query_get(request: web.Request, query: CopilotQuery) -> web.StreamResponse | pb.CopilotQueryResponse:
    """The same question as a GET: browsers' EventSource can only GET, and a viewer (who never POSTs) may ask."""
    return await _ask(request, query.query, query.persona)

