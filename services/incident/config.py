"""Typed settings of the incident service (VIGIL_* variables; see README)."""

from pydantic import Field

from vigil.runtime.config import ServiceSettings


class IncidentSettings(ServiceSettings):
    # The alert intake consumer: its Kafka consumer group, and the most alerts decided in one transaction.
    alert_consumer_group: str = "vigil-incident.alerts"
    alert_batch_max: int = Field(default=1000, ge=1, le=10_000)
