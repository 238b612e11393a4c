"""Persistence of the cmdb service (SQLAlchemy Core). Every query is scoped by tenant_id; every write stages
its ci.* events in the same transaction (transactional outbox)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.cmdb.events import CmdbEvents
from services.cmdb.graph import CRITICALITIES, TenantGraph
from services.cmdb.service import (
    MAX_REPORTED_ERRORS,
    Item,
    ItemQuery,
    Relation,
    RelationQuery,
    conflict_for_duplicate,
)
from vigil.runtime import outbox
from vigil.runtime.clock import as_utc
from vigil.runtime.db import Database, ReadByKey
from vigil.runtime.errors import FieldError, NotFound, ValidationFailed
from vigil.runtime.search import (
    Catalogue,
    Keyset,
    Keyword,
    Listing,
    Number,
    Ranked,
    SortKey,
    Text,
    Time,
    list_page,
)
from vigil.runtime.text import contains_any, folded
from vigil.runtime.versioned import VersionedTable

metadata = sa.MetaData()
_TS = sa.DateTime(timezone=True)
_CHUNK = 500  # ids per IN (...) list: well under SQLite's and asyncpg's parameter limits

items = sa.Table(
    "cmdb_items",
    metadata,
    # (tenant_id, id): every lookup names both (see the migration).
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("class", sa.String(64), nullable=False),
    sa.Column("environment", sa.String(64), nullable=False),
    sa.Column("owner", sa.String(320), nullable=False),
    sa.Column("criticality", sa.String(16), nullable=False),
    sa.Column("attributes", sa.JSON, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(320), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    # Name and owner folded for search (vigil.runtime.text).
    sa.Column("name_folded", sa.Text, nullable=False),
    sa.Column("owner_folded", sa.Text, nullable=False),
    sa.Index("ix_cmdb_items_tenant_name", "tenant_id", "name"),
    sa.Index("ix_cmdb_items_tenant_class", "tenant_id", "class"),
    sa.Index("ix_cmdb_items_tenant_env", "tenant_id", "environment"),
)

relations = sa.Table(
    "cmdb_relations",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("source_id", sa.String(36), nullable=False),
    sa.Column("target_id", sa.String(36), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("created_by", sa.String(320), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.UniqueConstraint("tenant_id", "source_id", "target_id", "type", name="uq_cmdb_relations"),
    sa.Index("ix_cmdb_relations_target", "tenant_id", "target_id"),
)

outbox_table, processed_events = outbox.define_tables(metadata)

# The list's total order: the sort key, then the id (unique per tenant).
KEYSET = Keyset({
    "name": SortKey(items.c.name, "str"),
    "class": SortKey(items.c["class"], "str"),
    "environment": SortKey(items.c.environment, "str"),
    "criticality": SortKey(sa.case({c: i for i, c in enumerate(CRITICALITIES)}, value=items.c.criticality), "int"),
    "created_at": SortKey(items.c.created_at, "time"),
    "updated_at": SortKey(items.c.updated_at, "time"),
}, items.c.id, "str")
# What structured filters (POST /api/cmdb/items/search) can name.
FILTERS = Catalogue(
    Keyword("id", items.c.id),
    Text("name", items.c.name, items.c.name_folded),
    Keyword("class", items.c["class"]),
    Keyword("environment", items.c.environment),
    Text("owner", items.c.owner, items.c.owner_folded, empty=True),
    Ranked("criticality", items.c.criticality, order=CRITICALITIES),
    Keyword("created_by", items.c.created_by),
    Time("created_at", items.c.created_at),
    Time("updated_at", items.c.updated_at),
    Number("version", items.c.version),
)


def _row_to_item(row: Any) -> Item:
    return Item(id=row.id, tenant_id=row.tenant_id, name=row.name, cls=getattr(row, "class"),
                environment=row.environment, owner=row.owner, criticality=row.criticality,
                attributes=dict(row.attributes or {}), version=row.version, created_by=row.created_by,
                created_at=as_utc(row.created_at), updated_at=as_utc(row.updated_at))


def _row_to_relation(row: Any) -> Relation:
    return Relation(id=row.id, tenant_id=row.tenant_id, source_id=row.source_id, target_id=row.target_id,
                    type=row.type, created_by=row.created_by, created_at=as_utc(row.created_at))


def _item_values(item: Item) -> dict[str, Any]:
    return {"id": item.id, "tenant_id": item.tenant_id, "name": item.name, "class": item.cls,
            "environment": item.environment, "owner": item.owner, "criticality": item.criticality,
            "attributes": item.attributes, "version": item.version, "created_by": item.created_by,
            "created_at": item.created_at, "updated_at": item.updated_at,
            **folded(name=item.name, owner=item.owner)}


def _relation_values(r: Relation) -> dict[str, Any]:
    return {"id": r.id, "tenant_id": r.tenant_id, "source_id": r.source_id, "target_id": r.target_id,
            "type": r.type, "created_by": r.created_by, "created_at": r.created_at}


def _updatable_values(item: Item) -> dict[str, Any]:
    values = _item_values(item)
    for key in ("id", "tenant_id", "created_by", "created_at"):
        values.pop(key)
    return values


_versioned = VersionedTable(items, "configuration item", _row_to_item, _updatable_values)


def graph_lock(tenant_id: str) -> str:
    """The lock of the writes whose rules read other rows of a tenant's graph (a relation needs both CIs, an
    import checks which relations exist, deleting a CI takes its relations): they run one at a time per
    tenant, also across replicas, so none decides on rows another is changing."""
    return f"graph/{tenant_id}"


def _chunks(values: list, size: int = _CHUNK):
    for i in range(0, len(values), size):
        yield values[i:i + size]


_BY_KEY = ReadByKey(items)


class CmdbStore:
    def __init__(self, db: Database, events: CmdbEvents) -> None:
        self.db = db
        self.events = events

    async def insert_item(self, item: Item) -> tuple[Item, bool]:
        """Insert an item; (the item, True). When its id is stored already (a retried create, the id derived
        from the same Idempotency-Key): (the stored item, False), and nothing is written."""
        async with self.db.write() as conn:
            stored = (await conn.execute(sa.select(items).where(items.c.id == item.id))).first()
            if stored is not None:
                return _row_to_item(stored), False
            await conn.execute(items.insert().values(_item_values(item)))
            await self.events.stage(conn, "ci.created", item.tenant_id, item.id, items=[item])
        self.events.committed()
        return item, True

    async def get_item(self, tenant_id: str, ci_id: str) -> Item | None:
        row = await _BY_KEY.one(self.db, tenant_id, ci_id)
        return _row_to_item(row) if row else None

    async def get_items(self, tenant_id: str, ids: list[str]) -> dict[str, Item]:
        found: dict[str, Item] = {}
        if not ids:
            return found
        async with self.db.read() as conn:
            for chunk in _chunks(ids):
                rows = (await conn.execute(sa.select(items).where(items.c.tenant_id == tenant_id,
                                                                  items.c.id.in_(chunk)))).all()
                found.update((r.id, _row_to_item(r)) for r in rows)
        return found

    async def find_items_by_name(self, tenant_id: str, names: list[str]) -> list[Item]:
        found: dict[str, Item] = {}
        async with self.db.read() as conn:
            for chunk in _chunks(names):
                rows = (await conn.execute(sa.select(items).where(
                    items.c.tenant_id == tenant_id, sa.or_(items.c.name.in_(chunk), items.c.id.in_(chunk))))).all()
                found.update((r.id, _row_to_item(r)) for r in rows)
        return list(found.values())

    async def list_items(self, tenant_id: str, query: ItemQuery) -> Listing[Item]:
        where = [items.c.tenant_id == tenant_id, *FILTERS.where(query.filters)]
        if query.cls:
            where.append(items.c["class"] == query.cls)
        if query.environment:
            where.append(items.c.environment == query.environment)
        if query.ids:
            where.append(items.c.id.in_(query.ids))
        if query.q:
            where.append(sa.or_(contains_any((items.c.name_folded, items.c.owner_folded), query.q),
                                items.c.id == query.q))
        return await list_page(self.db, items, where, KEYSET, _row_to_item, sort=query.sort, order=query.order,
                               limit=query.limit, offset=query.offset, cursor=query.cursor,
                               query=replace(query, limit=0, offset=0, cursor=""))

    async def update_item(self, tenant_id: str, ci_id: str,
                          decide: Callable[[Item], tuple[Item, tuple[str, ...]]],
                          expected_version: int = 0) -> tuple[Item, Item]:
        async def write(conn: AsyncConnection, _current: Item, decision: tuple[Item, tuple[str, ...]]) -> None:
            updated, changed = decision
            await self.events.stage(conn, "ci.updated", tenant_id, ci_id, items=[updated], changed_fields=changed)

        done = await _versioned.mutate(self.db, sa.and_(items.c.tenant_id == tenant_id, items.c.id == ci_id),
                                       ci_id, decide, entity=lambda decision: decision[0],
                                       expected_version=expected_version, write=write)
        if done.changed:
            self.events.committed()
        return done.before, done.after

    async def delete_item(self, tenant_id: str, ci_id: str) -> tuple[Item, list[Relation]]:
        async with self.db.write(serialise=graph_lock(tenant_id)) as conn:
            row = (await conn.execute(sa.select(items).where(items.c.tenant_id == tenant_id,
                                                             items.c.id == ci_id))).first()
            if row is None:
                raise NotFound(f"configuration item {ci_id} not found")
            touching = sa.and_(relations.c.tenant_id == tenant_id,
                               sa.or_(relations.c.source_id == ci_id, relations.c.target_id == ci_id))
            gone = [_row_to_relation(r) for r in (await conn.execute(sa.select(relations).where(touching))).all()]
            await conn.execute(relations.delete().where(touching))
            await conn.execute(items.delete().where(items.c.tenant_id == tenant_id, items.c.id == ci_id))
            item = _row_to_item(row)
            await self.events.stage(conn, "ci.deleted", tenant_id, ci_id, items=[item], relations=gone)
        self.events.committed()
        return item, gone

    async def _existing_ids(self, conn: AsyncConnection, tenant_id: str, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(ids):
            found.update((await conn.execute(sa.select(items.c.id).where(
                items.c.tenant_id == tenant_id, items.c.id.in_(chunk)))).scalars())
        return found

    async def insert_relation(self, relation: Relation) -> tuple[Relation, bool]:
        """The relation, and whether it was written now: a retried create (its id derived from the same
        Idempotency-Key) whose first attempt was committed gets the stored relation and writes nothing."""
        try:
            async with self.db.write(serialise=graph_lock(relation.tenant_id)) as conn:
                known = await self._existing_ids(conn, relation.tenant_id, [relation.source_id, relation.target_id])
                missing = [FieldError(name, f"unknown configuration item {value!r}")
                           for name, value in (("source_id", relation.source_id), ("target_id", relation.target_id))
                           if value not in known]
                if missing:
                    raise ValidationFailed("invalid relation", missing)
                await conn.execute(relations.insert().values(_relation_values(relation)))
                await self.events.stage(conn, "ci.related", relation.tenant_id, relation.source_id,
                                        relations=[relation])
        except IntegrityError:
            async with self.db.read() as conn:
                stored = (await conn.execute(sa.select(relations).where(
                    relations.c.tenant_id == relation.tenant_id, relations.c.id == relation.id))).first()
            if stored is not None:
                return _row_to_relation(stored), False
            raise conflict_for_duplicate(relation.source_id, relation.target_id, relation.type) from None
        self.events.committed()
        return relation, True

    async def list_relations(self, tenant_id: str, query: RelationQuery) -> tuple[list[Relation], int]:
        where = [relations.c.tenant_id == tenant_id]
        if query.ci_id:
            where.append(sa.or_(relations.c.source_id == query.ci_id, relations.c.target_id == query.ci_id))
        if query.source_id:
            where.append(relations.c.source_id == query.source_id)
        if query.target_id:
            where.append(relations.c.target_id == query.target_id)
        if query.types:
            where.append(relations.c.type.in_(query.types))
        async with self.db.read() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(relations).where(*where))).scalar_one()
            rows = (await conn.execute(sa.select(relations).where(*where)
                                       .order_by(relations.c.created_at, relations.c.id)
                                       .limit(query.limit).offset(query.offset))).all()
        return [_row_to_relation(r) for r in rows], int(total)

    async def delete_relation(self, tenant_id: str, relation_id: str) -> Relation:
        async with self.db.write() as conn:
            row = (await conn.execute(sa.select(relations).where(relations.c.tenant_id == tenant_id,
                                                                 relations.c.id == relation_id))).first()
            if row is None:
                raise NotFound(f"relation {relation_id} not found")
            await conn.execute(relations.delete().where(relations.c.tenant_id == tenant_id,
                                                        relations.c.id == relation_id))
            relation = _row_to_relation(row)
            await self.events.stage(conn, "ci.unrelated", tenant_id, relation.source_id, relations=[relation])
        self.events.committed()
        return relation

    async def bulk_insert(self, tenant_id: str, new_items: list[Item], new_relations: list[Relation],
                          relation_rows: list[int]) -> bool:
        """Insert an import's rows, all or nothing; True. False when its first row is stored already (a retried
        import, its ids derived from the same Idempotency-Key): nothing is written."""
        created = {i.id for i in new_items}
        async with self.db.write(serialise=graph_lock(tenant_id)) as conn:
            table, first = (items, new_items[0].id) if new_items else (relations, new_relations[0].id)
            if (await conn.execute(sa.select(table.c.id).where(table.c.tenant_id == tenant_id,
                                                               table.c.id == first))).first() is not None:
                return False
            referenced = sorted({x for r in new_relations for x in (r.source_id, r.target_id)} - created)
            known = created | await self._existing_ids(conn, tenant_id, referenced)
            errors: list[FieldError] = []
            for row, r in zip(relation_rows, new_relations, strict=True):
                for name in ("source_id", "target_id"):
                    value = getattr(r, name)
                    if value not in known:
                        errors.append(FieldError(f"relations[{row}].{name}",
                                                 f"unknown configuration item or ref {value!r}"))
            existing = await self._existing_relations(conn, tenant_id, [r for r in new_relations
                                                                        if r.source_id not in created])
            for row, r in zip(relation_rows, new_relations, strict=True):
                if (r.source_id, r.target_id, r.type) in existing:
                    errors.append(FieldError(f"relations[{row}]", "this relation already exists"))
            if errors:
                errors.sort(key=lambda e: int(e.field.split("[", 1)[1].split("]", 1)[0]))
                shown = errors[:MAX_REPORTED_ERRORS]
                raise ValidationFailed(f"invalid import ({len(errors)} errors, first {len(shown)} listed)", shown)
            for chunk in _chunks(new_items, 2000):
                await conn.execute(items.insert(), [_item_values(i) for i in chunk])
            for chunk in _chunks(new_relations, 5000):
                await conn.execute(relations.insert(), [_relation_values(r) for r in chunk])
            await self.events.stage_import(conn, tenant_id, new_items, new_relations)
        self.events.committed()
        return True

    async def _existing_relations(self, conn: AsyncConnection, tenant_id: str,
                                  candidates: list[Relation]) -> set[tuple[str, str, str]]:
        sources = sorted({r.source_id for r in candidates})
        found: set[tuple[str, str, str]] = set()
        for chunk in _chunks(sources):
            rows = await conn.execute(sa.select(relations.c.source_id, relations.c.target_id, relations.c.type)
                                      .where(relations.c.tenant_id == tenant_id, relations.c.source_id.in_(chunk)))
            found.update((r.source_id, r.target_id, r.type) for r in rows)
        return found

    async def load_graph(self, tenant_id: str, graph: TenantGraph) -> None:
        async with self.db.read() as conn:
            rows = await conn.stream(sa.select(items.c.id, items.c["class"], items.c.environment,
                                               items.c.criticality, items.c.name, items.c.owner, items.c.version)
                                     .where(items.c.tenant_id == tenant_id)
                                     .order_by(items.c.created_at, items.c.id))
            async for row in rows:
                graph.add_item(*row)
            rows = await conn.stream(sa.select(relations.c.source_id, relations.c.target_id, relations.c.type)
                                     .where(relations.c.tenant_id == tenant_id))
            graph.add_relations([tuple(row) async for row in rows])
