"""Incidents keep their title and description folded for Unicode-caseless search (vigil.runtime.text).

Existing rows are filled in here; a change to the folding would need a migration of its own to refill them.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

from vigil.runtime.text import backfill_search_text

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("search_text", sa.Text, nullable=False, server_default=""))
    backfill_search_text("incidents", ("id",), ("title", "description"))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("search_text")
