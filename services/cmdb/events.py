"""CMDB events: staged in the outbox inside the store's transactions, relayed to Kafka as CloudEvents (topic
vigil.cmdb.events, key = the CI id, so one CI's events stay in order).

Types: ci.created, ci.updated, ci.deleted (with the relations removed with it), ci.related, ci.unrelated, and
ci.imported for a bulk import: chunks of at most ~512 KiB, each carrying full items and relations, so a
consumer (another replica's graph, a search index) can follow an import without reading the store.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from services.cmdb.service import Item, Relation, now
from vigil.cmdb.v1 import cmdb_pb2
from vigil.common.v1 import common_pb2
from vigil.runtime import context, topics
from vigil.runtime.outbox import Outbox

TYPES = ("ci.created", "ci.updated", "ci.deleted", "ci.related", "ci.unrelated", "ci.imported")
DATASCHEMA = "type.googleapis.com/vigil.cmdb.v1.CiEvent"
CHUNK_BYTES = 512 * 1024  # well under Kafka's default 1 MiB message limit


def _envelope(tenant_id: str) -> common_pb2.EventEnvelope:
    env = common_pb2.EventEnvelope(tenant_id=tenant_id)
    ctx = context._current.get()
    if ctx is not None:
        env.actor.email, env.actor.role = ctx.actor, ctx.role
    env.occurred_at.FromDatetime(now())
    return env


class CmdbEvents:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    async def stage(self, conn: AsyncConnection, event_type: str, tenant_id: str, key: str, *,
                    items: Sequence[Item] = (), relations: Sequence[Relation] = (),
                    changed_fields: Sequence[str] = ()) -> str:
        from services.cmdb.handlers import item_to_proto, relation_to_proto

        payload = cmdb_pb2.CiEvent(envelope=_envelope(tenant_id), items=[item_to_proto(i) for i in items],
                                   relations=[relation_to_proto(r) for r in relations],
                                   changed_fields=list(changed_fields))
        return await self.outbox.add(conn, topic=topics.CMDB_EVENTS, key=key, event_type=event_type,
                                     tenant_id=tenant_id, payload=payload.SerializeToString(),
                                     dataschema=DATASCHEMA, subject=key)

    async def stage_import(self, conn: AsyncConnection, tenant_id: str, items: Sequence[Item],
                           relations: Sequence[Relation]) -> int:
        from services.cmdb.handlers import item_to_proto

        import_id = str(uuid.uuid4())
        chunks: list[cmdb_pb2.CiEvent] = []
        current = cmdb_pb2.CiEvent()
        size = 0
        # Relations of an import share tenant, actor and instant (in the envelope): each carries only
        # id, source_id, target_id and type, which keeps a 300k-relation import's events small.
        lean = (cmdb_pb2.Relation(id=r.id, source_id=r.source_id, target_id=r.target_id, type=r.type)
                for r in relations)
        for msg in [*(item_to_proto(i) for i in items), *lean]:
            n = msg.ByteSize() + 8
            if size + n > CHUNK_BYTES and size:
                chunks.append(current)
                current, size = cmdb_pb2.CiEvent(), 0
            (current.items if isinstance(msg, cmdb_pb2.ConfigurationItem) else current.relations).append(msg)
            size += n
        if size:
            chunks.append(current)
        envelope = _envelope(tenant_id)
        for number, chunk in enumerate(chunks, 1):
            chunk.envelope.CopyFrom(envelope)
            chunk.chunk, chunk.chunks, chunk.import_id = number, len(chunks), import_id
            await self.outbox.add(conn, topic=topics.CMDB_EVENTS, key=import_id, event_type="ci.imported",
                                  tenant_id=tenant_id, payload=chunk.SerializeToString(), dataschema=DATASCHEMA,
                                  subject=import_id)
        return len(chunks)

    def committed(self) -> None:
        self.outbox.committed()
