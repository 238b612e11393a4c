"""The gateway's own store: tenants (with the operator's overrides of their plan's limits), their users and roles,
refresh tokens. Passwords are kept as scrypt hashes, refresh tokens as SHA-256 hashes; neither is ever stored in
the clear."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from vigil.runtime.db import Database
from vigil.runtime.errors import Conflict, FieldError, NotFound, QuotaExceeded, ValidationFailed

ROLES = ("viewer", "responder", "admin")
PLANS = ("free", "pro", "enterprise")
TENANT_STATUSES = ("active", "suspended")
TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")

metadata = sa.MetaData()
_TS = sa.DateTime(timezone=True)

tenants = sa.Table(
    "tenants", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("plan", sa.String(20), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    # The operator's overrides of the plan's limits: {"rate_limits": {...}, "quotas": {...}} (gateway/limits.py).
    sa.Column("limits", sa.JSON, nullable=False),
)
users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("password_hash", sa.String(300), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.UniqueConstraint("tenant_id", "email", name="uq_users_tenant_email"),
)
refresh_tokens = sa.Table(
    "refresh_tokens", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(36), nullable=False),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("expires_at", _TS, nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False),
)


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    status: str
    plan: str
    created_at: datetime
    updated_at: datetime
    limits: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class User:
    id: str
    tenant_id: str
    email: str
    role: str
    disabled: bool
    created_at: datetime
    password_hash: str = ""


# scrypt parameters (RFC 7914 recommends N=2^14, r=8, p=1 for interactive logins).
_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, base64.b64decode(digest))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user(row) -> User:
    return User(id=row.id, tenant_id=row.tenant_id, email=row.email, role=row.role, disabled=row.disabled,
                created_at=row.created_at, password_hash=row.password_hash)


def _tenant(row) -> Tenant:
    return Tenant(id=row.id, name=row.name, status=row.status, plan=row.plan, created_at=row.created_at,
                  updated_at=row.updated_at, limits=row.limits or {})


async def lock_tenant(conn, tenant_id: str) -> None:
    """Serialise the writes that count a tenant's things (users, API keys) against a quota: on PostgreSQL the
    tenant's row is locked until the transaction ends (SQLite has one writer at a time anyway)."""
    found = (await conn.execute(sa.select(tenants.c.id).where(tenants.c.id == tenant_id).with_for_update())).first()
    if found is None:
        raise NotFound(f"tenant {tenant_id} not found")


class IdentityStore:
    def __init__(self, db: Database, cache_seconds: float = 5.0) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self._tenant_cache: dict[str, tuple[float, Tenant | None]] = {}

    # -- tenants ---------------------------------------------------------------------------------------
    async def create_tenant(self, name: str, tenant_id: str | None, plan: str) -> Tenant:
        errors = []
        if not name.strip() or len(name) > 200:
            errors.append(FieldError("name", "must be 1 to 200 characters"))
        if tenant_id is not None and not TENANT_ID.match(tenant_id):
            errors.append(FieldError("id", "must be 2-63 lowercase letters, digits or '-', starting alphanumeric"))
        if plan not in PLANS:
            errors.append(FieldError("plan", f"must be one of {', '.join(PLANS)}"))
        if errors:
            raise ValidationFailed("invalid tenant", errors)
        now = datetime.now(UTC)
        tenant = Tenant(id=tenant_id or f"t-{uuid.uuid4().hex[:12]}", name=name.strip(), status="active", plan=plan,
                        created_at=now, updated_at=now)
        try:  # the primary key decides between concurrent creates of one id
            async with self.db.write() as conn:
                await conn.execute(tenants.insert().values(**asdict(tenant)))
        except IntegrityError:
            raise Conflict(f"tenant {tenant.id} already exists", [FieldError("id", "already exists")]) from None
        self._tenant_cache.pop(tenant.id, None)
        return tenant

    async def get_tenant(self, tenant_id: str) -> Tenant:
        async with self.db.read() as conn:
            row = (await conn.execute(sa.select(tenants).where(tenants.c.id == tenant_id))).first()
        if row is None:
            raise NotFound(f"tenant {tenant_id} not found")
        return _tenant(row)

    async def list_tenants(self, limit: int, offset: int, status: str | None = None) -> tuple[list[Tenant], int]:
        where = [tenants.c.status == status] if status else []
        async with self.db.read() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(tenants).where(*where))).scalar_one()
            rows = (await conn.execute(sa.select(tenants).where(*where).order_by(tenants.c.created_at, tenants.c.id)
                                       .limit(limit).offset(offset))).all()
        return [_tenant(r) for r in rows], int(total)

    async def update_tenant(self, tenant_id: str, *, name: str | None = None, plan: str | None = None,
                            status: str | None = None) -> Tenant:
        errors = []
        if name is not None and (not name.strip() or len(name) > 200):
            errors.append(FieldError("name", "must be 1 to 200 characters"))
        if plan is not None and plan not in PLANS:
            errors.append(FieldError("plan", f"must be one of {', '.join(PLANS)}"))
        if status is not None and status not in TENANT_STATUSES:
            errors.append(FieldError("status", f"must be one of {', '.join(TENANT_STATUSES)}"))
        if errors:
            raise ValidationFailed("invalid tenant update", errors)
        values = {k: v for k, v in {"name": name, "plan": plan, "status": status}.items() if v is not None}
        values["updated_at"] = datetime.now(UTC)
        async with self.db.write() as conn:
            result = await conn.execute(tenants.update().where(tenants.c.id == tenant_id).values(**values))
            if result.rowcount != 1:
                raise NotFound(f"tenant {tenant_id} not found")
        self._tenant_cache.pop(tenant_id, None)
        return await self.get_tenant(tenant_id)

    async def set_limits(self, tenant_id: str, rate_limits: dict[str, int | None],
                         quotas: dict[str, int | None]) -> Tenant:
        """Merge overrides into the tenant's: a number overrides the plan's value, null returns to it."""
        async with self.db.write() as conn:
            row = (await conn.execute(sa.select(tenants.c.limits).where(tenants.c.id == tenant_id)
                                      .with_for_update())).first()
            if row is None:
                raise NotFound(f"tenant {tenant_id} not found")
            limits = {"rate_limits": dict((row.limits or {}).get("rate_limits", {})),
                      "quotas": dict((row.limits or {}).get("quotas", {}))}
            for part, changes in (("rate_limits", rate_limits), ("quotas", quotas)):
                for name, value in changes.items():
                    if value is None:
                        limits[part].pop(name, None)
                    else:
                        limits[part][name] = value
            await conn.execute(tenants.update().where(tenants.c.id == tenant_id).values(
                limits={k: v for k, v in limits.items() if v}, updated_at=datetime.now(UTC)))
        self._tenant_cache.pop(tenant_id, None)
        return await self.get_tenant(tenant_id)

    async def cached_tenant(self, tenant_id: str) -> Tenant | None:
        """The tenant (status, plan, limits) or None, cached briefly: this runs on every tenant-plane call."""
        now = time.monotonic()
        cached = self._tenant_cache.get(tenant_id)
        if cached and cached[0] > now:
            return cached[1]
        async with self.db.read() as conn:
            row = (await conn.execute(sa.select(tenants).where(tenants.c.id == tenant_id))).first()
        tenant = _tenant(row) if row else None
        self._tenant_cache[tenant_id] = (now + self.cache_seconds, tenant)
        return tenant

    async def tenant_status(self, tenant_id: str) -> str | None:
        """active / suspended / None (no such tenant)."""
        tenant = await self.cached_tenant(tenant_id)
        return tenant.status if tenant else None

    # -- users -----------------------------------------------------------------------------------------
    async def create_user(self, tenant_id: str, email: str, password: str, role: str,
                          max_users: int | None = None) -> User:
        await self.get_tenant(tenant_id)
        errors = []
        if "@" not in email or len(email) > 320:
            errors.append(FieldError("email", "must be an email address"))
        if not 8 <= len(password) <= 256:
            errors.append(FieldError("password", "must be 8 to 256 characters"))
        if role not in ROLES:
            errors.append(FieldError("role", f"must be one of {', '.join(ROLES)}"))
        if errors:
            raise ValidationFailed("invalid user", errors)
        password_hash = await asyncio.to_thread(hash_password, password)
        user = User(id=str(uuid.uuid4()), tenant_id=tenant_id, email=email.lower(), role=role, disabled=False,
                    created_at=datetime.now(UTC))
        try:  # the (tenant, email) unique constraint decides between concurrent creates
            async with self.db.write() as conn:
                await lock_tenant(conn, tenant_id)
                await self._check_seats(conn, tenant_id, max_users)
                await conn.execute(users.insert().values(
                    id=user.id, tenant_id=tenant_id, email=user.email, password_hash=password_hash, role=role,
                    disabled=False, created_at=user.created_at))
        except IntegrityError:
            raise Conflict(f"user {user.email} already exists in tenant {tenant_id}",
                           [FieldError("email", "already exists")]) from None
        return user

    async def list_users(self, tenant_id: str) -> list[User]:
        await self.get_tenant(tenant_id)
        async with self.db.read() as conn:
            rows = (await conn.execute(sa.select(users).where(users.c.tenant_id == tenant_id)
                                       .order_by(users.c.created_at, users.c.email))).all()
        return [_user(r) for r in rows]

    async def _check_seats(self, conn, tenant_id: str, max_users: int | None) -> None:
        """A user who is not disabled holds a seat: the `users` quota counts them."""
        if max_users is None:
            return
        active = (await conn.execute(sa.select(sa.func.count()).select_from(users).where(
            users.c.tenant_id == tenant_id, users.c.disabled.is_(False)))).scalar_one()
        if active >= max_users:
            raise QuotaExceeded(f"quota users exceeded: tenant {tenant_id} has {active} of {max_users} users "
                                "(disable one, or ask for a larger plan)", [FieldError("quota", "users")])

    async def update_user(self, tenant_id: str, user_id: str, *, role: str | None = None,
                          disabled: bool | None = None, password: str | None = None,
                          max_users: int | None = None) -> User:
        errors = []
        if role is not None and role not in ROLES:
            errors.append(FieldError("role", f"must be one of {', '.join(ROLES)}"))
        if password is not None and not 8 <= len(password) <= 256:
            errors.append(FieldError("password", "must be 8 to 256 characters"))
        if errors:
            raise ValidationFailed("invalid user update", errors)
        values: dict = {k: v for k, v in {"role": role, "disabled": disabled}.items() if v is not None}
        if password is not None:
            values["password_hash"] = await asyncio.to_thread(hash_password, password)
        async with self.db.write() as conn:
            if disabled is False:  # enabling a disabled user takes a seat again
                await lock_tenant(conn, tenant_id)
                was = (await conn.execute(sa.select(users.c.disabled).where(
                    users.c.tenant_id == tenant_id, users.c.id == user_id))).scalar()
                if was:
                    await self._check_seats(conn, tenant_id, max_users)
            if values:
                result = await conn.execute(users.update().where(
                    users.c.tenant_id == tenant_id, users.c.id == user_id).values(**values))
                if result.rowcount != 1:
                    raise NotFound(f"user {user_id} not found")
            if disabled or password is not None:  # a disabled user or a new password ends every session
                await conn.execute(refresh_tokens.update().where(refresh_tokens.c.user_id == user_id)
                                   .values(revoked=True))
            row = (await conn.execute(sa.select(users).where(
                users.c.tenant_id == tenant_id, users.c.id == user_id))).first()
        if row is None:
            raise NotFound(f"user {user_id} not found")
        return _user(row)

    async def authenticate(self, email: str, password: str, tenant_id: str | None) -> User | None:
        """The user with these credentials, or None. Without a tenant, the email must be unambiguous."""
        where = [users.c.email == email.lower()]
        if tenant_id:
            where.append(users.c.tenant_id == tenant_id)
        async with self.db.read() as conn:
            rows = (await conn.execute(sa.select(users).where(*where).limit(2))).all()
        if len(rows) > 1:
            raise ValidationFailed("this email belongs to several tenants; say which",
                                   [FieldError("tenant_id", "is required (or send the x-tenant-id header)")])
        if not rows:
            await asyncio.to_thread(hash_password, password)  # same cost whether or not the user exists
            return None
        user = _user(rows[0])
        if user.disabled or not await asyncio.to_thread(verify_password, password, user.password_hash):
            return None
        return user

    # -- refresh tokens --------------------------------------------------------------------------------
    async def issue_refresh_token(self, user: User, ttl_seconds: int) -> str:
        token = secrets.token_urlsafe(32)
        async with self.db.write() as conn:
            await conn.execute(refresh_tokens.insert().values(
                token_hash=token_hash(token), user_id=user.id, tenant_id=user.tenant_id,
                expires_at=datetime.now(UTC) + timedelta(seconds=ttl_seconds), revoked=False))
        return token

    async def redeem_refresh_token(self, token: str) -> User | None:
        """Single use: the token is revoked as it is redeemed (rotation). Checking and revoking are one
        statement, so of two concurrent redemptions of one token exactly one succeeds."""
        now = datetime.now(UTC)
        async with self.db.write() as conn:
            user_id = (await conn.execute(refresh_tokens.update().where(
                refresh_tokens.c.token_hash == token_hash(token), refresh_tokens.c.revoked.is_(False),
                refresh_tokens.c.expires_at > now).values(revoked=True).returning(refresh_tokens.c.user_id))).scalar()
            if user_id is None:
                return None
            user_row = (await conn.execute(sa.select(users).where(users.c.id == user_id))).first()
        if user_row is None or user_row.disabled:
            return None
        return _user(user_row)
