"""The wiring every domain service shares: settings -> telemetry -> database + migrations -> outbox relay ->
gRPC server with health and reflection -> run until SIGTERM -> graceful stop. A service's server.py only
builds its store, domain service and handlers and hands them to this."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import sqlalchemy as sa

from vigil.runtime import bus, outbox, shutdown, telemetry
from vigil.runtime.config import ServiceSettings
from vigil.runtime.db import Database
from vigil.runtime.grpcio import GrpcServer, run_until_signalled

log = logging.getLogger("vigil.service")


class ServiceRuntime:
    def __init__(self, name: str, settings: ServiceSettings, metadata: sa.MetaData, migrations_dir: Path) -> None:
        self.name = name
        self.settings = settings
        self.migrations_dir = migrations_dir
        self.db = Database(settings.database_url_for(name), name)
        self.outbox_table = metadata.tables["outbox"]
        self.processed_table = metadata.tables["processed_events"]
        self.outbox = outbox.Outbox(self.outbox_table, source=f"vigil/{name}")
        self.relay = outbox.OutboxRelay(
            self.db,
            self.outbox,
            lambda: bus.producer(settings.kafka_bootstrap, client_id=f"vigil-{name}"),
            poll_seconds=settings.outbox_poll_seconds,
            service=name,
        )
        self.grpc = GrpcServer(settings.grpc_host, settings.grpc_port_for(name))
        self.consumers: list[bus.EventConsumer] = []
        self.background: list[asyncio.Task] = []
        # Long-running domain work (e.g. a queue worker): started once serving, cancelled first on stop.
        self._workers: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self._worker_tasks: list[asyncio.Task] = []
        # Closed last, after the workers and consumers stopped (clients of other services, ...).
        self._closers: list[Callable[[], Awaitable[None]]] = []

    def consumer(self, *, topics, group: str, handler: bus.Handler, types=()) -> bus.EventConsumer:
        c = bus.EventConsumer(self.db, self.processed_table, bootstrap=self.settings.kafka_bootstrap,
                              topics=topics, group_id=f"vigil-{self.name}.{group}", handler=handler, types=types)
        self.consumers.append(c)
        return c

    def worker(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        self._workers.append((name, run))

    def on_stop(self, close: Callable[[], Awaitable[None]]) -> None:
        self._closers.append(close)

    async def start(self) -> int:
        await self.db.migrate(self.migrations_dir)
        self.background.append(asyncio.create_task(self.relay.run(), name=f"{self.name}-outbox-relay"))
        for c in self.consumers:
            c.start()
        port = await self.grpc.start()
        for name, run in self._workers:
            self._worker_tasks.append(asyncio.create_task(run(), name=f"{self.name}-{name}"))
        log.info("%s serving gRPC on port %d", self.name, port)
        return port

    async def stop(self) -> None:
        await shutdown.step("the gRPC server", self.grpc.stop(self.settings.drain_seconds),
                            self.settings.drain_seconds + 5)
        for task in self._worker_tasks:
            task.cancel()
        await shutdown.step("the workers", asyncio.gather(*self._worker_tasks, return_exceptions=True))
        for c in self.consumers:
            await shutdown.step(f"consumer {type(c).__name__}", c.stop())
        self.relay.stop()
        for task in self.background:
            try:
                await asyncio.wait_for(task, 10)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        for close in self._closers:
            await shutdown.step("a closer", close())
        await shutdown.step("the database", self.db.dispose())


def serve(name: str, settings: ServiceSettings, build) -> None:
    """Process entry point of a service: `build(settings) -> ServiceRuntime` wires the domain parts."""
    telemetry.setup(name, settings.log_level, settings.log_json)
    # SQLite (aiosqlite) and Kafka clients hand work to threads; with CPython's default 5 ms GIL switch
    # interval each hand-off can wait that long. 0.2 ms keeps hand-offs short (measured: bench/incident_create.py).
    sys.setswitchinterval(0.0002)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a pinned dependency
        pass

    async def main() -> None:
        runtime: ServiceRuntime = await build(settings)
        await run_until_signalled(runtime.start, runtime.stop)

    asyncio.run(main())
