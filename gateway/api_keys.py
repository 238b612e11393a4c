"""API keys (personal access tokens) of the tenant plane.

A key is `vgl_` + 32 random base62 characters + a 6-character checksum (CRC32 of the rest, base62), so a key is
recognisable in logs and by secret scanners, and a mistyped one is refused without a database lookup. It is
shown once, when minted; the store keeps only its SHA-256 and its first characters (`prefix`, for people to tell
keys apart).

A key belongs to one tenant and carries scopes (gateway/scopes.py), a role, and optionally an IP allowlist
(CIDRs) and an expiry. The role is a ceiling twice over: the key is minted with at most its creator's role, and a
key minted by a tenant admin acts with at most that person's *current* role (demote them and the key is demoted;
disable them and the key stops). The operator's keys (control plane) are the tenant's service keys, bound by
their own role only. Keys cannot mint keys: minting needs a signed-in admin, so a leaked key cannot make itself
permanent.

Verification is cached per replica for `VIGIL_API_KEY_CACHE_SECONDS` (5 s), so the common request costs no
database round trip; a revocation through this replica is immediate, through another one it takes at most that
long. `last_used_at` is kept in memory and written in batches (`flush`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import string
import time
import zlib
from dataclasses import dataclass, replace
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from gateway.auth import ROLE_RANK, Principal
from gateway.identity import lock_tenant, users
from gateway.scopes import ROLE_SCOPES, Scope, expand
from vigil.runtime.clock import as_utc, new_id, now
from vigil.runtime.db import Database
from vigil.runtime.errors import FieldError, NotFound, QuotaExceeded, Unauthenticated, ValidationFailed

PREFIX = "vgl_"
_ALPHABET = string.digits + string.ascii_letters
_RANDOM, _CHECK = 32, 6
TOKEN_LENGTH = len(PREFIX) + _RANDOM + _CHECK
SHOWN = len(PREFIX) + 8  # the characters kept in the clear for people to tell keys apart
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

metadata = sa.MetaData()
_TS = sa.DateTime(timezone=True)
api_keys = sa.Table(
    "api_keys", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("allowed_cidrs", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(320), nullable=False),
    sa.Column("created_by_kind", sa.String(20), nullable=False),  # user (a tenant admin) or operator
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("expires_at", _TS, nullable=True),
    sa.Column("revoked_at", _TS, nullable=True),
    sa.Column("revoked_by", sa.String(320), nullable=True),
    sa.Column("last_used_at", _TS, nullable=True),
    sa.Column("last_used_ip", sa.String(45), nullable=True),
)


def _base62(number: int, width: int) -> str:
    out = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        out.append(_ALPHABET[digit])
    return "".join(reversed(out))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECK)


def new_token() -> str:
    body = PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM))
    return body + _checksum(body)


def well_formed(token: str) -> bool:
    return (len(token) == TOKEN_LENGTH and token.startswith(PREFIX) and token.isascii()
            and token[len(PREFIX):].isalnum() and _checksum(token[:-_CHECK]) == token[-_CHECK:])


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    tenant_id: str
    name: str
    prefix: str
    scopes: list[str]
    role: str
    allowed_cidrs: list[str]
    created_by: str
    created_by_kind: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
    last_used_at: datetime | None
    last_used_ip: str | None

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now():
            return "expired"
        return "active"


def _key(row: Any) -> ApiKey:
    def at(value: datetime | None) -> datetime | None:
        return as_utc(value) if value is not None else None

    return ApiKey(id=row.id, tenant_id=row.tenant_id, name=row.name, prefix=row.prefix, scopes=list(row.scopes),
                  role=row.role, allowed_cidrs=list(row.allowed_cidrs), created_by=row.created_by,
                  created_by_kind=row.created_by_kind, created_at=as_utc(row.created_at),
                  expires_at=at(row.expires_at), revoked_at=at(row.revoked_at), revoked_by=row.revoked_by,
                  last_used_at=at(row.last_used_at), last_used_ip=row.last_used_ip)


@dataclass(frozen=True, slots=True)
class VerifiedKey:
    """What a request needs of a key, cached: who it acts as, where from it may be used, until when."""

    principal: Principal
    networks: tuple[Network, ...]
    expires_at: float | None  # epoch seconds

    def allows(self, address: str) -> bool:
        if not self.networks:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)


def parse_networks(cidrs: list[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def _check_new(name: str, scopes: list[str], role: str, allowed_cidrs: list[str], expires_at: datetime | None,
               creator_role: str) -> None:
    errors: list[FieldError] = []
    if not name.strip():
        errors.append(FieldError("name", "must not be blank"))
    if role not in ROLE_RANK:
        errors.append(FieldError("role", f"must be one of {', '.join(ROLE_RANK)}"))
    elif ROLE_RANK[role] > ROLE_RANK.get(creator_role, ROLE_RANK["admin"]):
        errors.append(FieldError("role", f"a key cannot hold more than its creator's role ({creator_role})"))
    if not scopes:
        errors.append(FieldError("scopes", "name at least one scope"))
    for i, pattern in enumerate(scopes):
        try:
            granted = expand([pattern])
        except ValueError as exc:
            errors.append(FieldError(f"scopes[{i}]", str(exc)))
            continue
        beyond = granted - ROLE_SCOPES.get(role, frozenset())
        if "*" not in pattern and beyond:
            errors.append(FieldError(f"scopes[{i}]", f"the {role} role cannot hold {pattern}"))
    for i, cidr in enumerate(allowed_cidrs):
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            errors.append(FieldError(f"allowed_cidrs[{i}]", "must be an IP address or a CIDR (10.0.0.0/8)"))
    if expires_at is not None and expires_at <= now():
        errors.append(FieldError("expires_at", "must be in the future"))
    if errors:
        raise ValidationFailed("invalid API key", errors)


class ApiKeyStore:
    NEGATIVE_CACHE_SIZE = 10_000

    def __init__(self, db: Database, cache_seconds: float = 5.0) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self._verified: dict[str, tuple[float, VerifiedKey | None]] = {}  # token hash -> (until, key or None)
        self._hash_of: dict[str, str] = {}  # key id -> token hash, to forget a revoked key at once
        self._used: dict[str, tuple[datetime, str]] = {}  # key id -> last use not yet written

    # -- management ------------------------------------------------------------------------------------
    async def mint(self, tenant_id: str, *, name: str, scopes: list[str], role: str, allowed_cidrs: list[str],
                   expires_at: datetime | None, created_by: str, created_by_kind: str, creator_role: str,
                   max_keys: int | None) -> tuple[ApiKey, str]:
        """A new key and its token (the only time the token is seen)."""
        _check_new(name, scopes, role, allowed_cidrs, expires_at, creator_role)
        token = new_token()
        values = dict(id=new_id(), tenant_id=tenant_id, name=name.strip(), prefix=token[:SHOWN],
                      token_hash=token_hash(token), scopes=list(dict.fromkeys(scopes)), role=role,
                      allowed_cidrs=[str(n) for n in parse_networks(allowed_cidrs)], created_by=created_by,
                      created_by_kind=created_by_kind, created_at=now(),
                      expires_at=as_utc(expires_at) if expires_at else None, revoked_at=None, revoked_by=None,
                      last_used_at=None, last_used_ip=None)
        async with self.db.write() as conn:
            await lock_tenant(conn, tenant_id)
            if max_keys is not None:
                live = await self._count_live(conn, tenant_id)
                if live >= max_keys:
                    raise QuotaExceeded(f"quota api_keys exceeded: tenant {tenant_id} has {live} of {max_keys} "
                                        "live API keys (revoke one, or ask for a larger plan)",
                                        [FieldError("quota", "api_keys")])
            await conn.execute(api_keys.insert().values(**values))
        return _key(SimpleNamespace(**values)), token

    async def _count_live(self, conn, tenant_id: str) -> int:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(api_keys).where(
            api_keys.c.tenant_id == tenant_id, api_keys.c.revoked_at.is_(None),
            sa.or_(api_keys.c.expires_at.is_(None), api_keys.c.expires_at > now())))).scalar_one())

    async def count_live(self, tenant_id: str) -> int:
        async with self.db.read() as conn:
            return await self._count_live(conn, tenant_id)

    async def list(self, tenant_id: str) -> list[ApiKey]:
        async with self.db.read() as conn:
            rows = (await conn.execute(sa.select(api_keys).where(api_keys.c.tenant_id == tenant_id)
                                       .order_by(api_keys.c.created_at.desc(), api_keys.c.id))).all()
        return [self._with_recent_use(_key(r)) for r in rows]

    async def get(self, tenant_id: str, key_id: str) -> ApiKey:
        async with self.db.read() as conn:
            row = (await conn.execute(sa.select(api_keys).where(
                api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id))).first()
        if row is None:
            raise NotFound(f"API key {key_id} not found")
        return self._with_recent_use(_key(row))

    async def revoke(self, tenant_id: str, key_id: str, actor: str) -> ApiKey:
        """Revoke a key (idempotent: a revoked key keeps its first revocation). It stays listed, so the audit
        log's actors stay resolvable."""
        async with self.db.write() as conn:
            result = await conn.execute(api_keys.update().where(
                api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now(), revoked_by=actor))
            row = (await conn.execute(sa.select(api_keys.c.token_hash).where(
                api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id))).first()
        if row is None:
            raise NotFound(f"API key {key_id} not found")
        if result.rowcount:
            self._verified.pop(row.token_hash, None)
        return await self.get(tenant_id, key_id)

    def forget_tenant(self, tenant_id: str) -> None:
        """Verify the tenant's keys again on their next use (their creator's role or access changed)."""
        for digest, (_, verified) in list(self._verified.items()):
            if verified is not None and verified.principal.tenant_id == tenant_id:
                self._verified.pop(digest, None)

    def _with_recent_use(self, key: ApiKey) -> ApiKey:
        recent = self._used.get(key.id)
        if recent is None or (key.last_used_at is not None and key.last_used_at >= recent[0]):
            return key
        return replace(key, last_used_at=recent[0], last_used_ip=recent[1])

    # -- the request path ------------------------------------------------------------------------------
    async def verify(self, token: str) -> VerifiedKey:
        if not well_formed(token):
            raise Unauthenticated("invalid API key")
        digest = token_hash(token)
        clock = time.monotonic()
        hit = self._verified.get(digest)
        if hit is None or hit[0] <= clock:
            verified = await self._load(digest)
            if len(self._verified) >= self.NEGATIVE_CACHE_SIZE:
                self._verified.clear()
            self._verified[digest] = hit = (clock + self.cache_seconds, verified)
        verified = hit[1]
        if verified is None:
            raise Unauthenticated("invalid or revoked API key")
        if verified.expires_at is not None and verified.expires_at <= time.time():
            raise Unauthenticated("the API key has expired")
        return verified

    async def _load(self, digest: str) -> VerifiedKey | None:
        query = (sa.select(api_keys, users.c.role.label("creator_role"), users.c.disabled.label("creator_disabled"))
                 .select_from(api_keys.outerjoin(users, sa.and_(
                     users.c.tenant_id == api_keys.c.tenant_id, users.c.email == api_keys.c.created_by,
                     api_keys.c.created_by_kind == "user")))
                 .where(api_keys.c.token_hash == digest, api_keys.c.revoked_at.is_(None)))
        async with self.db.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        role = row.role
        if row.created_by_kind == "user":
            if row.creator_role is None or row.creator_disabled:
                return None  # the person who minted it is gone or disabled: so is the key
            role = min(role, row.creator_role, key=ROLE_RANK.__getitem__)
        scopes: frozenset[Scope] = expand(row.scopes) & ROLE_SCOPES[role]
        principal = Principal(actor=f"api_key:{row.id}", role=role, tenant_id=row.tenant_id, kind="api_key",
                              scopes=scopes)
        expires = as_utc(row.expires_at).timestamp() if row.expires_at is not None else None
        return VerifiedKey(principal, parse_networks(row.allowed_cidrs), expires)

    def used(self, principal: Principal, address: str) -> None:
        """Remember a key's use; written by `flush`, never on the request path."""
        self._used[principal.actor.removeprefix("api_key:")] = (now(), address)

    async def flush(self) -> None:
        if not self._used:
            return
        batch, self._used = self._used, {}
        try:
            async with self.db.write() as conn:
                await conn.execute(api_keys.update().where(api_keys.c.id == sa.bindparam("key_id")).values(
                    last_used_at=sa.bindparam("at"), last_used_ip=sa.bindparam("ip")),
                    [{"key_id": k, "at": at, "ip": ip} for k, (at, ip) in batch.items()])
        except Exception:
            for key_id, use in batch.items():  # keep them for the next flush, unless newer ones came
                self._used.setdefault(key_id, use)
            raise
