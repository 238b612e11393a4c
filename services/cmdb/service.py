"""CMDB domain logic: validation of items and relations, bulk import rules, and blast radius over the
in-memory graph. No gRPC, SQL or Kafka here; the store runs these decisions inside its transactions.

The graph of a tenant is loaded lazily from the store on first use and then kept in step with every write
this process makes (under a per-tenant lock: write, commit, then apply to the graph), so an impact query
never rebuilds it. Several replicas would each keep their own copy in step by consuming the ci.* events
(every event carries the full items and relations it changed); this build runs one CMDB replica.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from services.cmdb.graph import CRITICALITIES, RELATION_TYPES, Summary, TenantGraph
from vigil.runtime.clock import new_id, now
from vigil.runtime.context import CallContext
from vigil.runtime.errors import Conflict, FieldError, NotFound, ValidationFailed
from vigil.runtime.search import Filter, Listing

# The documented core of CI classes; the set is open (any lower_snake name is accepted).
CORE_CLASSES = ("server", "virtual_machine", "container", "database", "service", "application",
                "load_balancer", "queue", "cache", "network", "dns", "storage", "k8s_cluster",
                "k8s_namespace", "k8s_node", "cloud_account", "saas")
DEFAULT_ENVIRONMENT = "production"
DEFAULT_CRITICALITY = "medium"
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
ENV_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
LIMITS = {"name": 255, "owner": 320, "q": 200, "ref": 128}
MAX_ATTRIBUTES_BYTES = 16_384
MAX_LIMIT = 200
MAX_BULK_ITEMS = 10_000
MAX_BULK_RELATIONS = 50_000
MAX_REPORTED_ERRORS = 100
MAX_IMPACT_SOURCES = 100
MAX_DEPTH = 100
SORT_FIELDS = ("name", "class", "environment", "criticality", "created_at", "updated_at")
UPDATABLE = ("name", "class", "environment", "owner", "criticality", "attributes")
DIRECTIONS = ("downstream", "upstream")
_NO_TIME = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    tenant_id: str
    name: str
    cls: str
    environment: str
    owner: str
    criticality: str
    attributes: dict[str, Any]
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Relation:
    id: str
    tenant_id: str
    source_id: str
    target_id: str
    type: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewItem:
    name: str
    cls: str
    environment: str = ""
    owner: str = ""
    criticality: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    ref: str = ""


@dataclass(frozen=True, slots=True)
class NewRelation:
    source_id: str
    target_id: str
    type: str


@dataclass(frozen=True, slots=True)
class ItemQuery:
    cls: str = ""
    environment: str = ""
    q: str = ""
    ids: tuple[str, ...] = ()
    sort: str = "name"
    order: str = "asc"
    limit: int = 50
    offset: int = 0
    filters: tuple[Filter, ...] = ()  # structured filters, all of which must hold (vigil.runtime.search)
    cursor: str = ""  # from the previous page's next_cursor; replaces offset


@dataclass(frozen=True, slots=True)
class RelationQuery:
    ci_id: str = ""
    source_id: str = ""
    target_id: str = ""
    types: tuple[str, ...] = ()
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class ImpactQuery:
    ci_ids: tuple[str, ...]
    depth: int = 0
    types: tuple[str, ...] = ()
    direction: str = "downstream"
    limit: int = 0
    offset: int = 0
    ids_only: bool = False


@dataclass(frozen=True, slots=True)
class Impacted:
    item: Item
    depth: int
    path: list[str]
    relation_types: list[str]


@dataclass(frozen=True, slots=True)
class Impact:
    items: list[Impacted]
    summary: Summary
    unknown_ci_ids: list[str]


@dataclass(frozen=True, slots=True)
class Imported:
    items: list[Item]
    relations: list[Relation]
    refs: dict[str, str]


class Store(Protocol):
    async def insert_item(self, item: Item) -> Item: ...
    async def get_item(self, tenant_id: str, ci_id: str) -> Item | None: ...
    async def get_items(self, tenant_id: str, ids: list[str]) -> dict[str, Item]: ...
    async def list_items(self, tenant_id: str, query: ItemQuery) -> Listing[Item]: ...
    async def find_items_by_name(self, tenant_id: str, names: list[str]) -> list[Item]: ...
    async def update_item(self, tenant_id: str, ci_id: str, decide: Callable[[Item], tuple[Item, tuple[str, ...]]],
                          expected_version: int) -> tuple[Item, Item]: ...
    async def delete_item(self, tenant_id: str, ci_id: str) -> tuple[Item, list[Relation]]: ...
    async def insert_relation(self, relation: Relation) -> tuple[Relation, bool]: ...
    async def list_relations(self, tenant_id: str, query: RelationQuery) -> tuple[list[Relation], int]: ...
    async def delete_relation(self, tenant_id: str, relation_id: str) -> Relation: ...
    async def bulk_insert(self, tenant_id: str, items: list[Item], relations: list[Relation],
                          relation_rows: list[int]) -> bool: ...
    async def load_graph(self, tenant_id: str, graph: TenantGraph) -> None: ...


def import_ids(ctx: CallContext, n_items: int, n_relations: int) -> tuple[list[str], list[str]]:
    """The ids of an import's items and relations. Under an Idempotency-Key they derive from it (like a single
    create's, CallContext.resource_id), so an import retried after its answer was lost (a deadline, a gateway
    that died after the commit) finds the rows of its first attempt instead of importing everything twice."""
    if not ctx.idempotency_key:
        return new_ids(n_items), new_ids(n_relations)
    base = uuid.UUID(ctx.resource_id("ci-import"))
    return ([str(uuid.uuid5(base, f"item/{i}")) for i in range(n_items)],
            [str(uuid.uuid5(base, f"relation/{i}")) for i in range(n_relations)])


def new_ids(n: int) -> list[str]:
    """n random (version 4) UUIDs, from one read of the OS's randomness: imports make them by the 10,000."""
    raw = bytearray(os.urandom(16 * n))
    out = []
    for i in range(0, 16 * n, 16):
        raw[i + 6] = (raw[i + 6] & 0x0F) | 0x40  # version 4
        raw[i + 8] = (raw[i + 8] & 0x3F) | 0x80  # RFC 4122 variant
        h = raw[i:i + 16].hex()
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def is_id(value: str) -> bool:
    """A CI or relation id: a canonical (lower-case) UUID, the form this service hands out."""
    return bool(_UUID.match(value))


# -- validation -------------------------------------------------------------------------------------------


def _item_errors(item: NewItem, prefix: str = "") -> list[FieldError]:
    errors: list[FieldError] = []
    if not item.name.strip():
        errors.append(FieldError(f"{prefix}name", "is required"))
    elif len(item.name) > LIMITS["name"]:
        errors.append(FieldError(f"{prefix}name", f"must be at most {LIMITS['name']} characters"))
    if not NAME_PATTERN.match(item.cls):
        errors.append(FieldError(f"{prefix}class", "is required: lower_snake_case, at most 64 characters "
                                                   f"(core classes: {', '.join(CORE_CLASSES)})"))
    if item.environment and not ENV_PATTERN.match(item.environment):
        errors.append(FieldError(f"{prefix}environment", "must be lower case letters, digits, - or _, "
                                                         "at most 64 characters"))
    if len(item.owner) > LIMITS["owner"]:
        errors.append(FieldError(f"{prefix}owner", f"must be at most {LIMITS['owner']} characters"))
    if item.criticality and item.criticality not in CRITICALITIES:
        errors.append(FieldError(f"{prefix}criticality", f"must be one of {', '.join(CRITICALITIES)}"))
    if len(json.dumps(item.attributes, default=str)) > MAX_ATTRIBUTES_BYTES:
        errors.append(FieldError(f"{prefix}attributes", f"must be at most {MAX_ATTRIBUTES_BYTES} bytes of JSON"))
    if len(item.ref) > LIMITS["ref"]:
        errors.append(FieldError(f"{prefix}ref", f"must be at most {LIMITS['ref']} characters"))
    return errors


def _relation_shape_errors(rel: NewRelation, prefix: str = "") -> list[FieldError]:
    errors: list[FieldError] = []
    if rel.type not in RELATION_TYPES:
        errors.append(FieldError(f"{prefix}type", f"unknown relation type {rel.type!r}; one of "
                                                  f"{', '.join(RELATION_TYPES)}"))
    for name in ("source_id", "target_id"):
        if not getattr(rel, name):
            errors.append(FieldError(f"{prefix}{name}", "is required"))
    if rel.source_id and rel.source_id == rel.target_id:
        errors.append(FieldError(f"{prefix}target_id", "a CI cannot relate to itself"))
    return errors


def _fail(message: str, errors: list[FieldError]) -> None:
    if errors:
        shown = errors[:MAX_REPORTED_ERRORS]
        more = f" ({len(errors)} errors, first {len(shown)} listed)" if len(errors) > len(shown) else ""
        raise ValidationFailed(message + more, shown)


def _validate_item_query(query: ItemQuery) -> None:
    errors: list[FieldError] = []
    if query.sort not in SORT_FIELDS:
        errors.append(FieldError("sort", f"must be one of {', '.join(SORT_FIELDS)}"))
    if query.order not in ("asc", "desc"):
        errors.append(FieldError("order", "must be asc or desc"))
    if not 1 <= query.limit <= MAX_LIMIT:
        errors.append(FieldError("limit", f"must be between 1 and {MAX_LIMIT}"))
    if query.offset < 0:
        errors.append(FieldError("offset", "must be 0 or more"))
    if query.cursor and query.offset:
        errors.append(FieldError("offset", "cannot be combined with cursor"))
    if len(query.q) > LIMITS["q"]:
        errors.append(FieldError("q", f"must be at most {LIMITS['q']} characters"))
    if len(query.ids) > MAX_LIMIT:
        errors.append(FieldError("ids", f"at most {MAX_LIMIT}"))
    _fail("invalid query", errors)


def _materialise(ctx: CallContext, new: NewItem, at: datetime, ci_id: str = "") -> Item:
    return Item(id=ci_id or new_id(), tenant_id=ctx.tenant_id, name=new.name.strip(), cls=new.cls,
                environment=new.environment or DEFAULT_ENVIRONMENT, owner=new.owner,
                criticality=new.criticality or DEFAULT_CRITICALITY, attributes=dict(new.attributes), version=1,
                created_by=ctx.actor, created_at=at, updated_at=at)


def apply_update(item: Item, changes: dict[str, Any], at: datetime) -> tuple[Item, tuple[str, ...]]:
    unknown = [FieldError(k, "unknown or read-only field") for k in changes if k not in UPDATABLE]
    _fail("invalid update", unknown)
    values = {("cls" if k == "class" else k): v for k, v in changes.items()}
    candidate = NewItem(name=values.get("name", item.name), cls=values.get("cls", item.cls),
                        environment=values.get("environment", item.environment),
                        owner=values.get("owner", item.owner),
                        criticality=values.get("criticality", item.criticality),
                        attributes=values.get("attributes", item.attributes))
    errors = _item_errors(candidate)
    if "environment" in changes and not changes["environment"]:
        errors.append(FieldError("environment", "may not be empty"))
    if "criticality" in changes and not changes["criticality"]:
        errors.append(FieldError("criticality", "may not be empty"))
    _fail("invalid update", errors)
    changed = tuple(sorted(k for k, v in changes.items()
                           if getattr(item, "cls" if k == "class" else k) != (v.strip() if k == "name" else v)))
    if not changed:
        return item, ()
    updated = replace(item, name=candidate.name.strip(), cls=candidate.cls, environment=candidate.environment,
                      owner=candidate.owner, criticality=candidate.criticality,
                      attributes=dict(candidate.attributes), version=item.version + 1, updated_at=at)
    return updated, changed


# -- the graphs -------------------------------------------------------------------------------------------


class GraphRegistry:
    """One TenantGraph per tenant, loaded on first use; writers hold the tenant's lock from the store write
    to the graph update, so the graph applies changes in commit order and never misses one while loading."""

    def __init__(self, load: Callable[[str, TenantGraph], Awaitable[None]]) -> None:
        self._load = load
        self._graphs: dict[str, TenantGraph] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, tenant_id: str) -> asyncio.Lock:
        return self._locks.setdefault(tenant_id, asyncio.Lock())

    async def get(self, tenant_id: str) -> TenantGraph:
        graph = self._graphs.get(tenant_id)
        if graph is not None:
            return graph
        async with self._lock(tenant_id):
            return await self._loaded(tenant_id)

    async def _loaded(self, tenant_id: str) -> TenantGraph:
        graph = self._graphs.get(tenant_id)
        if graph is None:
            graph = TenantGraph()
            await self._load(tenant_id, graph)
            graph.warm()
            self._graphs[tenant_id] = graph
        return graph

    @asynccontextmanager
    async def writing(self, tenant_id: str) -> AsyncIterator[TenantGraph]:
        async with self._lock(tenant_id):
            yield await self._loaded(tenant_id)


# -- the service ------------------------------------------------------------------------------------------


class CmdbService:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.graphs = GraphRegistry(store.load_graph)

    async def create_item(self, ctx: CallContext, new: NewItem) -> Item:
        _fail("invalid configuration item", _item_errors(replace(new, ref="")))
        item = _materialise(ctx, new, now(), ctx.resource_id("ci"))
        async with self.graphs.writing(ctx.tenant_id) as graph:
            item, created = await self.store.insert_item(item)
            if created:
                graph.add_item(item.id, item.cls, item.environment, item.criticality, item.name, item.owner,
                               item.version)
        return item

    async def get_item(self, ctx: CallContext, ci_id: str) -> Item:
        item = await self.store.get_item(ctx.tenant_id, ci_id) if is_id(ci_id) else None
        if item is None:
            raise NotFound(f"configuration item {ci_id} not found")
        return item

    async def get_items(self, ctx: CallContext, ids: list[str]) -> tuple[list[Item], list[str]]:
        if len(ids) > 1000:
            raise ValidationFailed("too many ids", [FieldError("ids", "at most 1000")])
        wanted = list(dict.fromkeys(ids))
        found = await self.store.get_items(ctx.tenant_id, [i for i in wanted if is_id(i)])
        return [found[i] for i in wanted if i in found], [i for i in wanted if i not in found]

    async def find_items_by_name(self, ctx: CallContext, names: list[str]) -> list[Item]:
        """Items whose name or id is exactly one of `names` (alert labels such as service=checkout)."""
        if len(names) > 1000:
            raise ValidationFailed("too many names", [FieldError("names", "at most 1000")])
        wanted = list(dict.fromkeys(n for n in names if n and len(n) <= 255))
        return await self.store.find_items_by_name(ctx.tenant_id, wanted) if wanted else []

    async def list_items(self, ctx: CallContext, query: ItemQuery) -> Listing[Item]:
        _validate_item_query(query)
        return await self.store.list_items(ctx.tenant_id, query)

    async def update_item(self, ctx: CallContext, ci_id: str, changes: dict[str, Any],
                          expected_version: int = 0) -> Item:
        if not changes:
            raise ValidationFailed("nothing to update", [FieldError("update_mask", "name at least one field")])
        if not is_id(ci_id):
            raise NotFound(f"configuration item {ci_id} not found")
        at = now()
        async with self.graphs.writing(ctx.tenant_id) as graph:
            _, updated = await self.store.update_item(ctx.tenant_id, ci_id,
                                                      lambda item: apply_update(item, changes, at),
                                                      expected_version)
            graph.update_item(updated.id, updated.cls, updated.environment, updated.criticality, updated.name,
                              updated.owner, updated.version)
        return updated

    async def delete_item(self, ctx: CallContext, ci_id: str) -> tuple[Item, list[Relation]]:
        if not is_id(ci_id):
            raise NotFound(f"configuration item {ci_id} not found")
        async with self.graphs.writing(ctx.tenant_id) as graph:
            item, relations = await self.store.delete_item(ctx.tenant_id, ci_id)
            for r in relations:
                graph.remove_relation(r.source_id, r.target_id, r.type)
            graph.remove_item(item.id)
        return item, relations

    async def create_relation(self, ctx: CallContext, new: NewRelation) -> Relation:
        errors = _relation_shape_errors(new)
        for name in ("source_id", "target_id"):
            value = getattr(new, name)
            if value and not is_id(value) and not any(e.field == name for e in errors):
                errors.append(FieldError(name, f"unknown configuration item {value!r}"))
        _fail("invalid relation", errors)
        relation = Relation(id=ctx.resource_id("relation"), tenant_id=ctx.tenant_id, source_id=new.source_id,
                            target_id=new.target_id, type=new.type, created_by=ctx.actor, created_at=now())
        async with self.graphs.writing(ctx.tenant_id) as graph:
            relation, written = await self.store.insert_relation(relation)
            if written:  # a retry's relation is in the graph already
                graph.add_relation(relation.source_id, relation.target_id, relation.type)
        return relation

    async def list_relations(self, ctx: CallContext, query: RelationQuery) -> tuple[list[Relation], int]:
        errors: list[FieldError] = []
        for t in query.types:
            if t not in RELATION_TYPES:
                errors.append(FieldError("type", f"unknown relation type {t!r}; one of {', '.join(RELATION_TYPES)}"))
        if not 1 <= query.limit <= MAX_LIMIT:
            errors.append(FieldError("limit", f"must be between 1 and {MAX_LIMIT}"))
        if query.offset < 0:
            errors.append(FieldError("offset", "must be 0 or more"))
        _fail("invalid query", errors)
        return await self.store.list_relations(ctx.tenant_id, query)

    async def delete_relation(self, ctx: CallContext, relation_id: str) -> Relation:
        if not is_id(relation_id):
            raise NotFound(f"relation {relation_id} not found")
        async with self.graphs.writing(ctx.tenant_id) as graph:
            relation = await self.store.delete_relation(ctx.tenant_id, relation_id)
            graph.remove_relation(relation.source_id, relation.target_id, relation.type)
        return relation

    async def bulk_import(self, ctx: CallContext, items: list[NewItem], relations: list[NewRelation]) -> Imported:
        """All or nothing: every row is checked first and every failing row named (`items[3].class`,
        `relations[12].target_id`); then one transaction writes them all."""
        errors: list[FieldError] = []
        if not items and not relations:
            errors.append(FieldError("items", "name at least one item or relation"))
        if len(items) > MAX_BULK_ITEMS:
            errors.append(FieldError("items", f"at most {MAX_BULK_ITEMS} per import"))
        if len(relations) > MAX_BULK_RELATIONS:
            errors.append(FieldError("relations", f"at most {MAX_BULK_RELATIONS} per import"))
        _fail("invalid import", errors)
        at = now()
        item_ids, relation_ids = import_ids(ctx, len(items), len(relations))
        refs: dict[str, str] = {}
        created: list[Item] = []
        for i, new in enumerate(items):
            errors.extend(_item_errors(new, f"items[{i}]."))
            item = _materialise(ctx, new, at, item_ids[i])
            if new.ref:
                if new.ref in refs:
                    errors.append(FieldError(f"items[{i}].ref", f"duplicate ref {new.ref!r}"))
                refs[new.ref] = item.id
            created.append(item)
        rels: list[Relation] = []
        seen: dict[tuple[str, str, str], int] = {}
        for i, new in enumerate(relations):
            row = f"relations[{i}]."
            resolved = NewRelation(refs.get(new.source_id, new.source_id), refs.get(new.target_id, new.target_id),
                                   new.type)
            row_errors = _relation_shape_errors(resolved, row)
            for name in ("source_id", "target_id"):
                value = getattr(resolved, name)
                if value and not is_id(value) and not any(e.field == row + name for e in row_errors):
                    row_errors.append(FieldError(row + name, f"unknown configuration item or ref {value!r}"))
            key = (resolved.source_id, resolved.target_id, resolved.type)
            if not row_errors and key in seen:
                row_errors.append(FieldError(row.rstrip("."), f"duplicate of relations[{seen[key]}]"))
            seen.setdefault(key, i)
            errors.extend(row_errors)
            rels.append(Relation(id=relation_ids[i], tenant_id=ctx.tenant_id, source_id=resolved.source_id,
                                 target_id=resolved.target_id, type=resolved.type, created_by=ctx.actor,
                                 created_at=at))
        _fail("invalid import", errors)
        async with self.graphs.writing(ctx.tenant_id) as graph:
            # The store checks what needs the database (CIs that must already exist, relations that do) and
            # names those rows too. False: a retry of an import already written (same Idempotency-Key).
            if not await self.store.bulk_insert(ctx.tenant_id, created, rels, list(range(len(rels)))):
                return Imported(created, rels, refs)
            for item in created:
                graph.add_item(item.id, item.cls, item.environment, item.criticality, item.name, item.owner, item.version)
            graph.add_relations((r.source_id, r.target_id, r.type) for r in rels)
            graph.warm()
        return Imported(created, rels, refs)

    async def impact(self, ctx: CallContext, query: ImpactQuery) -> Impact:
        errors: list[FieldError] = []
        if not query.ci_ids:
            errors.append(FieldError("ci_id", "is required"))
        if len(query.ci_ids) > MAX_IMPACT_SOURCES:
            errors.append(FieldError("ci_id", f"at most {MAX_IMPACT_SOURCES}"))
        if not 0 <= query.depth <= MAX_DEPTH:
            errors.append(FieldError("depth", f"must be between 0 (unlimited) and {MAX_DEPTH}"))
        for t in query.types:
            if t not in RELATION_TYPES:
                errors.append(FieldError("relation_type", f"unknown relation type {t!r}; one of "
                                                          f"{', '.join(RELATION_TYPES)}"))
        if query.direction not in DIRECTIONS:
            errors.append(FieldError("direction", "must be downstream or upstream"))
        if query.limit < 0 or query.offset < 0:
            errors.append(FieldError("limit", "limit and offset must be 0 or more"))
        _fail("invalid impact query", errors)
        graph = await self.graphs.get(ctx.tenant_id)
        sources = list(dict.fromkeys(query.ci_ids))
        unknown = [c for c in sources if c not in graph.g]
        if len(unknown) == len(sources):
            raise NotFound(f"configuration item {', '.join(unknown)} not found",
                           [FieldError("ci_id", f"unknown configuration item {c!r}") for c in unknown])
        walk = graph.walk([c for c in sources if c not in unknown], query.depth, query.types,
                          query.direction == "upstream")
        summary = graph.summary(walk)
        # Items come from the graph's snapshot, not the store: the answer is consistent with the walk and never
        # waits for the database. They carry the CI's identity (id, name, class, environment, owner,
        # criticality, version); attributes and timestamps are one GET /api/cmdb/items/{id} away.
        nodes = graph.g.nodes
        out = []
        for i in walk.slice(query.offset, query.limit):
            node = nodes[i]
            item = Item(id=i, tenant_id=ctx.tenant_id, name="" if query.ids_only else node["name"], cls=node["cls"],
                        environment=node["env"], owner="" if query.ids_only else node["owner"],
                        criticality=node["crit"], attributes={}, version=node["version"], created_by="",
                        created_at=_NO_TIME, updated_at=_NO_TIME)
            path, types = walk.path(i)
            out.append(Impacted(item, walk.depth_of(i), path, types))
        return Impact(out, summary, unknown)

    async def relation_types(self) -> list[tuple[str, str, str]]:
        return [(name, direction, text) for name, (direction, text) in RELATION_TYPES.items()]


def conflict_for_duplicate(source_id: str, target_id: str, rel_type: str) -> Conflict:
    return Conflict(f"relation {source_id} {rel_type} {target_id} already exists",
                    [FieldError("relation", "already exists")])
