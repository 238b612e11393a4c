"""Shutdown steps with a bound: a part that does not stop in time (a Kafka client waiting for a broker, a stuck
connection) is logged by name and left behind, so that stopping a process always ends and the other parts still
get their turn to stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

log = logging.getLogger("vigil.shutdown")


async def step(what: str, stopping: Awaitable[object], seconds: float = 10.0) -> None:
    try:
        async with asyncio.timeout(seconds):
            await stopping
    except TimeoutError:
        log.warning("%s did not stop within %.0fs; left behind", what, seconds)
    except Exception:  # noqa: BLE001 - one part failing to stop must not keep the others running
        log.exception("%s failed to stop", what)
