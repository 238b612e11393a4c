"""Wiring of the cmdb service process: settings, store, domain, handlers, runtime. Nothing else."""

from __future__ import annotations

from pathlib import Path

from services.cmdb.config import CmdbSettings
from services.cmdb.events import CmdbEvents
from services.cmdb.handlers import FULL_NAME, CmdbHandlers
from services.cmdb.service import CmdbService
from services.cmdb.store import CmdbStore, metadata
from vigil.cmdb.v1 import cmdb_pb2_grpc
from vigil.runtime.service import ServiceRuntime, serve

NAME = "cmdb"
MIGRATIONS = Path(__file__).with_name("migrations")
SETTINGS = CmdbSettings


async def build(settings: CmdbSettings) -> ServiceRuntime:
    runtime = ServiceRuntime(NAME, settings, metadata, MIGRATIONS)
    store = CmdbStore(runtime.db, CmdbEvents(runtime.outbox))
    runtime.grpc.add(cmdb_pb2_grpc.add_CmdbServiceServicer_to_server, CmdbHandlers(CmdbService(store)), FULL_NAME)
    return runtime


def main() -> None:
    serve(NAME, SETTINGS(), build)
