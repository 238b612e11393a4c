"""Typed settings of the itsm service (VIGIL_* variables; see README)."""

from vigil.runtime.config import ServiceSettings


class ItsmSettings(ServiceSettings):
    pass
