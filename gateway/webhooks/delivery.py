"""Making deliveries: one signed POST per attempt, the retry ladder, and the worker every gateway replica runs.

The worker leases due deliveries from the shared store (each the head of its (subscription, resource) queue) and
attempts each in a task of its own, with at most `concurrency` attempts in flight on this replica and at most
`per_subscription` for any one subscription: an endpoint that hangs for the whole timeout holds a few slots,
never the others' (one tenant's slow endpoint does not delay another's deliveries).

Attempts that time out, fail to connect, or are answered 429 or 5xx are retried after the ladder's next delay
(with ±20% jitter; a `Retry-After` longer than the delay is honoured) until the ladder runs out or 24 h have
passed since the delivery was made; 410 Gone disables the subscription at once; any other answer outside 2xx
(3xx included: redirects are not followed) fails the delivery without retrying. The schedule runs on the
injected clock (vigil/runtime/clock.py), so tests run it compressed.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp
from yarl import URL

from gateway.webhooks import signing
from gateway.webhooks.store import Claimed, Outcome, Subscription, WebhookStore
from gateway.webhooks.targets import GuardedResolver, Network, RefusedTarget, check_address, literal_ip
from vigil.runtime.clock import Clock
from vigil.runtime.errors import NotFound

log = logging.getLogger("vigil.webhooks")

# Seconds to wait after the 1st, 2nd, … failed attempt; about 23 h in all, then the delivery has failed.
LADDER: tuple[float, ...] = (1, 5, 25, 120, 600, 3600, 7200, 14400, 28800, 28800)
HORIZON = timedelta(hours=24)
JITTER = 0.2
RESPONSE_BYTES = 4096  # read at most this much of an answer; keep the first KiB with the attempt
USER_AGENT = "Vigil-Webhooks/1"


@dataclass(frozen=True)
class Response:
    status_code: int | None
    error: str | None
    duration_ms: float
    retry_after: float | None = None
    body: str | None = None
    refused: bool = False


def retry_delay(failed_attempts: int, retry_after: float | None, rng: random.Random) -> float | None:
    """Seconds until the next attempt after `failed_attempts` failures, or None when the ladder is done."""
    if failed_attempts > len(LADDER):
        return None
    delay = LADDER[failed_attempts - 1] * rng.uniform(1 - JITTER, 1 + JITTER)
    return max(delay, retry_after) if retry_after is not None else delay


def parse_retry_after(value: str | None, now: float) -> float | None:
    """`Retry-After` as seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def decide(response: Response, failed_before: int, at: datetime, created_at: datetime, retries: bool,
           rng: random.Random) -> Outcome:
    code = response.status_code
    common = {"at": at, "duration_ms": response.duration_ms, "status_code": code, "error": response.error,
              "response_body": response.body}
    if code is not None and 200 <= code < 300:
        return Outcome(**common, retry_at=None, succeeded=True)
    retryable = not response.refused and (code is None or code == 429 or code >= 500)
    delay = retry_delay(failed_before + 1, response.retry_after, rng) if retryable and retries else None
    retry_at = at + timedelta(seconds=delay) if delay is not None else None
    if retry_at is not None and retry_at > created_at + HORIZON:
        retry_at = None
    return Outcome(**common, retry_at=retry_at, succeeded=False, disables=code == 410)


class Sender:
    """The HTTP client of deliveries: guarded resolution, no redirects, a total timeout, bounded reads."""

    def __init__(self, timeout_seconds: float, allow: Sequence[Network]) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.timeout_seconds = timeout_seconds
        self.allow = tuple(allow)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(resolver=GuardedResolver(self.allow), use_dns_cache=False,
                                             limit=0, limit_per_host=8)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self.timeout, trust_env=False,
                                                  auto_decompress=False)
        return self._session

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Response:
        started = time.perf_counter()

        def took() -> float:
            return round((time.perf_counter() - started) * 1000, 3)

        try:
            host = URL(url).host or ""
            if literal_ip(host):
                check_address(host, self.allow)
            async with self.session.post(url, data=body, headers=headers, allow_redirects=False) as resp:
                raw = await resp.content.read(RESPONSE_BYTES)
                retry_after = parse_retry_after(resp.headers.get("Retry-After"), time.time())
                error = None
                if 300 <= resp.status < 400:
                    error = f"redirected to {resp.headers.get('Location', '?')}: redirects are not followed"
                return Response(resp.status, error, took(), retry_after,
                                raw[:1024].decode("utf-8", errors="replace") or None)
        except RefusedTarget as exc:
            return Response(None, f"target refused: {exc}", took(), refused=True)
        except TimeoutError:
            return Response(None, f"timed out after {self.timeout_seconds:g} s", took())
        except aiohttp.ClientError as exc:
            return Response(None, f"{type(exc).__name__}: {exc}", took())

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def delivery_headers(claimed: Claimed, subscription: Subscription, at: datetime) -> dict[str, str]:
    timestamp = int(time.time())  # the signature's timestamp is wall time: receivers compare it with theirs
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Vigil-Event": claimed.event_type,
        "Vigil-Delivery": claimed.id,
        "Vigil-Attempt": str(claimed.attempts + 1),
        "Vigil-Timestamp": str(timestamp),
        "Vigil-Signature": signing.signature_header(subscription.signing_secrets(at), timestamp, claimed.body),
    }


class DeliveryWorker:
    def __init__(self, store: WebhookStore, sender: Sender, clock: Clock, *, concurrency: int,
                 per_subscription: int, disable_after: int, poll_seconds: float,
                 on_disabled: Callable[[Subscription], None] | None = None, rng: random.Random | None = None
                 ) -> None:
        self.store = store
        self.sender = sender
        self.clock = clock
        self.concurrency = concurrency
        self.per_subscription = per_subscription
        self.disable_after = disable_after
        self.poll_seconds = poll_seconds
        self.on_disabled = on_disabled
        self.rng = rng or random.Random()
        self.in_flight: dict[str, int] = defaultdict(int)
        self._tasks: set[asyncio.Task] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    @property
    def lease(self) -> timedelta:
        # Long enough for one attempt in real time, whatever the clock's rate.
        return timedelta(seconds=(self.sender.timeout_seconds + 10) * self.clock.rate)

    def wake(self) -> None:
        self._wake.set()

    def _room(self, subscription_id: str) -> int:
        return self.per_subscription - self.in_flight[subscription_id]

    async def run(self) -> None:
        while True:
            self._wake.clear()
            wait = self.poll_seconds * self.clock.rate
            try:
                free = self.concurrency - len(self._tasks)
                if free > 0:
                    for claimed in await self.store.claim(self.clock.now(), free, self.lease, self._room):
                        self._start(claimed)
                due = await self.store.next_due(self.clock.now())
                if due is not None:
                    wait = min(wait, max(0.0, (due - self.clock.now()).total_seconds()))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - database trouble: try again after the poll interval
                log.warning("webhook worker: %s: %s", type(exc).__name__, exc)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait / self.clock.rate):
                    await self._wake.wait()

    def _start(self, claimed: Claimed) -> None:
        self.in_flight[claimed.subscription_id] += 1
        task = asyncio.create_task(self.attempt(claimed), name=f"webhook-{claimed.id}")
        self._tasks.add(task)

        def done(t: asyncio.Task) -> None:
            self._tasks.discard(t)
            self.in_flight[claimed.subscription_id] -= 1
            if self.in_flight[claimed.subscription_id] <= 0:
                del self.in_flight[claimed.subscription_id]
            self._wake.set()

        task.add_done_callback(done)

    async def attempt(self, claimed: Claimed) -> Outcome | None:
        """One attempt of a leased delivery, recorded with what follows from it."""
        try:
            subscription = await self.store.get(claimed.tenant_id, claimed.subscription_id)
            at = self.clock.now()
            response = await self.sender.post(subscription.url, claimed.body,
                                              delivery_headers(claimed, subscription, at))
            outcome = decide(response, claimed.attempts, at, claimed.created_at, claimed.retries, self.rng)
            disabled = await self.store.record(claimed, outcome, self.disable_after)
        except asyncio.CancelledError:
            raise
        except NotFound:
            return None  # the subscription was deleted meanwhile, and its deliveries with it
        except Exception:  # noqa: BLE001 - the lease runs out and another attempt follows
            log.exception("webhook delivery %s: attempt failed unexpectedly", claimed.id)
            return None
        if disabled is not None:
            log.warning("webhook %s of tenant %s disabled: %s", disabled.id, disabled.tenant_id,
                        disabled.disabled_reason)
            if self.on_disabled is not None:
                self.on_disabled(disabled)
        return outcome

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="webhook-worker")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
