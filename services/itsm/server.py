"""Wiring of the itsm service process: settings, store, domain, CMDB client, handlers, runtime. Nothing else."""

from __future__ import annotations

from pathlib import Path

from services.itsm.clients import CmdbImpact
from services.itsm.config import ItsmSettings
from services.itsm.events import ItsmEvents
from services.itsm.handlers import FULL_NAME, ItsmHandlers
from services.itsm.service import ItsmService
from services.itsm.store import ItsmStore, metadata
from vigil.itsm.v1 import itsm_pb2_grpc
from vigil.runtime.service import ServiceRuntime, serve

NAME = "itsm"
MIGRATIONS = Path(__file__).with_name("migrations")
SETTINGS = ItsmSettings


async def build(settings: ItsmSettings) -> ServiceRuntime:
    runtime = ServiceRuntime(NAME, settings, metadata, MIGRATIONS)
    store = ItsmStore(runtime.db, ItsmEvents(runtime.outbox))
    impact = CmdbImpact(settings.cmdb_addr, settings.itsm_conflict_depth, settings.itsm_cmdb_timeout_seconds)
    runtime.grpc.add(itsm_pb2_grpc.add_ItsmServiceServicer_to_server,
                     ItsmHandlers(ItsmService(store, impact)), FULL_NAME)
    return runtime


def main() -> None:
    serve(NAME, SETTINGS(), build)
