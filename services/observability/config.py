"""Typed settings of the observability service (VIGIL_* variables; see README)."""

from vigil.runtime.config import ServiceSettings


class ObservabilitySettings(ServiceSettings):
    pass
