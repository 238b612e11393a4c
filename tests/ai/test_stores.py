"""The ai service's stores on real SQLite and real PostgreSQL, under concurrency: a run's moves are versioned (many
approvals at once: one wins, the step completes once), a runbook's edits are versioned (a stale If-Match is a
conflict, concurrent edits all land as versions), one verdict per person however many arrive at once, settings
created and updated concurrently stay consistent, pending analyses are claimed by one worker each, and nothing
crosses tenants."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from services.ai.rca.model import RcaResult
from services.ai.rca.store import RcaStore
from services.ai.runbooks import runs as machine
from services.ai.runbooks.model import BLOCKED, COMPLETED, Content, Preflight, Run, Runbook, RunStep, Step
from services.ai.runbooks.store import RunbookStore
from services.ai.server import MIGRATIONS
from services.ai.store import SettingsStore, outbox_table
from services.ai.tenant_settings import apply
from vigil.runtime.clock import new_id, now
from vigil.runtime.db import Database
from vigil.runtime.errors import Conflict, InvalidTransition, NotFound
from vigil.runtime.outbox import Outbox

AT = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def db(database_url):
    database = Database(database_url, "ai")
    await database.migrate(MIGRATIONS)
    yield database
    await database.dispose()


@pytest.fixture
def outbox() -> Outbox:
    return Outbox(outbox_table, source="vigil/ai")


def a_run(tenant: str = "t1") -> Run:
    steps = (RunStep(0, "ok", "approve", "approval", status="waiting"), RunStep(1, "done", "note", "manual"))
    return Run(id=new_id(), tenant_id=tenant, runbook_id="rb", runbook_name="rb", runbook_version=1, incident=None,
               status=BLOCKED, dry_run=False, parameters={"x": 1}, started_by="alice", started_by_role="responder",
               current_step_index=0, steps=steps, preflight=Preflight(), created_at=AT, updated_at=AT)


async def test_concurrent_approvals_move_a_run_once(db, outbox):
    store = RunbookStore(db, outbox)
    run = await store.insert_run(a_run(), [])
    approvers = [f"approver-{i}" for i in range(8)]

    async def approve(who: str):
        return await store.move_run("t1", run.id, lambda r: (machine.decide(r, now(), "approve", who, "responder")[0],
                                                             []))

    outcomes = await asyncio.gather(*(approve(w) for w in approvers), return_exceptions=True)
    winners = [o for o in outcomes if isinstance(o, Run)]
    assert len(winners) == 1
    assert all(isinstance(o, InvalidTransition | Conflict) for o in outcomes if not isinstance(o, Run))
    stored = await store.get_run("t1", run.id)
    assert stored.current_step_index == 1 and stored.steps[0].status == "completed"
    assert stored.version == run.version + 1 and stored.steps[0].decided_by == winners[0].steps[0].decided_by
    with pytest.raises(NotFound):
        await store.get_run("t2", run.id)
    done = await store.move_run("t1", run.id, lambda r: (machine.succeed(replace(
        r, status="IN_PROGRESS"), now(), {})[0], []))
    assert done.status == COMPLETED


async def test_runbook_versions_under_concurrent_edits(db, outbox):
    store = RunbookStore(db, outbox)
    rb = await store.create(Runbook(id=new_id(), tenant_id="t1", content=Content("r", steps=(Step("a", "a", "manual"),)),
                                    status="draft", version=1, created_by="a", updated_by="a", created_at=AT,
                                    updated_at=AT))

    def edit(i: int):
        def decide(current: Runbook) -> Runbook:
            return replace(current, content=replace(current.content, description=f"edit {i}"),
                           version=current.version + 1, updated_at=now())
        return decide

    outcomes = await asyncio.gather(*(store.update("t1", rb.id, edit(i)) for i in range(6)), return_exceptions=True)
    landed = [o for o in outcomes if isinstance(o, Runbook)]
    assert landed and all(isinstance(o, Conflict) for o in outcomes if not isinstance(o, Runbook))
    current = await store.get("t1", rb.id)
    assert current.version == 1 + len(landed)
    assert {(await store.get("t1", rb.id, v)).version for v in range(1, current.version + 1)} == set(
        range(1, current.version + 1))
    items, total = await store.list("t1", ("draft",), "edit", "", 10, 0)
    assert total == 1 and items[0].id == rb.id
    assert (await store.list("t2", (), "", "", 10, 0))[1] == 0


async def test_one_verdict_per_person_and_claims_are_exclusive(db, outbox):
    store = RcaStore(db, outbox)
    result = RcaResult(
        id=new_id(), tenant_id="t1", incident_id="i1", incident_reference="INC-00000001", status="completed",
        mode="deterministic", outcome="nothing_anomalous", summary="", causes=(), evidence=(), narrative=(),
        narrative_status="none", window=None, baseline=None, symptom_onset=None, candidates_considered=0, gaps=(),
        trigger="manual", requested_by="a", created_at=AT, completed_at=AT)
    await store.save(result)
    await asyncio.gather(*(store.record_feedback("t1", result.id, "bob", "correct" if i % 2 else "incorrect", "",
                                                 "", "") for i in range(10)))
    await asyncio.gather(*(store.record_feedback("t1", result.id, f"p{i}", "correct", "", "", "") for i in range(4)))
    stored = await store.get("t1", result.id)
    assert stored.feedback_correct + stored.feedback_incorrect == 5  # bob once, four others
    with pytest.raises(NotFound):
        await store.record_feedback("t2", result.id, "eve", "correct", "", "", "")

    async with db.write() as conn:
        for i in range(6):
            await store.add_pending(conn, "t1", f"inc-{i}", f"INC-{i:08d}", "vigil-ai")
    claims = await asyncio.gather(store.claim_pending(4), store.claim_pending(4), store.claim_pending(4))
    claimed = [r.id for batch in claims for r in batch]
    assert len(claimed) == 6 and len(set(claimed)) == 6
    assert await store.claim_pending(4) == []  # held under their lease


async def test_settings_created_and_updated_concurrently(db):
    store = SettingsStore(db)

    def change(severity: str):
        return lambda current: apply(current, {"auto_rca_severities": [severity]}, 0, "admin@t", "admin", now())

    outcomes = await asyncio.gather(*(store.put("t1", change(s)) for s in ("P1", "P2", "P3", "P4")),
                                    return_exceptions=True)
    assert all(isinstance(o, Conflict) for o in outcomes if isinstance(o, BaseException))
    landed = [o for o in outcomes if not isinstance(o, BaseException)]
    final = await store.get("t1")
    assert final.version == len(landed) and final.auto_rca_severities in {o.auto_rca_severities for o in landed}
    assert (await store.get("t2")).version == 0
