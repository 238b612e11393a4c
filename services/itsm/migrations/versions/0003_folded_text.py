"""Changes (title, description) and catalog items (name, description) keep their searchable text folded for
Unicode-caseless search (vigil.runtime.text); the rows already there are filled in.

Revision ID: 0003
"""

from vigil.runtime.text import add_folded_columns, drop_folded_columns

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    add_folded_columns("changes", ("id",), ("title", "description"))
    add_folded_columns("catalog_items", ("id",), ("name", "description"))


def downgrade() -> None:
    drop_folded_columns("changes", ("title", "description"))
    drop_folded_columns("catalog_items", ("name", "description"))
