"""Runbooks: the library (create, read, list, edit with versions, publish, archive, delete), generation, and
runs (execute or dry-run, decide, cancel). Roles: any role reads; a responder writes drafts, runs published
runbooks and decides steps; publishing, archiving and deleting need an admin (a published runbook is what
responders may run)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from services.ai.clients import Clients
from services.ai.events import AiEvents
from services.ai.llm import Llm, LlmError
from services.ai.rca.store import RcaStore
from services.ai.runbooks import generation, library, preflight
from services.ai.runbooks import runs as machine
from services.ai.runbooks.engine import Engine, scope
from services.ai.runbooks.model import (
    ACTING_KINDS,
    DRY_RUN,
    IN_PROGRESS,
    Content,
    IncidentRef,
    Run,
    Runbook,
    RunStep,
    Step,
)
from services.ai.runbooks.store import RunbookStore
from services.ai.store import SettingsStore
from vigil.incident.v1 import incident_pb2
from vigil.runtime.clock import new_id, now
from vigil.runtime.context import CallContext
from vigil.runtime.errors import Conflict, FieldError, Forbidden, InvalidTransition, ValidationFailed
from vigil.runtime.grpcio import call

ROLE_RANK = machine.ROLE_RANK
CONTENT_FIELDS = ("name", "description", "tags", "parameters", "steps")


def require(ctx: CallContext, role: str, action: str) -> None:
    if ROLE_RANK.get(ctx.role, -1) < ROLE_RANK[role]:
        raise Forbidden(f"{action} needs the {role} role; you are {ctx.role or 'nobody'}")


def _page(limit: int, offset: int) -> None:
    if not 1 <= limit <= 200 or offset < 0:
        raise ValidationFailed("invalid page", [FieldError("limit", "must be between 1 and 200")])


def targets_of(incident: IncidentRef | None, params: dict[str, Any]) -> tuple[str, ...]:
    extra = params.get("ci_ids", [])
    extra = [x.strip() for x in extra.split(",")] if isinstance(extra, str) else list(extra or [])
    return tuple(dict.fromkeys([*(incident.ci_ids if incident else ()), *[str(x) for x in extra if x]]))


class RunbookService:
    def __init__(self, store: RunbookStore, engine: Engine, events: AiEvents, clients: Clients,
                 settings: SettingsStore, rca: RcaStore, llm: Llm | None) -> None:
        self.store = store
        self.engine = engine
        self.events = events
        self.clients = clients
        self.settings = settings
        self.rca = rca
        self.llm = llm

    # -- library

    async def create(self, ctx: CallContext, content: Content, status: str = "draft", **meta: str) -> Runbook:
        require(ctx, "admin" if status == "published" else "responder", f"creating a {status} runbook")
        library.move("draft", status)
        at = now()
        rb = Runbook(id=new_id(), tenant_id=ctx.tenant_id, content=library.validate(content), status=status,
                     version=1, created_by=ctx.actor, updated_by=ctx.actor, created_at=at, updated_at=at, **meta)
        return await self.store.create(rb)

    async def get(self, ctx: CallContext, runbook_id: str, version: int = 0) -> Runbook:
        return await self.store.get(ctx.tenant_id, runbook_id, version)

    async def list(self, ctx: CallContext, statuses: tuple[str, ...], q: str, tag: str, limit: int,
                   offset: int) -> tuple[list[Runbook], int]:
        _page(limit, offset)
        for s in statuses:
            library.move(s, s)  # validates the name
        return await self.store.list(ctx.tenant_id, statuses, q[:200], tag[:50], limit, offset)

    async def update(self, ctx: CallContext, runbook_id: str, mask: tuple[str, ...], content: Content,
                     status: str, expected_version: int) -> Runbook:
        require(ctx, "responder", "editing a runbook")
        unknown = [m for m in mask if m not in (*CONTENT_FIELDS, "status")]
        if unknown or not mask:
            raise ValidationFailed("nothing to update", [FieldError(m, "not a runbook field") for m in unknown]
                                   or [FieldError("body", "name at least one field to change")])

        def decide(current: Runbook) -> Runbook:
            if expected_version and expected_version != current.version:
                raise Conflict(f"runbook {runbook_id} is at version {current.version}, not {expected_version}")
            new_content = current.content
            edits = {m: getattr(content, m) for m in mask if m in CONTENT_FIELDS}
            if edits:
                if current.status == "archived" and "status" not in mask:
                    raise InvalidTransition("an archived runbook is not edited; move it back to draft first")
                new_content = library.validate(replace(current.content, **edits))
            target = status if "status" in mask else current.status
            if target != current.status:
                library.move(current.status, target)
                if target in ("published", "archived") or current.status == "published":
                    require(ctx, "admin", f"moving a runbook to {target}")
            elif edits and current.status == "published":
                require(ctx, "admin", "editing a published runbook")
            return replace(current, content=new_content, status=target, version=current.version + 1,
                           updated_by=ctx.actor, updated_at=now())

        return await self.store.update(ctx.tenant_id, runbook_id, decide)

    async def delete(self, ctx: CallContext, runbook_id: str) -> None:
        require(ctx, "admin", "deleting a runbook")
        await self.store.delete(ctx.tenant_id, runbook_id)

    # -- generation

    async def generate(self, ctx: CallContext, incident_id: str = "", description: str = "",
                       rca_summary: str = "") -> Runbook:
        require(ctx, "responder", "generating a runbook")
        if not incident_id and not (description or rca_summary):
            raise ValidationFailed("nothing to generate from", [FieldError(
                "incident_id", "give an incident_id, or a description and an rca_summary")])
        for name, value in (("description", description), ("rca_summary", rca_summary)):
            if len(value) > 5000:
                raise ValidationFailed("too long", [FieldError(name, "at most 5000 characters")])
        result = None
        incident = None
        if incident_id:
            incident = await self._incident(incident_id)
            analyses, _ = await self.rca.list_for_incident(ctx.tenant_id, incident.id, 1, 0)
            result = analyses[0] if analyses and analyses[0].status == "completed" else None
        hypothesis, draft = generation.from_analysis(result, description or (incident.title if incident else ""),
                                                     rca_summary)
        generator, llm_error = "template", ""
        tenant = await self.settings.get(ctx.tenant_id)
        if self.llm is not None and tenant.llm_enabled:
            try:
                draft = await generation.propose(self.llm, {
                    "incident": {"reference": incident.reference, "title": incident.title} if incident else None,
                    "description": description, "rca_summary": rca_summary,
                    "analysis": {"summary": result.summary, "causes": [
                        {"ci": c.ci_name, "hypothesis": c.hypothesis, "explanation": c.explanation}
                        for c in result.causes]} if result else None,
                    "template": {"name": draft.name, "steps": [s.name for s in draft.steps]}})
                generator = "llm"
            except LlmError as err:
                llm_error = str(err)
        return await self.create(ctx, draft, "draft", source="generated", generator=generator,
                                 incident_id=incident.id if incident else "", rca_id=result.id if result else "",
                                 hypothesis=hypothesis, llm_error=llm_error)

    # -- runs

    async def _incident(self, key: str) -> IncidentRef:
        i = (await call(self.clients.incident.GetIncident(incident_pb2.GetIncidentRequest(id=key)))).incident
        return IncidentRef(i.id, i.reference, i.title, i.severity, i.status, tuple(i.ci_ids))

    async def execute(self, ctx: CallContext, runbook_id: str, incident_id: str, dry_run: bool,
                      parameters: dict[str, Any]) -> Run:
        require(ctx, "responder", "running a runbook")
        rb = await self.store.get(ctx.tenant_id, runbook_id)
        if rb.status != "published" and not dry_run:
            raise InvalidTransition(f"runbook {rb.content.name} is {rb.status}; only a published runbook runs (a "
                                    "dry run shows the plan of any)")
        params = library.bind_parameters(rb.content.parameters, parameters)
        incident = await self._incident(incident_id) if incident_id else None
        needs_incident = [s.id for s in rb.content.steps if s.kind == "vigil"
                          and str(s.config.get("action", "")).startswith("incident.")]
        if needs_incident and incident is None:
            raise ValidationFailed("this runbook acts on an incident", [FieldError(
                "incident_id", f"required: steps {', '.join(needs_incident)} act on the incident")])
        at = now()
        acting = any(s.kind in ACTING_KINDS for s in rb.content.steps)
        targets = targets_of(incident, params)
        tenant = await self.settings.get(ctx.tenant_id)
        check = (await preflight.check(self.clients, targets, at, tenant.runbook_blast_radius_approval) if acting
                 else preflight.decide(targets, [], [], 0, "", tenant.runbook_blast_radius_approval, []))
        steps = list(rb.content.steps)
        if check.decision == "approval_required" and not _approval_before_acting(steps):
            steps.insert(0, Step("preflight-approval", "Approve despite the pre-flight findings", "approval",
                                 "; ".join(check.reasons), {"role": "responder"}))
        run = Run(id=new_id(), tenant_id=ctx.tenant_id, runbook_id=rb.id, runbook_name=rb.content.name,
                  runbook_version=rb.version, incident=incident, status=IN_PROGRESS, dry_run=dry_run,
                  parameters=params, started_by=ctx.actor, started_by_role=ctx.role, current_step_index=0,
                  steps=tuple(RunStep(i, s.id, s.name, s.kind, config=s.config) for i, s in enumerate(steps)),
                  preflight=check, created_at=at, updated_at=at)
        if dry_run:
            plan_scope = scope(run)
            return replace(run, status=DRY_RUN, steps=tuple(replace(
                s, status="planned", rendered=library.render_step(s.config, plan_scope, missing="<{} at run time>"))
                for s in run.steps))
        if check.decision == "refused":
            raise Conflict("the run is refused: " + "; ".join(check.reasons),
                           [FieldError("ci_ids", r) for r in check.reasons if r.startswith("blackout")])
        await self.store.insert_run(run, self.engine.rows(run, [("runbook_run.started", -1)], ctx.actor))
        self.engine.kick(ctx.tenant_id, run.id)
        return run

    async def get_run(self, ctx: CallContext, run_id: str) -> Run:
        return await self.store.get_run(ctx.tenant_id, run_id)

    async def list_runs(self, ctx: CallContext, incident_id: str, runbook_id: str, statuses: tuple[str, ...],
                        limit: int, offset: int) -> tuple[list[Run], int]:
        _page(limit, offset)
        if incident_id:
            incident_id = (await self._incident(incident_id)).id
        return await self.store.list_runs(ctx.tenant_id, incident_id, runbook_id, statuses, limit, offset)

    async def decide(self, ctx: CallContext, run_id: str, decision: str, comment: str = "",
                     step_id: str = "") -> Run:
        run = await self.store.move_run(ctx.tenant_id, run_id, lambda r: self.engine.moved(
            machine.decide(r, now(), decision, ctx.actor, ctx.role, comment, step_id), ctx.actor))
        if run.status == IN_PROGRESS:
            self.engine.kick(ctx.tenant_id, run.id)
        return run

    async def cancel(self, ctx: CallContext, run_id: str) -> Run:
        require(ctx, "responder", "cancelling a run")
        return await self.store.move_run(ctx.tenant_id, run_id,
                                         lambda r: self.engine.moved(machine.cancel(r, now()), ctx.actor))


def _approval_before_acting(steps: list[Step]) -> bool:
    for s in steps:
        if s.kind == "approval":
            return True
        if s.kind in ACTING_KINDS:
            return False
    return True
