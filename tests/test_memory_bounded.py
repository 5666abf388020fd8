"""Memory bounded by design: whatever images arrive, four at once, the whole server stays under 400 MB.

The image that found it: a 10950x10950 16-bit RGBA PNG, 937 KB, under the pixel limit, whose pixels
are 960 MB. The upload path never decodes a pixel (its header check reads PNG chunks itself); the
decode worker refuses it from its header against a budget (width x height x bands x bytes per sample)
under a hard memory limit, and quarantines it: kept, flagged, never lost.
Measured with the real ``clinphoto serve``: peak resident memory (VmHWM) of the server process and of
every process it started (forkserver, decode workers), summed.
"""
from __future__ import annotations

import concurrent.futures
import os
import signal
import sqlite3
import struct
import uuid
import zlib
from pathlib import Path

import httpx

from tests.support.waiting import wait_for
from tests.support.client import SyncClient
from tests.support.photos import make_jpeg, manifest, seal, sequence_form
from tests.support.server import ServerProcess

LIMIT_MB = 400


def big_png(width: int = 10950, height: int = 10950, rows_per_block: int = 50) -> bytes:
    """The hostile PNG, made without holding its pixels: every block of rows deflates to the same bytes
    once the compressor's history is reset (full flush), so one block is compressed and repeated."""
    row = b"\x00" + bytes(width * 8)  # filter byte + 16-bit RGBA samples
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = compressor.compress(row * rows_per_block) + compressor.flush(zlib.Z_FULL_FLUSH)
    full, rest = divmod(height, rows_per_block)
    tail = compressor.compress(row * rest) + compressor.flush(zlib.Z_FULL_FLUSH) if rest else b""
    adler = 1
    for _ in range(height):
        adler = zlib.adler32(row, adler)
    stream = b"\x78\xda" + packed * full + tail + b"\x03\x00" + struct.pack(">I", adler)  # final empty block

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    idat = b"".join(chunk(b"IDAT", stream[i:i + 65536]) for i in range(0, len(stream), 65536))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0))
            + idat + chunk(b"IEND", b""))


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for child in _children(pid):
        pids += _tree(child)
    return pids


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _one_photo_batch(client: SyncClient, plaintext: bytes, mime: str) -> tuple[dict, object]:
    public, kid = client.seal_key()
    sequence_id = str(uuid.uuid4())
    photo = seal(plaintext, public, kid, sequence_id, mime=mime)
    doc = manifest(client.device_id or "", [sequence_form(sequence_id)], [photo], seal_key=(public, kid))
    assert client.propose(doc).status_code == 201
    return doc, photo


def _states(data_dir: Path, ids: list[str]) -> dict[str, tuple[str, str | None]]:
    with sqlite3.connect(f"file:{data_dir / 'clinphoto.db'}?mode=ro", uri=True) as db:
        rows = db.execute(f"SELECT id, state, quarantine_reason FROM photo WHERE id IN ({','.join('?' * len(ids))})",
                          ids).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def _wait_states(data_dir: Path, ids: list[str], timeout: float = 120) -> dict[str, tuple[str, str | None]]:
    def decoded() -> dict[str, tuple[str, str | None]] | None:
        states = _states(data_dir, ids)
        done = len(states) == len(ids) and all(s in ("verified", "quarantined") for s, _ in states.values())
        return states if done else None

    states: dict[str, tuple[str, str | None]] = wait_for(decoded, timeout, "the photos to be decoded", every=0.1)
    return states


def test_four_huge_pngs_at_once_keep_the_whole_server_under_400_mb_and_are_quarantined(tmp_path):
    hostile = big_png()
    assert len(hostile) < 1024 * 1024
    server = ServerProcess(tmp_path / "data")
    server.start()
    try:
        client = SyncClient(httpx.Client(base_url=server.url, timeout=120))
        assert client.enroll(server.enrollment_code()).status_code == 201
        batches = [_one_photo_batch(client, hostile, "image/png") for _ in range(4)]

        def send(batch: tuple[dict, object]) -> int:
            doc, photo = batch
            own = SyncClient(httpx.Client(base_url=server.url, timeout=120))
            own.credential, own.device_id = client.credential, client.device_id
            return own.upload(doc["batch_id"], photo.photo_id, photo.sealed).status_code

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            assert list(pool.map(send, batches)) == [204] * 4  # filed: nothing lost, nothing decoded
        ids = [photo.photo_id for _, photo in batches]
        states = _wait_states(server.data_dir, ids)
        assert all(s == "quarantined" and r.startswith("decode_budget_exceeded") for s, r in states.values()), states
        # the pool still works: an ordinary photo afterwards is verified
        doc, photo = _one_photo_batch(client, make_jpeg(640, 480), "image/jpeg")
        assert client.upload(doc["batch_id"], photo.photo_id, photo.sealed).status_code == 204
        assert _wait_states(server.data_dir, [photo.photo_id])[photo.photo_id][0] == "verified"

        assert server.process is not None
        pids = _tree(server.process.pid)
        peaks = {pid: _status_kb(pid, "VmHWM") for pid in pids}
        total_mb = sum(peaks.values()) / 1024
        print(f"\npeak resident memory, server + {len(pids) - 1} child processes: {total_mb:.0f} MB "
              f"(server {peaks[server.process.pid] / 1024:.0f} MB)")
        assert total_mb < LIMIT_MB, peaks
    finally:
        server.stop()


def test_a_killed_decode_worker_is_replaced_and_the_next_photo_is_verified(tmp_path):
    server = ServerProcess(tmp_path / "data")
    server.start()
    try:
        client = SyncClient(httpx.Client(base_url=server.url, timeout=60))
        assert client.enroll(server.enrollment_code()).status_code == 201
        first, photo = _one_photo_batch(client, make_jpeg(320, 240, seed=1), "image/jpeg")
        assert client.upload(first["batch_id"], photo.photo_id, photo.sealed).status_code == 204
        assert _wait_states(server.data_dir, [photo.photo_id])[photo.photo_id][0] == "verified"
        assert server.process is not None
        workers = [p for p in _tree(server.process.pid)[1:] if not _children(p)]  # leaves: the decode workers
        assert workers
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        second, photo = _one_photo_batch(client, make_jpeg(320, 240, seed=2), "image/jpeg")
        assert client.upload(second["batch_id"], photo.photo_id, photo.sealed).status_code == 204
        assert _wait_states(server.data_dir, [photo.photo_id])[photo.photo_id][0] == "verified"
    finally:
        server.stop()


_HEADER_CHECK = """
import resource, sys
from tests.test_memory_bounded import big_png
from sync_server.ingest.images import NeedsWholeImage, inspect_header
data = big_png()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    inspect_header(data[:256 * 1024], 120_000_000, size=len(data))
except NeedsWholeImage:
    inspect_header(data, 120_000_000)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_the_header_check_of_a_huge_png_decodes_no_pixel():
    import subprocess
    import sys
    from tests.support.server import REPO
    done = subprocess.run([sys.executable, "-c", _HEADER_CHECK], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    grown_mb = int(done.stdout.strip()) / 1024
    assert grown_mb < 20, f"the header check grew the process by {grown_mb:.0f} MB"


def _png_with_exif_after_pixels(exif: bytes) -> bytes:
    import io
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (32, 32)).save(out, format="PNG")
    data = out.getvalue()
    chunk = struct.pack(">I", len(exif)) + b"eXIf" + exif + struct.pack(">I", zlib.crc32(b"eXIf" + exif))
    return data[:-12] + chunk + data[-12:]  # before IEND, after IDAT


def test_gps_in_a_png_exif_chunk_after_the_pixels_is_still_refused():
    import pytest
    from PIL import Image
    from sync_server.errors import ApiError
    from sync_server.ingest.images import inspect_header
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 0.0)}
    located = _png_with_exif_after_pixels(exif.tobytes())
    with pytest.raises(ApiError) as refused:
        inspect_header(located, 40_000_000)
    assert refused.value.code == "image_location_metadata"
    plain = Image.Exif()
    plain[0x010F] = "Camera"
    assert inspect_header(_png_with_exif_after_pixels(plain.tobytes()), 40_000_000).mime == "image/png"
