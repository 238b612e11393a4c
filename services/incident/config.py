"""Typed settings of the incident service (VIGIL_* variables; see README)."""

from pydantic import Field

from vigil.runtime.config import ServiceSettings


class IncidentSettings(ServiceSettings):
    # The alert intake consumer: its Kafka consumer group, and the most alerts decided in one transaction.
    alert_consumer_group: str = "vigil-incident.alerts"
    alert_batch_max: int = Field(default=1000, ge=1, le=10_000)
    # How long the blast radius of an incident's CIs, asked of the CMDB, may be reused at most (it is forgotten
    # sooner, as soon as the CMDB's event of a change to the tenant's graph arrives); 0: ask on every create.
    impact_cache_seconds: float = Field(default=30.0, ge=0, le=3600)
