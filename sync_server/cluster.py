"""Several server processes on one database and one storage volume: who does what only one may do.

A hospital group runs several ``clinphoto serve`` processes behind a proxy, on one PostgreSQL and
one shared data folder. Any of them answers any request (a tus upload resumed on another process,
commits of one batch racing on two); three kinds of work need more than that:

- **Writes** are serialised across processes as they are within one (``Db.write``): on
  PostgreSQL every write transaction first takes a transaction advisory lock, on SQLite its
  ``BEGIN IMMEDIATE`` does the same. The audit chain is therefore one chain, whoever appends.
- **The start** (migrations, sealing what an earlier version stored in clear, building the
  activity figures) runs one process at a time: :class:`StartLock`.
- **Once-only work**, done by the leader alone: alert scanning on its timer, outbox delivery,
  the HL7 listener, audit checkpoints on their timer and retention, and the checks a restart
  leaves pending (decoding photos that were filed but not yet checked). On PostgreSQL the leader
  holds a session advisory lock on a connection of its own; on SQLite a lock on a file in the
  data folder. A leader that dies loses its lock with its connection or its process; another
  process takes it within :data:`FOLLOW_SECONDS`: :class:`Leader`.

Each process also holds a lock on a file of its own under ``<data>/instances/``
(:class:`Instance`): the temp files it writes carry its id, so a process removes only the temp
files of processes that are gone, never those another live process is writing.
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import re
import secrets
from pathlib import Path
from typing import Any, Awaitable, Callable

from .events import stop_task

log = logging.getLogger("clinphoto")

FOLLOW_SECONDS = 5.0  # how often a follower tries to take the lead, and a leader checks it still holds it
# The advisory lock keys: any fixed 64-bit integers, the same in every process of an install.
WRITE_KEY = 0x436C_5068_6F74_6F01  # "ClPhoto" 1: one write transaction at a time
START_KEY = 0x436C_5068_6F74_6F02  # one start at a time
LEADER_KEY = 0x436C_5068_6F74_6F03  # one leader

INSTANCE_ID = secrets.token_hex(8)  # this process, in the names of the temp files it writes
_INSTANCE_IN_NAME = re.compile(r"\.([0-9a-f]{16})(?:-[0-9a-f]+)?\.tmp$")


def temp_name(base: str) -> str:
    """The name of a temp file for ``base`` written by this process (``.<base>.<instance>-<random>.tmp``)."""
    return f".{base}.{INSTANCE_ID}-{secrets.token_hex(6)}.tmp"


def staging_name(base: str) -> str:
    """The one staging file this process keeps for ``base`` (``.<base>.<instance>.tmp``)."""
    return f".{base}.{INSTANCE_ID}.tmp"


def writer_of(temp: Path) -> str | None:
    """The instance that wrote a temp file; None for a name without one (an earlier version's)."""
    found = _INSTANCE_IN_NAME.search(temp.name)
    return found.group(1) if found else None


# -- file locks (SQLite installs, instances) ------------------------------------------------


class FileLock:
    """An exclusive ``flock`` on a file, held by this object until released or the process ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def acquire(self) -> None:
        while not self.try_acquire():
            await asyncio.sleep(0.05)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None


# -- PostgreSQL advisory locks --------------------------------------------------------------


def asyncpg_dsn(url: str) -> str:
    """The database URL as asyncpg takes it (``postgresql+asyncpg://`` names the driver for ``databases``)."""
    return re.sub(r"^postgres(?:ql)?(?:\+asyncpg)?://", "postgresql://", url)


class PgLock:
    """A session advisory lock on a connection of its own: held while that connection lives."""

    def __init__(self, url: str, key: int) -> None:
        self.dsn = asyncpg_dsn(url)
        self.key = key
        self._connection: Any = None

    @property
    def held(self) -> bool:
        return self._connection is not None

    async def _connect(self) -> Any:
        import asyncpg  # only PostgreSQL installs need it

        return await asyncpg.connect(self.dsn, timeout=10)

    async def try_acquire(self) -> bool:
        if self._connection is not None:
            return True
        connection = await self._connect()
        try:
            if await connection.fetchval("SELECT pg_try_advisory_lock($1)", self.key):
                self._connection = connection
                return True
        except BaseException:
            await _close(connection)
            raise
        await _close(connection)
        return False

    async def acquire(self) -> None:
        connection = await self._connect()
        try:
            await connection.execute("SELECT pg_advisory_lock($1)", self.key)
        except BaseException:
            await _close(connection)
            raise
        self._connection = connection

    async def still_held(self) -> bool:
        """False once the connection (and with it the lock) is gone."""
        if self._connection is None:
            return False
        try:
            await asyncio.wait_for(self._connection.fetchval("SELECT 1"), 10)
            return True
        except Exception:
            await self.release()
            return False

    async def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await _close(connection)


async def _close(connection: Any) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(connection.close(), 5)
    if not connection.is_closed():
        connection.terminate()


# -- the three roles -------------------------------------------------------------------------


class StartLock:
    """Held for the start sequence: migrations and upgrades run one process at a time."""

    def __init__(self, database_url: str, data_dir: Path) -> None:
        self._lock: PgLock | FileLock = (FileLock(data_dir / "start.lock") if database_url.startswith("sqlite")
                                         else PgLock(database_url, START_KEY))

    async def __aenter__(self) -> "StartLock":
        await self._lock.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if isinstance(self._lock, PgLock):
            await self._lock.release()
        else:
            self._lock.release()


Callback = Callable[[], Awaitable[None]]


class Leader:
    """Whether this process does the once-only work now; followers take over from a leader that died."""

    def __init__(self, database_url: str, data_dir: Path) -> None:
        self._lock: PgLock | FileLock = (FileLock(data_dir / "leader.lock") if database_url.startswith("sqlite")
                                         else PgLock(database_url, LEADER_KEY))
        self._elected: list[Callback] = []
        self._deposed: list[Callback] = []
        self._periodic: list[list[Any]] = []  # [seconds, callback, when it is next due (monotonic)]
        self._task: asyncio.Task[None] | None = None
        self.is_leader = False

    def on_elected(self, callback: Callback) -> None:
        """Run ``callback`` each time this process becomes the leader (register before ``start``)."""
        self._elected.append(callback)

    def on_deposed(self, callback: Callback) -> None:
        self._deposed.append(callback)

    def every(self, seconds: float, callback: Callback) -> None:
        """Run ``callback`` about every ``seconds`` while this process leads (first after ``seconds``)."""
        self._periodic.append([seconds, callback, 0.0])

    async def start(self) -> None:
        await self._try()
        self._task = asyncio.get_running_loop().create_task(self._follow(), name="clinphoto-leader")

    async def _try(self) -> None:
        try:
            taken = (await self._lock.try_acquire()) if isinstance(self._lock, PgLock) else self._lock.try_acquire()
        except Exception as exc:  # the database is away: stay a follower, try again later
            log.warning("could not try to take the lead (%s); trying again in %.0f s", type(exc).__name__,
                        FOLLOW_SECONDS)
            return
        if taken and not self.is_leader:
            self.is_leader = True
            log.info("this process leads: alert scanning, outbox delivery and checkpoints run here")
            now = asyncio.get_running_loop().time()
            for periodic in self._periodic:
                periodic[2] = now + periodic[0]
            for callback in self._elected:
                await _guarded(callback, "taking the lead")

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(FOLLOW_SECONDS)
            if self.is_leader:
                if isinstance(self._lock, PgLock) and not await self._lock.still_held():
                    self.is_leader = False
                    log.warning("this process lost the lead (its database connection closed)")
                    for callback in self._deposed:
                        await _guarded(callback, "giving up the lead")
                    continue
                now = asyncio.get_running_loop().time()
                for periodic in self._periodic:
                    if now >= periodic[2]:
                        periodic[2] = now + periodic[0]
                        await _guarded(periodic[1], "doing the leader's periodic work")
            else:
                await self._try()

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None
        if self.is_leader:
            self.is_leader = False
            for callback in self._deposed:
                await _guarded(callback, "giving up the lead")
        if isinstance(self._lock, PgLock):
            await self._lock.release()
        else:
            self._lock.release()


async def _guarded(callback: Callback, doing: str) -> None:
    try:
        await callback()
    except Exception:
        log.exception("a task failed while %s; the server goes on", doing)


def _lock_own_file(own: Path) -> FileLock:
    """Lock the file named ``own``, created for it. Another process's probe may remove it between its
    creation and the lock (taking it for a dead instance's): then it is made again."""
    for _ in range(10):
        lock = FileLock(own)
        if not lock.try_acquire():
            raise RuntimeError("this process's instance lock is taken")
        assert lock._fd is not None
        with contextlib.suppress(FileNotFoundError):
            if os.fstat(lock._fd).st_ino == own.stat().st_ino:
                return lock
        lock.release()
    raise RuntimeError("could not hold this process's instance file")


class Instance:
    """This process's lock on ``<data>/instances/<id>``, held until it ends (a kill ends it too).

    One per process and data folder, whatever the number of ``Services`` started on it (tests start
    several)."""

    _held: dict[Path, list[Any]] = {}  # the lock file: [its FileLock, how many Services use it]

    def __init__(self, data_dir: Path) -> None:
        self.directory = data_dir / "instances"
        self.directory.mkdir(mode=0o700, exist_ok=True)
        self.own = self.directory / INSTANCE_ID
        held = Instance._held.get(self.own)
        if held is None:
            held = Instance._held[self.own] = [_lock_own_file(self.own), 0]
        held[1] += 1

    def live(self) -> set[str]:
        """The instances whose process still runs (their lock held); the lock files of the others go."""
        alive = {INSTANCE_ID}
        for path in self.directory.iterdir():
            if path.name == INSTANCE_ID or not re.fullmatch(r"[0-9a-f]{16}", path.name):
                continue
            try:
                fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                alive.add(path.name)
            else:
                path.unlink(missing_ok=True)  # its process is gone
            finally:
                os.close(fd)
        return alive

    def close(self) -> None:
        held = Instance._held.get(self.own)
        if held is None:
            return
        held[1] -= 1
        if held[1] <= 0:
            del Instance._held[self.own]
            self.own.unlink(missing_ok=True)
            held[0].release()
