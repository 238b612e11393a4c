"""Root-cause analyses, their feedback, and the tenants' AI settings.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ai_settings",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("auto_rca_severities", sa.JSON, nullable=False),
        sa.Column("llm_enabled", sa.Boolean, nullable=False),
        sa.Column("runbook_blast_radius_approval", sa.Integer, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(320), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "rca_results",
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
    )
    op.create_index("ix_rca_tenant_incident", "rca_results", ["tenant_id", "incident_id", "created_at"])
    op.create_index("ix_rca_status", "rca_results", ["status", "narrative_status"])
    op.create_table(
        "rca_feedback",
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


def downgrade() -> None:
    op.drop_table("rca_feedback")
    op.drop_index("ix_rca_status", "rca_results")
    op.drop_index("ix_rca_tenant_incident", "rca_results")
    op.drop_table("rca_results")
    op.drop_table("ai_settings")
