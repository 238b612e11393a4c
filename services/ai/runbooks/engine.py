"""The run executor. It drives a run step by step, persisting every move before and after each step acts:

1. a manual or approval step: the run becomes BLOCKED; a person's decision (runs.decide) moves it on;
2. an acting step (http, vigil): claimed (pending -> running, with this executor's id and a lease) in one
   transaction, then performed, then recorded (completed with its output, or failed -> FLAGGED) in another.

A step is claimed by exactly one executor (the claim is a versioned write), so concurrent drivers (a decision
and the sweep, two replicas) never perform it twice. If the process stops while a step runs, the step stays
`running` past its lease; the next executor that looks at the run (at start, or the periodic sweep) marks it
`interrupted` and flags the run: it may or may not have acted, so it runs again only when a person retries it.
Runs waiting for nothing (IN_PROGRESS with a pending step) are picked up again after a restart."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

from services.ai.events import AiEvents
from services.ai.runbooks import runs as machine
from services.ai.runbooks.actions import HttpCaller, StepFailed, VigilActions
from services.ai.runbooks.library import render_step
from services.ai.runbooks.model import ACTING_KINDS, IN_PROGRESS, Run
from services.ai.runbooks.store import RunbookStore
from vigil.runtime.clock import as_utc, new_id, now
from vigil.runtime.errors import Conflict

log = logging.getLogger("vigil.ai.runbooks")
LEASE_GRACE = timedelta(seconds=15)
VIGIL_ACTION_TIMEOUT = 10.0


def scope(run: Run) -> dict[str, Any]:
    incident = run.incident
    return {"params": run.parameters, "run": {"id": run.id}, "steps": run.outputs(),
            "incident": {"id": incident.id, "reference": incident.reference, "title": incident.title,
                         "severity": incident.severity, "status": incident.status,
                         "ci_ids": list(incident.ci_ids)} if incident else {}}


def lease_for(kind: str, config: dict[str, Any]) -> timedelta:
    seconds = float(config.get("timeout_seconds", 10)) if kind == "http" else VIGIL_ACTION_TIMEOUT
    return timedelta(seconds=seconds) + LEASE_GRACE


class Engine:
    def __init__(self, store: RunbookStore, events: AiEvents, http: HttpCaller, actions: VigilActions) -> None:
        self.store = store
        self.events = events
        self.http = http
        self.actions = actions
        self.executor = new_id()  # this process
        self._drivers: dict[str, asyncio.Task] = {}
        self._again: set[str] = set()

    def rows(self, run: Run, moves: list[tuple[str, int]], actor: str = "") -> list[dict]:
        return [self.events.run(kind, run, index, actor) for kind, index in moves]

    def moved(self, move: tuple[Run, list[tuple[str, int]]], actor: str = "") -> tuple[Run, list[dict]]:
        """A decided move and the outbox rows of its events."""
        run, events = move
        return run, self.rows(run, events, actor)

    def kick(self, tenant_id: str, run_id: str) -> None:
        """Drive the run (again) in the background; one driver per run in this process."""
        self._again.add(run_id)
        task = self._drivers.get(run_id)
        if task is None or task.done():
            self._drivers[run_id] = asyncio.create_task(self._drive(tenant_id, run_id), name=f"run-{run_id}")

    async def _drive(self, tenant_id: str, run_id: str) -> None:
        try:
            while run_id in self._again:
                self._again.discard(run_id)
                try:
                    await self.advance(tenant_id, run_id)
                except Exception:  # noqa: BLE001 - the sweep picks the run up again
                    log.exception("driving run %s", run_id)
        finally:
            if self._drivers.get(run_id) is asyncio.current_task():
                self._drivers.pop(run_id, None)

    async def advance(self, tenant_id: str, run_id: str) -> Run:
        """Move the run as far as it goes without a person."""
        while True:
            run, again = await self._once(tenant_id, run_id)
            if not again:
                return run

    async def _once(self, tenant_id: str, run_id: str) -> tuple[Run, bool]:
        """One move of the run; True when it may move further."""
        run = await self.store.get_run(tenant_id, run_id)
        step = run.current
        if run.status != IN_PROGRESS or step is None:
            return run, False
        index, version = run.current_step_index, run.version

        def unchanged(r: Run) -> bool:
            return r.version == version

        if step.kind not in ACTING_KINDS:
            if step.status == "pending":
                run = await self._move(tenant_id, run_id, lambda r: self.moved(machine.wait(r, now())) if unchanged(r) else None)
            return run, False
        if step.status == "running":
            if step.lease_until is not None and as_utc(step.lease_until) < now():
                run = await self._move(tenant_id, run_id, lambda r: self.moved(machine.interrupted(r, now())) if unchanged(r) else None)
            return run, False
        if step.status != "pending":
            return run, False
        rendered = render_step(step.config, scope(run))
        lease = lease_for(step.kind, rendered)
        claimed = await self._move(tenant_id, run_id, lambda r: (
            machine.claim(r, now(), rendered, self.executor, lease), []) if unchanged(r) else None)
        if claimed.version != version + 1 or claimed.current_step_index != index:
            return claimed, True  # someone else moved the run first: look again
        try:
            output = await self._perform(claimed, rendered)
            outcome, args = machine.succeed, (output,)
        except StepFailed as err:
            outcome, args = machine.fail, (str(err),)
        except Exception as exc:  # noqa: BLE001 - a failing step flags the run, never crashes the engine
            log.exception("step %s of run %s", claimed.current.step_id, run_id)
            outcome, args = machine.fail, (f"internal error: {type(exc).__name__}",)

        def record(r: Run):
            if r.version != claimed.version:  # cancelled meanwhile: the outcome is kept on the step only
                return None
            return self.moved(outcome(r, now(), *args))

        after = await self._move(tenant_id, run_id, record)
        if after.steps[index].status == "running":  # not recorded as the run's move: keep it on the step
            await self._record_late(tenant_id, run_id, index, outcome, args)
            return await self.store.get_run(tenant_id, run_id), False
        return after, True

    async def _move(self, tenant_id: str, run_id: str, decide) -> Run:
        try:
            return await self.store.move_run(tenant_id, run_id, decide)
        except Conflict:
            return await self.store.get_run(tenant_id, run_id)

    async def _record_late(self, tenant_id: str, run_id: str, index: int, outcome, args) -> None:
        """A step that finished after its run was cancelled: its outcome is kept on the step."""

        def keep(r: Run):
            step = r.steps[index]
            if step.status != "running":
                return None
            done = replace(step, status="completed" if outcome is machine.succeed else "failed", completed_at=now(),
                           output=args[0] if outcome is machine.succeed else {},
                           error="" if outcome is machine.succeed else str(args[0]))
            steps = list(r.steps)
            steps[index] = done
            return replace(r, steps=tuple(steps), version=r.version + 1, updated_at=now()), []

        await self._move(tenant_id, run_id, keep)

    async def _perform(self, run: Run, rendered: dict[str, Any]) -> dict[str, Any]:
        step = run.current
        if step.kind == "http":
            return await self.http.call(rendered, f"{run.id}:{step.step_id}:{step.attempts}")
        try:
            return await asyncio.wait_for(self.actions.perform(run, rendered), VIGIL_ACTION_TIMEOUT)
        except TimeoutError:
            raise StepFailed(f"{rendered.get('action')}: no answer within {VIGIL_ACTION_TIMEOUT:g}s") from None

    # -- after a restart, and periodically

    async def sweep(self) -> None:
        """Drive every run that is IN_PROGRESS and has no driver here (after a restart: all of them)."""
        for run in await self.store.runs_in_progress():
            task = self._drivers.get(run.id)
            if task is None or task.done():
                self.kick(run.tenant_id, run.id)

    async def work(self, every_seconds: float = 5.0) -> None:
        while True:
            try:
                await self.sweep()
            except Exception as exc:  # noqa: BLE001 - the database may be away: try again
                log.warning("runbook sweep: %s", exc)
            await asyncio.sleep(every_seconds)

    async def close(self) -> None:
        for task in list(self._drivers.values()):
            task.cancel()
        await asyncio.gather(*self._drivers.values(), return_exceptions=True)
        await self.http.close()
