"""Structured filters and cursor paging (vigil.runtime.search) on a table of their own, on SQLite and
PostgreSQL: every operator of every kind of attribute, the errors that name a bad filter, and the cursor
property — random data with many ties, random page sizes, every row exactly once, also while rows are being
inserted — with cursors refused when tampered with or reused for another list."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import random
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from vigil.runtime.db import Database, schema_for
from vigil.runtime.errors import ValidationFailed
from vigil.runtime.search import (
    Catalogue,
    Filter,
    Flag,
    Keyset,
    Keyword,
    Members,
    Number,
    Ranked,
    Reference,
    SortKey,
    Text,
    Time,
    list_page,
    parse_filters,
)
from vigil.runtime.text import contains, folded

T0 = datetime(2026, 4, 1, tzinfo=UTC)
metadata = sa.MetaData()
things = sa.Table(
    "things", metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("name_folded", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("level", sa.String(20), nullable=False),
    sa.Column("owner", sa.String(100), nullable=False),
    sa.Column("urgent", sa.Boolean, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)
thing_tags = sa.Table(
    "thing_tags", metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("thing_id", sa.String(36), primary_key=True),
    sa.Column("tag", sa.String(50), primary_key=True),
)
LEVELS = ("low", "medium", "high")
FILTERS = Catalogue(
    Keyword("id", things.c.id),
    Reference("reference", things.c.number, re.compile(r"^THG-(\d{4})$")),
    Text("name", things.c.name, things.c.name_folded),
    Keyword("status", things.c.status, choices=("open", "closed"),
            aliases={"live": things.c.status.in_(("open",))}),
    Ranked("level", things.c.level, order=LEVELS),
    Keyword("owner", things.c.owner, empty=True),
    Flag("urgent", things.c.urgent),
    Time("at", things.c.at),
    Number("number", things.c.number),
    Members("tag", things, thing_tags, "thing_id", "tag"),
)
KEYSET = Keyset({"at": SortKey(things.c.at, "time"), "status": SortKey(things.c.status, "str"),
                 "level": SortKey(sa.case({v: i for i, v in enumerate(LEVELS)}, value=things.c.level), "int"),
                 "number": SortKey(things.c.number, "int")}, things.c.id, "str")


@dataclass(frozen=True)
class Query:
    filters: tuple[Filter, ...] = ()
    sort: str = "at"
    order: str = "asc"
    limit: int = 50
    offset: int = 0
    cursor: str = ""


@pytest.fixture
async def db(database_url):
    database = Database(database_url, "search")
    async with database.writer.begin() as conn:
        if database.is_postgres:
            await conn.execute(sa.text(f'CREATE SCHEMA "{schema_for("search")}"'))
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


def row(number: int, name: str = "", status: str = "open", level: str = "low", owner: str = "",
        urgent: bool = False, at: datetime = T0, tenant: str = "t1") -> dict:
    return {"tenant_id": tenant, "id": f"{number:08d}-0000-4000-8000-000000000000", "number": number,
            "name": name or f"thing {number}", **folded(name=name or f"thing {number}"), "status": status,
            "level": level, "owner": owner, "urgent": urgent, "at": at}


async def insert(db: Database, rows: list[dict], tags: dict[int, list[str]] | None = None) -> None:
    async with db.write() as conn:
        await conn.execute(things.insert(), rows)
        links = [{"tenant_id": r["tenant_id"], "thing_id": r["id"], "tag": t}
                 for r in rows for t in (tags or {}).get(r["number"], [])]
        if links:
            await conn.execute(thing_tags.insert(), links)


async def page(db: Database, query: Query, tenant: str = "t1"):
    return await list_page(db, things, [things.c.tenant_id == tenant, *FILTERS.where(query.filters)], KEYSET,
                           lambda r: r.number, sort=query.sort, order=query.order, limit=query.limit,
                           offset=query.offset, cursor=query.cursor, query=replace(query, limit=0, offset=0, cursor=""))


async def numbers(db: Database, *filters: tuple) -> list[int]:
    query = Query(filters=tuple(Filter(a, o, tuple(v)) for a, o, *rest in filters for v in (rest[0] if rest else (),)),
                  sort="number", limit=200)
    return (await page(db, query)).items


async def test_every_operator_of_every_kind(db):
    await insert(db, [
        row(1, "Überlauf im Puffer", "open", "low", "", False, T0),
        row(2, "Straße gesperrt", "closed", "medium", "ops@x", True, T0 + timedelta(hours=1)),
        row(3, "100% disk", "open", "high", "db@x", False, T0 + timedelta(hours=2)),
        row(4, "ΟΔΟΣ", "closed", "high", "ops@x", True, T0 + timedelta(hours=3)),
        row(5, "other tenant", tenant="t2"),
    ], tags={1: ["db", "eu"], 2: ["eu"], 3: ["db"]})
    at = lambda h: (T0 + timedelta(hours=h)).isoformat().replace("+00:00", "Z")  # noqa: E731
    cases = [
        (("status", "IS", ["open"]), [1, 3]),
        (("status", "IS_NOT", ["open"]), [2, 4]),
        (("status", "IS_ANY_OF", ["open", "closed"]), [1, 2, 3, 4]),
        (("status", "IS_NONE_OF", ["closed"]), [1, 3]),
        (("status", "IS", ["live"]), [1, 3]),  # an alias: a condition of its own
        (("status", "IS_NONE_OF", ["live", "closed"]), []),
        (("name", "CONTAINS", ["ÜBERLAUF"]), [1]),
        (("name", "CONTAINS", ["strasse"]), [2]),
        (("name", "CONTAINS", ["οδος"]), [4]),
        (("name", "CONTAINS", ["%"]), [3]),
        (("name", "NOT_CONTAINS", ["s"]), [1, 4]),  # Greek Σ is not a Latin s
        (("name", "IS", ["ΟΔΟΣ"]), [4]),
        (("level", "GT", ["low"]), [2, 3, 4]),
        (("level", "GTE", ["high"]), [3, 4]),
        (("level", "LT", ["high"]), [1, 2]),
        (("level", "LTE", ["low"]), [1]),
        (("level", "IS_BETWEEN", ["medium", "high"]), [2, 3, 4]),
        (("owner", "IS_EMPTY"), [1]),
        (("owner", "IS_NOT_EMPTY"), [2, 3, 4]),
        (("owner", "IS", ["ops@x"]), [2, 4]),
        (("urgent", "IS", [True]), [2, 4]),
        (("urgent", "IS_NOT", [True]), [1, 3]),
        (("at", "GT", [at(1)]), [3, 4]),
        (("at", "GTE", [at(1)]), [2, 3, 4]),
        (("at", "LT", [at(1)]), [1]),
        (("at", "LTE", ["2026-04-01T02:00:00+01:00"]), [1, 2]),  # 01:00Z
        (("at", "IS_BETWEEN", [at(1), at(2)]), [2, 3]),
        (("number", "IS_ANY_OF", [1, 4.0]), [1, 4]),
        (("number", "GTE", [3]), [3, 4]),
        (("reference", "IS", ["thg-0002"]), [2]),
        (("reference", "IS_BETWEEN", ["THG-0002", 3]), [2, 3]),
        (("id", "IS", [row(3)["id"]]), [3]),
        (("tag", "IS", ["db"]), [1, 3]),
        (("tag", "IS_ANY_OF", ["db", "eu"]), [1, 2, 3]),
        (("tag", "IS_NOT", ["eu"]), [3, 4]),
        (("tag", "IS_NONE_OF", ["db", "eu"]), [4]),
        (("tag", "IS_EMPTY"), [4]),
        (("tag", "IS_NOT_EMPTY"), [1, 2, 3]),
    ]
    for f, expected in cases:
        assert await numbers(db, f) == expected, f
    # all filters must hold
    assert await numbers(db, ("status", "IS", ["open"]), ("tag", "IS", ["eu"])) == [1]
    # the same filter body as JSON
    raw = [{"attribute": "level", "operator": "IS_ANY_OF", "values": [{"value": "medium"}, {"value": "high"}]},
           {"attribute": "owner", "operator": "IS_NOT_EMPTY"}]
    assert (await page(db, Query(filters=tuple(parse_filters(raw)), sort="number"))).items == [2, 3, 4]


@pytest.mark.parametrize("raw,field,words", [
    ({"attribute": "colour", "operator": "IS", "values": [{"value": "red"}]}, "filters[0].attribute",
     "unknown attribute 'colour'"),
    ({"attribute": "status", "operator": "CONTAINS", "values": [{"value": "op"}]}, "filters[0].operator",
     "status does not support 'CONTAINS'; status supports IS, IS_NOT, IS_ANY_OF, IS_NONE_OF"),
    ({"attribute": "status", "operator": "LIKE", "values": [{"value": "op"}]}, "filters[0].operator",
     "unknown operator 'LIKE'"),
    ({"attribute": "status", "operator": "IS", "values": [{"value": "ajar"}]}, "filters[0].values[0]",
     "unknown status 'ajar'; one of open, closed, live"),
    ({"attribute": "status", "operator": "IS", "values": []}, "filters[0].values", "IS takes 1 values, not 0"),
    ({"attribute": "at", "operator": "IS_BETWEEN", "values": [{"value": "2026-04-01T00:00:00Z"}]},
     "filters[0].values", "IS_BETWEEN takes 2 values"),
    ({"attribute": "at", "operator": "GT", "values": [{"value": "yesterday"}]}, "filters[0].values[0]",
     "date-time with a zone"),
    ({"attribute": "at", "operator": "GT", "values": [{"value": "2026-04-01T00:00:00"}]}, "filters[0].values[0]",
     "date-time with a zone"),
    ({"attribute": "at", "operator": "GT", "values": [{"value": "9999-12-31T23:59:59-14:00"}]}, "filters[0].values[0]",
     "out of range"),  # past the year 9999 in UTC: was an OverflowError, a 500
    ({"attribute": "at", "operator": "LT", "values": [{"value": "0001-01-01T00:00:00+14:00"}]}, "filters[0].values[0]",
     "out of range"),
    ({"attribute": "at", "operator": "IS_BETWEEN", "values": [{"value": "2026-04-02T00:00:00Z"},
                                                             {"value": "2026-04-01T00:00:00Z"}]},
     "filters[0].values", "must not be after"),
    ({"attribute": "level", "operator": "IS_BETWEEN", "values": [{"value": "high"}, {"value": "low"}]},
     "filters[0].values", "must not be after"),
    ({"attribute": "number", "operator": "GT", "values": [{"value": 1.5}]}, "filters[0].values[0]", "whole number"),
    ({"attribute": "number", "operator": "GT", "values": [{"value": True}]}, "filters[0].values[0]", "whole number"),
    ({"attribute": "urgent", "operator": "IS", "values": [{"value": "yes"}]}, "filters[0].values[0]", "true or false"),
    ({"attribute": "name", "operator": "CONTAINS", "values": [{"value": ""}]}, "filters[0].values[0]", "non-empty"),
    ({"attribute": "reference", "operator": "IS", "values": [{"value": "INC-1"}]}, "filters[0].values[0]",
     "reference like THG-"),
    ({"attribute": "owner", "operator": "IS_EMPTY", "values": [{"value": "x"}]}, "filters[0].values",
     "IS_EMPTY takes 0 values"),
    ({"attribute": "status", "operator": "IS", "values": ["open"]}, "filters[0].values[0]", '{"value": …}'),
    ({"attribute": "status", "values": [{"value": "open"}]}, "filters[0].operator", "is required"),
    ({"attribute": "status", "operator": "IS", "value": "open"}, "filters[0].value", "unknown field"),
    ("status=open", "filters[0]", "must be an object"),
])
async def test_a_bad_filter_is_named(db, raw, field, words):
    with pytest.raises(ValidationFailed) as err:
        await page(db, Query(filters=tuple(parse_filters([raw]))))
    assert [f.field for f in err.value.fields] == [field]
    assert words in err.value.fields[0].message


async def test_every_bad_filter_is_named_at_once(db):
    with pytest.raises(ValidationFailed) as err:
        FILTERS.where([Filter("colour", "IS", ("red",)), Filter("status", "IS", ("open",)),
                       Filter("level", "GT", ("extreme",))])
    assert [f.field for f in err.value.fields] == ["filters[0].attribute", "filters[2].values[0]"]
    with pytest.raises(ValidationFailed) as err:
        FILTERS.where([Filter("status", "IS", ("open",))] * 21)
    assert err.value.fields[0].field == "filters"
    with pytest.raises(ValidationFailed):
        parse_filters({"attribute": "status"})


async def walk(db: Database, query: Query, rng: random.Random, between=None) -> list[int]:
    """Every page of a list by cursor, with random page sizes; `between` runs after each page."""
    seen: list[int] = []
    cursor = ""
    while True:
        result = await page(db, replace(query, limit=rng.randint(1, 9), cursor=cursor))
        seen.extend(result.items)
        if between is not None:
            await between()
        if not result.next_cursor:
            return seen
        cursor = result.next_cursor


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_cursor_pages_every_row_exactly_once(db, seed):
    rng = random.Random(seed)
    # many ties: five timestamps, two statuses, three levels for 120 rows
    rows = [row(n, status=rng.choice(("open", "closed")), level=rng.choice(LEVELS),
                at=T0 + timedelta(minutes=rng.randint(0, 4))) for n in range(1, 121)]
    await insert(db, rows)
    open_ones = {r["number"] for r in rows if r["status"] == "open"}
    for sort in ("at", "status", "level", "number"):
        for order in ("asc", "desc"):
            seen = await walk(db, Query(sort=sort, order=order), rng)
            assert sorted(seen) == list(range(1, 121)), (sort, order)  # exactly once each
            offset_order = (await page(db, Query(sort=sort, order=order, limit=200))).items
            assert seen == offset_order  # the same total order as offset paging
            filtered = await walk(db, Query(sort=sort, order=order,
                                            filters=(Filter("status", "IS", ("open",)),)), rng)
            assert sorted(filtered) == sorted(open_ones)


async def test_cursor_paging_while_rows_are_inserted(db):
    """Rows inserted while a client pages (newest first, or in a tied order) never make it see a row twice or
    miss one that was there when it started."""
    rng = random.Random(9)
    await insert(db, [row(n, status=rng.choice(("open", "closed")), at=T0 + timedelta(minutes=n % 3))
                      for n in range(1, 81)])
    made = itertools.count(1000)
    for sort, order in (("at", "desc"), ("status", "asc"), ("at", "asc")):
        before = set((await page(db, Query(sort="number", limit=10_000))).items)

        async def more():
            # concurrent writers: a few rows at once, some tied with rows already paged, some not
            await asyncio.gather(*(insert(db, [row(next(made), status=rng.choice(("open", "closed")),
                                                   at=T0 + timedelta(minutes=rng.randint(-1, 3)))])
                                   for _ in range(3)))

        seen = await walk(db, Query(sort=sort, order=order), rng, between=more)
        assert len(seen) == len(set(seen)), (sort, order)  # nothing twice
        assert before <= set(seen), (sort, order)  # nothing that was there is missed


async def test_a_page_too_long_for_the_loop_is_the_same_page(db):
    """A list page whose reads outgrow their budget on the event loop (Database.brief_read) is read again on the
    reader pool: the same items, total and cursor as when it fits."""
    await insert(db, [row(n, status=("open", "closed")[n % 2], at=T0 + timedelta(seconds=n)) for n in range(1, 3001)])
    query = Query(filters=(Filter("status", "IS", ("open",)),), order="desc", limit=20)
    db.brief_read_steps = 10_000_000
    roomy = await page(db, query)
    db.brief_read_steps = 1_000
    tight = await page(db, query)
    assert roomy.total == tight.total == 1500
    assert roomy.items == tight.items == list(range(3000, 2960, -2))
    assert roomy.next_cursor == tight.next_cursor
    assert (await page(db, replace(query, cursor=tight.next_cursor))).items == list(range(2960, 2920, -2))


async def test_cursors_are_bound_to_their_list(db):
    await insert(db, [row(n, at=T0 + timedelta(minutes=n)) for n in range(1, 11)])
    first = await page(db, Query(limit=3))
    assert first.items == [1, 2, 3] and first.total == 10 and first.next_cursor
    assert (await page(db, Query(limit=3, cursor=first.next_cursor))).items == [4, 5, 6]
    last = await page(db, Query(limit=5, cursor=(await page(db, Query(limit=5))).next_cursor))
    assert last.items == [6, 7, 8, 9, 10] and last.next_cursor == ""
    for other in (Query(order="desc"), Query(sort="number"), Query(filters=(Filter("status", "IS", ("open",)),))):
        with pytest.raises(ValidationFailed) as err:
            await page(db, replace(other, cursor=first.next_cursor))
        assert err.value.fields[0].field == "cursor" and "another sort" in err.value.fields[0].message
    payload = json.loads(base64.urlsafe_b64decode(first.next_cursor + "=" * (-len(first.next_cursor) % 4)))
    forged = [base64.urlsafe_b64encode(json.dumps({**payload, "k": [at, payload["k"][1]]}).encode()).decode()
              for at in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00")]  # were OverflowErrors, 500s
    for bad in ("garbage", first.next_cursor[:-4], "eyJzIjoiYXQifQ", *forged):
        with pytest.raises(ValidationFailed) as err:
            await page(db, Query(cursor=bad))
        assert err.value.fields[0].field == "cursor"
    # another tenant with the same cursor gets its own rows after that position, never this tenant's
    assert (await page(db, Query(cursor=first.next_cursor), tenant="t2")).items == []


def test_the_docs_list_every_attribute_and_its_operators():
    """docs/lists.md says, per list, which attributes take which operators: it must say what the code does."""
    from pathlib import Path

    from services.cmdb.store import FILTERS as items
    from services.incident.store import FILTERS as incidents
    from services.itsm.store.changes import FILTERS as changes
    from services.itsm.store.requests import FILTERS as requests

    doc = (Path(__file__).resolve().parents[2] / "docs" / "lists.md").read_text()
    sections = dict(re.findall(r"^### (.+?)\n(.*?)(?=^##|\Z)", doc, re.M | re.S))
    for title, catalogue in (("Incidents", incidents), ("Changes", changes), ("Service requests", requests),
                             ("CMDB items", items)):
        documented: dict[str, set[str]] = {}
        for names, operators in re.findall(r"^\| (`.+?) \| (`.+?`) \|$", sections[title], re.M):
            for name in re.findall(r"`(\w+)`", names):
                documented[name] = set(re.findall(r"`(\w+)`", operators))
        assert documented == {name: set(ops) for name, ops in catalogue.operators().items()}, title


async def test_values_no_database_could_take_are_refused_not_failed(db):
    """Whatever a client sends, a 422 naming it, never a database error: NUL characters, numbers beyond 64
    bits or not finite, and cursors forged with such values."""
    import base64
    import json

    from vigil.runtime.search import fingerprint

    for f, field in ((Filter("owner", "IS", ("a\x00b",)), "filters[0].values[0]"),
                     (Filter("name", "CONTAINS", ("\x00",)), "filters[0].values[0]"),
                     (Filter("number", "GT", (2**70,)), "filters[0].values[0]"),
                     (Filter("number", "GT", (float("inf"),)), "filters[0].values[0]"),
                     (Filter("number", "GT", (float("nan"),)), "filters[0].values[0]"),
                     (Filter("reference", "IS", (float("-inf"),)), "filters[0].values[0]")):
        with pytest.raises(ValidationFailed) as err:
            await page(db, Query(filters=(f,)))
        assert err.value.fields[0].field == field
    query = Query(sort="number")
    for key in ([2**70, "x"], ["a\x00", "x"], [1.5, "x"]):
        forged = base64.urlsafe_b64encode(json.dumps({"s": "number", "o": "asc", "q": fingerprint(
            replace(query, limit=0)), "k": key}).encode()).decode()
        with pytest.raises(ValidationFailed) as err:
            await page(db, replace(query, cursor=forged))
        assert err.value.fields[0].field == "cursor"
    async with db.read() as conn:  # a NUL in a q= search finds what the rest of the query finds
        found = await conn.execute(sa.select(things.c.number).where(contains(things.c.name_folded, "\x00")))
        assert found.all() == []
