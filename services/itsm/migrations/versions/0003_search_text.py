"""Changes and catalog items keep their searchable text folded for Unicode-caseless search
(vigil.runtime.text): title and description, name and description.

Existing rows are filled in here; a change to the folding would need a migration of its own to refill them.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

from vigil.runtime.text import backfill_search_text

revision = "0003"
down_revision = "0002"

SEARCHED = {"changes": ("title", "description"), "catalog_items": ("name", "description")}


def upgrade() -> None:
    for table, fields in SEARCHED.items():
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("search_text", sa.Text, nullable=False, server_default=""))
        backfill_search_text(table, ("id",), fields)


def downgrade() -> None:
    for table in SEARCHED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("search_text")
