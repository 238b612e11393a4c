"""Incidents keep their title and description folded for Unicode-caseless search (vigil.runtime.text).

Existing rows are filled in here; a change to the folding would need a migration of its own to refill them.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

from vigil.runtime.text import backfill_folded

revision = "0003"
down_revision = "0002"

SEARCHED = {'incidents': (('id',), ('title', 'description'))}


def upgrade() -> None:
    for table, (keys, fields) in SEARCHED.items():
        with op.batch_alter_table(table) as batch:
            for field in fields:
                batch.add_column(sa.Column(f"{field}_folded", sa.Text, nullable=False, server_default=""))
        backfill_folded(table, keys, fields)


def downgrade() -> None:
    for table, (_keys, fields) in SEARCHED.items():
        with op.batch_alter_table(table) as batch:
            for field in fields:
                batch.drop_column(f"{field}_folded")
