"""The database: one ``databases.Database``, its pragmas, its migrations, one writer at a time.

SQLite is the embedded default (WAL, ``synchronous=FULL``: a committed row survives a power
cut); PostgreSQL is reached by the same SQL through asyncpg. Every write goes through
``Db.write()``, which serialises writers in this process: SQLite allows one writer anyway, and
the audit hash chain needs its appends in a single order.

``databases`` would take a connection for every task (with SQLite, a fresh connection and
thread); the writer is one long-lived connection instead, used only under the write lock. With
SQLite the reader is a second one that, thanks to WAL, sees only committed data while a write is
in progress; with PostgreSQL reads take pooled connections.

Cancellation (a client gone, a shutdown) must leave nothing half-done: a read runs to its end
in a task of its own, so no cursor is left open (an open SQLite cursor pins its reader to an old
snapshot) and no pooled connection is left out of the pool; a writer interrupted anywhere has
its transaction rolled back, at the latest by the next writer.

Group commit (SQLite): with ``synchronous=FULL`` every COMMIT waits for an fsync, and one
fsync per request would cap ingest at the disk's fsync rate. Writers that queue while a
transaction is open join it, each inside its own SAVEPOINT (a failing writer rolls back only
its own work; the first writer's savepoint is the transaction itself), and one COMMIT makes the
whole group durable. No writer returns before that COMMIT: durability per caller is unchanged,
only the fsyncs are shared.

The COMMIT is issued by a committer task made with the group (and held by the ``Db``: asyncio
only holds tasks weakly), queued on the write lock behind the writers already waiting, so they
join first. Whatever becomes of that task (cancelled while it waits or before it ever ran, as at
shutdown; its COMMIT failing), the group's members are answered: a group that did not commit
fails with :class:`GroupCommitError`, never hangs, later writers start a new group, and the next
of them rolls back what the failed one left open.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Mapping, Sequence, TypeVar

import databases
import databases.core

if TYPE_CHECKING:
    from .settings import Settings
    from .storage.fields import PatientFields
from .cluster import WRITE_KEY
from .storage.files import fsync_dir, make_dir_durably

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

T = TypeVar("T")



def _dict(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``databases`` takes a dict; callers may hold any mapping (a row, a frozen view)."""
    return values if values is None or isinstance(values, dict) else dict(values)

class GroupCommitError(RuntimeError):
    """The transaction this write joined was not committed: its work is not durable."""


class _SQLiteConnection(sqlite3.Connection):
    """Every pooled SQLite connection gets the durability pragmas before first use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.execute("PRAGMA journal_mode=WAL")
        self.execute("PRAGMA synchronous=FULL")
        self.execute("PRAGMA foreign_keys=ON")
        self.execute("PRAGMA busy_timeout=30000")


@functools.lru_cache(maxsize=64)
def _positional(query: str) -> tuple[str, tuple[str, ...]]:
    """``:name`` parameters as asyncpg's ``$n``, and the names in order (``::type`` casts kept)."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"
    return re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", number, query), tuple(names)


class Writer:
    """What ``Db.write()`` yields: the connection that holds the write transaction.

    ``execute``, ``execute_many`` and ``fetch_*`` go through ``databases`` (SQLAlchemy text
    queries, records read by column name). ``run`` and ``run_many`` hand plain SQL with
    ``:name`` parameters straight to the driver: SQLAlchemy compiles every query again on every
    call, about a millisecond for a statement with a hundred parameters, and the audit trail
    appends on every request.

    ``memo`` lives as long as the ``Db``: what a writer may remember between transactions
    (the audit head). Anything in it may be stale (a rolled-back transaction, another process),
    so a writer checks it against the database before relying on it.
    """

    def __init__(self, store: "Db") -> None:
        self.store = store
        self.connection: databases.core.Connection = store._writer
        self.is_sqlite = store.is_sqlite
        self.memo = store._memo

    @property
    def fields(self) -> "PatientFields":
        return self.store.fields

    async def execute(self, query: str, values: Mapping[str, Any] | None = None) -> Any:
        return await self.connection.execute(query, _dict(values))

    async def execute_many(self, query: str, values: list[Mapping[str, Any]]) -> None:
        await self.connection.execute_many(query, values)

    async def fetch_one(self, query: str, values: Mapping[str, Any] | None = None) -> Any:
        return await self._read(self.connection.fetch_one(query, _dict(values)))

    async def fetch_all(self, query: str, values: Mapping[str, Any] | None = None) -> list[Any]:
        return await self._read(self.connection.fetch_all(query, _dict(values)))

    async def fetch_val(self, query: str, values: Mapping[str, Any] | None = None) -> Any:
        return await self._read(self.connection.fetch_val(query, _dict(values)))

    async def _read(self, work: Awaitable[T]) -> T:
        # asyncpg copes with a cancelled query itself (and one operation at a time is its rule)
        return await (self.store._to_the_end(work) if self.is_sqlite else work)

    async def run(self, query: str, values: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """One statement on the driver; the rows it returns (``RETURNING``, ``SELECT``) as tuples."""
        raw = self.connection.raw_connection
        if self.is_sqlite:
            return list(await raw.execute_fetchall(query, values or {}))
        sql, names = _positional(query)
        return [tuple(r) for r in await raw.fetch(sql, *((values or {})[n] for n in names))]

    async def run_many(self, query: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """One statement per row, sent to the driver in one call (one thread hop, one round trip)."""
        if not rows:
            return
        raw = self.connection.raw_connection
        if self.is_sqlite:
            await raw.executemany(query, rows)  # an INSERT's cursor holds nothing once run
            return
        sql, names = _positional(query)
        await raw.executemany(sql, [tuple(row[n] for n in names) for row in rows])


def _private_sqlite_files(path: Path) -> None:
    """The database and its journals 0600 (SQLite gives -wal and -shm the database file's mode)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for journal in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
        try:
            journal.chmod(0o600)
        except FileNotFoundError:
            pass


class Db:
    def __init__(self, url: str, fields: "PatientFields | None" = None) -> None:
        self.url = url
        self.field_keys = fields  # the install's keys for patient fields (storage/fields.py)
        self.is_sqlite = url.startswith("sqlite")
        options: dict[str, Any] = {"factory": _SQLiteConnection} if self.is_sqlite else {}
        if self.is_sqlite:
            _private_sqlite_files(Path(url.split("///", 1)[1]))
        self.database = databases.Database(url, **options)
        self._write_lock = asyncio.Lock()
        self._writer: Any = self.database
        self._reader: Any = self.database
        self._group: asyncio.Future[None] | None = None
        self._committers: set[asyncio.Task[None]] = set()  # asyncio only holds tasks weakly
        self._unclean = False  # a transaction may be left open on the writer: roll it back first
        self._memo: dict[str, Any] = {}
        self._reads: set[asyncio.Task[Any]] = set()

    @property
    def fields(self) -> "PatientFields":
        """The keys that seal and open patient fields; a database opened without them cannot."""
        if self.field_keys is None:
            raise RuntimeError("this database was opened without the install's keys: it cannot read or "
                               "write patient identifiers")
        return self.field_keys

    async def connect(self) -> None:
        await self.database.connect()
        self._writer = await self._connection()
        if self.is_sqlite:
            self._reader = await self._connection()
        await self.migrate()
        if self.is_sqlite:
            # SQLite fsyncs its folder for a new WAL, never for a new database file: without this a
            # power cut after the first start could take the whole database with it
            fsync_dir(Path(self.url.split("///", 1)[1]).parent)

    async def _connection(self) -> databases.core.Connection:
        # databases has no public way to hold a connection open
        return await databases.core.Connection(self.database, self.database._backend).__aenter__()

    async def disconnect(self) -> None:
        # an open group is committed (or failed), a read finishes, before the connections go
        if self._committers or self._reads:
            await asyncio.wait(self._committers | self._reads)
        if self.is_sqlite:
            await self._reader.__aexit__(None, None, None)
        await self._writer.__aexit__(None, None, None)
        await self.database.disconnect()

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[Writer]:
        """A write transaction, durable when the block exits; writers queue here, never fight for locks."""
        if not self.is_sqlite:
            async with self._write_lock:
                async with self._pg_transaction():
                    yield Writer(self)
            return
        async with self._write_lock:
            # the group's first writer needs no savepoint: the transaction holds only its work
            first = self._group is None
            group = await self._open_group() if first else self._group
            assert group is not None
            if not first:
                await self._sql("SAVEPOINT writer")
            try:
                yield Writer(self)
            except BaseException:
                await self._undo(group, first)
                raise
            if not first:
                await self._sql("RELEASE writer")
        await asyncio.shield(group)

    @contextlib.asynccontextmanager
    async def _pg_transaction(self) -> AsyncIterator[None]:
        raw = self._writer.raw_connection
        if raw.is_closed():  # the server went away and came back: a fresh connection from the pool
            with contextlib.suppress(Exception):
                await self._writer.__aexit__(None, None, None)
            self._writer = await self._connection()
            raw = self._writer.raw_connection
        if raw.is_in_transaction():  # a writer interrupted before its COMMIT ended: it was never told done
            await raw.execute("ROLLBACK")
        await raw.execute("BEGIN")
        try:
            # one write transaction at a time across every server process of the install, as within
            # one (cluster.py): the audit chain and every check-then-write see the last commit
            await raw.execute(f"SELECT pg_advisory_xact_lock({WRITE_KEY})")
            yield
        except BaseException:
            with contextlib.suppress(Exception):  # if this fails too, the next writer rolls back
                await raw.execute("ROLLBACK")
            raise
        await raw.execute("COMMIT")

    async def _to_the_end(self, work: Awaitable[T]) -> T:
        """Await ``work`` in a task of its own that a cancelled caller does not interrupt.

        ``databases`` cleans up after a statement only if it is not interrupted: a SELECT
        cancelled midway leaves its SQLite cursor open (and the connection on an old snapshot),
        a connection cancelled on its way back to the PostgreSQL pool never returns.
        """
        task = asyncio.ensure_future(work)
        self._reads.add(task)
        task.add_done_callback(_settled(self._reads))
        return await asyncio.shield(task)

    async def _sql(self, statement: str) -> None:
        """A statement without parameters or rows on the SQLite writer (transaction control)."""
        await self._writer.raw_connection.execute_fetchall(statement)

    async def _open_group(self) -> asyncio.Future[None]:
        if self._unclean:
            with contextlib.suppress(sqlite3.Error):
                await self._sql("ROLLBACK")
        # until the group and its committer exist, a BEGIN that ran but was interrupted is undone
        # by the next writer
        self._unclean = True
        await self._sql("BEGIN IMMEDIATE")
        loop = asyncio.get_running_loop()
        group = self._group = loop.create_future()
        committer = loop.create_task(self._commit_group(group))
        self._committers.add(committer)
        committer.add_done_callback(functools.partial(self._committed, group))
        self._unclean = False
        return group

    async def _undo(self, group: asyncio.Future[None], first: bool) -> None:
        """Roll back one failed writer's work (under the lock); the rest of its group stands."""
        try:
            if first:
                self._abandon(group, "its first writer failed")
                await self._sql("ROLLBACK")
                self._unclean = False
            else:
                await self._sql("ROLLBACK TO writer")
                await self._sql("RELEASE writer")
        except Exception:  # the transaction is gone or in an unknown state: the group ends here
            self._abandon(group, "a writer's work could not be rolled back alone")

    def _abandon(self, group: asyncio.Future[None], why: str) -> None:
        """End ``group`` without a COMMIT: its members fail, the next writer rolls back what is left."""
        if self._group is group:
            self._group = None
        self._unclean = True
        if not group.done():
            _fail(group, GroupCommitError(f"the transaction was not committed: {why}"))

    async def _commit_group(self, group: asyncio.Future[None]) -> None:
        # queued behind the writers already waiting for the lock: they join this group first
        async with self._write_lock:
            if self._group is not group:
                return  # abandoned: its members were answered
            self._group = None
            try:
                await self._sql("COMMIT")
            except BaseException as exc:
                self._unclean = True
                error = GroupCommitError("the group's COMMIT failed: its writes are not known to be durable")
                error.__cause__ = exc
                _fail(group, error)
                if not isinstance(exc, Exception):
                    raise
                return
            group.set_result(None)

    def _committed(self, group: asyncio.Future[None], committer: asyncio.Task[None]) -> None:
        self._committers.discard(committer)
        if not group.done():  # cancelled (even before its first step, when none of its code runs)
            self._abandon(group, "its commit was stopped")

    async def fetch_one(self, query: str, values: Mapping[str, Any] | None = None) -> Mapping[str, Any] | None:
        row = await self._to_the_end(self._reader.fetch_one(query, values))
        return dict(row._mapping) if row is not None else None

    async def fetch_all(self, query: str, values: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        rows = await self._to_the_end(self._reader.fetch_all(query, values))
        return [dict(r._mapping) for r in rows]

    async def fetch_val(self, query: str, values: Mapping[str, Any] | None = None) -> Any:
        return await self._to_the_end(self._reader.fetch_val(query, values))

    async def execute(self, query: str, values: Mapping[str, Any] | None = None) -> Any:
        """A single-statement write (tests and tools); service code uses ``write()``."""
        async with self.write() as db:
            return await db.execute(query, values)

    async def migrate(self) -> list[int]:
        """Apply every migration not yet applied, in order, each in its own transaction."""
        applied: list[int] = []
        async with self.write() as db:
            await db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migration (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
        done = {r["version"] for r in await self.fetch_all("SELECT version FROM schema_migration")}
        for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
            version = int(path.name.split("_", 1)[0])
            if version in done:
                continue
            async with self.write() as db:
                if await db.fetch_one("SELECT 1 FROM schema_migration WHERE version = :v", {"v": version}):
                    continue  # another process applied it meanwhile
                for statement in _statements(path.read_text(), self.is_sqlite):
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_migration (version, name, applied_at) "
                    "VALUES (:v, :n, CURRENT_TIMESTAMP)",
                    {"v": version, "n": path.stem},
                )
            applied.append(version)
        return applied


def _settled(tasks: set[asyncio.Task[Any]]) -> Any:
    def forget(task: asyncio.Task[Any]) -> None:
        tasks.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a caller that was cancelled no longer wants it
    return forget


def _fail(group: asyncio.Future[None], error: BaseException) -> None:
    group.set_exception(error)
    group.exception()  # retrieved: members that rolled back their own work do not wait


def _statements(script: str, is_sqlite: bool) -> list[str]:
    # Migrations are portable SQL; the one dialect difference we need is the auto-increment key.
    script = script.replace(
        "{serial_pk}", "INTEGER PRIMARY KEY" if is_sqlite else "BIGSERIAL PRIMARY KEY"
    )
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


async def with_db(settings: Settings, work: Callable[[Db], Awaitable[T]]) -> T:
    """Open the configured database for one command-line job, run ``work`` on it, and close it."""
    from crypto import KeyStore

    from .storage.fields import PatientFields
    make_dir_durably(settings.data_dir)
    fields = PatientFields(KeyStore.open(settings.resolved_keys_dir))
    return await with_database(settings.resolved_database_url, work, fields)


async def with_database(url: str, work: Callable[[Db], Awaitable[T]], fields: "PatientFields | None" = None) -> T:
    """Open the database at ``url`` (a restore's target, a backup's copy), run ``work`` on it, and close it."""
    store = Db(url, fields)
    await store.connect()
    try:
        return await work(store)
    finally:
        await store.disconnect()
