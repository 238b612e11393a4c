"""Failpoints: named places in the code where a test makes a fault happen at a precise moment, in the style
of FoundationDB's and TiKV's fail points. A testing facility only, driven by one environment variable:

    VIGIL_FAILPOINTS="observability.after_insert=crash,cmdb.GetImpact=sleep(3)"

Each entry is `<name>=[<count>*]<action>`; `count` makes the point fire that many times in the process and
then go quiet. Actions:

    crash       the process kills itself with SIGKILL, as `kill -9` would: no cleanup, no flush
    sleep(S)    wait S seconds (asynchronously where the point is awaited)
    error       raise FailpointError
    off         nothing (the same as leaving the point out)

Points in the code: every gRPC method, `<service>.<Method>` (e.g. `cmdb.GetImpact`, checked by the server
interceptor before the handler runs), and `observability.after_insert` (the telemetry consumer between a
batch's ClickHouse INSERT and its Kafka offset commit).

When the variable is unset `ACTIVE` is False and `hit()` is never reached (callers test `ACTIVE` first), so an
unset failpoint costs one attribute read.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import time
from dataclasses import dataclass

log = logging.getLogger("vigil.failpoints")

ENV = "VIGIL_FAILPOINTS"
_ENTRY = re.compile(r"^\s*(?P<name>[\w.]+)\s*=\s*(?:(?P<count>\d+)\*)?(?P<action>crash|sleep|error|off)"
                    r"(?:\((?P<arg>[0-9.]+)\))?\s*$")


class FailpointError(RuntimeError):
    """Raised by a failpoint whose action is `error`."""


@dataclass
class Failpoint:
    name: str
    action: str
    seconds: float = 0.0
    remaining: int | None = None  # None: fires every time

    def take(self) -> bool:
        if self.action == "off" or self.remaining == 0:
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True


def parse(spec: str) -> dict[str, Failpoint]:
    """`name=action,...` -> failpoints by name. A malformed entry is an error: a typo must not silently
    turn a fault test into a test of nothing."""
    points: dict[str, Failpoint] = {}
    for entry in filter(str.strip, spec.split(",")):
        match = _ENTRY.match(entry)
        if match is None or (match["action"] == "sleep") != (match["arg"] is not None):
            raise ValueError(f"{ENV}: cannot parse {entry!r} (expected name=[N*]crash|sleep(S)|error|off)")
        count = match["count"]
        points[match["name"]] = Failpoint(match["name"], match["action"], float(match["arg"] or 0),
                                          int(count) if count else None)
    return points


POINTS: dict[str, Failpoint] = parse(os.environ.get(ENV, ""))
ACTIVE = bool(POINTS)


def _fire(point: Failpoint) -> float:
    """Crash or raise now; return how long to sleep (0: nothing to do)."""
    log.warning("failpoint %s: %s%s", point.name, point.action, f"({point.seconds:g})" if point.seconds else "")
    if point.action == "crash":
        logging.shutdown()
        os.kill(os.getpid(), signal.SIGKILL)
    if point.action == "error":
        raise FailpointError(f"failpoint {point.name}")
    return point.seconds


def hit(name: str) -> None:
    """A failpoint in synchronous code (a sleep blocks the thread)."""
    point = POINTS.get(name)
    if point is not None and point.take():
        time.sleep(_fire(point))


async def ahit(name: str) -> None:
    """A failpoint in a coroutine (a sleep yields to the event loop)."""
    point = POINTS.get(name)
    if point is not None and point.take():
        await asyncio.sleep(_fire(point))


def hook(name: str):
    """A callback for an existing test hook (`obj.after_x = failpoints.hook("svc.after_x")`), or None when
    the point is not set, so the hook costs nothing."""
    if name not in POINTS:
        return None
    return lambda *_args, **_kwargs: hit(name)
