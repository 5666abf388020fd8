"""The running server's parts, built once at start and shared by every endpoint."""
from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from crypto import KeyStore

from .auth.throttle import Throttle
from .cluster import Instance, Leader, StartLock
from .events import Events
from .extensions import EXTENSIONS
from .db import Db
from .ingest.decoder import DECODE_ROOM_WAIT_SECONDS, Decoder
from .ingest.service import SyncService
from .settings import Settings
from .storage.fields import PatientFields
from .storage.upgrade import seal_clear_forms, seal_clear_patients
from .clinical import stats
from .clock import iso, utc_now
from .storage.files import make_dir_durably, sweep_temp_files
from .storage.objects import ObjectStore
from .storage.private import check_keys_private, make_private

log = logging.getLogger("clinphoto")


def _version() -> str:
    try:
        return version("clinphoto")
    except PackageNotFoundError:
        return "0.0.0"


@dataclasses.dataclass
class Services:
    settings: Settings
    store: Db
    keys: KeyStore
    objects: ObjectStore
    sync: SyncService
    decoder: Decoder
    enroll_throttle: Throttle
    version: str
    events: Events
    leader: Leader
    instance: Instance
    handles: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    async def start(cls, settings: Settings) -> "Services":
        check_keys_private(settings.resolved_keys_dir)  # before a key is read
        for directory in (settings.data_dir, settings.objects_dir, settings.uploads_dir, settings.resolved_keys_dir):
            make_dir_durably(directory)  # 0700, and its name durable in its parent
        make_private([settings.uploads_dir, settings.objects_dir], [settings.data_dir])
        settings.data_dir.chmod(0o700)
        instance = Instance(settings.data_dir)  # this process, among the install's servers (cluster.py)
        keys = KeyStore.open(settings.resolved_keys_dir)
        store = Db(settings.resolved_database_url, PatientFields(keys))
        async with StartLock(settings.resolved_database_url, settings.data_dir):  # one start at a time
            await store.connect()  # and its migrations
            sealed = await seal_clear_forms(store, keys)  # forms an earlier version stored in clear
            if sealed:
                log.warning("sealed %d sequence forms stored in clear by an earlier version", sealed)
            sealed = await seal_clear_patients(store)  # identifiers and names an earlier version stored in clear
            if sealed:
                log.warning("sealed %d patient identifiers and index fields stored in clear by an earlier version",
                            sealed)
            counted = await stats.ensure_built(store, keys)  # the activity figures, kept from now on as work is filed
            if counted:
                log.warning("activity figures built from %d sequences filed by an earlier version", counted)
        objects = ObjectStore(settings.objects_dir)
        removed = sweep_temp_files(settings.objects_dir, instance.live())  # only those of processes gone
        if removed:
            log.warning("removed %d temp files left by an interrupted write (never recorded as stored)", removed)
        events = Events()
        decoder = Decoder(store, keys, objects, workers=settings.decode_workers, max_pixels=settings.max_pixels,
                          events=events, memory_limit=settings.decode_memory_bytes)
        events.subscribe("photo.filed", lambda photo_id: decoder.enqueue(photo_id))
        sync = SyncService(settings, store, keys, objects, events=events)
        sync.decode_room = lambda: decoder.wait_room(settings.decode_backlog_max, DECODE_ROOM_WAIT_SECONDS)
        leader = Leader(settings.resolved_database_url, settings.data_dir)
        services = cls(settings=settings, store=store, keys=keys, objects=objects, sync=sync, decoder=decoder,
                       enroll_throttle=Throttle(store, "enroll.address", attempts=10, window_seconds=60), version=_version(), events=events,
                       leader=leader, instance=instance)
        await sync.expire_uploads()
        await decoder.start()

        async def recover() -> None:  # what a restart, or a process that died, left pending
            await sync.sweep_orphan_parts()
            await sync.finalize_complete_uploads()
            await decoder.sweep()

        async def recover_others() -> None:  # what another process, gone since, left while this one led
            await sync.sweep_orphan_parts()
            await sync.finalize_complete_uploads()
            # a process only slow loses nothing: the first to record a check wins
            await decoder.sweep(filed_before=iso(utc_now() - timedelta(seconds=settings.left_behind_seconds)))

        leader.on_elected(recover)
        leader.every(settings.left_behind_seconds, recover_others)
        for name, start, _ in EXTENSIONS:  # each registers its once-only work with the leader
            services.handles[name] = await start(services)
        await leader.start()  # the lead taken now if free, else followed
        return services

    async def stop(self) -> None:
        await self.leader.stop()
        for name, _, stop in reversed(EXTENSIONS):
            if name in self.handles:
                await stop(self.handles.pop(name))
        await self.decoder.stop()
        await self.store.disconnect()
        self.instance.close()
