"""Incidents record the blast radius of their CIs (asked of the CMDB at creation).

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("impacted_ci_ids", sa.JSON, nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("impacted_ci_ids")
