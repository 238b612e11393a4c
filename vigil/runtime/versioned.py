"""Read, decide, write under the row's version: the one way the stores change an existing row.

A store describes a table once (`VersionedTable`: how a row becomes an entity, which columns an update writes,
how messages name it); `mutate` then reads the row in a write transaction, hands it to the domain's pure
`decide`, and writes the result back under the version it was read at. The domain bumps the version in what
it decides; deciding the same entity again means "nothing to change" and writes nothing.

- With an expected version (the client's `If-Match`) a row at another version is a 409.
- The row is read FOR UPDATE (PostgreSQL; SQLite runs one write transaction at a time anyway), so concurrent
  writers of one row queue instead of deciding on the same version; the version condition on the UPDATE
  still refuses a write over a row someone changed without the lock.
- `write` adds what belongs to the same transaction (timeline, outbox events, index rows); `serialise`
  names a lock for rules that read other rows before they write (see `Database.write`).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.runtime.db import Database
from vigil.runtime.errors import Conflict, NotFound

E = TypeVar("E")
D = TypeVar("D")


@dataclass(frozen=True, slots=True)
class Mutation(Generic[E, D]):
    before: E
    after: E
    decision: D

    @property
    def changed(self) -> bool:
        return self.after != self.before


class VersionedTable(Generic[E]):
    """One table whose rows carry `tenant_id`, their primary key and a `version` column."""

    def __init__(self, table: sa.Table, noun: str, load: Callable[[Any], E],
                 values: Callable[[E], dict[str, Any]], label: Callable[[E], str] = lambda e: e.id) -> None:
        self.table = table
        self.noun = noun  # "change", "configuration item": how messages name the kind of row
        self.load = load
        self.values = values  # the columns an update writes
        self.label = label  # how messages name one row (its reference, where it has one)

    def _row(self, entity: E) -> sa.ColumnElement[bool]:
        t = self.table
        keys = {c.name for c in t.primary_key.columns} | {"tenant_id"}
        return sa.and_(*(t.c[name] == getattr(entity, name) for name in sorted(keys)))

    async def read(self, conn: AsyncConnection, where: sa.ColumnElement[bool], for_update: bool = False) -> E | None:
        stmt = sa.select(self.table).where(where)
        row = (await conn.execute(stmt.with_for_update() if for_update else stmt)).first()
        return None if row is None else self.load(row)

    async def write(self, conn: AsyncConnection, current: E, updated: E) -> bool:
        """Write `updated` over the row if it is still at `current`'s version; False if it is not. A change
        must carry a new version: clients' ETags and the list pages' memo (`vigil.runtime.memo`) name a row's
        content by it."""
        if updated.version == current.version:  # type: ignore[attr-defined]
            raise ValueError(f"{self.noun} {self.label(current)} changed without a new version")
        result = await conn.execute(self.table.update().where(
            self._row(current), self.table.c.version == current.version).values(self.values(updated)))
        return result.rowcount == 1

    async def mutate(self, db: Database, where: sa.ColumnElement[bool], key: str,
                     decide: Callable[[E], D | Awaitable[D]], *, entity: Callable[[D], E] = lambda d: d,
                     expected_version: int = 0,
                     write: Callable[[AsyncConnection, E, D], Awaitable[None]] | None = None,
                     serialise: str = "") -> Mutation[E, D]:
        """Read the row `where` selects (NotFound naming `key`), decide, write, in one transaction. `entity`
        picks the new entity out of what `decide` returns; `write(conn, current, decision)` runs after the row
        is written, in the same transaction."""
        async with db.write(serialise) as conn:
            return await self.mutate_in(conn, where, key, decide, entity=entity,
                                        expected_version=expected_version, write=write)

    async def mutate_in(self, conn: AsyncConnection, where: sa.ColumnElement[bool], key: str,
                        decide: Callable[[E], D | Awaitable[D]], *, entity: Callable[[D], E] = lambda d: d,
                        expected_version: int = 0,
                        write: Callable[[AsyncConnection, E, D], Awaitable[None]] | None = None) -> Mutation[E, D]:
        """`mutate` inside a write transaction the caller holds (when the decision reads other rows of it)."""
        current = await self.read(conn, where, for_update=True)
        if current is None:
            raise NotFound(f"{self.noun} {key} not found")
        if expected_version and current.version != expected_version:
            raise Conflict(f"{self.noun} {self.label(current)} is at version {current.version}, not "
                           f"{expected_version}; re-read and retry")
        decision = decide(current)
        if inspect.isawaitable(decision):
            decision = await decision
        updated = entity(decision)
        if updated == current:
            return Mutation(current, current, decision)
        if not await self.write(conn, current, updated):
            raise Conflict(f"{self.noun} {self.label(current)} was changed concurrently; re-read and retry")
        if write is not None:
            await write(conn, current, decision)
        return Mutation(current, updated, decision)
