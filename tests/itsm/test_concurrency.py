"""Every ITSM rule that reads other rows before it writes, under many concurrent calls, on SQLite and
PostgreSQL: conflict flags between changes created, moved, cancelled and approved at the same moment (both
sides of every clash), blackouts written beside changes, approvals, unique catalog names and gap-free
references across two replicas. Each test fires the calls at once and checks the invariant afterwards."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from services.itsm.service import ACTIVE_CHANGE_STATUSES, Change, ChangeQuery, NewChange, Page, overlaps
from services.itsm.store import outbox_table
from tests.itsm.conftest import make_service
from vigil.runtime.context import CallContext
from vigil.runtime.db import Database
from vigil.runtime.errors import Conflict, InvalidTransition

T0 = datetime(2026, 4, 1, 18, 0, tzinfo=UTC)
ALICE = CallContext(tenant_id="t1", actor="alice@x", role="responder")
CAROL = CallContext(tenant_id="t1", actor="carol@x", role="admin")


def new_change(title: str, ci_ids=("ci-db",), start: float = 0, hours: float = 4.0, risk="medium") -> NewChange:
    return NewChange(title=title, type="normal", risk_level=risk, requested_start=T0 + timedelta(hours=start),
                     requested_end=T0 + timedelta(hours=start + hours), ci_ids=tuple(ci_ids))


async def all_changes(svc, ctx=ALICE) -> list[Change]:
    items, total, _ = await svc.list_changes(ctx, ChangeQuery(sort="reference", order="asc", limit=200))
    assert total == len(items)
    return items


async def event_types(db: Database) -> list[str]:
    async with db.read() as conn:
        return list((await conn.execute(sa.select(outbox_table.c.event_type).order_by(outbox_table.c.id))).scalars())


async def assert_conflicts_consistent(svc, links: dict[str, list[str]]) -> list[Change]:
    """Every active change lists exactly the active changes it clashes with (same or linked CI, overlapping
    window) and exactly the blackouts that cover it, whatever order the writes happened in."""
    changes = await all_changes(svc)
    blackouts, _ = await svc.list_blackouts(ALICE, None, None, Page(limit=200))
    active = [c for c in changes if c.status in ACTIVE_CHANGE_STATUSES]
    for c in active:
        near = set(c.ci_ids) | {linked for ci in c.ci_ids for linked in links.get(ci, [])}
        expected = {o.id for o in active if o.id != c.id and set(o.ci_ids) & near
                    and overlaps(c.requested_start, c.requested_end, o.requested_start, o.requested_end)}
        assert {x.change_id for x in c.conflicts if x.change_id} == expected, c.reference
        covering = {b.id for b in blackouts if overlaps(c.requested_start, c.requested_end, b.start, b.end)
                    and (not b.ci_ids or set(b.ci_ids) & set(c.ci_ids))}
        assert {x.blackout_id for x in c.conflicts if x.blackout_id} == covering, c.reference
    return changes


async def test_two_changes_created_at_once_flag_each_other(svc, impact):
    impact.delay = 0.01  # the CMDB round trip, during which the other request runs
    for trial in range(10):
        a, b = await asyncio.gather(svc.create_change(ALICE, new_change("a", (f"ci-{trial}",))),
                                    svc.create_change(ALICE, new_change("b", (f"ci-{trial}",), start=1)))
        later, earlier = (a, b) if a.number > b.number else (b, a)
        assert [x.change_id for x in later.conflicts] == [earlier.id]
        assert [x.change_id for x in (await svc.get_change(ALICE, earlier.id)).conflicts] == [later.id]


async def test_twenty_concurrent_creates_on_one_ci_list_the_nineteen_others(svc, db, impact):
    impact.delay = 0.005
    made = await asyncio.gather(*(svc.create_change(ALICE, new_change(f"c{i}", start=i * 0.1)) for i in range(20)))
    changes = await all_changes(svc)
    assert sorted(c.number for c in made) == list(range(1, 21))
    for c in changes:
        assert {x.change_id for x in c.conflicts} == {o.id for o in changes if o.id != c.id}, c.reference
    assert sum(len(c.conflicts) for c in changes) == 380
    # each create flags itself when it finds others, and each clash flags the earlier change exactly once
    assert (await event_types(db)).count("change.conflict_detected") == 19 + 190
    await assert_conflicts_consistent(svc, {})


async def test_blackouts_written_beside_changes_cover_exactly_what_they_overlap(svc, impact):
    impact.delay = 0.005
    freeze, *_ = await asyncio.gather(
        svc.create_blackout(CAROL, "freeze", "", T0, T0 + timedelta(hours=6), ()),
        *(svc.create_change(ALICE, new_change(f"c{i}", (f"ci-{i % 3}",), start=i)) for i in range(10)))
    changes = await assert_conflicts_consistent(svc, {})
    assert sum(1 for c in changes if any(x.blackout_id == freeze.id for x in c.conflicts)) == 6  # those starting before 6h
    # moved and deleted while changes are being created: still exactly what overlaps
    await asyncio.gather(
        svc.update_blackout(CAROL, freeze.id, {"start": T0 + timedelta(hours=20), "end": T0 + timedelta(hours=40)}),
        *(svc.create_change(ALICE, new_change(f"d{i}", ("ci-x",), start=18 + i)) for i in range(6)))
    await assert_conflicts_consistent(svc, {})
    await asyncio.gather(svc.delete_blackout(CAROL, freeze.id),
                         *(svc.create_change(ALICE, new_change(f"e{i}", ("ci-y",), start=25 + i)) for i in range(4)))
    changes = await assert_conflicts_consistent(svc, {})
    assert not any(x.blackout_id for c in changes for x in c.conflicts)


async def test_mixed_concurrent_writes_keep_both_sides_of_every_clash(svc, impact):
    """Creates, window moves, CI changes, cancellations, approvals and blackouts all at once."""
    rng = random.Random(7)
    impact.delay = 0.003
    impact.links = {"ci-b": ["ci-c"], "ci-c": ["ci-b"]}
    cis = ["ci-a", "ci-b", "ci-c", "ci-d"]
    seeded = await asyncio.gather(*(svc.create_change(ALICE, new_change(
        f"s{i}", rng.sample(cis, rng.randint(1, 2)), start=rng.uniform(0, 30), hours=rng.uniform(1, 8),
        risk="low")) for i in range(12)))
    for c in seeded[:3]:
        for status in ("assess", "authorize"):
            await svc.update_change(ALICE, c.id, {"status": status})

    def move(c: Change):
        start = rng.uniform(0, 30)
        return svc.update_change(ALICE, c.id, {"requested_start": T0 + timedelta(hours=start),
                                               "requested_end": T0 + timedelta(hours=start + rng.uniform(1, 6))})

    writes = [
        *(svc.create_change(ALICE, new_change(f"n{i}", rng.sample(cis, rng.randint(1, 2)),
                                              start=rng.uniform(0, 30), hours=rng.uniform(1, 8)))
          for i in range(12)),
        *(move(c) for c in seeded[3:8]),
        svc.update_change(ALICE, seeded[8].id, {"ci_ids": ["ci-c", "ci-d"]}),
        *(svc.update_change(ALICE, c.id, {"status": "cancelled"}) for c in seeded[9:11]),
        svc.decide_change(CAROL, seeded[0].id, "approve", ""),  # -> scheduled, still active
        svc.decide_change(CAROL, seeded[1].id, "reject", ""),  # -> rejected, clashes with nothing
        svc.create_blackout(CAROL, "all", "", T0 + timedelta(hours=10), T0 + timedelta(hours=14), ()),
        svc.create_blackout(CAROL, "b only", "", T0, T0 + timedelta(hours=30), ("ci-b",)),
    ]
    rng.shuffle(writes)
    await asyncio.gather(*writes)
    changes = await assert_conflicts_consistent(svc, impact.links)
    assert any(c.conflicts for c in changes)  # the scenario does produce clashes
    # an explicit re-check agrees with what concurrent writes left behind
    for c in changes:
        if c.status in ACTIVE_CHANGE_STATUSES:
            rechecked = await svc.check_conflicts(ALICE, c.id)
            assert set(rechecked.conflicts) == set((await svc.get_change(ALICE, c.id)).conflicts)


async def test_concurrent_approvals(svc, db):
    change = await svc.create_change(ALICE, new_change("risky", risk="critical"))
    for status in ("assess", "authorize"):
        await svc.update_change(ALICE, change.id, {"status": status})
    approvers = [CallContext(tenant_id="t1", actor=f"a{i}@x", role="admin") for i in range(6)]
    results = await asyncio.gather(*(svc.decide_change(a, change.id, "approve", "") for a in approvers),
                                   return_exceptions=True)
    done = await svc.get_change(ALICE, change.id)
    # two approvals move it to scheduled; the later ones find it no longer in authorize
    assert done.status == "scheduled" and len(done.approvals) == 2
    assert sum(isinstance(r, InvalidTransition) for r in results) == 4
    assert (await event_types(db)).count("change.approved") == 1
    # one approver twice at once: one decision recorded, the other refused
    other = await svc.create_change(ALICE, new_change("another", ("ci-z",), risk="critical"))
    for status in ("assess", "authorize"):
        await svc.update_change(ALICE, other.id, {"status": status})
    results = await asyncio.gather(*(svc.decide_change(approvers[0], other.id, "approve", "") for _ in range(4)),
                                   return_exceptions=True)
    assert sum(isinstance(r, Conflict) for r in results) == 3
    assert len((await svc.get_change(ALICE, other.id)).approvals) == 1

    # service requests: many approvers and rejecters at once, exactly one decision
    item = await svc.create_catalog_item(CAROL, "Laptop", "", "", True, "")
    request = await svc.submit_request(ALICE, item.id, "", {})
    results = await asyncio.gather(*(svc.decide_request(a, request.id, "approve" if i % 2 else "reject", "")
                                     for i, a in enumerate(approvers)), return_exceptions=True)
    decided = await svc.get_request(ALICE, request.id)
    assert decided.status in ("approved", "rejected") and len(decided.approvals) == 1
    assert sum(isinstance(r, InvalidTransition) for r in results) == 5
    types = await event_types(db)
    assert types.count("request.approved") + types.count("request.rejected") == 1


async def test_catalog_names_stay_unique(svc):
    results = await asyncio.gather(*(svc.create_catalog_item(CAROL, "Laptop", f"#{i}", "", True, "")
                                     for i in range(8)), return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, Conflict) and r.fields[0].field == "name" for r in results if isinstance(r, Exception))
    a = await svc.create_catalog_item(CAROL, "Phone", "", "", True, "")
    b = await svc.create_catalog_item(CAROL, "Tablet", "", "", True, "")
    results = await asyncio.gather(svc.update_catalog_item(CAROL, a.id, {"name": "Monitor"}),
                                   svc.update_catalog_item(CAROL, b.id, {"name": "Monitor"}), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["CatalogItem", "Conflict"]
    items, _ = await svc.list_catalog_items(CAROL, "", "", True, Page())
    names = sorted(i.name for i in items)
    assert len(names) == 3 and names.count("Monitor") == 1 and names[0] == "Laptop"


async def test_references_are_gap_free_across_two_replicas(database_url, impact):
    """Two ITSM processes on one database (two engines) numbering changes and requests at the same time."""
    from services.itsm.server import MIGRATIONS

    dbs = [Database(database_url, "itsm") for _ in range(2)]
    await dbs[0].migrate(MIGRATIONS)
    replicas = [make_service(d, impact) for d in dbs]
    try:
        item = await replicas[0].create_catalog_item(CAROL, "Laptop", "", "", False, "")
        made = await asyncio.gather(
            *(replicas[i % 2].create_change(ALICE, new_change(f"c{i}", (f"ci-{i}",))) for i in range(16)),
            *(replicas[i % 2].submit_request(ALICE, item.id, "", {}) for i in range(16)))
        changes = [m for m in made if isinstance(m, Change)]
        requests = [m for m in made if not isinstance(m, Change)]
        assert sorted(c.number for c in changes) == list(range(1, 17))
        assert sorted(r.number for r in requests) == list(range(1, 17))
    finally:
        for d in dbs:
            await d.dispose()


@pytest.mark.parametrize("count", [12])
async def test_moving_windows_concurrently_on_one_ci(svc, impact, count):
    """Changes on one CI moved in and out of each other's windows at once: both sides stay in step."""
    impact.delay = 0.002
    made = [await svc.create_change(ALICE, new_change(f"c{i}", start=i * 10)) for i in range(count)]
    assert not any(c.conflicts for c in made)
    rng = random.Random(3)
    starts = [rng.choice([0, 5, 50]) for _ in made]
    await asyncio.gather(*(svc.update_change(ALICE, c.id, {
        "requested_start": T0 + timedelta(hours=start), "requested_end": T0 + timedelta(hours=start + 8)})
        for c, start in zip(made, starts, strict=True)))
    changes = await assert_conflicts_consistent(svc, {})
    assert any(c.conflicts for c in changes)
