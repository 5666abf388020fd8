"""A real ``clinphoto serve`` on the ward: HTTPS for a public name, checked against its ward CA."""
from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Iterator

import pytest
from cryptography import x509

from tests.support.waiting import wait_for
from tests.support.server import ServerProcess

NAME = "photo-ward.test"


@pytest.fixture(scope="module")
def ward(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("ward") / "data", public_name=NAME)
    server.start()
    yield server
    server.stop()


def served_certificate(server: ServerProcess, context: ssl.SSLContext, name: str = NAME) -> tuple[str, str, x509.Certificate]:
    """(TLS version, cipher, certificate) of one handshake with the server's HTTPS port."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=name) as tls:
            der = tls.getpeercert(binary_form=True)
            assert der is not None
            return str(tls.version()), tls.cipher()[0], x509.load_der_x509_certificate(der)


def until(condition, timeout: float = 10.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll ``condition`` until it returns something truthy (``tests/support/waiting.py``), every 20 ms."""
    return wait_for(condition, timeout, what, every=0.02)


def log_lines(server: ServerProcess) -> list[str]:
    return server.log.read_text(errors="replace").splitlines()


def ca_certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())
