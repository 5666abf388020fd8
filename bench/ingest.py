"""Ingest benchmark: ClinPhoto's full sync protocol vs nginx WebDAV PUT, same files, same run.

Both servers run on loopback on this machine. ClinPhoto does everything it does in production:
manifest, tus upload (one PATCH per photo, no Upload-Checksum: as the app sends it; the server
hashes every byte regardless), sealed-hash check, HPKE open, plaintext
hash check, Pillow header check, AES-GCM at rest, fsync + rename + directory fsync, audit,
commit and a signed receipt. nginx only writes the bytes it receives (no fsync). Prints
photos/s, MB/s, the ratio to nginx, and the server's peak memory (VmHWM) at two batch sizes.

    make bench                      # or: .venv/bin/python -m bench.ingest --photos 40
"""
from __future__ import annotations

import argparse
import concurrent.futures
import io
import os
import random
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import httpx
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
    http = httpx.Client(base_url=server.url, timeout=120, limits=httpx.Limits(max_connections=parallel + 2))
    client = SyncClient(http)
    assert client.enroll(code, "bench").status_code == 201
    public, kid = client.seal_key()
    sequence_id = str(uuid.uuid4())
    sealed = [seal(photos_plain[i % len(photos_plain)], public, kid, sequence_id) for i in range(count)]
    doc = manifest(client.device_id or "", [sequence_form(sequence_id)], sealed, seal_key=(public, kid))
    total = sum(len(p.sealed) for p in sealed)
    start = time.perf_counter()
    assert client.propose(doc).status_code == 201
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        results = list(pool.map(lambda p: client.upload(doc["batch_id"], p.photo_id, p.sealed, chunk_size=8 << 20,
                                                              checksum=False),
                                sealed))
    assert all(r.status_code == 204 for r in results), [r.text for r in results if r.status_code != 204][:1]
    assert client.commit(doc["batch_id"]).status_code == 200
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "bytes": total, "count": count}


def run_nginx(port: int, photos_plain: list[bytes], count: int, parallel: int, size_of: list[int]) -> dict:
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120,
                        limits=httpx.Limits(max_connections=parallel + 2))
    # the same number of bytes per file as the sealed blobs
    bodies = [photos_plain[i % len(photos_plain)][: size_of[i % len(size_of)]] for i in range(count)]
    total = sum(len(b) for b in bodies)
    run = uuid.uuid4().hex
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        codes = list(pool.map(lambda ib: http.put(f"/{run}/{ib[0]}.jpg", content=ib[1]).status_code,
                              enumerate(bodies)))
    elapsed = time.perf_counter() - start
    assert all(c in (201, 204) for c in codes), codes[:3]
    return {"seconds": elapsed, "bytes": total, "count": count}


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
            n = run_nginx(port, plain, count, args.parallel, sizes)
            pid = server.process.pid  # type: ignore[union-attr]
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
        print(f"\nclinphoto server peak memory (VmHWM): {max(c['peak_mb'] for _, _, c in rows):.0f} MB (target < 300 MB)")
        print(f"ratio at the largest batch: {rows[-1][2]['count'] / rows[-1][2]['seconds'] / (rows[-1][1]['count'] / rows[-1][1]['seconds']):.2f} (target >= 0.50)")
    finally:
        server.stop()
        ngx.terminate()
        ngx.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
