"""The listener's own defences, spoken to with raw sockets: 431, slow heads and bodies, keep-alive."""
from __future__ import annotations

import socket
import ssl
import time
from typing import Iterator

import pytest

from tests.support.server import ServerProcess
from tests.ward.conftest import NAME


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("strict") / "data", CLINPHOTO_HEADER_TIMEOUT_SECONDS="0.5",
                           CLINPHOTO_BODY_TIMEOUT_SECONDS="0.5", CLINPHOTO_KEEP_ALIVE_SECONDS="1",
                           CLINPHOTO_MAX_REQUESTS_PER_CONNECTION="3", CLINPHOTO_MAX_HEADERS="50")
    server.start()
    yield server
    server.stop()


def _connect(server: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


def _read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _read_response(sock: socket.socket) -> bytes:
    """One response whose body is sized by Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    while len(body) < length:
        body += sock.recv(65536)
    return head


def _get(path: str = "/healthz", extra: bytes = b"") -> bytes:
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + b"\r\n"


def test_a_request_head_over_16_kib_sent_whole_gets_431(strict):
    with _connect(strict) as sock:
        sock.sendall(_get(extra=b"X-Big: " + b"a" * 17_000 + b"\r\n"))
        assert _read_all(sock).startswith(b"HTTP/1.1 431 ")


def test_a_request_head_growing_past_the_limit_gets_431_before_it_ends(strict):
    with _connect(strict) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 20_000)  # no end of head
        assert _read_all(sock).startswith(b"HTTP/1.1 431 ")


def test_too_many_header_fields_get_431(strict):
    with _connect(strict) as sock:
        sock.sendall(_get(extra=b"".join(b"X-F%d: 1\r\n" % i for i in range(60))))
        assert _read_all(sock).startswith(b"HTTP/1.1 431 ")


def test_a_head_under_the_limits_is_served(strict):
    with _connect(strict) as sock:
        sock.sendall(_get(extra=b"X-Big: " + b"a" * 12_000 + b"\r\n" + b"".join(b"X-F%d: 1\r\n" % i for i in range(40))))
        assert _read_response(sock).startswith(b"HTTP/1.1 200 ")


def test_a_slow_request_head_gets_408_and_the_connection_closes(strict):
    with _connect(strict) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and nothing more
        answer = _read_all(sock)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert 0.4 <= waited < 4


def test_a_connection_that_never_asks_is_closed_silently(strict):
    with _connect(strict) as sock:
        assert _read_all(sock) == b""


def test_a_request_body_that_stalls_gets_408(strict):
    with _connect(strict) as sock:
        sock.sendall(b"POST /api/v1/devices/enroll HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"code\":")  # 92 bytes never come
        started = time.monotonic()
        answer = _read_all(sock)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert 0.4 <= waited < 4


def test_keep_alive_serves_at_most_the_limit_then_closes(strict):
    with _connect(strict) as sock:
        heads = []
        for _ in range(3):
            sock.sendall(_get())
            heads.append(_read_response(sock).lower())
        assert b"connection: close" not in heads[0] and b"connection: close" not in heads[1]
        assert b"connection: close" in heads[2]
        assert sock.recv(10) == b""


def test_an_idle_keep_alive_connection_is_closed_after_its_timeout(strict):
    with _connect(strict) as sock:
        sock.sendall(_get())
        _read_response(sock)
        started = time.monotonic()
        assert sock.recv(10) == b""
        assert 0.8 <= time.monotonic() - started < 4


def test_no_server_header_is_sent(strict):
    with _connect(strict) as sock:
        sock.sendall(_get("/api/v1/keys"))
        head = _read_response(sock).lower()
    assert b"\r\nserver:" not in head and b"uvicorn" not in head


def test_the_header_limit_holds_over_tls_too(ward):
    context = ward.ssl_context()
    with socket.create_connection(("127.0.0.1", ward.port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=NAME) as tls:
            tls.sendall(_get(extra=b"X-Big: " + b"a" * 17_000 + b"\r\n"))
            data = b""
            try:
                while chunk := tls.recv(65536):
                    data += chunk
            except ssl.SSLError:
                pass  # the server may close without close_notify after answering
    assert data.startswith(b"HTTP/1.1 431 ")
