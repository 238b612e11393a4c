"""Time and identifiers, the same everywhere: aware UTC datetimes and random UUIDs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def as_utc(value: datetime) -> datetime:
    """Databases hand back naive datetimes (SQLite) or other zones; Vigil speaks aware UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
