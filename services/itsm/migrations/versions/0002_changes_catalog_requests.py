"""Change requests and their CI links, service catalog, service requests, blackout windows, per-tenant
reference counters.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("number", sa.BigInteger, nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("risk_level", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("requested_start", TS, nullable=False),
        sa.Column("requested_end", TS, nullable=False),
        sa.Column("implementation_plan", sa.Text, nullable=False),
        sa.Column("rollback_plan", sa.Text, nullable=False),
        sa.Column("requested_by", sa.String(320), nullable=False),
        sa.Column("ci_ids", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("status_times", sa.JSON, nullable=False),
        sa.Column("approval_status", sa.String(20), nullable=False),
        sa.Column("required_approvals", sa.Integer, nullable=False),
        sa.Column("approvals", sa.JSON, nullable=False),
        sa.Column("conflicts", sa.JSON, nullable=False),
        sa.Column("has_conflicts", sa.Boolean, nullable=False),
        sa.Column("conflict_check", sa.String(20), nullable=False),
        sa.Column("conflict_check_note", sa.Text, nullable=False),
        sa.Column("skipped_stages", sa.JSON, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("close_notes", sa.Text, nullable=False),
        sa.UniqueConstraint("tenant_id", "number", name="uq_changes_tenant_number"),
    )
    op.create_index("ix_changes_tenant_created", "changes", ["tenant_id", "created_at"])
    op.create_index("ix_changes_tenant_status", "changes", ["tenant_id", "status"])
    op.create_index("ix_changes_tenant_window", "changes", ["tenant_id", "requested_start", "requested_end"])
    op.create_table(
        "change_cis",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("ci_id", sa.String(128), primary_key=True),
        sa.Column("change_id", sa.String(36), primary_key=True),
    )
    op.create_table(
        "catalog_items",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("requires_approval", sa.Boolean, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("fulfillment_group", sa.String(200), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name="uq_catalog_items_tenant_name"),
    )
    op.create_table(
        "service_requests",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("number", sa.BigInteger, nullable=False),
        sa.Column("catalog_item_id", sa.String(36), nullable=False),
        sa.Column("catalog_item_name", sa.String(200), nullable=False),
        sa.Column("requested_by", sa.String(320), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("approvals", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("fulfilled_by", sa.String(320), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("status_times", sa.JSON, nullable=False),
        sa.UniqueConstraint("tenant_id", "number", name="uq_service_requests_tenant_number"),
    )
    op.create_index("ix_service_requests_tenant_status", "service_requests", ["tenant_id", "status"])
    op.create_table(
        "blackouts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("ci_ids", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_blackouts_tenant_window", "blackouts", ["tenant_id", "starts_at", "ends_at"])
    op.create_table(
        "itsm_sequences",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(10), primary_key=True),
        sa.Column("last_number", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("itsm_sequences", "blackouts", "service_requests", "catalog_items", "change_cis", "changes"):
        op.drop_table(table)
