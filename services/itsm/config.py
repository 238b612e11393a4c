"""Typed settings of the itsm service (VIGIL_* variables; see docs/itsm.md)."""

from pydantic import Field

from vigil.runtime.config import ServiceSettings


class ItsmSettings(ServiceSettings):
    # How far through the CMDB graph a change's CIs reach when looking for conflicting changes on linked CIs
    # (both directions). 0 walks the whole graph.
    itsm_conflict_depth: int = Field(default=3, ge=0, le=50)
    # The CMDB is asked with this deadline; past it the change is accepted with conflict_check=incomplete.
    itsm_cmdb_timeout_seconds: float = Field(default=2.0, gt=0)
