"""Who is calling, for which tenant: carried in gRPC metadata from the gateway to every service.

The gateway authenticates the caller and sets these keys; the services' server interceptor reads them into
a context variable that handlers and stores read through `current()`. A domain call without a tenant is
refused, so no query can run unscoped.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable
from dataclasses import dataclass

TENANT_KEY = "x-tenant-id"
ACTOR_KEY = "x-vigil-actor"
ROLE_KEY = "x-vigil-role"
REQUEST_ID_KEY = "x-request-id"


@dataclass(frozen=True, slots=True)
class CallContext:
    tenant_id: str
    actor: str = ""
    role: str = ""
    request_id: str = ""

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (
            (TENANT_KEY, self.tenant_id),
            (ACTOR_KEY, self.actor),
            (ROLE_KEY, self.role),
            (REQUEST_ID_KEY, self.request_id),
        )

    @classmethod
    def from_metadata(cls, metadata: Iterable[tuple[str, str | bytes]] | None) -> CallContext | None:
        values: dict[str, str] = {}
        for key, value in metadata or ():
            if key in (TENANT_KEY, ACTOR_KEY, ROLE_KEY, REQUEST_ID_KEY):
                values[key] = value.decode() if isinstance(value, bytes) else value
        tenant = values.get(TENANT_KEY, "")
        if not tenant:
            return None
        return cls(
            tenant_id=tenant,
            actor=values.get(ACTOR_KEY, ""),
            role=values.get(ROLE_KEY, ""),
            request_id=values.get(REQUEST_ID_KEY, ""),
        )


_current: contextvars.ContextVar[CallContext | None] = contextvars.ContextVar("vigil_call_context", default=None)


def current() -> CallContext:
    """The caller of the running request. Raises Unauthenticated when no tenant was given."""
    from vigil.runtime.errors import Unauthenticated

    ctx = _current.get()
    if ctx is None:
        raise Unauthenticated("no tenant in the call metadata")
    return ctx


def bind(ctx: CallContext | None) -> contextvars.Token:
    return _current.set(ctx)


def reset(token: contextvars.Token) -> None:
    _current.reset(token)
