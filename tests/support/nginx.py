"""A real nginx in front of several server processes, configured from the repository's deploy/nginx.conf
(the file a hospital installs) with the test's name, ports, certificate and upstream servers."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx

from tests.support.server import REPO, NamedTransport, free_port
from tests.support.waiting import wait_for

NGINX = os.environ.get("CLINPHOTO_NGINX", "/usr/sbin/nginx")
TEMPLATE = REPO / "deploy" / "nginx.conf"


def render_site(name: str, port: int, http_port: int, upstreams: list[int], cert: Path, key: Path) -> str:
    """deploy/nginx.conf for this test; each line replaced must still be in the file."""
    servers = "\n    ".join(f"server 127.0.0.1:{p};" for p in upstreams)
    replacements: list[tuple[str, str]] = [
        ("clinphoto.hopital.example", name),
        ("server 127.0.0.1:8000;", servers),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{port} ssl http2;"),
        ("listen [::]:443 ssl http2;\n", ""),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen [::]:80;\n", ""),
        ("/etc/ssl/clinphoto/fullchain.pem", str(cert)),
        ("/etc/ssl/clinphoto/privkey.pem", str(key)),
    ]
    site = TEMPLATE.read_text()
    for old, new in replacements:
        if old not in site:
            raise AssertionError(f"deploy/nginx.conf no longer contains {old!r}: update tests/support/nginx.py")
        site = site.replace(old, new)
    return site


class _Resolve(NamedTransport):
    """Reaches the server's name on 127.0.0.1 (no DNS here); the Host header keeps the name."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == self.name:
            request.url = request.url.copy_with(host="127.0.0.1")
        return super().handle_request(request)


class Nginx:
    """nginx terminating TLS for ``https://<name>:<port>`` and balancing over ``upstreams`` (round robin)."""

    def __init__(self, name: str, upstreams: list[int], port: int | None = None) -> None:
        """Start it once the upstream servers answer: one it cannot reach is left out for a while."""
        if not Path(NGINX).exists():
            raise RuntimeError("nginx is not installed: apt-get install nginx (make test does)")
        self.name = name
        self.port = port or free_port()
        self.http_port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="clinphoto-nginx-"))
        self.cert, self.key = self.dir / "fullchain.pem", self.dir / "privkey.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-days", "2", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
                        "-keyout", str(self.key), "-out", str(self.cert)], check=True, capture_output=True)
        (self.dir / "clinphoto.conf").write_text(render_site(name, self.port, self.http_port, upstreams,
                                                             self.cert, self.key))
        self.access_log = self.dir / "access.log"
        temp = "\n".join(f"  {k}_temp_path {self.dir / (k + '_temp')};"
                         for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (self.dir / "nginx.conf").write_text("\n".join([
            "user root root;" if os.getuid() == 0 else "",  # as root the workers would drop to nobody
            "daemon off;", "worker_processes 1;", f"pid {self.dir / 'nginx.pid'};",
            f"error_log {self.dir / 'error.log'} warn;", "events { worker_connections 256; }", "http {",
            # which server process answered each request
            "  log_format upstream '$request_method $uri $status $upstream_addr';",
            f"  access_log {self.access_log} upstream;", temp,
            f"  include {self.dir / 'clinphoto.conf'};", "}"]))
        self.process = subprocess.Popen([NGINX, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"),
                                         "-e", str(self.dir / "error.log")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def answers() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.process.stderr.read().decode() if self.process.stderr else ''}")
            try:
                with self.client(timeout=2) as http:
                    return http.get("/healthz").status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(answers, 20, "nginx to answer")

    @property
    def origin(self) -> str:
        return f"https://{self.name}:{self.port}"

    def client(self, **kwargs: object) -> httpx.Client:
        """A client of ``origin`` as a phone on the ward has it: the name, TLS checked against the certificate."""
        import ssl

        context = ssl.create_default_context(cafile=str(self.cert))
        return httpx.Client(base_url=self.origin, transport=_Resolve(self.name, verify=context),
                            **kwargs)  # type: ignore[arg-type]

    def upstreams_used(self) -> dict[str, int]:
        """How many requests each server process answered (from nginx's access log)."""
        counts: dict[str, int] = {}
        for line in self.access_log.read_text().splitlines():
            found = re.search(r"(127\.0\.0\.1:\d+)$", line)
            if found:
                counts[found.group(1)] = counts.get(found.group(1), 0) + 1
        return counts

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
