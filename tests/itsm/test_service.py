"""The ITSM domain service over its real store (SQLite and PostgreSQL), with a fake of the one CMDB call
conflict detection makes (tests/itsm/conftest.py): conflicts on the same and on linked CIs, blackouts, an
unavailable CMDB, unknown CIs, tenancy, references, list filters and the events staged in the outbox."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from services.itsm.server import MIGRATIONS
from services.itsm.service import ChangeQuery, NewChange, Page, RequestQuery
from services.itsm.store import outbox_table
from tests.support.paging import walk
from tests.support.text_cases import TEXTS, assert_text_search
from vigil.runtime.context import CallContext
from vigil.runtime.db import Database
from vigil.runtime.errors import Conflict as ConflictError
from vigil.runtime.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from vigil.runtime.search import Filter

T0 = datetime(2026, 4, 1, 18, 0, tzinfo=UTC)
ALICE = CallContext(tenant_id="t1", actor="alice@x", role="responder")
CAROL = CallContext(tenant_id="t1", actor="carol@x", role="admin")
OTHER = CallContext(tenant_id="t2", actor="eve@y", role="admin")


def new_change(title="Deploy", ci_ids=("ci-db",), start=T0, hours=4.0, type="normal", risk="medium",
               requested_by="") -> NewChange:
    return NewChange(title=title, type=type, risk_level=risk, requested_start=start,
                     requested_end=start + timedelta(hours=hours), ci_ids=tuple(ci_ids), requested_by=requested_by)


async def events(db: Database) -> list[str]:
    async with db.read() as conn:
        return [r.event_type for r in (await conn.execute(sa.select(outbox_table).order_by(outbox_table.c.id)))]


async def test_create_references_and_events(svc, db):
    a = await svc.create_change(ALICE, new_change())
    b = await svc.create_change(ALICE, new_change(ci_ids=("ci-other",)))
    assert (a.reference, b.reference) == ("CHG-00000001", "CHG-00000002")
    assert a.requested_by == "alice@x" and a.status == "new" and a.conflict_check == "complete"
    assert (await svc.get_change(ALICE, "CHG-00000002")).id == b.id
    assert await events(db) == ["change.created", "change.created"]
    # another tenant counts from 1 and never sees tenant t1's changes
    c = await svc.create_change(OTHER, new_change())
    assert c.reference == "CHG-00000001" and not c.conflicts
    with pytest.raises(NotFound):
        await svc.get_change(OTHER, a.id)
    assert (await svc.list_changes(OTHER, ChangeQuery()))[1] == 1


async def test_same_ci_conflict_is_flagged_not_refused(svc, db):
    first = await svc.create_change(ALICE, new_change())
    second = await svc.create_change(ALICE, new_change(start=T0 + timedelta(hours=2)))
    assert [(c.kind, c.change_id) for c in second.conflicts] == [("same_ci", first.id)]
    assert (await events(db))[-3:] == ["change.created", "change.conflict_detected", "change.conflict_detected"]
    # the earlier change is flagged too, from its side
    first = await svc.get_change(ALICE, first.id)
    assert [(c.kind, c.change_id, c.ci_id) for c in first.conflicts] == [("same_ci", second.id, "ci-db")]
    assert first.version == 2
    # moving the later one out of the window clears the flag on both
    moved = await svc.update_change(ALICE, second.id, {"requested_start": T0 + timedelta(hours=4),
                                                       "requested_end": T0 + timedelta(hours=6)})
    assert moved.conflicts == () and moved.version == 2
    assert (await svc.get_change(ALICE, first.id)).conflicts == ()
    # back into the window, then cancelled: flagged again, then cleared again
    back = await svc.update_change(ALICE, second.id, {"requested_start": T0 + timedelta(hours=1)})
    assert len(back.conflicts) == 1 and len((await svc.get_change(ALICE, first.id)).conflicts) == 1
    await svc.update_change(ALICE, second.id, {"status": "cancelled"})
    assert (await svc.get_change(ALICE, first.id)).conflicts == ()
    # the cancelled change keeps its own record of the clash; only active changes are flagged for planning
    items, _, _ = await svc.list_changes(ALICE, ChangeQuery(conflicting_only=True))
    assert [c.id for c in items] == [second.id]
    assert (await svc.list_changes(ALICE, ChangeQuery(conflicting_only=True, status=("new",))))[1] == 0


async def test_dependent_ci_conflict_both_directions(svc, impact):
    impact.links = {"ci-db": ["ci-api"], "ci-api": ["ci-db"]}
    db_change = await svc.create_change(ALICE, new_change(ci_ids=("ci-db",)))
    api_change = await svc.create_change(ALICE, new_change(ci_ids=("ci-api",), start=T0 + timedelta(hours=1)))
    (conflict,) = api_change.conflicts
    assert (conflict.kind, conflict.ci_id, conflict.related_ci_id, conflict.change_id) == (
        "dependent_ci", "ci-api", "ci-db", db_change.id)
    assert conflict.path == ("ci-api", "ci-db")
    # the first change carries the clash from its side, and a re-check finds the same
    mirrored = await svc.get_change(ALICE, db_change.id)
    assert [(c.kind, c.ci_id, c.related_ci_id, c.path) for c in mirrored.conflicts] == [
        ("dependent_ci", "ci-db", "ci-api", ("ci-db", "ci-api"))]
    rechecked = await svc.check_conflicts(ALICE, db_change.id)
    assert [(c.kind, c.change_id, c.ci_id) for c in rechecked.conflicts] == [
        ("dependent_ci", api_change.id, "ci-db")]


async def test_unavailable_cmdb_accepts_and_says_incomplete(svc, impact):
    await svc.create_change(ALICE, new_change())
    impact.down = True
    c = await svc.create_change(ALICE, new_change(start=T0 + timedelta(hours=1)))
    assert c.conflict_check == "incomplete" and "CMDB unavailable" in c.conflict_check_note
    assert [x.kind for x in c.conflicts] == ["same_ci"]  # what can be checked without the graph still is


async def test_unknown_ci_is_a_validation_error_naming_it(svc, impact):
    impact.known = {"ci-db"}
    with pytest.raises(ValidationFailed) as err:
        await svc.create_change(ALICE, new_change(ci_ids=("ci-db", "ci-ghost")))
    assert [f.field for f in err.value.fields] == ["ci_ids[1]"]


async def test_a_blackout_on_an_unknown_ci_is_a_validation_error_unless_the_cmdb_is_down(svc, impact):
    """A blackout on a typo or another tenant's CI would cover nothing, silently: refused as a change's CI is."""
    impact.known = {"ci-db"}
    window = (T0, T0 + timedelta(days=1))
    with pytest.raises(ValidationFailed) as err:
        await svc.create_blackout(CAROL, "freeze", "", *window, ("ci-db", "ci-ghost"))
    assert [(f.field, f.message) for f in err.value.fields] == [("ci_ids[1]", "unknown configuration item ci-ghost")]
    b = await svc.create_blackout(CAROL, "freeze", "", *window, ("ci-db",))
    with pytest.raises(ValidationFailed) as err:
        await svc.update_blackout(CAROL, b.id, {"ci_ids": ["ci-ghost"]})
    assert [f.field for f in err.value.fields] == ["ci_ids[0]"]
    assert (await svc.get_blackout(CAROL, b.id)).ci_ids == ("ci-db",)
    impact.down = True  # unchecked while the CMDB is away: a freeze must be settable during an outage
    assert (await svc.update_blackout(CAROL, b.id, {"ci_ids": ["ci-ghost"]})).ci_ids == ("ci-ghost",)


async def test_blackout_conflict_and_admin_only(svc):
    with pytest.raises(Forbidden):
        await svc.create_blackout(ALICE, "freeze", "", T0, T0 + timedelta(days=1), ())
    b = await svc.create_blackout(CAROL, "quarter-end freeze", "finance close", T0 - timedelta(hours=1),
                                  T0 + timedelta(hours=1), ())
    c = await svc.create_change(ALICE, new_change(ci_ids=()))
    assert [(x.kind, x.blackout_id) for x in c.conflicts] == [("blackout", b.id)]
    with pytest.raises(ValidationFailed) as err:
        await svc.update_blackout(CAROL, b.id, {"end": T0 - timedelta(hours=2)})
    assert err.value.fields[0].field == "end"
    await svc.delete_blackout(CAROL, b.id)
    with pytest.raises(NotFound):
        await svc.get_blackout(CAROL, b.id)
    with pytest.raises(NotFound):
        await svc.delete_blackout(OTHER, c.id)


async def test_standard_change_is_pre_approved_and_scheduled(svc):
    c = await svc.create_change(ALICE, new_change(type="standard"))
    assert (c.status, c.approval_status) == ("scheduled", "pre_approved")


async def test_approval_flow_through_the_store(svc, db):
    c = await svc.create_change(ALICE, new_change(risk="low"))
    with pytest.raises(InvalidTransition):
        await svc.update_change(ALICE, c.id, {"status": "scheduled"})
    await svc.update_change(ALICE, c.id, {"status": "assess"})
    await svc.update_change(ALICE, c.id, {"status": "authorize"})
    with pytest.raises(Forbidden):
        await svc.decide_change(ALICE, c.id, "approve", "")
    done = await svc.decide_change(CAROL, c.reference, "approve", "looks fine")
    assert done.status == "scheduled" and done.approvals[0].approver == "carol@x"
    assert (await events(db))[-2:] == ["change.approval_recorded", "change.approved"]


async def test_list_filters_ci_window_status(svc):
    a = await svc.create_change(ALICE, new_change(ci_ids=("ci-a",)))
    b = await svc.create_change(ALICE, new_change(ci_ids=("ci-b",), start=T0 + timedelta(days=2)))
    await svc.update_change(ALICE, b.id, {"status": "cancelled"})

    async def ids(**kw) -> list[str]:
        return [c.id for c in (await svc.list_changes(ALICE, ChangeQuery(sort="requested_start", order="asc",
                                                                          **kw)))[0]]

    assert await ids(ci_ids=("ci-a", "ci-b")) == [a.id, b.id]
    assert await ids(ci_ids=("ci-b",)) == [b.id]
    assert await ids(start=T0 + timedelta(hours=3), end=T0 + timedelta(hours=5)) == [a.id]
    assert await ids(start=T0 + timedelta(days=1)) == [b.id]
    assert await ids(status=("cancelled",)) == [b.id]
    with pytest.raises(ValidationFailed) as err:
        await svc.list_changes(ALICE, ChangeQuery(status=("granted",), limit=500))
    assert {f.field for f in err.value.fields} == {"status", "limit"}


async def test_status_approved_selects_granted_and_unfinished_changes(svc):
    async def through_approval(change, approver=CAROL):
        for status in (("assess", "authorize") if change.type == "normal" else ("authorize",)):
            await svc.update_change(ALICE, change.id, {"status": status})
        return await svc.decide_change(approver, change.id, "approve", "")

    scheduled = await through_approval(await svc.create_change(ALICE, new_change("normal", risk="low")))
    implementing = await through_approval(await svc.create_change(ALICE, new_change("em", type="emergency")))
    standard = await svc.create_change(ALICE, new_change("std", type="standard"))
    finished = await through_approval(await svc.create_change(ALICE, new_change("done", risk="low")))
    for status in ("implement", "review"):
        await svc.update_change(ALICE, finished.id, {"status": status, "outcome": "successful"})
    cancelled = await through_approval(await svc.create_change(ALICE, new_change("off", risk="low")))
    await svc.update_change(ALICE, cancelled.id, {"status": "cancelled"})
    waiting = await svc.create_change(ALICE, new_change("waiting", risk="low"))
    for status in ("assess", "authorize"):
        await svc.update_change(ALICE, waiting.id, {"status": status})
    (scheduled_std,) = [c for c in (await svc.list_changes(ALICE, ChangeQuery(status=("scheduled",))))[0]
                        if c.id == standard.id]
    assert (implementing.status, scheduled_std.approval_status) == ("implement", "pre_approved")

    approved, total, _ = await svc.list_changes(ALICE, ChangeQuery(status=("approved",), sort="reference",
                                                                  order="asc"))
    assert [c.id for c in approved] == [scheduled.id, implementing.id, standard.id] and total == 3
    # combined with real states, it is one more alternative
    both, _, _ = await svc.list_changes(ALICE, ChangeQuery(status=("approved", "authorize")))
    assert {c.id for c in both} == {scheduled.id, implementing.id, standard.id, waiting.id}


async def test_catalog_and_requests(svc, db):
    laptop = await svc.create_catalog_item(CAROL, "Laptop", "A laptop", "hardware", True, "it-desk")
    vpn = await svc.create_catalog_item(CAROL, "VPN access", "", "access", False, "")
    with pytest.raises(Forbidden):
        await svc.create_catalog_item(ALICE, "Phone", "", "", True, "")
    r1 = await svc.submit_request(ALICE, laptop.id, "", {"model": "x1"})
    r2 = await svc.submit_request(ALICE, vpn.id, "bob@x", {})
    assert (r1.reference, r1.status, r1.details) == ("REQ-00000001", "pending_approval", {"model": "x1"})
    assert (r2.status, r2.requested_by) == ("approved", "bob@x")
    with pytest.raises(ValidationFailed) as err:
        await svc.submit_request(ALICE, "00000000-0000-0000-0000-000000000000", "", {})
    assert err.value.fields[0].field == "catalog_item_id"
    with pytest.raises(ValidationFailed):  # another tenant's item is unknown here
        await svc.submit_request(OTHER, laptop.id, "", {})
    pending, total, _ = await svc.list_requests(ALICE, RequestQuery(status=("pending_approval",)))
    assert [r.id for r in pending] == [r1.id] and total == 1
    approved = await svc.decide_request(CAROL, r1.reference, "approve", "")
    fulfilled = await svc.transition_request(CAROL, approved.id, "fulfilled", "shipped")
    assert fulfilled.status == "fulfilled" and set(fulfilled.status_times) == {"pending_approval", "approved",
                                                                              "fulfilled"}
    await svc.update_catalog_item(CAROL, vpn.id, {"active": False})
    with pytest.raises(ValidationFailed) as err:
        await svc.submit_request(ALICE, vpn.id, "", {})
    assert "retired" in err.value.fields[0].message
    assert [e for e in await events(db) if e.startswith("request.")] == [
        "request.submitted", "request.submitted", "request.approved", "request.fulfilled"]


async def test_concurrent_creates_and_approvals(svc):
    made = await asyncio.gather(*(svc.create_change(ALICE, new_change(title=f"c{i}", ci_ids=(f"ci-{i}",)))
                                  for i in range(20)))
    assert sorted(c.number for c in made) == list(range(1, 21))  # gap-free, no duplicates
    c = await svc.create_change(ALICE, new_change(risk="critical", ci_ids=("ci-x",)))
    for status in ("assess", "authorize"):
        await svc.update_change(ALICE, c.id, {"status": status})
    approvers = [CallContext(tenant_id="t1", actor=f"a{i}@x", role="admin") for i in range(2)]
    await asyncio.gather(*(svc.decide_change(a, c.id, "approve", "") for a in approvers))
    done = await svc.get_change(ALICE, c.id)
    assert done.status == "scheduled" and len(done.approvals) == 2


async def test_migrations_go_down_and_up_again(db):
    await db.migrate(MIGRATIONS, "0001")
    async with db.read() as conn:
        tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    assert "changes" not in tables and "outbox" in tables
    await db.migrate(MIGRATIONS)
    async with db.read() as conn:
        tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    assert {"changes", "change_cis", "catalog_items", "service_requests", "blackouts"} <= tables


async def test_a_retried_create_or_submit_with_the_same_idempotency_key_writes_once(svc, db):
    keyed = replace(ALICE, idempotency_key="k1")
    first = await svc.create_change(keyed, new_change())
    again = await svc.create_change(keyed, new_change())
    assert again.id == first.id and again.reference == first.reference == "CHG-00000001"
    laptop = await svc.create_catalog_item(CAROL, "Laptop", "", "hardware", True, "it-desk")
    request = await svc.submit_request(replace(ALICE, idempotency_key="k2"), laptop.id, "", {})
    assert (await svc.submit_request(replace(ALICE, idempotency_key="k2"), laptop.id, "", {})).id == request.id
    assert (await svc.create_change(ALICE, new_change(ci_ids=("ci-other",)))).reference == "CHG-00000002"
    assert await events(db) == ["change.created", "request.submitted", "change.created"]


async def test_a_retried_blackout_create_with_the_same_idempotency_key_writes_once(svc):
    """A blackout created again after its answer was lost (same Idempotency-Key) is the first one, not a
    second blackout that flags every overlapping change a second time."""
    change = await svc.create_change(ALICE, new_change())
    keyed = replace(CAROL, idempotency_key="b1")
    window = (T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    first = await svc.create_blackout(keyed, "freeze", "", *window, ())
    again = await svc.create_blackout(keyed, "freeze", "", *window, ())
    assert again == first
    assert (await svc.list_blackouts(CAROL, None, None, Page()))[1] == 1
    flagged = await svc.get_change(ALICE, change.id)
    assert [(c.kind, c.blackout_id) for c in flagged.conflicts] == [("blackout", first.id)]
    other = await svc.create_blackout(replace(OTHER, idempotency_key="b1"), "freeze", "", *window, ())
    assert other.id != first.id and (await svc.list_blackouts(CAROL, None, None, Page()))[1] == 1


async def test_a_retried_catalog_item_create_with_the_same_idempotency_key_returns_the_first(svc):
    """Not a 409 'name already used' for a create whose first attempt committed and whose answer was lost."""
    keyed = replace(CAROL, idempotency_key="k1")
    first = await svc.create_catalog_item(keyed, "Laptop", "", "hardware", True, "")
    assert await svc.create_catalog_item(keyed, "Laptop", "", "hardware", True, "") == first
    with pytest.raises(ConflictError):
        await svc.create_catalog_item(CAROL, "Laptop", "", "hardware", True, "")
    other = await svc.create_catalog_item(replace(OTHER, idempotency_key="k1"), "Laptop", "", "hardware", True, "")
    assert other.id != first.id


async def test_text_search_folds_every_alphabet(svc):
    async def create_change(title: str, description: str) -> None:
        await svc.create_change(ALICE, NewChange(title=title, description=description, type="normal",
                                                 risk_level="low", requested_start=T0,
                                                 requested_end=T0 + timedelta(hours=1)))

    async def search(q: str) -> set[str]:
        return {c.title for c in (await svc.list_changes(ALICE, ChangeQuery(q=q, limit=200)))[0]}

    await assert_text_search(create_change, search)
    assert await search("chg-00000002") == {TEXTS[1]}
    assert (await svc.list_changes(OTHER, ChangeQuery(q="überlauf")))[1] == 0


async def test_catalog_search_folds_every_alphabet(svc):
    async def create_item(name: str, description: str) -> None:
        await svc.create_catalog_item(CAROL, name, description, "", True, "")

    async def search(q: str) -> set[str]:
        return {i.name for i in (await svc.list_catalog_items(CAROL, "", q, True, Page(limit=200)))[0]}

    await assert_text_search(create_item, search)


async def test_the_migration_fills_in_folded_text_for_existing_rows(svc, db):
    await svc.create_change(ALICE, new_change(title="Überlauf im Puffer"))
    await svc.create_catalog_item(CAROL, "Straße", "ΟΔΟΣ", "", True, "")
    await db.migrate(MIGRATIONS, "0002")  # as before the columns existed
    await db.migrate(MIGRATIONS)
    assert [c.title for c in (await svc.list_changes(ALICE, ChangeQuery(q="ÜBERLAUF")))[0]] == ["Überlauf im Puffer"]
    for q in ("STRASSE", "οδος"):
        assert [i.name for i in (await svc.list_catalog_items(CAROL, "", q, True, Page()))[0]] == ["Straße"]


async def test_structured_filters_on_changes_and_requests(svc):
    a = await svc.create_change(ALICE, new_change(title="Überlauf fix", ci_ids=("ci-db",), risk="low"))
    b = await svc.create_change(ALICE, new_change(title="Tune", ci_ids=("ci-db",), start=T0 + timedelta(hours=1),
                                                  risk="high"))
    c = await svc.create_change(ALICE, new_change(title="Rotate", ci_ids=("ci-x",), type="standard",
                                                  start=T0 + timedelta(days=2)))

    async def refs(*filters: Filter) -> list[int]:
        page = await svc.list_changes(ALICE, ChangeQuery(filters=filters, sort="reference", order="asc"))
        return [x.number for x in page.items]

    assert await refs(Filter("has_conflicts", "IS", (True,))) == [a.number, b.number]
    assert await refs(Filter("status", "IS", ("approved",))) == [c.number]
    assert await refs(Filter("risk_level", "GT", ("medium",))) == [b.number]
    assert await refs(Filter("ci_id", "IS_NONE_OF", ("ci-db",))) == [c.number]
    assert await refs(Filter("title", "CONTAINS", ("ÜBERLAUF",))) == [a.number]
    assert await refs(Filter("requested_start", "IS_BETWEEN", (T0.isoformat(), (T0 + timedelta(hours=1)).isoformat()))
                      ) == [a.number, b.number]
    assert await refs(Filter("reference", "GTE", ("CHG-00000002",)), Filter("type", "IS", ("normal",))) == [b.number]
    assert (await svc.list_changes(OTHER, ChangeQuery(filters=(Filter("type", "IS", ("normal",)),)))).total == 0
    with pytest.raises(ValidationFailed) as err:
        await refs(Filter("status", "IS", ("finished",)))
    assert err.value.fields[0].field == "filters[0].values[0]"

    laptop = await svc.create_catalog_item(CAROL, "Laptop", "", "", True, "")
    vpn = await svc.create_catalog_item(CAROL, "VPN", "", "", False, "")
    r1 = await svc.submit_request(ALICE, laptop.id, "", {})
    r2 = await svc.submit_request(ALICE, vpn.id, "bob@x", {})
    await svc.transition_request(CAROL, r2.id, "fulfilled", "")

    async def requests(*filters: Filter) -> list[int]:
        page = await svc.list_requests(ALICE, RequestQuery(filters=filters, sort="reference", order="asc"))
        return [x.number for x in page.items]

    assert await requests(Filter("catalog_item_name", "IS", ("VPN",))) == [r2.number]
    assert await requests(Filter("fulfilled_by", "IS_NOT_EMPTY", ())) == [r2.number]
    assert await requests(Filter("status", "IS_NONE_OF", ("fulfilled", "cancelled"))) == [r1.number]
    assert await requests(Filter("requested_by", "IS", ("alice@x",))) == [r1.number]


@pytest.mark.parametrize("sort", ["risk_level", "status", "requested_start"])
async def test_cursor_paging_every_change_and_request_once(svc, sort):
    rng = random.Random(sort)
    for i in range(30):
        change = await svc.create_change(ALICE, new_change(title=f"c{i}", ci_ids=(f"ci-{i}",),
                                                           risk=rng.choice(("low", "high")),
                                                           start=T0 + timedelta(hours=rng.randint(0, 3))))
        if rng.random() < 0.3:
            await svc.update_change(ALICE, change.id, {"status": "cancelled"})

    for order in ("asc", "desc"):
        async def fetch(limit: int, cursor: str, order=order):
            return await svc.list_changes(ALICE, ChangeQuery(sort=sort, order=order, limit=limit, cursor=cursor))

        seen = await walk(fetch, rng)
        assert sorted(c.number for c in seen) == list(range(1, 31))
        assert [c.id for c in seen] == [c.id for c in (await fetch(200, "")).items]

    item = await svc.create_catalog_item(CAROL, "Laptop", "", "", False, "")
    for _ in range(20):
        request = await svc.submit_request(ALICE, item.id, "", {})
        if rng.random() < 0.5:
            await svc.transition_request(CAROL, request.id, "fulfilled", "")

    async def fetch_requests(limit: int, cursor: str):
        return await svc.list_requests(ALICE, RequestQuery(sort="status", limit=limit, cursor=cursor))

    before = {r.id for r in (await fetch_requests(200, "")).items}

    async def more() -> None:
        await asyncio.gather(*(svc.submit_request(ALICE, item.id, "", {}) for _ in range(2)))

    seen = await walk(fetch_requests, rng, between=more)
    assert len(seen) == len({r.id for r in seen}) and before <= {r.id for r in seen}
