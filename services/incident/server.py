"""Wiring of the incident service process: settings, store, domain, handlers, runtime. Nothing else."""

from __future__ import annotations

from pathlib import Path

from services.incident.config import IncidentSettings
from services.incident.events import IncidentEvents
from services.incident.handlers import FULL_NAME, IncidentHandlers
from services.incident.impact import CmdbImpact
from services.incident.rca_timeline import TYPES as RCA_TYPES
from services.incident.rca_timeline import RcaTimeline
from services.incident.service import IncidentService
from services.incident.store import IncidentStore, metadata
from vigil.incident.v1 import incident_pb2_grpc
from vigil.runtime import topics
from vigil.runtime.service import ServiceRuntime, serve

NAME = "incident"
MIGRATIONS = Path(__file__).with_name("migrations")
SETTINGS = IncidentSettings


async def build(settings: IncidentSettings) -> ServiceRuntime:
    runtime = ServiceRuntime(NAME, settings, metadata, MIGRATIONS)
    store = IncidentStore(runtime.db, IncidentEvents(runtime.outbox))
    runtime.grpc.add(incident_pb2_grpc.add_IncidentServiceServicer_to_server,
                     IncidentHandlers(IncidentService(store, CmdbImpact(settings.cmdb_addr))), FULL_NAME)
    runtime.consumer(topics=[topics.AI_EVENTS], group="rca-timeline", handler=RcaTimeline(store), types=RCA_TYPES)
    return runtime


def main() -> None:
    serve(NAME, SETTINGS(), build)
