"""`Idempotency-Key` on POST: the same key (same tenant) within 24 h returns the first 2xx response verbatim.

The first request with a key claims it (a row marked pending); a concurrent request with the same key gets 409
until the first finishes; a request that fails (non-2xx) releases the key so the client can retry. A key
reused for a different request (another path or body) is refused with 422 rather than replaying an answer
to a question that was not asked.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from aiohttp import web

from vigil.runtime.db import Database, dialect_insert
from vigil.runtime.errors import Conflict, FieldError, ValidationFailed

WINDOW = timedelta(hours=24)
HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"

metadata = sa.MetaData()
keys = sa.Table(
    "idempotency_keys", metadata,
    sa.Column("scope", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),  # 0 while the first request runs
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("etag", sa.String(100), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


class IdempotencyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(self, scope: str, key: str, fingerprint: str) -> web.Response | None:
        """None: the key is ours, run the request. A response: replay it.

        Claiming is one statement (insert, or take over a key whose 24 h are over), so of two first requests
        with one key arriving together exactly one claims it and the other finds it pending."""
        for _attempt in range(3):
            now = datetime.now(UTC)
            async with self.db.write() as conn:
                insert = dialect_insert(conn)(keys).values(scope=scope, key=key, fingerprint=fingerprint, status=0,
                                                           content_type="", body=b"", etag="", created_at=now)
                claimed = (await conn.execute(insert.on_conflict_do_update(
                    index_elements=[keys.c.scope, keys.c.key],
                    set_={"fingerprint": fingerprint, "status": 0, "content_type": "", "body": b"", "etag": "",
                          "created_at": now},
                    where=keys.c.created_at < now - WINDOW,
                ).returning(keys.c.key))).first()
                if claimed is not None:
                    return None
                row = (await conn.execute(sa.select(keys).where(keys.c.scope == scope, keys.c.key == key))).first()
            if row is not None:
                break
            # released by a failed first request in between: claim again
        else:
            raise Conflict("a request with this Idempotency-Key is still in progress; retry shortly")
        if row.fingerprint != fingerprint:
            raise ValidationFailed("this Idempotency-Key was used for a different request",
                                   [FieldError(HEADER, "already used for another path or body")])
        if row.status == 0:
            raise Conflict("a request with this Idempotency-Key is still in progress; retry shortly")
        headers = {REPLAYED: "true", **({"ETag": row.etag} if row.etag else {})}
        return web.Response(status=row.status, body=row.body, content_type=row.content_type, headers=headers)

    async def complete(self, scope: str, key: str, response: web.Response) -> None:
        async with self.db.write() as conn:
            await conn.execute(keys.update().where(keys.c.scope == scope, keys.c.key == key).values(
                status=response.status, content_type=response.content_type or "application/json",
                body=bytes(response.body or b""), etag=response.headers.get("ETag", "")))

    async def release(self, scope: str, key: str) -> None:
        async with self.db.write() as conn:
            await conn.execute(keys.delete().where(keys.c.scope == scope, keys.c.key == key, keys.c.status == 0))


async def guarded(store: IdempotencyStore, scope: str, request: web.Request, handler) -> web.StreamResponse:
    key = request.headers[HEADER]
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise ValidationFailed("invalid Idempotency-Key", [FieldError(HEADER, "must be 1 to 255 printable characters")])
    body = await request.read()
    fingerprint = hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n" + body).hexdigest()
    replay = await store.claim(scope, key, fingerprint)
    if replay is not None:
        return replay
    try:
        response = await handler(request)
    except BaseException:
        await store.release(scope, key)
        raise
    if 200 <= response.status < 300 and isinstance(response, web.Response):
        await store.complete(scope, key, response)
    else:
        await store.release(scope, key)
    return response
