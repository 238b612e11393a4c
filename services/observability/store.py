"""Persistence of the observability service. Its domain tables land with its issue; the outbox and consumer dedup
tables are there from the start, as in every service."""

import sqlalchemy as sa

from vigil.runtime import outbox

metadata = sa.MetaData()
outbox_table, processed_events = outbox.define_tables(metadata)
