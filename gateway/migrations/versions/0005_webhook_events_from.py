"""Webhook subscriptions remember from when events are theirs (`events_from`); existing ones from their creation.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.add_column(sa.Column("events_from", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE webhook_subscriptions SET events_from = created_at")
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.alter_column("events_from", existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.drop_column("events_from")
