"""Wiring of the incident service process: settings, store, domain, handlers, runtime. Nothing else."""

from __future__ import annotations

from pathlib import Path

from services.incident.alerts.events import AlertEvents
from services.incident.alerts.handlers import FULL_NAME as ALERTS_NAME
from services.incident.alerts.handlers import AlertHandlers
from services.incident.alerts.intake import AlertIntakeConsumer
from services.incident.alerts.lookups import Lookups
from services.incident.alerts.service import AlertProcessor, AlertService
from services.incident.alerts.store import AlertStore
from services.incident.config import IncidentSettings
from services.incident.events import IncidentEvents
from services.incident.handlers import FULL_NAME, IncidentHandlers
from services.incident.impact import CmdbImpact
from services.incident.integrations.handlers import FULL_NAME as INTEGRATIONS_NAME
from services.incident.integrations.handlers import IntegrationHandlers
from services.incident.integrations.service import IntegrationService
from services.incident.integrations.store import IntegrationStore
from services.incident.maintenance.handlers import FULL_NAME as MAINTENANCE_NAME
from services.incident.maintenance.handlers import MaintenanceHandlers
from services.incident.maintenance.service import MaintenanceService
from services.incident.maintenance.store import MaintenanceStore
from services.incident.rca_timeline import TYPES as RCA_TYPES
from services.incident.rca_timeline import RcaTimeline
from services.incident.service import IncidentService
from services.incident.store import IncidentStore, metadata
from vigil.incident.v1 import alerts_pb2_grpc, incident_pb2_grpc
from vigil.runtime import bus, topics
from vigil.runtime.service import ServiceRuntime, serve

NAME = "incident"
MIGRATIONS = Path(__file__).with_name("migrations")
SETTINGS = IncidentSettings


async def build(settings: IncidentSettings) -> ServiceRuntime:
    runtime = ServiceRuntime(NAME, settings, metadata, MIGRATIONS)
    store = IncidentStore(runtime.db, IncidentEvents(runtime.outbox))
    impact = CmdbImpact(settings.cmdb_addr, cache_seconds=settings.impact_cache_seconds,
                        bootstrap=settings.kafka_bootstrap)
    runtime.worker("impact-cache", impact.watch)
    runtime.grpc.add(incident_pb2_grpc.add_IncidentServiceServicer_to_server,
                     IncidentHandlers(IncidentService(store, impact)), FULL_NAME)

    integrations = IntegrationStore(runtime.db)
    alerts = AlertStore(runtime.db, store, integrations, AlertEvents(runtime.outbox))
    runtime.grpc.add(alerts_pb2_grpc.add_IntegrationServiceServicer_to_server,
                     IntegrationHandlers(IntegrationService(integrations)), INTEGRATIONS_NAME)
    runtime.grpc.add(alerts_pb2_grpc.add_AlertServiceServicer_to_server, AlertHandlers(AlertService(alerts)),
                     ALERTS_NAME)
    runtime.grpc.add(alerts_pb2_grpc.add_MaintenanceServiceServicer_to_server,
                     MaintenanceHandlers(MaintenanceService(MaintenanceStore(runtime.db))), MAINTENANCE_NAME)
    runtime.consumers.append(AlertIntakeConsumer(
        AlertProcessor(alerts, integrations, Lookups(settings.cmdb_addr, settings.itsm_addr, impact=impact)),
        bootstrap=settings.kafka_bootstrap, group_id=settings.alert_consumer_group,
        max_batch=settings.alert_batch_max,
        producer_factory=lambda: bus.producer(settings.kafka_bootstrap, client_id="vigil-incident-alerts-dlq")))
    runtime.consumer(topics=[topics.AI_EVENTS], group="rca-timeline", handler=RcaTimeline(store), types=RCA_TYPES)
    return runtime


def main() -> None:
    serve(NAME, SETTINGS(), build)
