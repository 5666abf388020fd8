"""``X-Forwarded-For/-Proto/-Host``, believed from the hospital's TLS proxies only.

From a trusted proxy the client address becomes the nearest address in ``X-Forwarded-For`` that
is not itself a trusted proxy; the scheme and host become what the proxy saw. From anyone else
the headers are dropped, so no later code can be fooled by them (audit addresses included).
"""
from __future__ import annotations

import ipaddress

from starlette.types import ASGIApp, Receive, Scope, Send

from .plan import Network

_FORWARDED = (b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host")


class TrustedProxies:
    def __init__(self, app: ASGIApp, proxies: tuple[Network, ...]) -> None:
        self.app = app
        self.proxies = proxies

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        forwarded: dict[bytes, bytes] = {}
        headers = []
        for name, value in scope["headers"]:
            if name in _FORWARDED:
                forwarded[name] = forwarded[name] + b"," + value if name in forwarded else value
            else:
                headers.append((name, value))
        if not forwarded:
            await self.app(scope, receive, send)
            return
        scope = dict(scope, headers=headers)
        client = scope.get("client")
        if client and self._trusted(client[0]):
            self._believe(scope, forwarded, headers)
        await self.app(scope, receive, send)

    def _believe(self, scope: Scope, forwarded: dict[bytes, bytes], headers: list[tuple[bytes, bytes]]) -> None:
        chain = [a.strip() for a in forwarded.get(b"x-forwarded-for", b"").decode("latin-1").split(",") if a.strip()]
        for address in reversed(chain):  # the rightmost entries were added by proxies we trust
            if not self._trusted(address) or address == chain[0]:
                try:
                    ipaddress.ip_address(address)
                except ValueError:
                    break
                scope["client"] = (address, 0)
                break
        proto = forwarded.get(b"x-forwarded-proto", b"").decode("latin-1").split(",")[-1].strip().lower()
        if proto in ("http", "https"):
            scope["scheme"] = proto
        host = forwarded.get(b"x-forwarded-host", b"").split(b",")[-1].strip()
        if host and all(33 <= c < 127 for c in host) and b"/" not in host and b"@" not in host:
            headers[:] = [(n, v) for n, v in headers if n != b"host"] + [(b"host", host)]
