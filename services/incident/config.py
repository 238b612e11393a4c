"""Typed settings of the incident service (VIGIL_* variables; see README)."""

from vigil.runtime.config import ServiceSettings


class IncidentSettings(ServiceSettings):
    pass
