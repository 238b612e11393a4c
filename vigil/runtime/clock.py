"""Time and identifiers, the same everywhere: aware UTC datetimes and random UUIDs."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def as_utc(value: datetime) -> datetime:
    """Databases hand back naive datetimes (SQLite) or other zones; Vigil speaks aware UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Clock:
    """Wall time and waiting, injectable: schedules (webhook retries) read `now()` and wait with `sleep()`, so a
    test can run them on a compressed clock. `rate` is how many clock seconds pass per real second."""

    rate = 1.0

    def now(self) -> datetime:
        return now()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.rate)


class ScaledClock(Clock):
    """A clock that runs `rate` times faster than real time, from the real time it was made at."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._origin = now()
        self._started = time.monotonic()

    def now(self) -> datetime:
        return self._origin + timedelta(seconds=(time.monotonic() - self._started) * self.rate)
