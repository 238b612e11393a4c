"""Structured search and cursor paging through the gateway (in-process gateway and incident service, real
gRPC, SQLite, Kafka): the filter body as a bare list and as an object, the 422s that name a bad filter, a
viewer may search, tenancy, and cursor pages that cover a list exactly once while incidents keep arriving."""

from __future__ import annotations

import asyncio
import random

import pytest

from tests.gateway.test_http_contract import assert_error
from tests.support import api

pytestmark = pytest.mark.kafka


def f(attribute: str, operator: str, *values) -> dict:
    return {"attribute": attribute, "operator": operator, "values": [{"value": v} for v in values]}


async def test_search_incidents(gateway_env, acme):
    client, viewer = acme["responder"], acme["viewer"]
    for title, severity, cis in (("Überlauf im Puffer", "P1", ["ci-db"]), ("Disk full", "P2", []),
                                 ("Latency", "P3", ["ci-api"]), ("Straße gesperrt", "P4", ["ci-db"])):
        assert (await client.post("/api/incidents", {"title": title, "severity": severity, "ci_ids": cis})).status == 201
    await client.patch("/api/incidents/INC-00000002", {"status": "open"})

    async def search(body) -> list[str]:
        resp = await viewer.post("/api/incidents/search", body)  # a viewer searches: it only reads
        assert resp.status == 200, resp.body
        return [i["reference"][-1] for i in resp.data["items"]]

    seed_shape = [f("status", "IS_ANY_OF", "triggered", "open"), f("severity", "GTE", "P2"),
                  f("created_at", "IS_BETWEEN", "2020-01-01T00:00:00Z", "2100-01-01T00:00:00Z")]
    assert await search(seed_shape) == ["2", "1"]  # newest first, as the list
    assert await search({"filters": [f("title", "CONTAINS", "ÜBERLAUF")]}) == ["1"]
    assert await search({"filters": [f("title", "CONTAINS", "strasse")]}) == ["4"]
    assert await search({"filters": [f("ci_id", "IS", "ci-db")], "sort": "reference", "order": "asc"}) == ["1", "4"]
    assert await search({"filters": [f("ci_id", "IS_EMPTY")]}) == ["2"]
    assert await search([{"attribute": "assignee", "operator": "IS_EMPTY"}, f("status", "IS_NOT", "open")]) == [
        "4", "3", "1"]
    assert await search([]) == ["4", "3", "2", "1"]
    resp = await viewer.post("/api/incidents/search", {"filters": [], "limit": 2, "sort": "severity", "order": "asc"})
    assert resp.data["total"] == 4 and resp.data["limit"] == 2 and resp.data["next_cursor"]

    # the 422s name the filter and the part of it that is wrong
    for body, field in (
        ([f("colour", "IS", "red")], "filters[0].attribute"),
        ([f("status", "IS", "open"), f("severity", "CONTAINS", "P")], "filters[1].operator"),
        ([f("status", "LIKE", "open")], "filters[0].operator"),
        ([f("status", "IS", "exploded")], "filters[0].values[0]"),
        ([f("created_at", "GT", "yesterday")], "filters[0].values[0]"),
        ([f("created_at", "IS_BETWEEN", "2026-01-01T00:00:00Z")], "filters[0].values"),
        ([{"attribute": "status", "operator": "IS", "values": ["open"]}], "filters[0].values[0]"),
        ({"filters": [], "colour": "red"}, "colour"),
        ({"filters": [], "limit": 500}, "limit"),
        ({"filters": [], "cursor": "not-a-cursor"}, "cursor"),
        ("status=open", "body"),
    ):
        assert_error(await viewer.post("/api/incidents/search", body), 422, "VALIDATION_ERROR", field)

    # another tenant searches its own incidents only
    other = await api.tenant(gateway_env["session"], gateway_env["tenant"], gateway_env["control"], "globex",
                             roles=("viewer",))
    resp = await other["viewer"].post("/api/incidents/search", [f("severity", "IS_ANY_OF", "P1", "P2")])
    assert resp.data["total"] == 0 and resp.data["items"] == []


async def test_cursor_paging_through_the_gateway(acme):
    client, viewer = acme["responder"], acme["viewer"]
    rng = random.Random(4)
    for i in range(30):
        await client.post("/api/incidents", {"title": f"i{i}", "severity": rng.choice(["P1", "P2", "P3"])})

    async def walk(first: str, search: dict | None = None) -> list[str]:
        seen, cursor = [], ""
        while True:
            limit = rng.randint(1, 8)
            if search is None:
                resp = await viewer.get(f"{first}&limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
            else:
                resp = await viewer.post(first, {**search, "limit": limit, "cursor": cursor})
            assert resp.status == 200, resp.body
            seen += [i["id"] for i in resp.data["items"]]
            # incidents keep arriving while the client pages
            await asyncio.gather(*(client.post("/api/incidents", {"title": "late", "severity": "P4"})
                                   for _ in range(2)))
            if resp.data["next_cursor"] is None:
                return seen
            cursor = resp.data["next_cursor"]

    before = {i["id"] for i in (await viewer.get("/api/incidents?limit=200")).data["items"]}
    seen = await walk("/api/incidents?sort=severity&order=asc")
    assert len(seen) == len(set(seen)) and before <= set(seen)
    seen = await walk("/api/incidents/search", {"filters": [f("severity", "IS_NOT", "P4")]})
    assert len(seen) == len(set(seen))
    p4_free = {i["id"] for i in (await viewer.post("/api/incidents/search",
                                                   {"filters": [f("severity", "IS_NOT", "P4")], "limit": 200})
                                 ).data["items"]}
    assert set(seen) == p4_free  # no P4 arrives meanwhile, so this list does not change while paged

    first = (await viewer.get("/api/incidents?limit=2")).data
    assert_error(await viewer.get(f"/api/incidents?limit=2&cursor={first['next_cursor']}&sort=title"), 422,
                 "VALIDATION_ERROR", "cursor")
    assert_error(await viewer.get(f"/api/incidents?limit=2&offset=2&cursor={first['next_cursor']}"), 422,
                 "VALIDATION_ERROR", "offset")
