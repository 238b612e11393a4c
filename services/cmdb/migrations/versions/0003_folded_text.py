"""Configuration items keep their name and owner folded for Unicode-caseless search (vigil.runtime.text); the
rows already there are filled in.

Revision ID: 0003
"""

from vigil.runtime.text import add_folded_columns, drop_folded_columns

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    add_folded_columns("cmdb_items", ("tenant_id", "id"), ("name", "owner"))


def downgrade() -> None:
    drop_folded_columns("cmdb_items", ("name", "owner"))
