"""The SQL store, written once: SQLAlchemy async engines for SQLite (embedded) and PostgreSQL (cluster), and
Alembic migrations applied at start.

Each service keeps its own tables: a SQLite file of its own, or its own schema (`vigil_<service>`) in a shared
PostgreSQL database. Migrations are numbered files (`0001_<name>.py`) in `services/<name>/migrations/versions`;
Alembic records the applied revision in the service's database; the numbering is checked so that a gap or a
duplicate is refused before anything runs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

_REVISION_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.py$")
T = TypeVar("T")

# How much work `brief_read` lets a read do on the event loop's thread: steps of SQLite's virtual machine,
# about 10 million a second here, so about 2 ms.
BRIEF_READ_STEPS = 20_000


def _json_dumps(value) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# JSON columns through orjson: the stdlib decoder dominated reads of rows with several JSON columns (measured
# on the alert batches, which read an incident per alert group).
JSON_CODECS = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


def normalise_url(url: str) -> str:
    """Accept plain driver-less URLs and pick the async driver."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.split(":///", 1)[1]
    return url


def dialect_insert(conn: AsyncConnection):
    """`insert` of the connection's dialect, for ON CONFLICT upserts (same syntax on SQLite and PostgreSQL)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def schema_for(service: str) -> str:
    return f"vigil_{service}"


def lock_key(name: str) -> int:
    """A PostgreSQL advisory lock key (signed 64 bits) for a lock name."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


def records(result: sa.Result[Any]) -> list[tuple[Any, ...]]:
    """A result's rows as tuples whose columns are also attributes (`r.title`, `r[3]`), for loaders that read many
    rows. A SQLAlchemy Row finds a column by name in `__getattr__`, after Python's own lookup has failed: 0.5 µs an
    access, 21 µs to turn an incident row into an incident; from one of these, 6.5 µs. Column names must be
    distinct (a name given twice is the last column of that name)."""
    make = _record_type(tuple(result.keys()))
    return [make(row) for row in result.all()]


@lru_cache(maxsize=1024)
def _record_type(keys: tuple[str, ...]) -> type[tuple[Any, ...]]:
    return type("Record", (tuple,), {"__slots__": (), **{k: property(itemgetter(i)) for i, k in enumerate(keys)}})


class ReadByKey:
    """One row of a tenant's table by its id, or by its reference number when the key is one (a pattern whose
    group is the number, e.g. `INC-(\\d{8})`): the read, its two statements built once for `Database.fetch()`, and
    the same rule as a clause for the writes that find their row by key."""

    def __init__(self, table: sa.Table, reference: re.Pattern[str] | None = None) -> None:
        self.table = table
        self.reference = reference
        tenant = table.c.tenant_id == sa.bindparam("tenant_id")
        self.statements = {column: sa.select(table).where(tenant, table.c[column] == sa.bindparam("key"))
                           for column in ("id", "number") if column == "id" or reference is not None}

    def _column_and_value(self, key: str) -> tuple[str, Any]:
        match = self.reference.match(key) if self.reference is not None else None
        return ("number", int(match.group(1))) if match else ("id", key)

    async def one(self, db: Database, tenant_id: str, key: str) -> tuple[Any, ...] | None:
        column, value = self._column_and_value(key)
        found = await db.fetch(self.statements[column], {"tenant_id": tenant_id, "key": value})
        return found[0] if found else None

    def where(self, tenant_id: str, key: str) -> sa.ColumnElement[bool]:
        column, value = self._column_and_value(key)
        return sa.and_(self.table.c.tenant_id == tenant_id, self.table.c[column] == value)


@lru_cache(maxsize=256)
def _compiled_read(statement: sa.Select, dialect: sa.Dialect):
    """A read's SQL for the driver, its parameters in order with their bind processors, and its record type and
    result processors (the columns' types), as SQLAlchemy would use them (`Database.fetch`)."""
    compiled = statement.compile(dialect=dialect)
    if compiled.post_compile_params:
        raise ValueError("Database.fetch() reads by key: an expanding (IN) parameter needs an execution")
    binds = tuple((name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
                  for name in compiled.positiontup)
    columns = statement.selected_columns
    processors = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns)
    return str(compiled), binds, _record_type(tuple(columns.keys())), processors


class Database:
    """One service's database. `write()` is a transaction; `read()` a connection for queries.

    On SQLite all writes go through one connection that opens its transactions with BEGIN IMMEDIATE: SQLite
    has one writer anyway, and a deferred transaction that reads before it writes fails with SQLITE_BUSY
    instead of waiting. Reads use their own pool and, with WAL, never wait for the writer. `lookup()` is for
    the short indexed reads of the request path (a row by its key): on SQLite it runs on the event loop's
    thread, because handing a read of a few microseconds to the driver's thread and back costs far more than
    the read; `fetch()` is such a read, built once, run on the driver itself. `brief_read()` is for reads that
    are usually short but need not be (a list page and its total).
    """

    def __init__(self, url: str, service: str, pool_size: int = 10) -> None:
        self.url = normalise_url(url)
        self.service = service
        self.brief_read_steps = BRIEF_READ_STEPS
        if self.url.startswith("sqlite"):
            self.writer = _sqlite_engine(self.url, immediate=True, pool_size=1)
            self.reader = _sqlite_engine(self.url, immediate=False, pool_size=pool_size)
            # Never waits for a free connection (it would block the loop): one more is opened instead.
            self.inline: sa.Engine | None = _sqlite_hooks(sa.create_engine(
                self.url.replace("+aiosqlite", "+pysqlite"), connect_args={"timeout": 30}, pool_size=pool_size,
                max_overflow=-1, **JSON_CODECS), immediate=False)
        elif self.url.startswith("postgresql"):
            self.writer = self.reader = create_async_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=True,
                connect_args={"server_settings": {"search_path": schema_for(service)}},
                **JSON_CODECS,
            )
            self.inline = None
        else:
            raise ValueError(f"unsupported database URL scheme: {self.url.split(':', 1)[0]}")

    @property
    def is_postgres(self) -> bool:
        return self.writer.dialect.name == "postgresql"

    @asynccontextmanager
    async def write(self, serialise: str = "") -> AsyncIterator[AsyncConnection]:
        """A write transaction. `serialise` names a lock held until it ends, for rules that read other rows
        before they write (e.g. "changes/<tenant>"): transactions naming the same lock run one after another,
        and each one's reads see what the previous one committed. On PostgreSQL that is a transaction-scoped
        advisory lock; SQLite already runs every write transaction alone (BEGIN IMMEDIATE on one writer)."""
        async with self.writer.begin() as conn:
            if serialise and self.is_postgres:
                await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"),
                                   {"k": lock_key(f"{self.service}/{serialise}")})
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.reader.connect() as conn:
            yield conn

    @asynccontextmanager
    async def lookup(self) -> AsyncIterator[AsyncConnection | InlineConnection]:
        """A connection for a short read by key (one row, or a few, through an index); `read()` elsewhere."""
        if self.inline is None:
            async with self.reader.connect() as conn:
                yield conn
            return
        with self.inline.connect() as conn:
            yield InlineConnection(conn)

    async def fetch(self, statement: sa.Select, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """The rows, as `records`, of a read by key on the request path (the GET of one resource): `statement` is
        built once, with named bind parameters. On SQLite it runs on the event loop's thread like `lookup()`, and
        on the driver itself: its SQL is compiled once, and the parameters and columns go through the same type
        processors SQLAlchemy applies, without the engine's work per execution (its execution context, result
        metadata and transaction): an incident read 82 -> 26 µs. On PostgreSQL, an ordinary execution."""
        if self.inline is None:
            async with self.reader.connect() as conn:
                return records(await conn.execute(statement, params))
        sql, binds, make, processors = _compiled_read(statement, self.inline.dialect)
        connection = self.inline.raw_connection()
        try:
            rows = connection.driver_connection.execute(
                sql, [process(params[name]) if process else params[name] for name, process in binds]).fetchall()
        finally:
            connection.close()
        return [make(process(value) if process else value for process, value in zip(processors, row, strict=True))
                for row in rows]

    async def brief_read(self, read: Callable[[Any], Awaitable[T]]) -> T:
        """`read(conn)` on the event loop's thread while it stays short, like `lookup()`. On SQLite, a read that
        takes more than `brief_read_steps` of the virtual machine is interrupted and run again on the reader pool,
        so one that turns out long (a large tenant's count, a text search) never holds the loop for longer."""
        if self.inline is not None:
            with self.inline.connect() as conn:
                sqlite = conn.connection.driver_connection
                left = self.brief_read_steps // 1000

                def spend() -> bool:  # called every 1,000 steps; True interrupts the statement
                    nonlocal left
                    left -= 1
                    return left < 0

                sqlite.set_progress_handler(spend, 1000)
                try:
                    return await read(InlineConnection(conn))
                except sa.exc.OperationalError:  # interrupted when over budget; otherwise a real error
                    if left >= 0:
                        raise
                finally:
                    sqlite.set_progress_handler(None, 0)
        async with self.reader.connect() as conn:
            return await read(conn)

    @asynccontextmanager
    async def leader_lock(self, key: int) -> AsyncIterator[bool]:
        """Yield True while this process holds the named lock (PostgreSQL advisory lock; always on SQLite)."""
        if not self.is_postgres:
            yield True
            return
        async with self.writer.connect() as conn:
            held = bool((await conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key})).scalar())
            await conn.commit()
            try:
                yield held
            finally:
                if held:
                    await conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    await conn.commit()

    async def migrate(self, migrations_dir: Path, target: str = "head") -> None:
        await migrate(self.writer, migrations_dir, self.service, target)

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()
        if self.inline is not None:
            self.inline.dispose()


class InlineConnection:
    """A synchronous SQLAlchemy connection behind the `await conn.execute(...)` of an AsyncConnection."""

    def __init__(self, conn: sa.Connection) -> None:
        self.sync_connection = conn

    async def execute(self, statement, parameters=None) -> sa.CursorResult:
        return self.sync_connection.execute(statement, parameters)


def _sqlite_engine(url: str, immediate: bool, pool_size: int) -> AsyncEngine:
    engine = create_async_engine(url, connect_args={"timeout": 30}, pool_size=pool_size, max_overflow=0,
                                 **JSON_CODECS)
    _sqlite_hooks(engine.sync_engine, immediate)
    return engine


def _sqlite_hooks(engine: sa.Engine, immediate: bool) -> sa.Engine:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy, not the driver, decide where transactions begin (BEGIN IMMEDIATE below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cur.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; WAL keeps it consistent
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def check_numbering(versions_dir: Path) -> None:
    """Refuse gaps and duplicates in the numbered migration files."""
    numbers = []
    for path in sorted(versions_dir.glob("*.py")):
        if path.name == "__init__.py":
            continue
        match = _REVISION_FILE.match(path.name)
        if not match:
            raise RuntimeError(f"migration file {path.name} is not named NNNN_<name>.py")
        numbers.append(int(match.group(1)))
    if len(numbers) != len(set(numbers)):
        raise RuntimeError(f"duplicate migration numbers in {versions_dir}")
    if numbers != list(range(1, len(numbers) + 1)):
        raise RuntimeError(f"migration numbers in {versions_dir} have a gap: {numbers}")


def alembic_config(migrations_dir: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    return cfg


async def migrate(engine: AsyncEngine, migrations_dir: Path, service: str, target: str = "head") -> None:
    """Apply migrations up to target (idempotent: applied revisions are recorded and skipped)."""
    check_numbering(migrations_dir / "versions")
    cfg = alembic_config(migrations_dir)
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            await conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema_for(service)}"'))

    def _upgrade(sync_conn: sa.Connection) -> None:
        cfg.attributes["connection"] = sync_conn
        if target.startswith("-") or target == "base" or _is_older(cfg, sync_conn, target):
            command.downgrade(cfg, target)
        else:
            command.upgrade(cfg, target)

    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


def _is_older(cfg: Config, sync_conn: sa.Connection, target: str) -> bool:
    from alembic.runtime.migration import MigrationContext

    current = MigrationContext.configure(sync_conn).get_current_revision()
    if current is None or target == "head":
        return False
    script = ScriptDirectory.from_config(cfg)
    return any(rev.revision == target for rev in script.iterate_revisions(current, "base")) and current != target


def run_env() -> None:
    """The body of every service's migrations/env.py: run on the connection handed over by migrate()."""
    from alembic import context as alembic_context

    connection = alembic_context.config.attributes["connection"]
    alembic_context.configure(connection=connection, transactional_ddl=True)
    with alembic_context.begin_transaction():
        alembic_context.run_migrations()
