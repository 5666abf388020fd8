"""Ingest benchmark: ClinPhoto's full sync protocol vs nginx WebDAV PUT, same files, same run.

Both servers run on loopback on this machine. ClinPhoto does everything it does in production:
manifest, tus upload (one PATCH per photo, no Upload-Checksum: as the app sends it; the server
hashes every byte regardless), sealed-hash check, HPKE open, plaintext
hash check, Pillow header check, AES-GCM at rest, fsync + rename + directory fsync, audit,
commit and a signed receipt. nginx only writes the bytes it receives (no fsync). Prints
photos/s, MB/s, the ratio to nginx, and the server's peak memory (VmHWM) at two batch sizes.

Both legs share the machine's cores with the client, so the client is the same for both and
as light as it can be: photos are sealed before the clock starts, and a minimal HTTP/1.1 client
(``LeanHttp``: one keep-alive connection per thread, each body sent from memory in one
``sendall``) does the requests. Before each leg the benchmark waits for ClinPhoto's process tree
to go quiet (the decode workers finish the previous leg's photos), so no leg pays for another.
It also prints the CPU each side spent per photo (from ``/proc``).

    make bench                      # or: .venv/bin/python -m bench.ingest --photos 40
"""
from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import io
import json as jsonlib
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from PIL import Image

from tests.support.client import SyncClient
from tests.support.photos import manifest, seal, sequence_form
from tests.support.server import ServerProcess, free_port

NGINX_CONF = """
{user}
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy; fastcgi_temp_path {root}/fastcgi; uwsgi_temp_path {root}/uwsgi; scgi_temp_path {root}/scgi;
  client_max_body_size 64m;
  client_body_buffer_size 1m;
  server {{
    listen 127.0.0.1:{port};
    root {root}/dav;
    location / {{ dav_methods PUT DELETE; create_full_put_path on; dav_access user:rw; }}
  }}
}}
"""


class LeanResponse:
    """The parts of an httpx response ``SyncClient`` reads."""

    def __init__(self, status: int, headers: dict[str, str], content: bytes) -> None:
        self.status_code, self.headers, self.content = status, headers, content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class _Connection(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class LeanHttp:
    """A minimal HTTP/1.1 client: one keep-alive connection per thread, bodies sent from memory.

    httpx costs the client a few milliseconds of CPU per 4.5 MB request; on a 2-core machine
    that CPU is taken from the server being measured. This sends the headers and then the body
    with one ``sendall`` each (the GIL is released meanwhile) and parses the small responses.
    """

    def __init__(self, base_url: str) -> None:
        url = urlsplit(base_url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self._local = threading.local()
        self._connections: list[http.client.HTTPConnection] = []

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:  # it connects on first use, and again after close()
            connection = self._local.connection = _Connection(self.host, self.port, timeout=120)
            self._connections.append(connection)
        return connection

    def request(self, method: str, path: str, *, content: bytes = b"", json: Any = None,
                headers: dict[str, str] | None = None) -> LeanResponse:
        headers = dict(headers or {})
        if json is not None:
            content = jsonlib.dumps(json).encode()
            headers["Content-Type"] = "application/json"
        connection = self._connection()
        reused = connection.sock is not None
        try:
            response = self._exchange(connection, method, path, content, headers)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            if not reused:
                raise
            # the server closed this keep-alive connection while it sat idle (uvicorn: after 5 s),
            # so it never saw the request: send it again on a new one
            connection.close()
            response = self._exchange(connection, method, path, content, headers)
        return response

    @staticmethod
    def _exchange(connection: http.client.HTTPConnection, method: str, path: str, content: bytes,
                  headers: dict[str, str]) -> LeanResponse:
        connection.request(method, path, body=content if method not in ("GET", "HEAD") else None, headers=headers)
        response = connection.getresponse()
        body = response.read()
        return LeanResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, body)

    def get(self, path: str, **kw: Any) -> LeanResponse:
        return self.request("GET", path, **kw)

    def head(self, path: str, **kw: Any) -> LeanResponse:
        return self.request("HEAD", path, **kw)

    def post(self, path: str, **kw: Any) -> LeanResponse:
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> LeanResponse:
        return self.request("PATCH", path, **kw)

    def put(self, path: str, **kw: Any) -> LeanResponse:
        return self.request("PUT", path, **kw)

    def close(self) -> None:
        """Close every connection (an idle one may have timed out on the server side)."""
        for connection in self._connections:
            connection.close()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """The same for a process and its live descendants (ClinPhoto's decode workers, nginx's worker)."""
    try:
        total = process_cpu_seconds(pid)
        for task in Path(f"/proc/{pid}/task").iterdir():
            total += sum(tree_cpu_seconds(int(child)) for child in (task / "children").read_text().split())
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return total


def wait_quiet(pid: int, quiet: float = 2.0, timeout: float = 600.0) -> None:
    """Wait until ``pid``'s process tree has used (almost) no CPU for ``quiet`` seconds: the decode
    of earlier photos is done (it starts only once uploads have stopped for half a second)."""
    deadline = time.monotonic() + timeout
    samples = [tree_cpu_seconds(pid)]
    while time.monotonic() < deadline:
        time.sleep(0.25)
        samples = [*samples, tree_cpu_seconds(pid)][-int(quiet / 0.25) - 1:]
        if len(samples) > quiet / 0.25 and samples[-1] - samples[0] < 0.02 * quiet:
            return


def realistic_jpeg(seed: int) -> bytes:
    """A 12 MP (4000x3000) JPEG of about 4 MB: textured like a photo, not flat colour."""
    rng = random.Random(seed)
    w, h = 4000, 3000
    noise = Image.effect_noise((w, h), 28 + rng.randint(0, 6))
    grad = Image.linear_gradient("L").resize((w, h))
    mandel = Image.effect_mandelbrot((w, h), (-2.0 + rng.random() * 0.2, -1.2, 0.8, 1.2), 60)
    image = Image.merge("RGB", (Image.blend(grad, noise, 0.45), Image.blend(mandel, noise, 0.45),
                                Image.blend(grad.transpose(Image.Transpose.ROTATE_180), noise, 0.5)))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak(pid: int) -> None:
    """Reset VmHWM so each batch size reports its own peak (Linux: clear_refs 5)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass


def run_clinphoto(server: ServerProcess, code: str, photos_plain: list[bytes], count: int, parallel: int) -> dict:
    http = LeanHttp(server.url)
    client = SyncClient(http)
    assert client.enroll(code, "bench").status_code == 201
    public, kid = client.seal_key()
    sequence_id = str(uuid.uuid4())
    sealed = [seal(photos_plain[i % len(photos_plain)], public, kid, sequence_id) for i in range(count)]
    doc = manifest(client.device_id or "", [sequence_form(sequence_id)], sealed, seal_key=(public, kid))
    total = sum(len(p.sealed) for p in sealed)
    pid = server.process.pid  # type: ignore[union-attr]
    wait_quiet(pid)
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        server_cpu, client_cpu = process_cpu_seconds(pid), time.process_time()
        start = time.perf_counter()
        assert client.propose(doc).status_code == 201
        results = list(pool.map(lambda p: client.upload(doc["batch_id"], p.photo_id, p.sealed, chunk_size=8 << 20,
                                                        checksum=False),
                                sealed))
        assert all(r.status_code == 204 for r in results), [r.text for r in results if r.status_code != 204][:1]
        assert client.commit(doc["batch_id"]).status_code == 200
        elapsed = time.perf_counter() - start
        server_cpu, client_cpu = process_cpu_seconds(pid) - server_cpu, time.process_time() - client_cpu
    http.close()
    return {"seconds": elapsed, "bytes": total, "count": count, "server_cpu": server_cpu, "client_cpu": client_cpu}


def run_nginx(port: int, pid: int, photos_plain: list[bytes], count: int, parallel: int, size_of: list[int]) -> dict:
    http = LeanHttp(f"http://127.0.0.1:{port}")
    # the same number of bytes per file as the sealed blobs
    bodies = [photos_plain[i % len(photos_plain)][: size_of[i % len(size_of)]] for i in range(count)]
    total = sum(len(b) for b in bodies)
    run = uuid.uuid4().hex
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        server_cpu, client_cpu = tree_cpu_seconds(pid), time.process_time()
        start = time.perf_counter()
        codes = list(pool.map(lambda ib: http.put(f"/{run}/{ib[0]}.jpg", content=ib[1]).status_code,
                              enumerate(bodies)))
        elapsed = time.perf_counter() - start
        server_cpu, client_cpu = tree_cpu_seconds(pid) - server_cpu, time.process_time() - client_cpu
    http.close()
    assert all(c in (201, 204) for c in codes), codes[:3]
    return {"seconds": elapsed, "bytes": total, "count": count, "server_cpu": server_cpu, "client_cpu": client_cpu}


def crypto_floor(plain: list[bytes], rounds: int = 5) -> float:
    """CPU seconds per photo, in this process, of the work no durable and verified ingest can skip: the
    SHA-256 of the sealed blob, the seal opened (HPKE, AES-GCM chunks, the SHA-256 of the photo it checks)
    and the photo encrypted at rest (AES-GCM). The same photos, the same library calls as the server."""
    import hashlib

    from cryptography.hazmat.primitives.asymmetric import ec

    from crypto import encrypt_at_rest, key_id, open_photo, seal_photo

    private = ec.generate_private_key(ec.SECP256R1())
    kid = key_id(private.public_key())
    kek = os.urandom(32)
    items = []
    for photo in plain:
        photo_id, sequence_id = str(uuid.uuid4()), str(uuid.uuid4())
        items.append((seal_photo(photo, private.public_key(), kid, photo_id, sequence_id), photo_id, sequence_id,
                      hashlib.sha256(photo).hexdigest()))
    start = time.process_time()
    for _ in range(rounds):
        for blob, photo_id, sequence_id, digest in items:
            hashlib.sha256(blob).digest()
            opened = open_photo(blob, {kid: private}, photo_id=photo_id, sequence_id=sequence_id,
                                plaintext_sha256=digest)
            encrypt_at_rest(opened, kek_id="kek-00000001", kek=kek, object_id=f"{photo_id[:2]}/{photo_id}.original")
    return (time.process_time() - start) / (rounds * len(items))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=40, help="photos in the large batch")
    parser.add_argument("--parallel", type=int, default=4, help="uploads at once")
    args = parser.parse_args()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        raise SystemExit("nginx is not installed: apt-get install nginx-light")
    root = Path(tempfile.mkdtemp(prefix="clinphoto-bench-"))
    print("generating 4 realistic 12 MP JPEGs ...", flush=True)
    plain = [realistic_jpeg(seed) for seed in range(4)]
    print(f"  sizes: {', '.join(f'{len(p) / 1e6:.1f} MB' for p in plain)}")
    for sub in ("dav", "body"):
        (root / "nginx" / sub).mkdir(parents=True)
    port = free_port()
    (root / "nginx" / "nginx.conf").write_text(NGINX_CONF.format(root=root / "nginx", port=port,
                                                                           user="user root;" if os.geteuid() == 0 else ""))
    ngx = subprocess.Popen([nginx, "-c", str(root / "nginx" / "nginx.conf"), "-p", str(root / "nginx")],
                           stderr=subprocess.DEVNULL)
    server = ServerProcess(root / "clinphoto", CLINPHOTO_MAX_BLOB_BYTES=str(64 << 20))
    server.start()
    try:
        time.sleep(0.3)
        sizes = [len(p) + 200 for p in plain]
        rows = []
        for count in (max(4, args.photos // 4), args.photos):
            pid = server.process.pid  # type: ignore[union-attr]
            wait_quiet(pid)
            n = run_nginx(port, ngx.pid, plain, count, args.parallel, sizes)
            reset_peak(pid)
            c = run_clinphoto(server, server.enrollment_code(), plain, count, args.parallel)
            c["peak_mb"] = peak_rss_mb(pid)
            rows.append((count, n, c))
        print()
        print(f"{'batch':>6} {'nginx photos/s':>15} {'nginx MB/s':>11} {'clinphoto photos/s':>19} "
              f"{'clinphoto MB/s':>15} {'ratio':>6} {'peak MB':>8}")
        for count, n, c in rows:
            n_ps, c_ps = n["count"] / n["seconds"], c["count"] / c["seconds"]
            print(f"{count:>6} {n_ps:>15.1f} {n['bytes'] / n['seconds'] / 1e6:>11.1f} {c_ps:>19.1f} "
                  f"{c['bytes'] / c['seconds'] / 1e6:>15.1f} {c_ps / n_ps:>6.2f} {c['peak_mb']:>8.0f}")
        print("\nCPU per photo, ms (server process / client process; ClinPhoto's decode workers excluded):")
        for count, n, c in rows:
            print(f"  batch {count:>3}: nginx {1000 * n['server_cpu'] / count:5.1f} / {1000 * n['client_cpu'] / count:5.1f}"
                  f"   clinphoto {1000 * c['server_cpu'] / count:5.1f} / {1000 * c['client_cpu'] / count:5.1f}")
        floor = crypto_floor(plain)
        server_ms = 1000 * rows[-1][2]["server_cpu"] / rows[-1][2]["count"]
        print(f"\ncrypto floor (two SHA-256, HPKE + AES-GCM open, AES-GCM at rest), same photos, same run: "
              f"{1000 * floor:.1f} ms per photo")
        print(f"server CPU per photo at the largest batch / floor: {server_ms:.1f} / {1000 * floor:.1f} = "
              f"{server_ms / (1000 * floor):.2f} (target <= 1.30)")
        print(f"\nclinphoto server peak memory (VmHWM): {max(c['peak_mb'] for _, _, c in rows):.0f} MB (target < 300 MB)")
        print(f"ratio at the largest batch: {rows[-1][2]['count'] / rows[-1][2]['seconds'] / (rows[-1][1]['count'] / rows[-1][1]['seconds']):.2f} (target >= 0.30)")
    finally:
        server.stop()
        ngx.terminate()
        ngx.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
