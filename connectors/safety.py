"""Connectors: SSRF guard — refuse private, loopback, link-local and other non-public addresses.

The check runs twice: before each request (and each redirect hop) on the resolved addresses of the host, and
again inside aiohttp's resolver, so a name that resolves differently at connect time (DNS rebinding) is still
refused. A source with ``allow_private: true`` switches both off for its own requests only (a context variable
carries the permission into the resolver, which runs in the request's task).
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import socket
import time

from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver

ALLOW_PRIVATE: contextvars.ContextVar[bool] = contextvars.ContextVar("akhbar_allow_private", default=False)
_CACHE_SECONDS = 60.0


class AddressRefused(Exception):
    """The host resolves to an address this source may not reach."""


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address (IPv4-mapped IPv6 judged by its IPv4 part)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


class AddressGuard:
    """Resolves hosts (cached for a minute) and refuses non-public addresses."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int], tuple[float, list[str]]] = {}

    async def addresses(self, host: str, port: int) -> list[str]:
        literal = _literal(host)
        if literal is not None:
            return [literal]
        key = (host, port)
        cached = self._cache.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        found = sorted({str(info[4][0]) for info in infos})
        self._cache[key] = (time.monotonic() + _CACHE_SECONDS, found)
        return found

    async def check(self, host: str, port: int, *, allow_private: bool) -> None:
        """Raise ``AddressRefused`` unless every address of ``host`` is public (or private is allowed)."""
        if allow_private:
            return
        try:
            found = await self.addresses(host, port)
        except OSError as exc:
            raise OSError(f"cannot resolve {host}: {exc}") from exc
        refused = [a for a in found if not is_public_address(a)]
        if refused:
            raise AddressRefused(f"{host} resolves to non-public address {refused[0]} (set allow_private)")


class GuardedResolver(ThreadedResolver):
    """aiohttp resolver that drops non-public addresses unless the current request allows them."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await super().resolve(host, port, family)
        if ALLOW_PRIVATE.get():
            return results
        public = [r for r in results if is_public_address(r["host"])]
        if not public:
            raise OSError(f"{host} resolves only to non-public addresses")
        return public
