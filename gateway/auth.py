"""Who is calling: the Principal, the JWTs both planes issue, and the role rule.

Tokens are HS256 JWTs (PyJWT) with issuer, audience (`vigil-tenant` or `vigil-control`), expiry, subject
(email), role and, on the tenant plane, the tenant id (`tid`). A tenant-plane call must send `x-tenant-id`
equal to the token's tenant; the tenant must exist and be active. Roles: viewer < responder < admin; a
viewer never mutates (any non-GET is refused whatever the route declares). Every credential (a JWT session
today, API keys and integration keys later) becomes one `Principal`; the middleware in gateway/middleware.py
checks it against the route's declaration.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import jwt

from gateway.scopes import ROLE_SCOPES, Scope
from vigil.runtime.context import CallContext
from vigil.runtime.errors import Forbidden, Unauthenticated

TENANT_AUDIENCE = "vigil-tenant"
CONTROL_AUDIENCE = "vigil-control"
ROLE_RANK = {"viewer": 0, "responder": 1, "admin": 2}
PrincipalKind = Literal["user", "operator", "api_key", "integration"]


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller. `actor` is what timelines and the audit log record (a user's email, an API key's
    id); `scopes` are the API-key scopes it holds (a user's session holds its role's, see gateway/scopes.py)."""

    actor: str
    role: str
    tenant_id: str = ""
    kind: PrincipalKind = "user"
    scopes: frozenset[Scope] = field(default=frozenset(), compare=False)

    def __post_init__(self) -> None:
        if not self.scopes and self.kind in ("user", "operator"):
            object.__setattr__(self, "scopes", ROLE_SCOPES.get(self.role, frozenset()))

    def call_context(self, request_id: str = "") -> CallContext:
        """What the services see of this caller (gRPC metadata)."""
        return CallContext(tenant_id=self.tenant_id, actor=self.actor, role=self.role, request_id=request_id)


def load_secret(configured: str, data_dir: Path) -> str:
    """The configured key, or one generated once and kept in data_dir (embedded mode)."""
    if configured:
        if len(configured) < 32:
            raise ValueError("VIGIL_JWT_SECRET must be at least 32 characters")
        return configured
    path = data_dir / "jwt-secret"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.write_text(secret)
    path.chmod(0o600)
    return secret


class Tokens:
    # Verified tokens are remembered until they expire: decoding and checking a JWT costs more than the rest
    # of a typical request in the gateway. Keyed by the exact token string, so nothing unverified is trusted.
    CACHE_SIZE = 10_000

    def __init__(self, secret: str, issuer: str, ttl_seconds: int, leeway_seconds: int = 5) -> None:
        self.secret = secret
        self.leeway_seconds = leeway_seconds
        self.issuer = issuer
        self.ttl_seconds = ttl_seconds
        self._verified: dict[tuple[str, str], tuple[float, Principal]] = {}

    def issue(self, principal: Principal, audience: str) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": audience, "sub": principal.actor, "role": principal.role,
                  "iat": now, "nbf": now, "exp": now + self.ttl_seconds, "jti": uuid.uuid4().hex}
        if principal.tenant_id:
            claims["tid"] = principal.tenant_id
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def verify(self, token: str, audience: str) -> Principal:
        hit = self._verified.get((token, audience))
        if hit is not None and hit[0] + self.leeway_seconds > time.time():
            return hit[1]
        principal, expires = self._decode(token, audience)
        if len(self._verified) >= self.CACHE_SIZE:
            self._verified.clear()
        self._verified[(token, audience)] = (expires, principal)
        return principal

    def _decode(self, token: str, audience: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(token, self.secret, algorithms=["HS256"], audience=audience, issuer=self.issuer,
                                options={"require": ["exp", "iat", "sub", "aud", "iss"]}, leeway=self.leeway_seconds)
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from None
        role, tenant_id = claims.get("role", ""), claims.get("tid", "")
        if not isinstance(role, str) or not isinstance(tenant_id, str):  # signed by us, but not as we issue them
            raise Unauthenticated("invalid token: malformed role or tenant")
        if audience == TENANT_AUDIENCE and (role not in ROLE_RANK or not tenant_id):
            raise Unauthenticated("invalid token: no tenant role")
        kind: PrincipalKind = "operator" if audience == CONTROL_AUDIENCE else "user"
        return Principal(actor=claims["sub"], role=role, tenant_id=tenant_id, kind=kind), float(claims["exp"])


def bearer(header: str | None) -> str:
    if not header:
        raise Unauthenticated("missing Authorization: Bearer <token>")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization must be 'Bearer <token>'")
    return token.strip()


def check_role(principal: Principal, reads: bool, required: str) -> None:
    """`reads`: the request only reads (a GET, or a search that POSTs its filters)."""
    if not reads and principal.role == "viewer":
        raise Forbidden("viewers cannot change anything")
    if ROLE_RANK.get(principal.role, -1) < ROLE_RANK[required]:
        raise Forbidden(f"this action needs the {required} role; you are {principal.role}")
