"""Typed settings of the cmdb service (VIGIL_* variables; see README)."""

from vigil.runtime.config import ServiceSettings


class CmdbSettings(ServiceSettings):
    pass
