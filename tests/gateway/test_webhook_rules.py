"""Unit tests of the webhook rules: signatures, the retry decision and ladder, target addresses (a name that
resolves to a forbidden address at delivery time is refused where the connection is made)."""

from __future__ import annotations

import random
import socket
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver

from gateway.webhooks import signing
from gateway.webhooks.delivery import HORIZON, LADDER, Response, decide, parse_retry_after, retry_delay
from gateway.webhooks.targets import GuardedResolver, RefusedTarget, allowed, check_target, networks
from vigil.runtime.errors import ValidationFailed

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"id":"e1"}'
    header = signing.signature_header(["whsec_a", "whsec_b"], 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=") and header.count("v1=") == 2
    assert signing.verify(header, "whsec_a", body, now=1_700_000_100)
    assert signing.verify(header, "whsec_b", body, now=1_700_000_100)
    assert not signing.verify(header, "whsec_c", body, now=1_700_000_100)
    assert not signing.verify(header, "whsec_a", body + b" ", now=1_700_000_100)
    assert not signing.verify(header, "whsec_a", body, now=1_700_000_000 + 301)  # a replay, too late


def test_the_ladder_with_jitter_and_retry_after() -> None:
    rng = random.Random(7)
    for failed, step in enumerate(LADDER, 1):
        delay = retry_delay(failed, None, rng)
        assert step * 0.8 <= delay <= step * 1.2
    assert retry_delay(len(LADDER) + 1, None, rng) is None
    assert retry_delay(1, 90, rng) == 90  # Retry-After longer than the step wins
    assert sum(LADDER) * 1.2 > HORIZON.total_seconds() > sum(LADDER[:-1]) * 1.2
    assert parse_retry_after("120", 0) == 120
    assert parse_retry_after("Thu, 01 Jan 1970 00:02:00 GMT", 60) == 60
    assert parse_retry_after("soon", 0) is None


@pytest.mark.parametrize(("code", "error", "retried"), [
    (200, None, False), (204, None, False), (500, None, True), (503, None, True), (429, None, True),
    (None, "timed out after 5 s", True), (None, "ClientConnectorError", True), (400, None, False),
    (404, None, False), (302, "redirected", False), (410, None, False)])
def test_what_is_retried(code, error, retried) -> None:
    outcome = decide(Response(code, error, 12.5), 0, T0, T0, True, random.Random(1))
    assert (outcome.retry_at is not None) == retried
    assert outcome.succeeded == (code is not None and 200 <= code < 300)
    assert outcome.disables == (code == 410)


def test_no_retry_past_the_horizon_nor_for_pings_or_refused_targets() -> None:
    late = T0 + HORIZON - timedelta(seconds=10)
    assert decide(Response(500, None, 1), 3, late, T0, True, random.Random(1)).retry_at is None
    assert decide(Response(500, None, 1), 0, T0, T0, False, random.Random(1)).retry_at is None
    assert decide(Response(None, "target refused", 1, refused=True), 0, T0, T0, True, random.Random(1)).retry_at \
        is None


@pytest.mark.parametrize(("address", "ok"), [
    ("93.184.216.34", True), ("2606:2800:220:1::1", True), ("127.0.0.1", False), ("10.0.0.5", False),
    ("172.16.3.4", False), ("192.168.1.1", False), ("169.254.169.254", False), ("100.64.0.1", False),
    ("0.0.0.0", False), ("224.0.0.1", False), ("::1", False), ("fe80::1", False), ("fd00::1", False),
    ("::ffff:10.0.0.1", False), ("240.0.0.1", False)])
def test_forbidden_ranges(address: str, ok: bool) -> None:
    import ipaddress

    assert allowed(ipaddress.ip_address(address)) == ok
    assert allowed(ipaddress.ip_address(address), networks(["0.0.0.0/0", "::/0"]))


class Rebinding(AbstractResolver):
    """A name that resolves to a public address once, then to a private one."""

    def __init__(self) -> None:
        self.answers = ["93.184.216.34", "10.0.0.5"]

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET):
        address = self.answers.pop(0)
        return [{"hostname": host, "host": address, "port": port, "family": family, "proto": 0,
                 "flags": socket.AI_NUMERICHOST}]

    async def close(self) -> None:
        pass


async def test_a_name_rebound_to_a_private_address_is_refused_when_connecting() -> None:
    resolver = GuardedResolver((), Rebinding())
    assert (await resolver.resolve("hooks.example", 443))[0]["host"] == "93.184.216.34"
    with pytest.raises(RefusedTarget):
        await resolver.resolve("hooks.example", 443)


async def test_the_client_connects_only_to_checked_addresses() -> None:
    """Through aiohttp itself: the guarded resolver refuses before any connection is made."""
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(()), use_dns_cache=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        with pytest.raises(RefusedTarget):
            await session.get("http://localhost:9/")


async def test_saving_a_target_checks_where_it_resolves() -> None:
    with pytest.raises(ValidationFailed):
        await check_target("http://localhost/x", ())
    await check_target("http://localhost/x", networks(["127.0.0.0/8", "::1/128"]))
