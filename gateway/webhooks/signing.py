"""Webhook signatures: HMAC-SHA256 over `<timestamp>.<raw body>`, sent as

    Vigil-Signature: t=1767225600,v1=5257a869e7…[,v1=…]

one `v1=` per secret that currently signs (two while a rotated-out secret is still in its overlap period). A
receiver recomputes the HMAC with its secret, compares in constant time with any `v1` value, and refuses a
timestamp too far from its clock (a replayed delivery). docs/integrations.md has the receiver's code."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable

SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(signing_secrets: Iterable[str], timestamp: int, body: bytes) -> str:
    return ",".join([f"t={timestamp}", *(f"v1={digest(s, timestamp, body)}" for s in signing_secrets)])


def verify(header: str, secret: str, body: bytes, tolerance: int = DEFAULT_TOLERANCE_SECONDS,
           now: float | None = None) -> bool:
    """What a receiver does (and what the tests check deliveries with)."""
    parts = [p.partition("=") for p in header.split(",")]
    timestamps = [v for k, _, v in parts if k == "t"]
    if len(timestamps) != 1 or not timestamps[0].isdigit():
        return False
    timestamp = int(timestamps[0])
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = digest(secret, timestamp, body)
    return any(hmac.compare_digest(expected, v) for k, _, v in parts if k == "v1")
