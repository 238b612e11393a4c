"""Runbooks: the library (list, create, read any version, edit, publish, archive, delete) and runs (execute or
dry-run, read, list, approve, reject, confirm, retry, cancel). The rules, the pre-flight checks and the executor
are the ai service's (docs/ai.md)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from google.protobuf import json_format

from gateway.clients import call
from gateway.routing import Routes
from gateway.schemas.base import ById
from gateway.schemas.common import Page, page
from gateway.schemas.convert import to_proto
from gateway.schemas.itsm import Deleted
from gateway.schemas.runbooks import (
    DecideBody,
    ExecuteBody,
    IncidentRunQuery,
    NewRunbook,
    Runbook,
    RunbookPatch,
    RunbookQuery,
    RunbookRun,
    RunQuery,
    VersionQuery,
)
from gateway.state import upstreams
from gateway.versioning import sent_fields
from vigil.ai.v1 import ai_pb2 as pb
from vigil.runtime.errors import Conflict, InvalidTransition

routes = Routes("tenant", tags=("runbooks",), scopes="runbooks")
CONTENT = ("name", "description", "tags", "parameters", "steps")


def content(body: NewRunbook | RunbookPatch, fields: tuple[str, ...] = CONTENT) -> pb.RunbookContent:
    data = body.model_dump(include=set(fields), exclude_none=True)
    return json_format.ParseDict(data, pb.RunbookContent())


@routes.get("/api/runbooks", summary="List runbooks", tool="list_runbooks", query=RunbookQuery, response=Page[Runbook])
async def list_runbooks(request: web.Request, query: RunbookQuery) -> dict[str, Any]:
    resp = await call(upstreams(request).ai.ListRunbooks(to_proto(pb.ListRunbooksRequest, query)))
    return page(resp.items, resp.page.total, query)


@routes.post("/api/runbooks", summary="Create a runbook", body=NewRunbook, response=Runbook, status=201)
async def create_runbook(request: web.Request, body: NewRunbook) -> pb.Runbook:
    """A draft (any responder) or published (an admin)."""
    return (await call(upstreams(request).ai.CreateRunbook(pb.CreateRunbookRequest(
        content=content(body), status=body.status)))).runbook


@routes.get("/api/runbooks/{id}", summary="A runbook (any version)", tool="get_runbook", path=ById, query=VersionQuery,
            response=Runbook)
async def get_runbook(request: web.Request, path: ById, query: VersionQuery) -> pb.Runbook:
    return (await call(upstreams(request).ai.GetRunbook(pb.GetRunbookRequest(id=path.id,
                                                                             version=query.version)))).runbook


@routes.patch("/api/runbooks/{id}", summary="Edit, publish or archive a runbook", path=ById, body=RunbookPatch,
              response=Runbook, if_match=True, errors=(InvalidTransition,))
async def update_runbook(request: web.Request, path: ById, body: RunbookPatch, expected_version: int) -> pb.Runbook:
    """Every change makes a new version (runs pin the version they ran). Publishing, archiving and editing a
    published runbook need an admin."""
    sent = sorted(sent_fields(body))
    return (await call(upstreams(request).ai.UpdateRunbook(pb.UpdateRunbookRequest(
        id=path.id, update_mask=sent, content=content(body, tuple(f for f in sent if f in CONTENT)),
        status=body.status or "", expected_version=expected_version)))).runbook


@routes.delete("/api/runbooks/{id}", summary="Delete a runbook", role="admin", path=ById, response=Deleted,
               errors=(Conflict,))
async def delete_runbook(request: web.Request, path: ById) -> dict[str, Any]:
    """Refused (409) while one of its runs is unfinished; finished runs keep their copy of the steps."""
    await call(upstreams(request).ai.DeleteRunbook(pb.DeleteRunbookRequest(id=path.id)))
    return {"id": path.id, "deleted": True}


@routes.post("/api/runbooks/{id}/execute", summary="Run a published runbook, or dry-run any", tool="execute_runbook",
               path=ById,
             body=ExecuteBody, response=RunbookRun, errors=(Conflict, InvalidTransition))
async def execute_runbook(request: web.Request, path: ById, body: ExecuteBody) -> pb.RunbookRun:
    """Pre-flight checks first (ITSM blackouts and active changes on the run's CIs, the CMDB blast radius): a
    blackout refuses the run (409), the others add an approval before anything acts. A dry run answers the plan
    (`DRY_RUN`, every step rendered) and performs nothing. A run then proceeds in the background: poll
    GET /api/runbook-runs/{id} or follow the runbook_run.* events."""
    return (await call(upstreams(request).ai.ExecuteRunbook(to_proto(pb.ExecuteRunbookRequest, body,
                                                                      runbook_id=path.id)))).run


@routes.get("/api/runbook-runs", summary="List runbook runs", query=RunQuery, response=Page[RunbookRun])
async def list_runs(request: web.Request, query: RunQuery) -> dict[str, Any]:
    resp = await call(upstreams(request).ai.ListRunbookRuns(to_proto(pb.ListRunbookRunsRequest, query)))
    return page(resp.items, resp.page.total, query)


@routes.get("/api/incidents/{id}/runbook-runs", summary="An incident's runbook runs", tags=("runbooks", "incidents"),
            path=ById, query=IncidentRunQuery, response=Page[RunbookRun])
async def incident_runs(request: web.Request, path: ById, query: IncidentRunQuery) -> dict[str, Any]:
    resp = await call(upstreams(request).ai.ListRunbookRuns(to_proto(pb.ListRunbookRunsRequest, query,
                                                                      incident_id=path.id)))
    return page(resp.items, resp.page.total, query)


@routes.get("/api/runbook-runs/{id}", summary="A run, step by step", tool="get_runbook_run", path=ById, response=RunbookRun)
async def get_run(request: web.Request, path: ById) -> pb.RunbookRun:
    return (await call(upstreams(request).ai.GetRunbookRun(pb.GetRunbookRunRequest(id=path.id)))).run


async def _decide(request: web.Request, run_id: str, decision: str, body: DecideBody) -> pb.RunbookRun:
    return (await call(upstreams(request).ai.DecideRunbookStep(pb.DecideRunbookStepRequest(
        run_id=run_id, decision=decision, comment=body.comment, step_id=body.step_id)))).run


@routes.post("/api/runbook-runs/{id}/approve", summary="Approve the waiting approval step", path=ById,
             body=DecideBody, response=RunbookRun, errors=(InvalidTransition,))
async def approve_step(request: web.Request, path: ById, body: DecideBody) -> pb.RunbookRun:
    """By someone with the step's role who did not start the run; the run goes on at once."""
    return await _decide(request, path.id, "approve", body)


@routes.post("/api/runbook-runs/{id}/reject", summary="Reject the waiting step (the run ends REJECTED)", path=ById,
             body=DecideBody, response=RunbookRun, errors=(InvalidTransition,))
async def reject_step(request: web.Request, path: ById, body: DecideBody) -> pb.RunbookRun:
    return await _decide(request, path.id, "reject", body)


@routes.post("/api/runbook-runs/{id}/confirm", summary="Confirm the waiting manual step", path=ById,
             body=DecideBody, response=RunbookRun, errors=(InvalidTransition,))
async def confirm_step(request: web.Request, path: ById, body: DecideBody) -> pb.RunbookRun:
    return await _decide(request, path.id, "confirm", body)


@routes.post("/api/runbook-runs/{id}/retry", summary="Run a failed or interrupted step again", path=ById,
             body=DecideBody, response=RunbookRun, errors=(InvalidTransition,))
async def retry_step(request: web.Request, path: ById, body: DecideBody) -> pb.RunbookRun:
    """Only a FLAGGED run: an interrupted step may or may not have acted, so only a person sends it again."""
    return await _decide(request, path.id, "retry", body)


@routes.post("/api/runbook-runs/{id}/cancel", summary="Cancel a run", path=ById, response=RunbookRun,
             errors=(InvalidTransition,))
async def cancel_run(request: web.Request, path: ById) -> pb.RunbookRun:
    return (await call(upstreams(request).ai.CancelRunbookRun(pb.CancelRunbookRunRequest(id=path.id)))).run

