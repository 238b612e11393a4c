"""Incidents, their CI links, timeline, per-tenant reference counters, outbox and consumer dedup.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from vigil.runtime import outbox

revision = "0001"
down_revision = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("number", sa.BigInteger, nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("severity", sa.String(2), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("ci_ids", sa.JSON, nullable=False),
        sa.Column("assignee", sa.String(320), nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("resolution_notes", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("resolved_by", sa.String(320), nullable=False),
        sa.Column("dedup_key", sa.String(255), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("status_times", sa.JSON, nullable=False),
        sa.UniqueConstraint("tenant_id", "number", name="uq_incidents_tenant_number"),
    )
    op.create_index("ix_incidents_tenant_created", "incidents", ["tenant_id", "created_at"])
    op.create_index("ix_incidents_tenant_status", "incidents", ["tenant_id", "status"])
    op.create_index("ix_incidents_tenant_dedup", "incidents", ["tenant_id", "dedup_key"])
    op.create_table(
        "incident_cis",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("ci_id", sa.String(128), primary_key=True),
        sa.Column("incident_id", sa.String(36), primary_key=True),
    )
    op.create_table(
        "incident_timeline",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("from_status", sa.String(20), nullable=False),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("changes", sa.JSON, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_timeline_incident", "incident_timeline", ["tenant_id", "incident_id", "seq"])
    op.create_table(
        "incident_sequences",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("last_number", sa.BigInteger, nullable=False),
    )
    outbox.create_tables(op)


def downgrade() -> None:
    for table in ("processed_events", "outbox", "incident_sequences", "incident_timeline", "incident_cis",
                  "incidents"):
        op.drop_table(table)
