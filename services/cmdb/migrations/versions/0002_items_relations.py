"""Configuration items and their relations.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cmdb_items",
        # (tenant_id, id): every lookup names both, and SQLite's planner, without statistics, would otherwise
        # take a tenant index and scan the tenant's items for an `id IN (...)`.
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("class", sa.String(64), nullable=False),
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(320), nullable=False),
        sa.Column("criticality", sa.String(16), nullable=False),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_cmdb_items_tenant_name", "cmdb_items", ["tenant_id", "name"])
    op.create_index("ix_cmdb_items_tenant_class", "cmdb_items", ["tenant_id", "class"])
    op.create_index("ix_cmdb_items_tenant_env", "cmdb_items", ["tenant_id", "environment"])
    op.create_table(
        "cmdb_relations",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("source_id", sa.String(36), nullable=False),
        sa.Column("target_id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("tenant_id", "source_id", "target_id", "type", name="uq_cmdb_relations"),
    )
    op.create_index("ix_cmdb_relations_target", "cmdb_relations", ["tenant_id", "target_id"])


def downgrade() -> None:
    op.drop_table("cmdb_relations")
    op.drop_table("cmdb_items")
