"""Runs the application with uvicorn: the HTTPS (or plain) listener, the plain-HTTP trust page
beside it when this process terminates TLS, and the daily certificate check."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from dataclasses import dataclass
from typing import Any, Iterator

import uvicorn
from starlette.types import ASGIApp

from ..settings import Settings
from .access_log import AccessLog
from .access_log import configure as configure_access_log
from .forwarded import TrustedProxies
from .plan import ListenPlan
from .protocol import Limits, WardH11Protocol
from .tls import Certificates
from .trust_page import TrustPage

log = logging.getLogger("clinphoto.listener")
RENEWAL_CHECK_SECONDS = 86_400.0


class WardConfig(uvicorn.Config):
    """uvicorn's Config takes certificate file paths; this one takes a ready ``SSLContext`` (ours,
    reloaded in place on renewal) and the listener limits read by :class:`WardH11Protocol`."""

    def __init__(self, app: ASGIApp, *, ssl_context: ssl.SSLContext | None, limits: Limits, **kwargs: Any) -> None:
        super().__init__(app, http=WardH11Protocol, ws="none", proxy_headers=False, server_header=False,
                         access_log=False, **kwargs)
        self.ssl_context = ssl_context
        self.limits = limits

    @property
    def is_ssl(self) -> bool:
        # False while uvicorn's load() runs (it would look for certificate files), true after (its log says https)
        return self.ssl_context is not None and self.loaded

    def load(self) -> None:
        super().load()
        self.ssl = self.ssl_context


class _Companion(uvicorn.Server):
    """A second listener in the same event loop; the main server's signal handling stops it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _Main(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, companions: list[uvicorn.Server]) -> None:
        super().__init__(config)
        self.companions = companions

    def handle_exit(self, sig: int, frame: Any) -> None:
        for companion in self.companions:
            companion.should_exit = True
        super().handle_exit(sig, frame)


class BindError(Exception):
    """A port cannot be opened; the message says which and what to do."""


@dataclass
class Sockets:
    main: socket.socket
    plain: socket.socket | None


def _bind(host: str, port: int, setting: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: a response's head and body go out at once, not 40 ms apart
    # (Nagle's algorithm against the client's delayed ACK); the event loop does not set it on a given socket.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        hint = (" Ports below 1024 need root or the CAP_NET_BIND_SERVICE capability (systemd: "
                "AmbientCapabilities=CAP_NET_BIND_SERVICE)." if port < 1024 else "")
        raise BindError(f"cannot listen on {host}:{port} ({setting}): {exc.strerror}.{hint} Choose another port with "
                        f"{setting}.") from None
    sock.set_inheritable(True)
    return sock


def bind(plan: ListenPlan) -> Sockets:
    """Open the ports first, so a port in use stops the start with a clear message before anything runs."""
    main = _bind(plan.host, plan.port, "CLINPHOTO_PORT")
    try:
        plain = _bind(plan.host, plan.http_port, "CLINPHOTO_HTTP_PORT") if plan.tls and plan.http_port else None
    except BindError:
        main.close()
        raise
    return Sockets(main, plain)


def limits_from(settings: Settings) -> Limits:
    return Limits(max_header_bytes=settings.max_header_bytes, max_headers=settings.max_headers,
                  header_timeout=settings.header_timeout_seconds, body_timeout=settings.body_timeout_seconds,
                  max_requests=settings.max_requests_per_connection)


async def keep_certificates(certificates: Certificates, every: float = RENEWAL_CHECK_SECONDS) -> None:
    """Check the certificate every ``every`` seconds; a renewed one serves new connections at once."""
    while True:
        await asyncio.sleep(every)
        try:
            if certificates.refresh():
                log.info("TLS certificate renewed, valid until %s", certificates.server and
                         certificates.server.not_valid_after_utc.date())
        except Exception:  # a failed check must not stop the server; it retries the next day
            log.exception("TLS certificate check failed")


def serve(settings: Settings, plan: ListenPlan, app: ASGIApp, certificates: Certificates | None,
          sockets: Sockets) -> None:
    configure_access_log(settings.access_log)
    limits = limits_from(settings)
    common: dict[str, Any] = dict(log_level=settings.log_level, timeout_keep_alive=settings.keep_alive_seconds,
                                  h11_max_incomplete_event_size=settings.max_header_bytes)
    wrapped = TrustedProxies(AccessLog(app, settings.access_log), plan.proxies)
    main_config = WardConfig(wrapped, ssl_context=certificates.context if certificates else None, limits=limits,
                             host=plan.host, port=plan.port, timeout_graceful_shutdown=5, **common)
    companions: list[uvicorn.Server] = []
    if sockets.plain is not None and certificates is not None:
        trust = TrustPage(plan.public_url, plan.public_host, certificates, app)  # logged once, by its own AccessLog
        companions.append(_Companion(WardConfig(AccessLog(trust, settings.access_log), ssl_context=None,
                                                limits=limits, host=plan.host, port=plan.http_port,
                                                lifespan="off", timeout_graceful_shutdown=1, **common)))
    main = _Main(main_config, companions)

    async def run() -> None:
        plain = [sockets.plain] if sockets.plain is not None else []  # companions listen there, when there are any
        tasks = [asyncio.create_task(c.serve(sockets=plain)) for c in companions]
        if certificates is not None:
            tasks.append(asyncio.create_task(keep_certificates(certificates)))
        try:
            await main.serve(sockets=[sockets.main])
        finally:
            for companion in companions:
                companion.should_exit = True
            for task in tasks[len(companions):]:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(run())
