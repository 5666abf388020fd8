"""After filing: the full decode that proves a photo sound, in worker processes.

Decoding a 12 MP JPEG costs ~100 ms of CPU, so it never runs on the event loop nor in the
upload's critical path. A photo that fails is quarantined: kept bit-exact, flagged, audited and
never served. A photo that passes gets its renditions (re-encoded, no metadata). Work survives
a crash: photos still in state ``filed`` are queued again at start.

While photos are arriving, decoding waits: its CPU, its rendition fsyncs and its database
writes would otherwise slow the sync a nurse is waiting on (by a third, measured with 4 uploads
at once on 2 cores). It starts once no upload has been streaming for ``QUIET_SECONDS``, and a
photo never waits more than ``MAX_DEFER_SECONDS`` for that, so a server that never stops
receiving still decodes everything.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import concurrent.futures.process
import logging
import multiprocessing

from crypto import KeyStore

from ..audit.log import SERIOUS_FAILURE, AuditEvent, append
from ..db import Db
from ..events import INGEST_UPLOADS, PHOTO_VERIFIED, Events, wait_event
from ..storage.objects import ObjectStore
from .worker import decode_stored, init_worker, pixel_budget
from ..clock import now_iso

log = logging.getLogger("clinphoto.decoder")

QUIET_SECONDS = 0.5
MAX_DEFER_SECONDS = 30.0
DECODE_ROOM_WAIT_SECONDS = 30.0  # the longest a new upload waits for room in a full backlog


class Decoder:
    def __init__(self, store: Db, keys: KeyStore, objects: ObjectStore, *, workers: int, max_pixels: int,
                 events: Events, memory_limit: int | None = None) -> None:
        self.memory_limit = memory_limit  # per worker (RLIMIT_AS); pixels get ``pixel_budget`` of it
        self.events = events
        self.store = store
        self.keys = keys
        self.objects = objects
        self.max_pixels = max_pixels
        self.workers = workers
        self._queue: asyncio.Queue[tuple[str, float]] = asyncio.Queue()
        self._pending: dict[str, float] = {}  # photo id -> when it was queued (loop time)
        self._uploads = 0  # uploads streaming now, and when that last changed (loop time)
        self._uploads_changed_at = float("-inf")
        self._uploads_changed = asyncio.Event()
        events.subscribe(INGEST_UPLOADS, self._on_uploads)
        self._tasks: list[asyncio.Task[None]] = []
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._progress = asyncio.Event()  # set each time a photo leaves the backlog
        self._room_waiters = 0  # uploads waiting for room in a full backlog: the decode defers to none

    def _new_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        # forkserver: never fork a process that runs threads (aiosqlite, the event loop)
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=self.workers, mp_context=multiprocessing.get_context("forkserver"), initializer=init_worker,
            initargs=(self.memory_limit,))

    async def _decode(self, storage_key: str) -> tuple[str, object]:
        """("ok", renditions) or ("defect", reason). A worker that dies (killed past its memory, or crashed
        by the image) breaks the pool: it is replaced and the photo tried once more; a photo that kills the
        worker twice is quarantined, never lost, and the next photo goes on."""
        budget = pixel_budget(self.memory_limit) if self.memory_limit else None
        for _ in range(2):  # a pool broken before this photo is replaced and the photo tried again
            pool = self._pool
            try:
                return await asyncio.get_running_loop().run_in_executor(
                    pool, decode_stored, str(self.objects.root), storage_key, dict(self.keys.keks), self.max_pixels,
                    budget)
            except concurrent.futures.process.BrokenProcessPool:
                if self._pool is pool and pool is not None:
                    pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = self._new_pool()
        return "defect", "decode_worker_died: the decode worker died twice while decoding this photo"

    async def start(self) -> None:
        self._pool = self._new_pool()
        self._tasks = [asyncio.create_task(self._run()) for _ in range(self.workers)]

    async def sweep(self, filed_before: str | None = None) -> int:
        """Queue every photo filed (before ``filed_before``, if given) but not yet checked (a restart,
        another process gone): done by the leader (cluster.py). A photo another process is checking now
        may be checked twice: the first to record its outcome wins, the other's is dropped."""
        rows = await self.store.fetch_all(
            "SELECT id FROM photo WHERE state = 'filed'" + (" AND filed_at < :t" if filed_before else "")
            + " ORDER BY filed_at", {"t": filed_before} if filed_before else None)
        for row in rows:
            await self.enqueue(row["id"])
        return len(rows)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    async def enqueue(self, photo_id: str) -> None:
        if photo_id not in self._pending:
            queued_at = asyncio.get_running_loop().time()
            self._pending[photo_id] = queued_at
            self._idle.clear()
            self._queue.put_nowait((photo_id, queued_at))

    async def wait_room(self, limit: int, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until fewer than ``limit`` photos wait for their decode: new uploads
        call this, so under a load that never stops the sync goes at the pace the decode keeps and the
        backlog stays bounded instead of growing for as long as the load lasts. True if there was room."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if len(self._pending) < limit:
            return True
        self._room_waiters += 1
        self._uploads_changed.set()  # a decode waiting for quiet starts now: uploads are waiting on it
        try:
            while len(self._pending) >= limit:
                left = deadline - loop.time()
                if left <= 0:
                    return False
                self._progress.clear()
                await wait_event(self._progress, left)
            return True
        finally:
            self._room_waiters -= 1

    def backlog(self) -> tuple[int, float]:
        """Photos filed and waiting for their full decode, and how long the oldest has waited (seconds)."""
        if not self._pending:
            return 0, 0.0
        return len(self._pending), asyncio.get_running_loop().time() - next(iter(self._pending.values()))  # queue order

    async def wait_idle(self) -> None:
        await self._idle.wait()

    async def render(self, photo_id: str, kind: str) -> tuple[bytes, int, int] | None:
        """Make and store one rendition of a verified photo filed before that kind existed (previews of
        older photos, on first request); the bytes, or None when the original does not decode."""
        row = await self.store.fetch_one("SELECT storage_key FROM photo WHERE id = :id AND state = 'verified'",
                                         {"id": photo_id})
        if row is None or self._pool is None:
            return None
        status, result = await asyncio.get_running_loop().run_in_executor(
            self._pool, decode_stored, str(self.objects.root), row["storage_key"], dict(self.keys.keks), self.max_pixels)
        if status != "ok" or kind not in result:  # type: ignore[operator]
            return None
        jpeg, width, height = result[kind]  # type: ignore[index]
        key = ObjectStore.key_for(photo_id, kind)
        size = await asyncio.to_thread(self.objects.put, key, jpeg, kek_id=self.keys.kek_id, kek=self.keys.kek)
        async with self.store.write() as db:
            await db.execute("DELETE FROM rendition WHERE photo_id = :p AND kind = :k", {"p": photo_id, "k": kind})
            await db.execute(
                "INSERT INTO rendition (photo_id, kind, storage_key, kek_id, width, height, stored_size) "
                "VALUES (:p, :k, :key, :kek, :w, :h, :size)",
                {"p": photo_id, "k": kind, "key": key, "kek": self.keys.kek_id, "w": width, "h": height, "size": size})
        return jpeg, width, height

    async def _on_uploads(self, count: int) -> None:
        self._uploads = count
        self._uploads_changed_at = asyncio.get_running_loop().time()
        self._uploads_changed.set()

    async def _after_uploads(self, queued_at: float) -> None:
        """Wait until no upload has streamed for QUIET_SECONDS, or the photo has waited long enough, or
        uploads are waiting for room in the backlog (deferring to them would only stall both)."""
        loop = asyncio.get_running_loop()
        deadline = queued_at + MAX_DEFER_SECONDS
        while loop.time() < deadline and not self._room_waiters:
            quiet_at = float("inf") if self._uploads else self._uploads_changed_at + QUIET_SECONDS
            if loop.time() >= quiet_at:
                return
            self._uploads_changed.clear()
            await wait_event(self._uploads_changed, min(quiet_at, deadline) - loop.time())

    async def _run(self) -> None:
        while True:
            photo_id, queued_at = await self._queue.get()
            try:
                await self._after_uploads(queued_at)
                await self._check(photo_id)
            except Exception:
                log.exception("decode check failed for one photo; it stays filed and is retried at next start")
            finally:
                self._pending.pop(photo_id, None)
                self._progress.set()
                if not self._pending:
                    self._idle.set()

    async def _check(self, photo_id: str) -> None:
        row = await self.store.fetch_one(
            "SELECT p.*, s.patient_id FROM photo p JOIN sequence s ON s.id = p.sequence_id WHERE p.id = :id",
            {"id": photo_id})
        if row is None or row["state"] != "filed":
            return
        status, result = await self._decode(row["storage_key"])
        now = now_iso()
        event = dict(actor="system:decoder", patient_id=row["patient_id"], object=f"photo/{photo_id}")
        if status == "defect":
            async with self.store.write() as db:
                if not await db.run("UPDATE photo SET state = 'quarantined', quarantine_reason = :r, checked_at = :t "
                                    "WHERE id = :id AND state = 'filed' RETURNING id",
                                    {"r": result, "t": now, "id": photo_id}):
                    return  # another process recorded its check first
                await append(db, AuditEvent(action="photo.quarantine", outcome=SERIOUS_FAILURE,
                                            detail={"reason": str(result)}, **event))
            return
        renditions: dict[str, tuple[bytes, int, int]] = result  # type: ignore[assignment]
        stored: list[dict[str, object]] = []
        for kind, (jpeg, width, height) in renditions.items():
            key = ObjectStore.key_for(photo_id, kind)
            size = await asyncio.to_thread(self.objects.put, key, jpeg, kek_id=self.keys.kek_id, kek=self.keys.kek)
            stored.append({"photo_id": photo_id, "kind": kind, "key": key, "kek": self.keys.kek_id,
                           "w": width, "h": height, "size": size})
        async with self.store.write() as db:
            if not await db.run("UPDATE photo SET state = 'verified', checked_at = :t "
                                "WHERE id = :id AND state = 'filed' RETURNING id", {"t": now, "id": photo_id}):
                return  # another process recorded its check first (its renditions are the same images)
            for r in stored:
                await db.execute("DELETE FROM rendition WHERE photo_id = :photo_id AND kind = :kind",
                                 {"photo_id": r["photo_id"], "kind": r["kind"]})
                await db.execute(
                    "INSERT INTO rendition (photo_id, kind, storage_key, kek_id, width, height, stored_size) "
                    "VALUES (:photo_id, :kind, :key, :kek, :w, :h, :size)", r)
            await append(db, AuditEvent(action="photo.verify", detail={"renditions": sorted(renditions)}, **event))
        await self.events.publish(PHOTO_VERIFIED, photo_id=photo_id)
