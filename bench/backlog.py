"""Decode backlog under a sustained load (issue 12, point 7): many devices sync at once for a while,
through the real protocol (propose, tus upload, commit); the server's ``/healthz`` gives the photos
filed and still waiting for their full decode. Prints photos/s, the backlog over time and at the end
of the load, the oldest wait, and how long the rest takes to drain once the load stops.

    make bench          # or: .venv/bin/python -m bench.backlog --devices 20 --seconds 60 [--workers 2]
"""
from __future__ import annotations

import argparse
import io
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from PIL import Image

from bench.ingest import LeanHttp, tree_cpu_seconds
from tests.support.client import SyncClient
from tests.support.photos import make_jpeg, manifest, seal, sequence_form
from tests.support.server import ServerProcess


def _photo(width: int, height: int, seed: int) -> bytes:
    small = Image.open(io.BytesIO(make_jpeg(640, 480, seed=seed)))
    out = io.BytesIO()
    small.resize((width, height)).save(out, format="JPEG", quality=85)
    return out.getvalue()


class _Ward(LeanHttp):
    """One phone of the ward: its own address, as nginx forwards it (the enrolment throttle counts per address)."""

    def __init__(self, base_url: str, address: str) -> None:
        super().__init__(base_url)
        self.address = address

    def request(self, method: str, path: str, **kw: Any) -> Any:
        kw["headers"] = {**(kw.get("headers") or {}), "X-Forwarded-For": self.address}
        return super().request(method, path, **kw)


def _device(server: ServerProcess, code: str, address: str, photos: list[bytes], per_batch: int, stop: float,
            counts: list[int], errors: list[str]) -> None:
    http = _Ward(server.url, address)
    client = SyncClient(http)
    if client.enroll(code, "bench").status_code != 201:
        errors.append("enrol")
        return
    public, kid = client.seal_key()
    n = 0
    while time.monotonic() < stop:
        sequence_id = str(uuid.uuid4())
        sealed = [seal(photos[(n + i) % len(photos)], public, kid, sequence_id) for i in range(per_batch)]
        n += per_batch
        doc = manifest(client.device_id or "", [sequence_form(sequence_id)], sealed, seal_key=(public, kid))
        if client.propose(doc).status_code != 201:
            errors.append("propose")
            continue
        ok = all(client.upload(doc["batch_id"], p.photo_id, p.sealed, chunk_size=8 << 20, checksum=False).status_code
                 == 204 for p in sealed)
        committed = client.commit(doc["batch_id"]) if ok else None
        if committed is not None and committed.status_code == 200:
            counts.append(per_batch)
        else:
            errors.append(f"upload or commit: {committed.status_code if committed else 'upload'}")
    http.close()


def _backlog(server: ServerProcess) -> tuple[int, float]:
    with server.client(timeout=30) as http:
        decode = http.get("/healthz").json()["checks"]["decode"]
    return decode["backlog"], decode["oldest_seconds"]


def run_leg(args: argparse.Namespace, photos: list[bytes], backlog_max: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="clinphoto-backlog-") as tmp:
        server = ServerProcess(Path(tmp) / "data", CLINPHOTO_ACCESS_LOG="off", CLINPHOTO_FORWARDED_ALLOW_IPS="127.0.0.1",
                               CLINPHOTO_DECODE_WORKERS=str(args.workers),
                               CLINPHOTO_DECODE_BACKLOG_MAX=str(backlog_max))
        server.start()
        try:
            codes = [server.enrollment_code(f"bench {i}") for i in range(args.devices)]
            counts: list[int] = []
            errors: list[str] = []
            pid = server.process.pid  # type: ignore[union-attr]
            cpu = tree_cpu_seconds(pid)
            start = time.monotonic()
            stop = start + args.seconds
            threads = [threading.Thread(target=_device, args=(server, code, f"10.0.0.{i + 1}", photos, args.per_batch,
                                                              stop, counts, errors)) for i, code in enumerate(codes)]
            for thread in threads:
                thread.start()
            samples = []
            while any(t.is_alive() for t in threads):
                time.sleep(min(5.0, max(0.5, stop - time.monotonic())))
                samples.append((round(time.monotonic() - start), *_backlog(server)))
            loaded = time.monotonic() - start
            at_end, oldest_at_end = _backlog(server)
            drained = time.monotonic()
            while _backlog(server)[0]:
                time.sleep(0.2)
            return {"loaded": loaded, "photos": sum(counts), "errors": errors, "at_end": at_end,
                    "oldest": oldest_at_end, "drain": time.monotonic() - drained, "samples": samples,
                    "cpu": tree_cpu_seconds(pid) - cpu}
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--size", default="1600x1200", help="photo size (a phone photo reduced; 4000x3000 = 12 MP)")
    parser.add_argument("--per-batch", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1, help="decode workers (CLINPHOTO_DECODE_WORKERS)")
    parser.add_argument("--backlog-max", type=int, default=200, help="CLINPHOTO_DECODE_BACKLOG_MAX")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the leg without a bound (how the server behaved before it)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    photos = [_photo(width, height, seed) for seed in range(8)]
    legs = [("bounded", args.backlog_max)] + ([] if args.no_baseline else [("no bound (baseline)", 10**9)])
    for name, backlog_max in legs:
        r = run_leg(args, photos, backlog_max)
        print(f"decode backlog, {name}: {args.devices} devices for {r['loaded']:.0f} s, {r['photos']} photos of "
              f"{width}x{height} ({len(photos[0]) // 1024} KB) at {r['photos'] / r['loaded']:.1f}/s, "
              f"{len(r['errors'])} errors {sorted(set(r['errors']))}; backlog at the end {r['at_end']} "
              f"(oldest {r['oldest']:.0f} s), drained {r['drain']:.1f} s later; server CPU {r['cpu']:.0f} s")
        print("  t(s):backlog/oldest(s) " + "  ".join(f"{t}:{b}/{o:.0f}" for t, b, o in r["samples"][:16]))


if __name__ == "__main__":
    main()
