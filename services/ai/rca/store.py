"""Analyses and their feedback (SQLAlchemy Core on the ai service's metadata; every query scoped by tenant).

A result is one JSON document (evidence, causes, narrative) beside the columns it is found and listed by. Its
events are staged in the outbox in the same transaction. An automatic analysis starts as a `pending` row written
by the incident.created consumer in the consumer's own transaction; a worker claims pending rows with a lease
(`claimed_at`), so a crash leaves them to be claimed again, never lost."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncConnection

from services.ai.rca.model import RcaResult
from services.ai.store import TS, metadata
from vigil.runtime.clock import new_id, now
from vigil.runtime.db import Database, dialect_insert
from vigil.runtime.errors import NotFound

results = sa.Table(
    "rca_results",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("incident_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("trigger", sa.String(20), nullable=False),
    sa.Column("requested_by", sa.String(320), nullable=False),
    sa.Column("outcome", sa.String(40), nullable=False),
    sa.Column("top_ci_id", sa.String(128), nullable=False),
    sa.Column("top_hypothesis", sa.String(40), nullable=False),
    sa.Column("narrative_status", sa.String(20), nullable=False),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("claimed_at", TS, nullable=True),
    sa.Index("ix_rca_tenant_incident", "tenant_id", "incident_id", "created_at"),
    sa.Index("ix_rca_status", "status", "narrative_status"),
)

feedback = sa.Table(
    "rca_feedback",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("rca_id", sa.String(36), nullable=False),
    sa.Column("actor", sa.String(320), nullable=False),
    sa.Column("verdict", sa.String(20), nullable=False),
    sa.Column("actual_cause_ci_id", sa.String(128), nullable=False),
    sa.Column("actual_cause", sa.Text, nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.UniqueConstraint("tenant_id", "rca_id", "actor", name="uq_rca_feedback_actor"),
)

DOCUMENT = TypeAdapter(RcaResult)
LEASE = timedelta(minutes=5)


def to_document(result: RcaResult) -> dict:
    return DOCUMENT.dump_python(result, mode="json")


def from_document(doc: dict) -> RcaResult:
    return DOCUMENT.validate_python(doc)


def _columns(result: RcaResult) -> dict:
    top = result.causes[0] if result.causes else None
    return {"incident_id": result.incident_id, "status": result.status, "trigger": result.trigger,
            "requested_by": result.requested_by, "outcome": result.outcome, "top_ci_id": top.ci_id if top else "",
            "top_hypothesis": top.hypothesis if top else "", "narrative_status": result.narrative_status,
            "document": to_document(result), "updated_at": now()}


class RcaStore:
    def __init__(self, db: Database, outbox) -> None:
        self.db = db
        self.outbox = outbox

    async def save(self, result: RcaResult, events: Sequence[dict] = ()) -> None:
        """Insert or replace a result, with its events, in one transaction."""
        values = {"id": result.id, "tenant_id": result.tenant_id, "created_at": result.created_at,
                  "claimed_at": None, **_columns(result)}
        async with self.db.write() as conn:
            insert = dialect_insert(conn)(results).values(values)
            await conn.execute(insert.on_conflict_do_update(
                index_elements=[results.c.id], set_={k: v for k, v in values.items() if k not in ("id", "tenant_id")}))
            await self.outbox.add_rows(conn, list(events))
        if events:
            self.outbox.committed()

    async def add_pending(self, conn: AsyncConnection, tenant_id: str, incident_id: str, reference: str,
                          requested_by: str) -> str:
        """An automatic analysis to run (in the caller's transaction: the consumer's)."""
        rca_id = new_id()
        at = now()
        placeholder = RcaResult(
            id=rca_id, tenant_id=tenant_id, incident_id=incident_id, incident_reference=reference, status="pending",
            mode="deterministic", outcome="", summary="", causes=(), evidence=(), narrative=(),
            narrative_status="none", window=None, baseline=None, symptom_onset=None, candidates_considered=0,
            gaps=(), trigger="auto", requested_by=requested_by, created_at=at)
        await conn.execute(results.insert().values(id=rca_id, tenant_id=tenant_id, created_at=at, claimed_at=None,
                                                   **_columns(placeholder)))
        return rca_id

    async def claim_pending(self, limit: int = 5) -> list[RcaResult]:
        """Pending analyses nobody holds (or whose holder's lease ran out), now held by this process. The claim is
        a guarded update, so no row is held twice; concurrent claimers skip each other's rows."""
        at = now()
        free = sa.or_(results.c.claimed_at.is_(None), results.c.claimed_at < at - LEASE)
        async with self.db.write() as conn:
            # PostgreSQL: rows another claimer is taking are skipped, not waited for (SQLite has one writer).
            ids = [r.id for r in (await conn.execute(sa.select(results.c.id).where(
                results.c.status == "pending", free).order_by(results.c.created_at).limit(limit)
                .with_for_update(skip_locked=True))).all()]
            if not ids:
                return []
            claimed = [r.id for r in (await conn.execute(results.update().where(
                results.c.id.in_(ids), results.c.status == "pending", free).values(claimed_at=at)
                .returning(results.c.id))).all()]
            docs = (await conn.execute(sa.select(results.c.document).where(results.c.id.in_(claimed)))).all() \
                if claimed else []
        return [from_document(d.document) for d in docs]

    async def pending_narratives(self) -> list[RcaResult]:
        async with self.db.read() as conn:
            rows = (await conn.execute(sa.select(results.c.document).where(
                results.c.status == "completed", results.c.narrative_status == "pending"))).all()
        return [from_document(r.document) for r in rows]

    async def get(self, tenant_id: str, rca_id: str) -> RcaResult:
        async with self.db.read() as conn:
            row = (await conn.execute(sa.select(results.c.document).where(
                results.c.tenant_id == tenant_id, results.c.id == rca_id))).first()
            if row is None:
                raise NotFound(f"analysis {rca_id} not found")
            counts = await self._counts(conn, tenant_id, [rca_id])
        return _with_counts(from_document(row.document), counts)

    async def list_for_incident(self, tenant_id: str, incident_id: str, limit: int,
                                offset: int) -> tuple[list[RcaResult], int]:
        where = (results.c.tenant_id == tenant_id, results.c.incident_id == incident_id)
        async with self.db.read() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(results).where(*where))).scalar_one()
            rows = (await conn.execute(sa.select(results.c.document).where(*where).order_by(
                results.c.created_at.desc(), results.c.id).limit(limit).offset(offset))).all()
            docs = [from_document(r.document) for r in rows]
            counts = await self._counts(conn, tenant_id, [d.id for d in docs])
        return [_with_counts(d, counts) for d in docs], int(total)

    # -- feedback

    async def record_feedback(self, tenant_id: str, rca_id: str, actor: str, verdict: str, actual_cause_ci_id: str,
                              actual_cause: str, comment: str) -> tuple[dict, tuple[int, int]]:
        """One verdict per person per analysis; a second one replaces the first (an upsert, so two at once from
        the same person leave exactly one)."""
        row = {"id": new_id(), "tenant_id": tenant_id, "rca_id": rca_id, "actor": actor, "verdict": verdict,
               "actual_cause_ci_id": actual_cause_ci_id, "actual_cause": actual_cause, "comment": comment,
               "created_at": now()}
        async with self.db.write() as conn:
            exists = (await conn.execute(sa.select(results.c.id).where(
                results.c.tenant_id == tenant_id, results.c.id == rca_id))).first()
            if exists is None:
                raise NotFound(f"analysis {rca_id} not found")
            insert = dialect_insert(conn)(feedback).values(row)
            await conn.execute(insert.on_conflict_do_update(
                index_elements=[feedback.c.tenant_id, feedback.c.rca_id, feedback.c.actor],
                set_={k: row[k] for k in ("verdict", "actual_cause_ci_id", "actual_cause", "comment", "created_at")}))
            stored = (await conn.execute(sa.select(feedback).where(
                feedback.c.tenant_id == tenant_id, feedback.c.rca_id == rca_id, feedback.c.actor == actor))).one()
            counts = await self._counts(conn, tenant_id, [rca_id])
        return dict(stored._mapping), counts.get(rca_id, (0, 0))

    async def _counts(self, conn: AsyncConnection, tenant_id: str, ids: list[str]) -> dict[str, tuple[int, int]]:
        if not ids:
            return {}
        rows = (await conn.execute(sa.select(feedback.c.rca_id, feedback.c.verdict, sa.func.count()).where(
            feedback.c.tenant_id == tenant_id, feedback.c.rca_id.in_(ids)).group_by(
            feedback.c.rca_id, feedback.c.verdict))).all()
        out: dict[str, list[int]] = {}
        for rca_id, verdict, n in rows:
            out.setdefault(rca_id, [0, 0])[0 if verdict == "correct" else 1] += int(n)
        return {k: (v[0], v[1]) for k, v in out.items()}

    async def feedback_summary(self, tenant_id: str) -> dict:
        async with self.db.read() as conn:
            analyses = (await conn.execute(sa.select(sa.func.count()).select_from(results).where(
                results.c.tenant_id == tenant_id, results.c.status == "completed"))).scalar_one()
            rows = (await conn.execute(
                sa.select(results.c.top_hypothesis, feedback.c.verdict, sa.func.count(),
                          sa.func.count(sa.distinct(feedback.c.rca_id)))
                .select_from(feedback.join(results, sa.and_(results.c.id == feedback.c.rca_id,
                                                            results.c.tenant_id == feedback.c.tenant_id)))
                .where(feedback.c.tenant_id == tenant_id)
                .group_by(results.c.top_hypothesis, feedback.c.verdict))).all()
            with_feedback = (await conn.execute(sa.select(sa.func.count(sa.distinct(feedback.c.rca_id))).where(
                feedback.c.tenant_id == tenant_id))).scalar_one()
        by: dict[str, list[int]] = {}
        for hypothesis, verdict, n, _ in rows:
            by.setdefault(hypothesis or "none", [0, 0])[0 if verdict == "correct" else 1] += int(n)
        correct = sum(v[0] for v in by.values())
        incorrect = sum(v[1] for v in by.values())
        return {"analyses": int(analyses), "with_feedback": int(with_feedback), "correct": correct,
                "incorrect": incorrect, "accuracy": round(correct / (correct + incorrect), 4) if correct + incorrect
                else 0.0, "by_hypothesis": {k: (v[0], v[1]) for k, v in by.items()}}


def _with_counts(result: RcaResult, counts: dict[str, tuple[int, int]]) -> RcaResult:
    correct, incorrect = counts.get(result.id, (0, 0))
    return replace(result, feedback_correct=correct, feedback_incorrect=incorrect)
