"""The run state machine (pure): every move of a run and its steps, and the events each move publishes. The
engine and the decision API apply these inside one versioned transaction each, so a step is claimed (pending ->
running) by exactly one executor and a decision applies to exactly one waiting step.

Run: IN_PROGRESS -> BLOCKED (a manual or approval step waits for a person) -> IN_PROGRESS (confirmed, approved)
-> ... -> COMPLETED; any step failing or found interrupted -> FLAGGED (retry puts it back to IN_PROGRESS); a
rejection -> REJECTED; cancel -> CANCELLED. COMPLETED, REJECTED and CANCELLED are final.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from services.ai.runbooks.model import (
    BLOCKED,
    CANCELLED,
    COMPLETED,
    FLAGGED,
    IN_PROGRESS,
    REJECTED,
    TERMINAL,
    Run,
    RunStep,
)
from vigil.runtime.errors import FieldError, Forbidden, InvalidTransition, ValidationFailed

ROLE_RANK = {"viewer": 0, "responder": 1, "admin": 2}
DECISIONS = ("approve", "reject", "confirm", "retry")
# (event type, step index) pairs a move publishes.
Events = list[tuple[str, int]]


def _step(run: Run, index: int, **changes: Any) -> Run:
    steps = list(run.steps)
    steps[index] = replace(steps[index], **changes)
    return replace(run, steps=tuple(steps))


def _touch(run: Run, at: datetime, **changes: Any) -> Run:
    return replace(run, updated_at=at, version=run.version + 1, **changes)


def wait(run: Run, at: datetime) -> tuple[Run, Events]:
    """The current step needs a person: the run is BLOCKED."""
    i = run.current_step_index
    run = _step(run, i, status="waiting", started_at=at)
    return _touch(run, at, status=BLOCKED), [("runbook_run.awaiting_approval", i)]


def claim(run: Run, at: datetime, rendered: dict[str, Any], executor: str, lease: timedelta) -> Run:
    """This executor takes the current acting step (pending -> running) until `at + lease`."""
    i = run.current_step_index
    step = run.steps[i]
    return _touch(_step(run, i, status="running", started_at=at, attempts=step.attempts + 1, rendered=rendered,
                        error="", executor=executor, lease_until=at + lease), at)


def succeed(run: Run, at: datetime, output: dict[str, Any], **decision: str) -> tuple[Run, Events]:
    i = run.current_step_index
    run = _step(run, i, status="completed", output=output, completed_at=at, **decision)
    events: Events = [("runbook_run.step_completed", i)]
    if i + 1 >= len(run.steps):
        events.append(("runbook_run.completed", -1))
        return _touch(run, at, status=COMPLETED, current_step_index=i + 1, completed_at=at), events
    return _touch(run, at, status=IN_PROGRESS, current_step_index=i + 1), events


def fail(run: Run, at: datetime, error: str, status: str = "failed") -> tuple[Run, Events]:
    i = run.current_step_index
    run = _step(run, i, status=status, error=error[:2000], completed_at=at)
    return _touch(run, at, status=FLAGGED), [("runbook_run.flagged", i)]


def interrupted(run: Run, at: datetime) -> tuple[Run, Events]:
    """The process stopped while the current step ran: it may or may not have acted, so it is never run again
    without a person's decision (retry)."""
    return fail(run, at, "the ai service stopped while this step ran; it may or may not have acted: check, then "
                         "retry or cancel the run", status="interrupted")


def decide(run: Run, at: datetime, decision: str, actor: str, role: str, comment: str = "",
           step_id: str = "") -> tuple[Run, Events]:
    if decision not in DECISIONS:
        raise ValidationFailed("invalid decision", [FieldError("decision", f"one of {', '.join(DECISIONS)}")])
    if ROLE_RANK.get(role, -1) < ROLE_RANK["responder"]:
        raise Forbidden("deciding a runbook step needs the responder role")
    step: RunStep | None = run.current
    if run.status in TERMINAL or step is None:
        raise InvalidTransition(f"the run is {run.status}: nothing to decide")
    if step_id and step.step_id != step_id:
        raise InvalidTransition(f"step {step_id} is not the run's current step ({step.step_id})",
                                [FieldError("step_id", "not the current step")])
    i = run.current_step_index
    if decision == "retry":
        if run.status != FLAGGED:
            raise InvalidTransition(f"only a FLAGGED run is retried; this one is {run.status}")
        return _touch(_step(run, i, status="pending", error=""), at, status=IN_PROGRESS), [("runbook_run.retried", i)]
    if run.status != BLOCKED or step.status != "waiting":
        raise InvalidTransition(f"the run is {run.status}, not waiting for a person")
    if decision in ("approve", "confirm") and (step.kind == "approval") != (decision == "approve"):
        raise InvalidTransition(f"a {step.kind} step is {'approved' if step.kind == 'approval' else 'confirmed'}, "
                                f"not {decision}d", [FieldError("decision", "wrong decision for this step")])
    if step.kind == "approval":
        needed = step.config.get("role", "responder")
        if ROLE_RANK.get(role, -1) < ROLE_RANK[needed]:
            raise Forbidden(f"this approval needs the {needed} role; you are {role}")
        if actor == run.started_by:
            raise Forbidden("the person who started the run cannot approve or reject its steps")
    record = {"decided_by": actor, "decision_comment": comment[:2000]}
    if decision == "reject":
        run = _step(run, i, status="rejected", completed_at=at, **record)
        return _touch(run, at, status=REJECTED, completed_at=at), [("runbook_run.rejected", i)]
    verdict = "approved" if decision == "approve" else "confirmed"
    return succeed(run, at, {"decision": verdict, "by": actor, "comment": comment[:2000]}, **record)


def cancel(run: Run, at: datetime) -> tuple[Run, Events]:
    """Steps not yet run are skipped; a step running now finishes, but nothing after it starts."""
    if run.status in TERMINAL:
        raise InvalidTransition(f"the run is already {run.status}")
    steps = tuple(replace(s, status="skipped") if s.status in ("pending", "waiting") else s for s in run.steps)
    run = replace(run, steps=steps)
    return _touch(run, at, status=CANCELLED, completed_at=at), [("runbook_run.cancelled", -1)]
