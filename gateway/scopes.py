"""The vocabulary of access: API-key scopes (one read and one write scope per route family), rate-limit classes,
and the rights a signed-in user's role carries.

A route declares the scope it requires (`gateway/routing.py`); an API key carries the scopes it was minted with;
a JWT session carries its role's scopes (`ROLE_SCOPES`), so a viewer's session holds every `:read` scope and
nothing else. The OpenAPI document publishes each operation's scope (`x-required-scopes`) and rate class
(`x-ratelimit-class`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class Scope(StrEnum):
    INCIDENTS_READ = "incidents:read"
    INCIDENTS_WRITE = "incidents:write"
    ALERTS_WRITE = "alerts:write"
    TELEMETRY_READ = "telemetry:read"
    TELEMETRY_WRITE = "telemetry:write"
    CMDB_READ = "cmdb:read"
    CMDB_WRITE = "cmdb:write"
    ITSM_READ = "itsm:read"
    ITSM_WRITE = "itsm:write"
    AI_READ = "ai:read"
    AI_WRITE = "ai:write"
    RUNBOOKS_READ = "runbooks:read"
    RUNBOOKS_WRITE = "runbooks:write"
    INTEGRATIONS_READ = "integrations:read"
    INTEGRATIONS_WRITE = "integrations:write"
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_WRITE = "webhooks:write"
    AUDIT_READ = "audit:read"
    API_KEYS_READ = "api_keys:read"
    API_KEYS_WRITE = "api_keys:write"
    # Control plane (operator): tenants, their users, plans and usage.
    TENANTS_READ = "tenants:read"
    TENANTS_WRITE = "tenants:write"



def family(name: str) -> tuple[Scope | None, Scope | None]:
    """The (read, write) scopes of a route family; `alerts` has only a write scope (alert intake)."""
    found = {s.value.partition(":")[2]: s for s in Scope if s.value.partition(":")[0] == name}
    if not found:
        raise ValueError(f"no scopes for route family {name!r}")
    return found.get("read"), found.get("write")


CONTROL_SCOPES = frozenset({Scope.TENANTS_READ, Scope.TENANTS_WRITE})
TENANT_SCOPES = frozenset(Scope) - CONTROL_SCOPES
READ_SCOPES = frozenset(s for s in TENANT_SCOPES if s.value.endswith(":read"))

# What a signed-in user may do, as scopes: the role check of each route (viewer < responder < admin) still
# applies on top, so a responder's session holds every scope yet cannot call an admin route.
ROLE_SCOPES: dict[str, frozenset[Scope]] = {
    "viewer": READ_SCOPES,
    "responder": TENANT_SCOPES,
    "admin": TENANT_SCOPES,
    "operator": CONTROL_SCOPES,
}

# Rate-limit classes: each has its own bucket per tenant. `ingest` is telemetry and alert intake (high volume,
# small answers); `ai` is anything that calls the LLM.
RateClass = Literal["read", "write", "ai", "ingest"]
RATE_CLASSES: tuple[str, ...] = ("read", "write", "ai", "ingest")


def expand(patterns: list[str] | tuple[str, ...]) -> frozenset[Scope]:
    """The tenant-plane scopes a key's scope list grants. Each entry is a scope (`incidents:read`) or a pattern
    with `*` for the family or the access (`cmdb:*`, `*:read`, `*`). Raises ValueError naming an entry that
    grants nothing."""
    granted: set[Scope] = set()
    for pattern in patterns:
        family_part, _, access = ("*:*" if pattern == "*" else pattern).partition(":")
        matched = {s for s in TENANT_SCOPES
                   if family_part in ("*", s.value.partition(":")[0]) and access in ("*", s.value.partition(":")[2])}
        if not matched:
            raise ValueError(f"{pattern!r} is no scope: scopes are <family>:<read|write> "
                             f"({', '.join(sorted(s.value for s in TENANT_SCOPES))}), '*' for any part")
        granted |= matched
    return frozenset(granted)
