"""Structured search and cursor paging on every list that has them, through the gateway of a whole stack of
real processes, on SQLite and on PostgreSQL: POST /api/incidents/search, /api/itsm/changes/search,
/api/itsm/requests/search, /api/cmdb/items/search, `cursor`/`next_cursor` on their GET lists, the 422s that
name a bad filter, and tenancy."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from tests.conftest import urls
from tests.support import api

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

T0 = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def f(attribute: str, operator: str, *values) -> dict:
    return {"attribute": attribute, "operator": operator, "values": [{"value": v} for v in values]}



async def walk(client: api.TenantClient, path: str, rng: random.Random) -> list[str]:
    """Every item of a GET list, by cursor, random page sizes."""
    seen, cursor = [], ""
    sep = "&" if "?" in path else "?"
    while True:
        resp = await client.get(f"{path}{sep}limit={rng.randint(1, 4)}" + (f"&cursor={cursor}" if cursor else ""))
        assert resp.status == 200, resp.body
        seen += [item["id"] for item in resp.data["items"]]
        if resp.data["next_cursor"] is None:
            return seen
        cursor = resp.data["next_cursor"]


async def test_search_and_cursor_on_every_list(stack_factory, stack_database_env):
    stack = stack_factory(env=stack_database_env)
    tenant_base, control_base = urls(stack)
    rng = random.Random(11)
    async with aiohttp.ClientSession() as session:
        users = await api.tenant(session, tenant_base, control_base)
        admin, responder, viewer = users["admin"], users["responder"], users["viewer"]
        stranger = (await api.tenant(session, tenant_base, control_base, roles=("viewer",)))["viewer"]

        async def search(path: str, body, client=viewer) -> list[str]:
            resp = await client.post(path, json=body)
            assert resp.status == 200, resp.body
            return sorted(item["id"] for item in resp.data["items"])

        async def refused(path: str, body, field: str) -> None:
            resp = await viewer.post(path, json=body)
            assert (resp.status, resp.body["code"]) == (422, "VALIDATION_ERROR"), resp.body
            assert field in {x["field"] for x in resp.body["fields"]}, resp.body

        # -- CMDB items
        cis = {}
        for name, cls, crit, owner in (("Überlauf-DB", "database", "critical", "dba"), ("orders-api", "service",
                                        "high", ""), ("web-1", "server", "low", "web"), ("web-2", "server", "low", "")):
            made = await responder.post("/api/cmdb/items", json={"name": name, "class": cls, "criticality": crit,
                                                                 "owner": owner})
            cis[name] = made.data["id"]
        items = "/api/cmdb/items/search"
        assert await search(items, [f("criticality", "GTE", "high")]) == sorted([cis["Überlauf-DB"], cis["orders-api"]])
        assert await search(items, {"filters": [f("name", "CONTAINS", "überlauf")]}) == [cis["Überlauf-DB"]]
        assert await search(items, [f("class", "IS", "server"), f("owner", "IS_EMPTY")]) == [cis["web-2"]]
        await refused(items, [f("criticality", "CONTAINS", "hi")], "filters[0].operator")
        assert await search(items, [f("class", "IS", "server")], stranger) == []
        assert sorted(await walk(viewer, "/api/cmdb/items?sort=class", rng)) == sorted(cis.values())

        # -- changes: a normal one approved, a standard one (pre-approved), some waiting
        db = cis["Überlauf-DB"]

        def change(title: str, start: float, risk: str = "medium", type_: str = "normal", ci: str = db) -> dict:
            return {"title": title, "type": type_, "risk_level": risk, "requested_start": at(start),
                    "requested_end": at(start + 2), "ci_ids": [ci]}

        made = [(await responder.post("/api/itsm/changes", json=body)).data for body in (
            change("Upgrade DB", 0, "low"), change("Rotate certs", 10, type_="standard"),
            change("Tune DB", 1, "high"), change("Deploy API", 20, "critical", ci=cis["orders-api"]),
            change("Patch web", 30, ci=cis["web-1"]))]
        first = made[0]["id"]
        for status in ("assess", "authorize"):
            await responder.patch(f"/api/itsm/changes/{first}", json={"status": status})
        assert (await admin.post(f"/api/itsm/changes/{first}/approvals", json={"decision": "approve"})).status == 200
        changes = "/api/itsm/changes/search"
        approved = sorted([first, made[1]["id"]])
        assert await search(changes, [f("status", "IS", "approved")]) == approved
        assert sorted(c["id"] for c in (await viewer.get("/api/itsm/changes?status=approved")).data["items"]) == approved
        assert await search(changes, [f("risk_level", "GTE", "high")]) == sorted([made[2]["id"], made[3]["id"]])
        assert await search(changes, [f("has_conflicts", "IS", True)]) == sorted([first, made[2]["id"]])
        assert await search(changes, {"filters": [f("ci_id", "IS_NONE_OF", db),
                                                  f("requested_start", "GTE", at(25))]}) == [made[4]["id"]]
        assert await search(changes, [f("title", "CONTAINS", "db")]) == sorted([first, made[2]["id"]])
        await refused(changes, [f("status", "IS", "finished")], "filters[0].values[0]")
        await refused(changes, [f("requested_start", "IS_BETWEEN", at(1))], "filters[0].values")
        assert await search(changes, [], stranger) == []
        every = sorted(c["id"] for c in made)
        for path in ("/api/itsm/changes?sort=risk_level&order=asc", "/api/itsm/changes?sort=status"):
            assert sorted(await walk(viewer, path, rng)) == every
        assert sorted(await walk(viewer, f"/api/cmdb/items/{db}/changes?sort=requested_start", rng)) == sorted(
            [first, made[1]["id"], made[2]["id"]])

        # -- service requests
        laptop = (await admin.post("/api/itsm/catalog", json={"name": "Laptop", "requires_approval": True})).data
        vpn = (await admin.post("/api/itsm/catalog", json={"name": "VPN", "requires_approval": False})).data
        submitted = [(await responder.post("/api/itsm/requests", json={"catalog_item_id": item["id"]})).data["id"]
                     for item in (laptop, vpn, laptop, vpn, laptop)]
        requests = "/api/itsm/requests/search"
        pending = sorted(submitted[0::2])
        assert await search(requests, [f("status", "IS", "pending_approval")]) == pending
        assert sorted(r["id"] for r in (await viewer.get("/api/itsm/requests?status=pending_approval")).data[
            "items"]) == pending
        assert await search(requests, [f("catalog_item_name", "IS", "VPN"),
                                       f("reference", "GTE", "REQ-00000003")]) == [submitted[3]]
        await refused(requests, [f("status", "IS_ANY_OF")], "filters[0].values")
        assert sorted(await walk(viewer, "/api/itsm/requests?sort=status", rng)) == sorted(submitted)

        # -- incidents
        incidents = [(await responder.post("/api/incidents", json={"title": t, "severity": s})).data["id"]
                     for t, s in (("Ошибка базы", "P1"), ("Disk full", "P3"), ("Latency", "P2"))]
        assert await search("/api/incidents/search", [f("severity", "GTE", "P2")]) == sorted(
            [incidents[0], incidents[2]])
        assert await search("/api/incidents/search", [f("title", "CONTAINS", "ОШИБКА")]) == [incidents[0]]
        assert sorted(await walk(viewer, "/api/incidents?sort=severity", rng)) == sorted(incidents)
