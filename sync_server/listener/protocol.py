"""uvicorn's h11 protocol with the limits a ward listener needs and uvicorn lacks.

uvicorn answers any malformed head with 400, checks the head's size only while it is incomplete,
has no limit on the number of header fields and no timeout on a slow head or a slow body. Here:

- a head over ``max_header_bytes`` (whole or arriving) or with over ``max_headers`` fields: 431;
- a head not complete ``header_timeout`` seconds after its first byte (or after the connection
  opened): 408 and close; a request body with no byte for ``body_timeout`` seconds: 408 and close;
- at most ``max_requests`` requests per connection, the last one answered with ``Connection: close``.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import STATUS_PHRASES, H11Protocol


@dataclass(frozen=True)
class Limits:
    max_header_bytes: int = 16_384
    max_headers: int = 100
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_requests: int = 1_000


class _HeadTooLarge(h11.RemoteProtocolError):
    def __init__(self, message: str) -> None:
        super().__init__(message, error_status_hint=431)


class _Connection(h11.Connection):
    """h11's connection that also measures a head that arrived whole, and counts its fields."""

    def __init__(self, limits: Limits) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=limits.max_header_bytes)
        self.limits = limits
        self.last_error: h11.RemoteProtocolError | None = None

    def next_event(self) -> Any:
        try:
            event = super().next_event()
            if isinstance(event, h11.Request):
                if len(event.headers) > self.limits.max_headers:
                    raise _HeadTooLarge("too many header fields")
                size = len(event.target) + sum(len(name) + len(value) + 4 for name, value in event.headers)
                if size > self.limits.max_header_bytes:
                    raise _HeadTooLarge("request header fields too large")
            return event
        except h11.RemoteProtocolError as exc:
            self.last_error = exc
            raise


class WardH11Protocol(H11Protocol):
    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits: Limits = getattr(config, "limits", Limits())
        self.conn = _Connection(self.limits)
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._requests = 0

    # timers ---------------------------------------------------------------------------------
    def _cancel(self, timer: asyncio.TimerHandle | None) -> None:
        if timer is not None:
            timer.cancel()

    def _arm_head_timer(self) -> None:
        self._cancel(self._head_timer)
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def _arm_body_timer(self) -> None:
        self._cancel(self._body_timer)
        self._body_timer = self.loop.call_later(self.limits.body_timeout, self._body_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self._head_bytes:
            self._refuse(408, "The request head took too long.")
        else:
            self.transport.close()  # an idle connection that never asked anything

    def _body_timed_out(self) -> None:
        self._body_timer = None
        cycle = self.cycle
        if cycle is None or not cycle.more_body or cycle.disconnected or self.transport.is_closing():
            return
        if self.flow.read_paused:  # the application is slow to read, not the client to send
            self._arm_body_timer()
            return
        started = cycle.response_started
        cycle.disconnected = True  # the application's receive() now sees http.disconnect
        cycle.message_event.set()
        if started:
            self.transport.close()
        else:
            self._refuse(408, "The request body stopped arriving.")

    def _refuse(self, status: int, message: str) -> None:
        body = message.encode()
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]
        try:
            output = self.conn.send(h11.Response(status_code=status, headers=headers, reason=STATUS_PHRASES[status]))
            output = (output or b"") + (self.conn.send(h11.Data(data=body)) or b"")
            output += self.conn.send(h11.EndOfMessage()) or b""
            self.transport.write(output)
        except h11.LocalProtocolError:
            pass  # a response is already under way: closing is all that is left
        self.transport.close()

    # protocol hooks -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel(self._head_timer)
        self._cancel(self._body_timer)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            if self._head_timer is None:
                self._arm_head_timer()
            self._head_bytes += len(data)
        elif self.cycle is not None and self.cycle.more_body:
            self._arm_body_timer()
        super().data_received(data)

    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not None and self.cycle is not before:
            self._request_started()

    def _request_started(self) -> None:
        self._cancel(self._head_timer)
        self._head_timer = None
        self._head_bytes = 0
        self._requests += 1
        if self._requests >= self.limits.max_requests:
            # uvicorn answers "Connection: close" when the request asked for it; h11 then closes.
            self.cycle.scope["headers"] = [*self.cycle.scope["headers"], (b"connection", b"close")]
        if self.cycle.more_body and self.conn.their_state is h11.SEND_BODY:
            self._arm_body_timer()

    def on_response_complete(self) -> None:
        self._cancel(self._body_timer)
        self._body_timer = None
        super().on_response_complete()

    def send_400_response(self, msg: str) -> None:
        error = getattr(self.conn, "last_error", None)  # what h11 refused the head for
        if error is not None and error.error_status_hint == 431:
            self._refuse(431, "Request header fields too large.")
            return
        super().send_400_response(msg)
