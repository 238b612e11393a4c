"""The runbook library (with every version's content) and runbook runs.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runbooks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("content", sa.JSON, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("meta", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("updated_by", sa.String(320), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_runbooks_tenant_status", "runbooks", ["tenant_id", "status", "updated_at"])
    op.create_table(
        "runbook_versions",
        sa.Column("runbook_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.BigInteger, primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("content", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "runbook_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("runbook_id", sa.String(36), nullable=False),
        sa.Column("incident_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_runs_tenant_incident", "runbook_runs", ["tenant_id", "incident_id", "created_at"])
    op.create_index("ix_runs_tenant_runbook", "runbook_runs", ["tenant_id", "runbook_id", "created_at"])
    op.create_index("ix_runs_status", "runbook_runs", ["status"])


def downgrade() -> None:
    for index, table in (("ix_runs_status", "runbook_runs"), ("ix_runs_tenant_runbook", "runbook_runs"),
                         ("ix_runs_tenant_incident", "runbook_runs"), ("ix_runbooks_tenant_status", "runbooks")):
        op.drop_index(index, table)
    op.drop_table("runbook_runs")
    op.drop_table("runbook_versions")
    op.drop_table("runbooks")
