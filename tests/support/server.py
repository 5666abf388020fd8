"""Start the real server as a process (``clinphoto serve``), as a hospital would run it."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import ssl

import httpx

from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
CLINPHOTO = [sys.executable, "-m", "sync_server.cli"]


_GIVEN: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, never one this process handed out before: the kernel may offer the same
    free port twice in a row (Orthanc once got it for both its HTTP and DICOM listeners)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


class NamedTransport(httpx.HTTPTransport):
    """Connects to 127.0.0.1 but checks the certificate against the server's public name (SNI)."""

    def __init__(self, name: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.name = name

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.extensions = {**request.extensions, "sni_hostname": self.name}
        return super().handle_request(request)


class ServerProcess:
    """``public_name``: serve HTTPS for ``https://<public_name>:<port>`` with the ward CA it makes (or the
    hospital's files given as ``CLINPHOTO_TLS_CERT``/``_KEY``, then ``trust`` is their CA), and plain HTTP on
    ``http_port``. Tests reach it on 127.0.0.1 and check its certificate against ``public_name`` and ``ca_file``."""

    def __init__(self, data_dir: Path, port: int | None = None, public_name: str | None = None,
                 trust: Path | None = None, **env: str) -> None:
        self.data_dir = data_dir
        self.trust = trust
        self.port = port or free_port()
        self.public_name = public_name
        self.http_port = free_port() if public_name else 0
        tls = {"CLINPHOTO_PUBLIC_URL": f"https://{public_name}:{self.port}",
               "CLINPHOTO_HTTP_PORT": str(self.http_port)} if public_name else {}
        self.env = {**os.environ, "CLINPHOTO_DATA_DIR": str(data_dir), "CLINPHOTO_PORT": str(self.port),
                    "CLINPHOTO_HOST": "127.0.0.1", "CLINPHOTO_LOG_LEVEL": "warning", **tls, **env}
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"server-{self.port}.log"

    @property
    def https(self) -> bool:
        return self.public_name is not None

    @property
    def url(self) -> str:
        return f"{'https' if self.https else 'http'}://127.0.0.1:{self.port}"

    @property
    def public_url(self) -> str:
        return f"https://{self.public_name}:{self.port}" if self.https else self.url

    @property
    def plain_url(self) -> str:
        """The plain-HTTP listener beside HTTPS (trust page and redirect)."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def ca_file(self) -> Path:
        """The certificate the test trusts: the ward CA, or the hospital's chain when one was given."""
        return self.trust or self.data_dir / "tls" / "ca.crt"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def client(self, **kwargs: object) -> httpx.Client:
        """An httpx client for the application; over HTTPS it verifies the certificate and its name."""
        if not self.https:
            return httpx.Client(base_url=self.url, **kwargs)  # type: ignore[arg-type]
        assert self.public_name is not None
        headers = {"Host": f"{self.public_name}:{self.port}", **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        return httpx.Client(base_url=self.url, headers=headers,
                            transport=NamedTransport(self.public_name, verify=self.ssl_context()),
                            **kwargs)  # type: ignore[arg-type]

    def cli(self, *args: str) -> str:
        done = subprocess.run([*CLINPHOTO, *args], env=self.env, cwd=REPO, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"clinphoto {' '.join(args)} failed: {done.stderr}")
        return done.stdout

    def enrollment_code(self, label: str = "test phone") -> str:
        return self.cli("enroll-device", "--label", label).strip().splitlines()[-1]

    def start(self, timeout: float = 30.0) -> None:
        self.spawn()
        self.wait_healthy(timeout)

    def spawn(self) -> None:
        """Start the process without waiting for it (several servers started at once)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        out = open(self.log, "ab")
        self.process = subprocess.Popen([*CLINPHOTO, "serve"], env=self.env, cwd=REPO, stdout=out,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def health(self) -> dict[str, object]:
        with self.client(timeout=5) as http:
            return http.get("/healthz").json()  # type: ignore[no-any-return]

    def wait_healthy(self, timeout: float = 30.0) -> None:
        def healthy() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with self.client(timeout=1) as http:
                    return http.get("/healthz").status_code == 200
            except (httpx.HTTPError, OSError, ssl.SSLError):
                return False

        wait_for(healthy, timeout, "the server to answer /healthz")

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown code runs, as in a power cut of the process."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None
