"""The published year, replayed (issue 14, point 3): a seeded generator makes a year shaped like the
published one (979 patients, 2,345 sequences, 8,112 photos over eleven months; every patient has at
least one sequence and every sequence at least one photo), and at least 20 simulated phones sync it
at once through the real protocol (propose, tus upload, commit, signed receipt), each from its own
address as behind the ward's proxy. Photo sizes are scaled down so the year fits here (``--size``).

Prints wall time, photos/s, the latency of each photo's upload and of each batch (p50/p95/p99), the
peak memory of the server's process tree, then checks that ``clinphoto stats`` gives exactly the
year's 979 patients, 2,345 sequences and 8,112 photos (exit status 1 if not).

    make bench          # or: .venv/bin/python -m bench.year [--devices 20] [--size 640x480] [--ward 3]
"""
from __future__ import annotations

import argparse
import io
import json
import queue
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from bench.backlog import _Ward
from bench.ingest import tree_cpu_seconds
from tests.support.client import SyncClient
from tests.support.photos import make_jpeg, manifest, seal, sequence_form
from tests.support.postgres import PostgresCluster
from tests.support.server import ServerProcess

PATIENTS, SEQUENCES, PHOTOS, MONTHS = 979, 2345, 8112, 11

# two view protocols of the catalogue, with the procedure and region they go with
PROTOCOLS = [
    {"procedure": "rhinoplasty", "anatomical_region": "nose", "view_protocol": "rhinoplasty",
     "views": ["frontal", "right_lateral", "left_lateral", "right_oblique", "left_oblique", "basal"]},
    {"procedure": "skin_tumour_excision", "anatomical_region": "back", "view_protocol": "lesion",
     "views": ["overview", "close_up"]},
]
PHASES = ["pre_op", "intra_op", "post_op"]


@dataclass
class Sequence:
    patient_id: str
    performed_on: str
    protocol: dict[str, Any]
    phase: str
    delay_days: int | None
    photos: int


def split(total: int, parts: int, rng: random.Random) -> list[int]:
    """``total`` as ``parts`` whole numbers, each at least 1, drawn at random (a seeded multinomial)."""
    counts = [1] * parts
    for _ in range(total - parts):
        counts[rng.randrange(parts)] += 1
    return counts


def generate(seed: int) -> list[Sequence]:
    """The year: exactly PATIENTS patients, SEQUENCES sequences and PHOTOS photos, the same for a seed."""
    rng = random.Random(seed)
    per_patient = split(SEQUENCES, PATIENTS, rng)
    per_sequence = split(PHOTOS, SEQUENCES, rng)
    year: list[Sequence] = []
    for n, count in enumerate(per_patient):
        patient = f"IPP-Y{n + 1:05d}"
        protocol = rng.choice(PROTOCOLS)
        for _ in range(count):
            month = rng.randrange(MONTHS)
            phase = rng.choice(PHASES)
            delay = rng.choice([7, 30, 90, 180, 365]) if phase == "post_op" else None  # days after surgery
            year.append(Sequence(patient, f"2026-{month + 1:02d}-{rng.randint(1, 28):02d}", protocol, phase, delay, 0))
    for sequence, photos in zip(year, per_sequence, strict=True):
        sequence.photos = photos
    return year


def _photos(width: int, height: int, count: int = 32) -> list[bytes]:
    out = []
    for seed in range(count):
        image = Image.open(io.BytesIO(make_jpeg(320, 240, seed=seed))).resize((width, height))
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=85)
        out.append(buffer.getvalue())
    return out


@dataclass
class Tally:
    photo_seconds: list[float] = field(default_factory=list)
    batch_seconds: list[float] = field(default_factory=list)
    photos: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _phone(server: ServerProcess, code: str, address: str, work: queue.Queue[Sequence | None],
           plain: list[bytes], tally: Tally) -> None:
    http = _Ward(server.url, address)
    client = SyncClient(http)
    if client.enroll(code, "year phone").status_code != 201:
        tally.errors.append("enrol")
        return
    public, kid = client.seal_key()
    rng = random.Random(address)
    while (item := work.get()) is not None:
        sequence_id = str(uuid.uuid4())
        form = sequence_form(sequence_id, item.patient_id, performed_on=item.performed_on,
                             procedure=item.protocol["procedure"], anatomical_region=item.protocol["anatomical_region"],
                             view_protocol=item.protocol["view_protocol"],
                             timing={"phase": item.phase, **({"delay_days": item.delay_days} if item.delay_days else {})})
        views = item.protocol["views"]
        names = [views[i] if i < len(views) else "additional" for i in range(item.photos)]
        sealed = [seal(rng.choice(plain), public, kid, sequence_id) for _ in range(item.photos)]
        doc = manifest(client.device_id or "", [form], sealed, views=names, seal_key=(public, kid))
        started = time.perf_counter()
        proposed = client.propose(doc)
        if proposed.status_code not in (200, 201):
            tally.errors.append(f"propose {proposed.status_code} {proposed.json().get('error', {}).get('code')}")
            continue
        took: list[float] = []
        for photo in sealed:
            t = time.perf_counter()
            answer = client.upload(doc["batch_id"], photo.photo_id, photo.sealed, chunk_size=8 << 20, checksum=False)
            took.append(time.perf_counter() - t)
            if answer.status_code != 204:
                tally.errors.append(f"upload {answer.status_code}")
        committed = client.commit(doc["batch_id"])
        with tally.lock:
            if committed.status_code == 200:
                tally.photos += len(sealed)
                tally.batch_seconds.append(time.perf_counter() - started)
                tally.photo_seconds.extend(took)
            else:
                tally.errors.append(f"commit {committed.status_code}")
    http.close()


def _peak_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process and its live descendants (the decode workers), summed."""
    def hwm(p: int) -> float:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0
    total = hwm(pid)
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                total += _peak_mb(int(child))
            except (FileNotFoundError, ProcessLookupError):
                pass
    return total


def _percentiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {q[49] * 1000:.0f} ms, p95 {q[94] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--size", default="640x480", help="photo size, scaled down from a phone's 12 MP")
    parser.add_argument("--ward", type=int, default=0, metavar="N",
                        help="N server processes on one PostgreSQL and one data folder (docs/deploy.md, section 10); "
                             "phone i syncs to process i mod N. Default: one process on the embedded SQLite")
    args = parser.parse_args()
    year = generate(args.seed)
    assert (len({s.patient_id for s in year}), len(year), sum(s.photos for s in year)) == (PATIENTS, SEQUENCES,
                                                                                          PHOTOS)
    width, height = (int(v) for v in args.size.split("x"))
    plain = _photos(width, height)
    with tempfile.TemporaryDirectory(prefix="clinphoto-year-") as tmp:
        cluster = PostgresCluster().start() if args.ward else None
        env = {"CLINPHOTO_ACCESS_LOG": "off", "CLINPHOTO_FORWARDED_ALLOW_IPS": "127.0.0.1"}
        if cluster is not None:
            env["CLINPHOTO_DATABASE_URL"] = cluster.create_database("year")
        servers = [ServerProcess(Path(tmp) / "data", **env) for _ in range(max(1, args.ward))]
        try:
            for server in servers:
                server.spawn()
            for server in servers:
                server.wait_healthy(60)
            codes = [servers[0].enrollment_code(f"year phone {i}") for i in range(args.devices)]
            work: queue.Queue[Sequence | None] = queue.Queue()
            for item in year:
                work.put(item)
            for _ in codes:
                work.put(None)
            tally = Tally()
            pids = [server.process.pid for server in servers]  # type: ignore[union-attr]
            cpu = sum(tree_cpu_seconds(pid) for pid in pids)
            start = time.monotonic()
            phones = [threading.Thread(target=_phone, args=(servers[i % len(servers)], code,
                                                            f"10.1.{i // 250}.{i % 250 + 1}", work, plain, tally))
                      for i, code in enumerate(codes)]
            for phone in phones:
                phone.start()
            for phone in phones:
                phone.join()
            wall = time.monotonic() - start
            peak = sum(_peak_mb(pid) for pid in pids)
            cpu = sum(tree_cpu_seconds(pid) for pid in pids) - cpu
            where = (f"{len(servers)} server process{'es' if len(servers) > 1 else ''} on one PostgreSQL"
                     if cluster is not None
                     else "one server process on SQLite")
            print(f"published year replayed on {where}: {args.devices} phones, {len(year)} sequences, {tally.photos} "
                  f"photos of {width}x{height} ({sum(map(len, plain)) // len(plain) // 1024} KB) in {wall:.0f} s: "
                  f"{tally.photos / wall:.1f} photos/s, server CPU {cpu:.0f} s, peak memory {peak:.0f} MB"
                  f"{' (the processes together)' if len(servers) > 1 else ''}, "
                  f"{len(tally.errors)} errors {sorted(set(tally.errors))[:5]}")
            print(f"  photo upload latency: {_percentiles(tally.photo_seconds)}")
            print(f"  batch latency (propose to receipt): {_percentiles(tally.batch_seconds)}")
            figures = json.loads(servers[0].cli("stats", "--format", "json"))["totals"]
        finally:
            for server in servers:
                server.stop()
            if cluster is not None:
                cluster.stop()
    got = (figures["patients"], figures["sequences"], figures["photos"])
    exact = got == (PATIENTS, SEQUENCES, PHOTOS)
    print(f"  clinphoto stats: {got[0]} patients, {got[1]} sequences, {got[2]} photos "
          f"({'exactly the published year' if exact else f'NOT the published {PATIENTS}, {SEQUENCES}, {PHOTOS}'})")
    return 0 if exact and not tally.errors else 1


if __name__ == "__main__":
    sys.exit(main())
