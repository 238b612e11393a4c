"""Who is calling, for which tenant: carried in gRPC metadata from the gateway to every service.

The gateway authenticates the caller and sets these keys; the services' server interceptor reads them into
a context variable that handlers and stores read through `current()`. A domain call without a tenant is
refused, so no query can run unscoped.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from vigil.runtime.clock import new_id

TENANT_KEY = "x-tenant-id"
ACTOR_KEY = "x-vigil-actor"
ROLE_KEY = "x-vigil-role"
REQUEST_ID_KEY = "x-request-id"
IDEMPOTENCY_KEY = "x-vigil-idempotency-key"
_KEYS = (TENANT_KEY, ACTOR_KEY, ROLE_KEY, REQUEST_ID_KEY, IDEMPOTENCY_KEY)
# Ids derived from an idempotency key live in their own UUID namespace (uuid5 of tenant, kind and key).
_IDEMPOTENT_IDS = uuid.UUID("6f0f3c52-1d8e-4d0a-9a53-5e1c2f6b7a10")


@dataclass(frozen=True, slots=True)
class CallContext:
    tenant_id: str
    actor: str = ""
    role: str = ""
    request_id: str = ""
    # Set by the gateway for a request that carries an Idempotency-Key: a digest of the key and the request.
    idempotency_key: str = ""

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (
            (TENANT_KEY, self.tenant_id),
            (ACTOR_KEY, self.actor),
            (ROLE_KEY, self.role),
            (REQUEST_ID_KEY, self.request_id),
            (IDEMPOTENCY_KEY, self.idempotency_key),
        )

    def resource_id(self, kind: str) -> str:
        """The id of the `kind` of resource this call creates. With an idempotency key it is derived from it,
        so a create retried after an answer that never arrived (a deadline, a process killed after its
        commit) finds the row its first attempt wrote instead of writing a second one; otherwise random."""
        if not self.idempotency_key:
            return new_id()
        return str(uuid.uuid5(_IDEMPOTENT_IDS, f"{self.tenant_id}/{kind}/{self.idempotency_key}"))

    @classmethod
    def from_metadata(cls, metadata: Iterable[tuple[str, str | bytes]] | None) -> CallContext | None:
        values: dict[str, str] = {}
        for key, value in metadata or ():
            if key in _KEYS:
                values[key] = value.decode() if isinstance(value, bytes) else value
        tenant = values.get(TENANT_KEY, "")
        if not tenant:
            return None
        return cls(
            tenant_id=tenant,
            actor=values.get(ACTOR_KEY, ""),
            role=values.get(ROLE_KEY, ""),
            request_id=values.get(REQUEST_ID_KEY, ""),
            idempotency_key=values.get(IDEMPOTENCY_KEY, ""),
        )


_current: contextvars.ContextVar[CallContext | None] = contextvars.ContextVar("vigil_call_context", default=None)


def bound() -> CallContext | None:
    """The caller of the running request, if one is bound."""
    return _current.get()


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
