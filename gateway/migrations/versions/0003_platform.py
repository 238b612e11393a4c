"""API keys, shared usage counters (rate-limit windows, daily quotas), the audit log, and per-tenant overrides
of the plan's limits.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("tenants", sa.Column("limits", sa.JSON, nullable=False, server_default="{}"))
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("allowed_cidrs", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_by_kind", sa.String(20), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("revoked_by", sa.String(320), nullable=True),
        sa.Column("last_used_at", TS, nullable=True),
        sa.Column("last_used_ip", sa.String(45), nullable=True),
    )
    op.create_index("ix_api_keys_tenant", "api_keys", ["tenant_id", "created_at"])
    op.create_table(
        "usage_counters",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("window_start", sa.BigInteger, primary_key=True),
        sa.Column("leased", sa.BigInteger, nullable=False),
        sa.Column("consumed", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("plane", sa.String(10), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("actor_kind", sa.String(20), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("route", sa.String(200), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("resource_id", sa.String(200), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("source_ip", sa.String(45), nullable=False),
        sa.Column("user_agent", sa.String(300), nullable=False),
    )
    # Newest first within a tenant (the tenant's view) and across tenants (the operator's); the id breaks ties.
    op.create_index("ix_audit_tenant_at", "audit_log", ["tenant_id", "at", "id"])
    op.create_index("ix_audit_at", "audit_log", ["at", "id"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("usage_counters")
    op.drop_table("api_keys")
    op.drop_column("tenants", "limits")
