"""Typed settings of the ai service (VIGIL_* variables; see README)."""

from vigil.runtime.config import ServiceSettings


class AiSettings(ServiceSettings):
    pass
