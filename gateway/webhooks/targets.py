"""Where deliveries may go. A webhook URL is an address the gateway will POST to from inside the cluster, so
a tenant must not be able to aim it at the cluster itself: targets that resolve to private, loopback,
link-local, shared (CGNAT), multicast, reserved or unspecified addresses are refused unless the operator allows
those networks (`VIGIL_WEBHOOK_ALLOWED_NETWORKS`, e.g. `127.0.0.0/8` in tests).

The check happens where the connection is made: `GuardedResolver` is the HTTP client's resolver, so the client
connects only to the addresses that were checked (a name that resolves to a public address when the
subscription is saved and to 10.0.0.5 at delivery time is refused then: no DNS rebinding). Literal IP hosts
are checked before the request. Redirects are never followed (a 3xx is a failed delivery)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from vigil.runtime.errors import FieldError, ValidationFailed

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedTarget(Exception):
    """The target's address is not allowed."""


def networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def allowed(address: Address, allow: Sequence[Network] = ()) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in n for n in allow):
        return True
    return address.is_global and not address.is_multicast


def check_address(host: str, allow: Sequence[Network] = ()) -> None:
    address = ipaddress.ip_address(host.split("%", 1)[0])
    if not allowed(address, allow):
        raise RefusedTarget(f"{address} is in a private, loopback, link-local or reserved range")


def literal_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def check_url(url: str) -> tuple[str, str]:
    """The URL's shape: http(s), a host, no credentials. Returns (scheme, host)."""
    parts = urlsplit(url)
    problem = None
    if parts.scheme not in ("http", "https"):
        problem = "must be an http:// or https:// URL"
    elif not parts.hostname:
        problem = "must name a host"
    elif parts.username or parts.password:
        problem = "must not carry credentials (sign requests with the webhook secret instead)"
    if problem:
        raise ValidationFailed("invalid webhook URL", [FieldError("url", problem)])
    return parts.scheme, parts.hostname or ""


async def check_target(url: str, allow: Sequence[Network], resolver: AbstractResolver | None = None) -> None:
    """For a subscription being saved: the URL's shape, and where its host resolves now."""
    _, host = check_url(url)
    try:
        if literal_ip(host):
            check_address(host, allow)
        else:
            await GuardedResolver(allow, resolver).resolve(host, 443)
    except RefusedTarget as exc:
        raise ValidationFailed("webhook target not allowed", [FieldError("url", str(exc))]) from None
    except OSError as exc:
        raise ValidationFailed("webhook target does not resolve", [FieldError("url", str(exc))]) from None


class GuardedResolver(AbstractResolver):
    """Resolves like the default resolver, then keeps only allowed addresses (none: the connection fails)."""

    def __init__(self, allow: Sequence[Network] = (), inner: AbstractResolver | None = None) -> None:
        self.allow = tuple(allow)
        self.inner = inner or DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        kept = [r for r in results if allowed(ipaddress.ip_address(r["host"].split("%", 1)[0]), self.allow)]
        if not kept:
            found = ", ".join(sorted({r["host"] for r in results}))
            raise RefusedTarget(f"{host} resolves to {found}: a private, loopback, link-local or reserved range")
        return kept

    async def close(self) -> None:
        await self.inner.close()
