"""The gRPC servicer of the ai service: proto <-> domain. Domain errors propagate to the server interceptor."""

from __future__ import annotations

from services.ai.copilot.service import Answer, Copilot
from services.ai.protos import (
    answer_to_proto,
    from_ts,
    rca_to_proto,
    settings_to_proto,
    tool_call_to_proto,
    ts,
    window_from_proto,
)
from services.ai.rca.service import RcaService
from services.ai.runbooks.convert import content_from_proto, run_to_proto, runbook_to_proto
from services.ai.runbooks.service import RunbookService
from services.ai.store import SettingsStore
from services.ai.tenant_settings import apply
from vigil.ai.v1 import ai_pb2, ai_pb2_grpc
from vigil.common.v1 import common_pb2
from vigil.runtime import context
from vigil.runtime.clock import now
from vigil.runtime.protos import struct_dict

FULL_NAME = ai_pb2.DESCRIPTOR.services_by_name["AiService"].full_name


class AiHandlers(ai_pb2_grpc.AiServiceServicer):
    def __init__(self, rca: RcaService, settings: SettingsStore, runbooks: RunbookService, copilot: Copilot) -> None:
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

    # -- runbooks

    async def GenerateRunbook(self, request, _ctx):
        rb = await self.runbooks.generate(context.current(), request.incident_id, request.description,
                                          request.rca_summary)
        return ai_pb2.GenerateRunbookResponse(runbook=runbook_to_proto(rb))

    async def CreateRunbook(self, request, _ctx):
        rb = await self.runbooks.create(context.current(), content_from_proto(request.content),
                                        request.status or "draft")
        return ai_pb2.CreateRunbookResponse(runbook=runbook_to_proto(rb))

    async def GetRunbook(self, request, _ctx):
        rb = await self.runbooks.get(context.current(), request.id, request.version)
        return ai_pb2.GetRunbookResponse(runbook=runbook_to_proto(rb))

    async def ListRunbooks(self, request, _ctx):
        limit, offset = request.page.limit or 50, request.page.offset
        items, total = await self.runbooks.list(context.current(), tuple(request.status), request.q, request.tag,
                                                limit, offset)
        return ai_pb2.ListRunbooksResponse(items=[runbook_to_proto(r) for r in items],
                                           page=common_pb2.PageInfo(total=total, limit=limit, offset=offset))

    async def UpdateRunbook(self, request, _ctx):
        rb = await self.runbooks.update(context.current(), request.id, tuple(request.update_mask),
                                        content_from_proto(request.content), request.status,
                                        request.expected_version)
        return ai_pb2.UpdateRunbookResponse(runbook=runbook_to_proto(rb))

    async def DeleteRunbook(self, request, _ctx):
        await self.runbooks.delete(context.current(), request.id)
        return ai_pb2.DeleteRunbookResponse()

    async def ExecuteRunbook(self, request, _ctx):
        run = await self.runbooks.execute(context.current(), request.runbook_id, request.incident_id,
                                          request.dry_run, struct_dict(request.parameters))
        return ai_pb2.ExecuteRunbookResponse(run=run_to_proto(run))

    async def GetRunbookRun(self, request, _ctx):
        return ai_pb2.GetRunbookRunResponse(run=run_to_proto(await self.runbooks.get_run(context.current(),
                                                                                          request.id)))

    async def ListRunbookRuns(self, request, _ctx):
        limit, offset = request.page.limit or 50, request.page.offset
        items, total = await self.runbooks.list_runs(context.current(), request.incident_id, request.runbook_id,
                                                     tuple(request.status), limit, offset)
        return ai_pb2.ListRunbookRunsResponse(items=[run_to_proto(r) for r in items],
                                              page=common_pb2.PageInfo(total=total, limit=limit, offset=offset))

    async def DecideRunbookStep(self, request, _ctx):
        run = await self.runbooks.decide(context.current(), request.run_id, request.decision, request.comment,
                                         request.step_id)
        return ai_pb2.DecideRunbookStepResponse(run=run_to_proto(run))

    async def CancelRunbookRun(self, request, _ctx):
        return ai_pb2.CancelRunbookRunResponse(run=run_to_proto(await self.runbooks.cancel(context.current(),
                                                                                            request.id)))

    # -- copilot

    async def CopilotQuery(self, request, _ctx):
        answer = await self.copilot.ask(context.current(), request.query, request.persona)
        return answer_to_proto(answer)

    async def CopilotQueryStream(self, request, _ctx):
        async for event in self.copilot.stream(context.current(), request.query, request.persona):
            if isinstance(event, Answer):
                yield ai_pb2.CopilotQueryStreamResponse(answer=answer_to_proto(event))
            else:
                yield ai_pb2.CopilotQueryStreamResponse(tool_call=tool_call_to_proto(event))
