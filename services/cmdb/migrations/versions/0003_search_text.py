"""Configuration items keep their name and owner folded for Unicode-caseless search (vigil.runtime.text).

Existing rows are filled in here; a change to the folding would need a migration of its own to refill them.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

from vigil.runtime.text import backfill_search_text

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("cmdb_items") as batch:
        batch.add_column(sa.Column("search_text", sa.Text, nullable=False, server_default=""))
    backfill_search_text("cmdb_items", ("tenant_id", "id"), ("name", "owner"))


def downgrade() -> None:
    with op.batch_alter_table("cmdb_items") as batch:
        batch.drop_column("search_text")
