"""Alert intake: integrations (keys stored as SHA-256 hashes), maintenance windows, the alert groups and the
state of each fingerprint, every alert with its decision; incidents remember the ITSM changes in whose window
their alerts fired.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("change_ids", sa.JSON, nullable=False, server_default=sa.text("'[]'")))
    op.create_table(
        "integrations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=True),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("key_rotated_at", TS, nullable=False),
        sa.Column("deleted_at", TS, nullable=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("key_hash", name="uq_integrations_key_hash"),
    )
    op.create_index("ix_integrations_tenant", "integrations", ["tenant_id", "created_at"])
    op.create_table(
        "maintenance_windows",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("matchers", sa.JSON, nullable=False),
        sa.Column("ci_ids", sa.JSON, nullable=False),
        sa.Column("integration_ids", sa.JSON, nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_maintenance_tenant_window", "maintenance_windows", ["tenant_id", "ends_at", "starts_at"])
    op.create_table(
        "alert_groups",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("integration_id", sa.String(36), nullable=False),
        sa.Column("group_key", sa.String(300), nullable=False),
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("tenant_id", "integration_id", "group_key", name="uq_alert_groups_key"),
    )
    op.create_table(
        "alert_fingerprints",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("integration_id", sa.String(36), primary_key=True),
        sa.Column("fingerprint", sa.String(255), primary_key=True),
        sa.Column("group_id", sa.String(36), nullable=True),
        sa.Column("incident_id", sa.String(36), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_alert_fingerprints_incident", "alert_fingerprints", ["tenant_id", "incident_id", "status"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("integration_id", sa.String(36), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("fingerprint", sa.String(255), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("source_severity", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(2), nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("annotations", sa.JSON, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("starts_at", TS, nullable=True),
        sa.Column("ends_at", TS, nullable=True),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("processed_at", TS, nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("group_key", sa.String(300), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("incident_id", sa.String(36), nullable=True),
        sa.Column("previous_incident_id", sa.String(36), nullable=True),
        sa.Column("maintenance_window_id", sa.String(36), nullable=True),
        sa.Column("ci_ids", sa.JSON, nullable=False),
        sa.Column("ci_lookup", sa.String(20), nullable=False),
        sa.Column("change_ids", sa.JSON, nullable=False),
        sa.Column("change_lookup", sa.String(20), nullable=False),
    )
    op.create_index("ix_alerts_tenant_received", "alerts", ["tenant_id", "received_at"])
    op.create_index("ix_alerts_tenant_incident", "alerts", ["tenant_id", "incident_id", "received_at"])
    op.create_index("ix_alerts_tenant_fingerprint", "alerts", ["tenant_id", "fingerprint", "received_at"])
    op.create_index("ix_alerts_tenant_integration", "alerts", ["tenant_id", "integration_id", "received_at"])


def downgrade() -> None:
    for table in ("alerts", "alert_fingerprints", "alert_groups", "maintenance_windows", "integrations"):
        op.drop_table(table)
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("change_ids")
