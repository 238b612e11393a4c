"""What the ITSM tables share: the metadata, the per-tenant reference counters, the outbox, and the JSON
shapes of times and approvals. Times are stored in UTC."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.itsm.service import Approval
from vigil.runtime import outbox
from vigil.runtime.clock import as_utc
from vigil.runtime.db import dialect_insert

metadata = sa.MetaData()
TS = sa.DateTime(timezone=True)

sequences = sa.Table(
    "itsm_sequences",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(10), primary_key=True),
    sa.Column("last_number", sa.BigInteger, nullable=False),
)

outbox_table, processed_events = outbox.define_tables(metadata)


def conflict_lock(tenant_id: str) -> str:
    """The lock every write that can change which of a tenant's changes clash runs under."""
    return f"changes/{tenant_id}"


async def stored(conn: AsyncConnection, table: sa.Table, row_id: str) -> bool:
    """Whether a row with this id exists: a create retried after a lost answer (its id derived from the same
    Idempotency-Key) writes nothing and answers with what its first attempt wrote."""
    return (await conn.execute(sa.select(table.c.id).where(table.c.id == row_id))).first() is not None


async def next_number(conn: AsyncConnection, tenant_id: str, kind: str) -> int:
    """The next reference number of a kind (CHG, REQ) for a tenant: a counter row advanced in the insert's
    transaction, so numbers are gap-free and never reused."""
    insert = dialect_insert(conn)(sequences).values(tenant_id=tenant_id, kind=kind, last_number=1)
    stmt = insert.on_conflict_do_update(
        index_elements=[sequences.c.tenant_id, sequences.c.kind],
        set_={"last_number": sequences.c.last_number + 1},
    ).returning(sequences.c.last_number)
    return int((await conn.execute(stmt)).scalar_one())


def times(raw: dict[str, str] | None) -> dict[str, datetime]:
    return {k: as_utc(datetime.fromisoformat(v)) for k, v in (raw or {}).items()}


def times_json(times: dict[str, datetime]) -> dict[str, str]:
    return {k: as_utc(v).isoformat() for k, v in times.items()}


def approvals(raw: list[dict] | None) -> tuple[Approval, ...]:
    return tuple(Approval(approver=a["approver"], role=a["role"], decision=a["decision"], comment=a["comment"],
                          at=as_utc(datetime.fromisoformat(a["at"]))) for a in raw or ())


def approvals_json(approvals: tuple[Approval, ...]) -> list[dict[str, str]]:
    return [{"approver": a.approver, "role": a.role, "decision": a.decision, "comment": a.comment,
             "at": as_utc(a.at).isoformat()} for a in approvals]
