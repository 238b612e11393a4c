"""Outbox and consumer dedup tables.

Revision ID: 0001
"""

from alembic import op

from vigil.runtime import outbox

revision = "0001"
down_revision = None


def upgrade() -> None:
    outbox.create_tables(op)


def downgrade() -> None:
    op.drop_table("processed_events")
    op.drop_table("outbox")
